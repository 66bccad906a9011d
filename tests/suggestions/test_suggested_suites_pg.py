"""Suggested suites on real PostgreSQL: planted defects caught on a defective day, nothing on a clean copy.

A small marketplace of our own (not the demo shop): ``ref.sellers`` (declared as source ``crm``)
and ``public.listings`` partitioned by ``day`` (source ``mart``), both in one database. Clean days
are inventoried and profiled with the real profiler; the suggestions (assay.quality.evidence) are
accepted whole as a suite and validated with assay's real quality runner on

* a defective day: orphan seller ids, zip codes that lost their leading zero, a zero and a negative
  price, an all-null note column, a duplicated listing id -- each must fail its suggestion;
* a clean copy of that day (the same rows without the defects) and the clean days: nothing fails.

Then the defective day itself is the evidence: its defects become findings (``meta.finding``),
never silently widened bounds.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.db import connection

pytestmark = pytest.mark.integration

D1, D2, D3, D4 = (dt.date(2025, 3, 1) + dt.timedelta(days=i) for i in range(4))
ROWS = 300
SELLERS = 40


@dataclass(frozen=True)
class Mart:
    settings: Any
    url: str
    folder: Path


def _rows(day: dt.date, first_id: int, rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(ROWS):
        out.append({
            "day": day, "listing_id": first_id + i, "seller_id": rng.randint(1, SELLERS),
            "zip": f"{rng.randrange(0, 30000):05d}",  # a third start with 0
            "price": round(rng.uniform(1, 500), 2), "stock": rng.randrange(0, 30),
            "note": rng.choice(["gift wrap", "ships in 2 days", "bundle", None]),
            "status": rng.choice(["active", "active", "paused", "sold"]),
        })
    return out


def _defective(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    bad = [dict(r) for r in rows]
    bad[0]["seller_id"], bad[1]["seller_id"] = 9001, 9002  # orphans
    leading = [r for r in bad if r["zip"].startswith("0") and not r["zip"].startswith("00")]
    for r in leading[:2]:
        r["zip"] = r["zip"][1:]  # a number on its way lost the leading zero
    bad[5]["price"], bad[6]["price"] = 0, -12.5
    for r in bad:
        r["note"] = None
    bad[8]["listing_id"] = bad[7]["listing_id"]  # duplicated key
    return bad


def _load(url: str) -> None:
    from sqlalchemy import text

    rng = random.Random(13)
    with connection(url, commit=True) as conn:
        conn.execute(text("CREATE SCHEMA ref"))
        conn.execute(text("CREATE TABLE ref.sellers (seller_id integer NOT NULL, seller_code text, name text)"))
        conn.execute(text("INSERT INTO ref.sellers SELECT i, 'S' || lpad(i::text, 5, '0'), 'Seller ' || i "
                          "FROM generate_series(1, :n) AS i"), {"n": SELLERS})
        conn.execute(text("CREATE TABLE listings (day date NOT NULL, listing_id integer, seller_id integer, zip text, "
                          "price numeric(10, 2), stock integer, note text, status text)"))
        day3 = _rows(D3, 3000, rng)
        rows = _rows(D1, 1000, rng) + _rows(D2, 2000, rng) + _defective(day3) + [{**r, "day": D4} for r in day3]
        conn.execute(text("INSERT INTO listings VALUES (:day, :listing_id, :seller_id, :zip, :price, :stock, :note, "
                          ":status)"), rows)
        conn.execute(text("ANALYZE"))


@pytest.fixture(scope="module")
def mart(scratch_db, tmp_path_factory) -> Iterator[Mart]:
    from assay.catalog import migrate
    from assay.config import Settings
    from assay.inventory import run_inventory
    from assay.profiling import run_profile

    folder = tmp_path_factory.mktemp("suggest")
    with scratch_db("sugmart") as url, scratch_db("sugcat") as catalog:
        migrate.upgrade(catalog, "head")
        _load(url)
        sources = folder / "sources.yaml"
        sources.write_text(json.dumps({"sources": [
            {"name": "mart", "kind": "sql", "url": url, "schemas": ["public"],
             "assets": {"listings": {"partition_column": "day"}}},
            {"name": "crm", "kind": "sql", "url": url, "schemas": ["ref"]},
        ]}))
        (folder / "landing").mkdir()
        settings = Settings(home=folder / "state", database_url=catalog, sources_file=sources,
                            landing_dir=folder / "landing", expectations_dir=folder / "expectations")
        for day in (D1, D2, D3):
            run_inventory(settings, day, f"t/inventory/{day}", use_embeddings=False)
            run_profile(settings, day, f"t/profile/{day}")
        yield Mart(settings, url, folder)


def _suggest(m: Mart, days: tuple[dt.date, ...]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The suggestions for ``listings`` from the profiles of ``days``."""
    from sqlalchemy import select

    from assay.catalog.db import session
    from assay.catalog.models import ProfileRun
    from assay.quality import store
    from assay.quality.evidence import suggest_from_profiles

    with session(m.settings.catalog_url()) as s:
        (asset_id,) = store.find_assets(s, "public.listings")
        runs = list(s.execute(select(ProfileRun).where(ProfileRun.asset_id == asset_id,
                                                       ProfileRun.logical_date.in_(days))).scalars())
        pii = set(store.pii_columns(s, asset_id))
    assert len(runs) == len(days)
    basis = {"runs": len(runs), "from": min(days).isoformat(), "to": max(days).isoformat()}
    return suggest_from_profiles(m.settings, asset_id, runs, pii, basis)


