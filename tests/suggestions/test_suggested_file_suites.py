"""Suggested suites for a dated file series: value shapes from the file, validated on GX's pandas path.

``exports/<day>/offers.csv`` of a file source (zip declared ``string``, as a new user declares a
code with leading zeros). Day 1 is profiled; its suggestions are proposed, accepted whole and
validated on day 2 (zip codes that lost their leading zero, a zero and a negative price, a
duplicated offer id) and on day 3, a clean copy of day 2: each defect fails its suggestion on day 2,
nothing fails on day 3.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

D1, D2, D3 = dt.date(2025, 6, 1), dt.date(2025, 6, 2), dt.date(2025, 6, 3)


def offers(first: int, rng: random.Random) -> list[dict[str, str]]:
    return [{"offer_id": str(first + i), "zip": f"{rng.randrange(0, 30000):05d}",
             "price": f"{rng.uniform(1, 300):.2f}", "condition": rng.choice(["new", "used", "refurbished"])}
            for i in range(120)]


def write(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("offer_id,zip,price,condition\n"
                    + "".join(f'{r["offer_id"]},"{r["zip"]}",{r["price"]},{r["condition"]}\n' for r in rows))


def test_file_series_suggestions_catch_defects_and_pass_a_clean_copy(catalog_url, tmp_path):
    from assay.config import Settings
    from assay.inventory import run_inventory
    from assay.profiling import run_profile
    from assay.quality import run_quality
    from assay.quality.proposal_review import accept_proposal
    from assay.quality.proposals import propose_suite

    rng = random.Random(5)
    root = tmp_path / "drop"
    write(root / f"exports/{D1}/offers.csv", offers(100, rng))
    day2 = offers(1000, rng)
    bad = [dict(r) for r in day2]
    zeros = [r for r in bad if r["zip"].startswith("0") and not r["zip"].startswith("00")]
    zeros[0]["zip"] = zeros[0]["zip"][1:]
    bad[3]["price"], bad[4]["price"] = "0.00", "-4.50"
    bad[6]["offer_id"] = bad[5]["offer_id"]
    write(root / f"exports/{D2}/offers.csv", bad)
    write(root / f"exports/{D3}/offers.csv", day2)  # the clean copy of day 2
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [{
        "name": "drop", "kind": "files", "root": str(root), "patterns": ["exports/*/*.csv"],
        "columns": {"zip": "string"},
    }]}))
    folder = tmp_path / "expectations"
    settings = Settings(home=tmp_path / "state", database_url=catalog_url, sources_file=sources,
                        landing_dir=tmp_path / "landing", expectations_dir=folder)
    for day in (D1, D2, D3):
        run_inventory(settings, day, f"t/inventory/{day}", use_embeddings=False)
    run_profile(settings, D1, f"t/profile/{D1}")

    path = propose_suite(settings, f"exports/{D1}/offers.csv", source="drop", end=D1, lookback_days=1, folder=folder)
    doc = json.loads(path.read_text())
    by_name = {e["meta"]["name"]: e for e in doc["expectations"]}
    assert by_name["proposed_zip_format"]["kwargs"]["regex"] == r"^\d{5}$"
    assert doc["meta"]["proposal"]["strictness"] == "loose"
    assert "unchecked" not in doc["meta"]["proposal"] or all(
        "foreign keys" in n for n in doc["meta"]["proposal"]["unchecked"])
    accept_proposal(settings, str(path), folder=folder)

    planted = {"proposed_zip_format", "proposed_price_positive", "proposed_offer_id_unique"}
    for day, failing in ((D2, planted), (D3, set())):
        report = run_quality(settings, day, f"t/quality/{day}", raise_on_failure=False, suites=folder)
        (part,) = report.partitions
        assert part.error is None, part.error
        assert {o.expectation_id for o in part.outcomes if not o.success} == failing, (day, part.outcomes)