def _validate(m: Mart, suggestions: list[dict[str, Any]], day: dt.date, tag: str) -> dict[str, bool]:
    """Accept the suggestions whole as the live suite and validate ``day``: {expectation: success}."""
    from assay.quality import run_quality

    folder = m.folder / f"expectations_{tag}"
    suite = folder / "mart" / "listings.json"
    suite.parent.mkdir(parents=True, exist_ok=True)
    suite.write_text(json.dumps({
        "name": "listings",
        "meta": {"assay": {"source": "mart", "table": "public.listings", "partition_column": "day"}},
        "expectations": suggestions,
    }))
    report = run_quality(m.settings, day, f"t/quality/{tag}/{day}", raise_on_failure=False, suites=folder)
    (part,) = report.partitions
    assert part.error is None, part.error
    assert all(o.error is None for o in part.outcomes), [o.error for o in part.outcomes if o.error]
    return {o.expectation_id: o.success for o in part.outcomes}


PLANTED = {
    "orphan seller ids": "proposed_seller_id_references_sellers",
    "zip codes without their leading zero": "proposed_zip_format",
    "a zero and a negative price": "proposed_price_positive",
    "an all-null note": "proposed_note_mostly_not_null",
    "a duplicated listing id": "proposed_listing_id_unique",
}


@pytest.mark.parametrize("days", [(D1,), (D1, D2)], ids=["one partition", "two partitions"])
def test_each_planted_defect_fails_its_suggestion_and_clean_days_pass(mart, days):
    suggestions, basis = _suggest(mart, days)
    by_name = {e["meta"]["name"]: e for e in suggestions}
    assert basis["strictness"] == ("loose" if len(days) == 1 else "medium")
    assert "findings" not in basis and "unchecked" not in basis, basis  # clean evidence, everything checked
    assert by_name["proposed_zip_format"]["kwargs"]["regex"] == r"^\d{5}$"
    fk = by_name["proposed_seller_id_references_sellers"]
    assert fk["meta"]["evidence"]["parent"] == "crm:ref.sellers" and fk["meta"]["evidence"]["orphans"] == 0
    assert fk["meta"]["evidence"]["checked"] == ROWS
    for e in suggestions:
        assert e["meta"]["evidence"] and e["meta"]["proposed_from"]["runs"] == len(days)

    tag = f"r{len(days)}"
    defective = _validate(mart, suggestions, D3, tag)
    failed = sorted(n for n, ok in defective.items() if not ok)
    for defect, name in PLANTED.items():
        assert defective[name] is False, f"{defect} not caught by {name}; failed: {failed}"
    assert set(failed) == set(PLANTED.values()), failed  # nothing else: no collateral alarms

    for day in (D4, *days, D2):  # the clean copy of the defective day, and the clean days
        results = _validate(mart, suggestions, day, tag)
        assert all(results.values()), (day, sorted(n for n, ok in results.items() if not ok))


def test_defects_in_the_evidence_become_findings_not_wider_bounds(mart):
    suggestions, basis = _suggest(mart, (D3,))
    by_name = {e["meta"]["name"]: e for e in suggestions}
    findings = {n: e["meta"]["finding"] for n, e in by_name.items() if e["meta"].get("finding")}
    assert sorted(basis["findings"]) == sorted(findings)
    assert set(findings) == {
        "proposed_seller_id_references_sellers", "proposed_zip_format", "proposed_price_positive",
        "proposed_note_has_values", "proposed_listing_id_unique",
    }, findings
    price = by_name["proposed_price_positive"]["kwargs"]
    assert price["min_value"] == 0 and price["strict_min"] is True and price["mostly"] < 1
    assert "min_value" not in by_name["proposed_price_range"]["kwargs"]
    assert by_name["proposed_zip_format"]["kwargs"]["regex"] == r"^\d{5}$"
    assert by_name["proposed_seller_id_references_sellers"]["meta"]["evidence"]["orphans"] == 2
    # Validated on the day they came from, the findings fail (visible) and everything else passes.
    results = _validate(mart, suggestions, D3, "findings")
    assert sorted(n for n, ok in results.items() if not ok) == sorted(
        {"proposed_seller_id_references_sellers", "proposed_note_has_values", "proposed_listing_id_unique"})


def test_propose_accept_validate_from_one_partition(mart):
    """The product path: propose_suite from one profiled day, accept every suggestion, validate."""
    from assay.quality import run_quality
    from assay.quality.proposal_review import accept_proposal
    from assay.quality.proposals import propose_suite

    folder = mart.folder / "expectations_product"
    path = propose_suite(mart.settings, "listings", source="mart", end=D1, lookback_days=1, folder=folder)
    doc = json.loads(path.read_text())
    proposal = doc["meta"]["proposal"]
    assert proposal["runs"] == 1 and proposal["strictness"] == "loose" and "findings" not in proposal
    assert set(PLANTED.values()) <= set(proposal["added"])
    assert all(e["meta"].get("evidence") for e in doc["expectations"])
    live = accept_proposal(mart.settings, str(path), folder=folder)
    assert live == folder / "mart" / "listings.json"
    for day, failing in ((D3, set(PLANTED.values())), (D4, set())):
        report = run_quality(mart.settings, day, f"t/quality/product/{day}", raise_on_failure=False, suites=folder)
        (part,) = report.partitions
        assert {o.expectation_id for o in part.outcomes if not o.success} == failing, day


def test_a_large_partition_finds_the_format_on_a_sample_and_counts_it_over_every_row(mart, monkeypatch):
    """Above SHAPE_SAMPLE rows the shapes come from a sample; the regex is then counted over the partition."""
    monkeypatch.setattr("assay.quality.evidence.SHAPE_SAMPLE", 50)
    for days, matching in (((D1,), ROWS), ((D3,), ROWS - 2)):
        suggestions, _ = _suggest(mart, days)
        fmt = {e["meta"]["name"]: e for e in suggestions}["proposed_zip_format"]
        assert fmt["kwargs"]["regex"] == r"^\d{5}$"
        assert (fmt["meta"]["evidence"]["values"], fmt["meta"]["evidence"]["matching"]) == (ROWS, matching)
    assert "2 x '9999'" in fmt["meta"]["finding"]  # the odd shapes of the whole partition, not of the sample
