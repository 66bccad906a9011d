"""A new user's file export, end to end through the real inventory and profiler on the test catalog.

The source (``marketplace``) is unlike the demo's feeds: dated folders *and* dated file names
(``exports/<day>/sellers.csv``, ``customers_<yyyymmdd>.csv``), a tab-separated ``.csv`` with a
byte-order mark and a pandas index column, zip codes with leading zeros, a file without a date,
and no ``partition_regex``: the default date pattern makes the series. Each test drives
:func:`run_inventory` / :func:`run_profile` and reads the catalog back.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.db import records

from assay.catalog.db import session
from assay.config import Settings
from assay.inventory import run_inventory
from assay.profiling import run_profile
from assay.profiling.targets import series_assets
from assay.sources.declarations import load
from assay.sources.series import PLACEHOLDER

pytestmark = pytest.mark.integration

D1, D2, D3 = dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3)
SELLERS = f"exports/{PLACEHOLDER}/sellers.csv"


def sellers(rows: list[tuple[str, str, str]]) -> str:
    return "seller_id,zip,rating\n" + "".join(f'{s},"{z}",{r}\n' for s, z, r in rows)


def customers(zips: list[str]) -> bytes:
    # pandas' to_csv(sep="\t", encoding="utf-8-sig") with its index: BOM, empty first header cell, tabs.
    lines = ["\tcustomer_id\tcustomer_zip"] + [f"{i}\tc{i}\t{z}" for i, z in enumerate(zips)]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def land(root: Path) -> None:
    """Three days of a marketplace export; day 3's ratings turn to text ("unrated") and its sellers quadruple."""
    files: dict[str, str | bytes] = {
        f"exports/{D1}/sellers.csv": sellers([("s1", "01037", "4"), ("s2", "13023", "5"), ("s3", "04571", "3")]),
        # no leading zero today: declared string, so still text (no schema event for zip)
        f"exports/{D2}/sellers.csv": sellers([("s1", "11037", "4"), ("s2", "13023", "5"), ("s3", "24571", "2")]),
        f"exports/{D3}/sellers.csv": sellers([(f"s{i}", f"{i:05d}", "unrated" if i == 2 else "4") for i in range(1, 13)]),
        f"customers_{D1:%Y%m%d}.csv": customers(["01310", "22041", "04571"]),
        f"customers_{D2:%Y%m%d}.csv": customers(["01310", "22041"]),
        f"customers_{D3:%Y%m%d}.csv": customers(["31310"]),
        "categories.csv": "category,parent\nfurniture,home\ntoys,\n",
        f"exports/{D2}/returns.csv": "return_id,qty\nr1,1\nr2,2,extra\nr3,3\n",  # ragged: an error of its own
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def declare(catalog_url: str, tmp_path: Path, *, typed: bool) -> Settings:
    """Settings on the test catalog with the ``marketplace`` source (``typed``: sellers' zip declared string)."""
    root = tmp_path / "drop"
    land(root)
    decl: dict[str, Any] = {
        "name": "marketplace",
        "kind": "files",
        "root": str(root),
        "patterns": ["exports/*/*.csv", "*.csv"],
        "owner": "marketplace-data@example.org",
    }
    if typed:
        decl["assets"] = {SELLERS: {"columns": {"zip": "string"}}}
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [decl]}))
    return Settings(database_url=catalog_url, sources_file=path)


@pytest.fixture
def market(catalog_url: str, tmp_path: Path) -> Settings:
    return declare(catalog_url, tmp_path, typed=True)


@pytest.fixture
def untyped(catalog_url: str, tmp_path: Path) -> Settings:
    return declare(catalog_url, tmp_path, typed=False)


def inventory(settings: Settings, day: dt.date):
    return run_inventory(settings, day, f"test/inventory/{day}", use_embeddings=False)


def assets(url: str) -> dict[str, dict[str, Any]]:
    return {r["location"]: r for r in records(url, "SELECT * FROM assets")}


def columns(url: str, location: str) -> dict[str, str]:
    found = records(
        url,
        "SELECT c.name, c.data_type FROM asset_columns c JOIN assets a ON a.id = c.asset_id "
        "WHERE a.location = :l AND c.is_present",
        l=location,
    )
    return {r["name"]: r["data_type"] for r in found}


def test_inventory_of_a_day_records_only_files_up_to_that_day(untyped):
    """Failed before: ``--date D`` recorded the files of later days as seen on D."""
    market = untyped
    report = inventory(market, D2)
    seen = set(assets(market.catalog_url()))
    assert seen == {
        f"exports/{D1}/sellers.csv",
        f"exports/{D2}/sellers.csv",
        f"exports/{D2}/returns.csv",
        "customers_20260301.csv",
        "customers_20260302.csv",
        "categories.csv",  # no date in its path: part of every day's inventory
    }
    source = report.source("marketplace")
    assert (source.seen, source.status, source.errors) == (6, "partial", 1)
    # The bad file is an error of its own, naming file and line; the others carry on.
    broken = assets(market.catalog_url())[f"exports/{D2}/returns.csv"]
    assert broken["status"] == "error"
    assert broken["error"].endswith(f"exports/{D2}/returns.csv: line 3 has 3 fields, expected 2 (as in the header); delimiter ','")


def test_a_backfill_of_an_earlier_day_leaves_later_files_alone(untyped):
    market = untyped
    inventory(market, D3)
    after_d3 = assets(market.catalog_url())
    report = inventory(market, D1)  # a backfill after the later days were recorded
    assert report.source("marketplace").seen == 3  # sellers and customers of day 1, categories
    found = assets(market.catalog_url())
    for later in (f"exports/{D3}/sellers.csv", f"exports/{D2}/sellers.csv", "customers_20260303.csv"):
        # Neither seen on day 1 nor deleted by it: the backfill does not touch later files.
        assert found[later]["status"] == "active"
        assert found[later]["last_inventory_run_id"] == after_d3[later]["last_inventory_run_id"]
        assert found[later]["last_seen_at"] == after_d3[later]["last_seen_at"]
    deleted = records(market.catalog_url(), "SELECT * FROM schema_events WHERE event_type = 'asset_deleted'")
    assert deleted == []


def test_types_schema_events_and_notes_across_a_default_series(market):
    """No ``partition_regex``: a column whose type changed between two days is a schema event.

    Failed before: a source without ``partition_regex`` had no series, so day 3's file was only a
    new asset; the leading zeros had no note; ``zip`` could not be declared.
    """
    url = market.catalog_url()
    inventory(market, D2)
    inventory(market, D3)
    # Declared zip stays text on day 2 (no leading zero that day); rating is inferred.
    assert columns(url, f"exports/{D2}/sellers.csv") == {"seller_id": "string", "zip": "string", "rating": "int64"}
    assert columns(url, f"exports/{D3}/sellers.csv")["rating"] == "string"
    events = records(
        url,
        "SELECT e.event_type, e.column_name, e.old, e.new, e.run_key FROM schema_events e "
        "JOIN assets a ON a.id = e.asset_id WHERE a.location = :l AND e.event_type <> 'asset_created'",
        l=f"exports/{D3}/sellers.csv",
    )
    assert [(e["event_type"], e["column_name"], e["old"]["value"], e["new"]) for e in events] == [
        ("type_changed", "rating", "int64", "string")
    ]
    assert events[0]["old"]["predecessor"]["location"] == f"exports/{D2}/sellers.csv"
    assert events[0]["run_key"] == f"test/inventory/{D3}"
    # The undeclared zip of the customers' files: text, and the inventory says why.
    first = assets(url)["customers_20260301.csv"]
    assert columns(url, "customers_20260301.csv") == {"column_1": "int64", "customer_id": "string", "customer_zip": "string"}
    assert first["status"] == "active"
    assert "column 'customer_zip' kept as text: leading zeros in 2 values" in first["error"]
    assert "format:tsv" in first["tags"] and "encoding:utf-8-sig" in first["tags"]
    # Day 3's customers have no leading zero: inferred int64, and the series records the change.
    changed = records(
        url,
        "SELECT e.column_name, e.new FROM schema_events e JOIN assets a ON a.id = e.asset_id "
        "WHERE a.location = 'customers_20260303.csv' AND e.event_type = 'type_changed'",
    )
    assert changed == [{"column_name": "customer_zip", "new": "int64"}]


def test_profiles_form_one_history_per_series(untyped):
    """Failed before: each dated file was its own ``__all__`` partition profiled every day, no history."""
    market = untyped
    url = market.catalog_url()
    inventory(market, D3)
    for day in (D1, D2, D3):
        run_profile(market, day, f"test/profile/{day}")
    runs = records(
        url,
        "SELECT a.location, p.partition_key, p.logical_date, p.row_count FROM profile_runs p "
        "JOIN assets a ON a.id = p.asset_id WHERE p.status = 'success' AND a.location LIKE 'exports/%/sellers.csv' "
        "ORDER BY p.logical_date",
    )
    assert [(r["location"], r["partition_key"], r["logical_date"], r["row_count"]) for r in runs] == [
        (f"exports/{D1}/sellers.csv", str(D1), D1, 3),
        (f"exports/{D2}/sellers.csv", str(D2), D2, 3),
        (f"exports/{D3}/sellers.csv", str(D3), D3, 12),
    ]
    # The series is one asset with partitions for history: day 3's jump is judged against days 1-2.
    jumps = records(
        url,
        "SELECT n.metric, n.observed FROM anomalies n JOIN assets a ON a.id = n.asset_id "
        "WHERE a.location = :l AND n.metric = 'row_count'",
        l=f"exports/{D3}/sellers.csv",
    )
    assert jumps == [{"metric": "row_count", "observed": 12.0}]
    decls = load(market.sources_file)
    with session(url) as s:
        ids = {r["location"]: r["id"] for r in records(url, "SELECT id, location FROM assets")}
        series = series_assets(s, decls, ids[f"exports/{D3}/sellers.csv"])
        assert series == [ids[f"exports/{day}/sellers.csv"] for day in (D1, D2, D3)]
        assert series_assets(s, decls, ids["categories.csv"]) == [ids["categories.csv"]]
    # Undated: profiled whole each day, as before.
    whole = records(
        url,
        "SELECT p.partition_key FROM profile_runs p JOIN assets a ON a.id = p.asset_id WHERE a.location = 'categories.csv'",
    )
    assert {r["partition_key"] for r in whole} == {"__all__"}
    # The profile says why a column is text.
    notes = records(
        url,
        "SELECT a.location, m.column_name, m.metrics->>'type_note' AS note FROM column_metrics m "
        "JOIN profile_runs p ON p.id = m.profile_run_id JOIN assets a ON a.id = p.asset_id "
        "WHERE m.metrics ? 'type_note' AND p.logical_date = :d ORDER BY 1, 2",
        d=D1,
    )
    assert [(r["location"], r["column_name"], r["note"]) for r in notes] == [
        ("customers_20260301.csv", "customer_zip", "kept as text: leading zeros in 2 values"),
        (f"exports/{D1}/sellers.csv", "zip", "kept as text: leading zeros in 2 values"),
    ]


def test_a_declared_type_is_what_the_profile_reads(market):
    url = market.catalog_url()
    inventory(market, D2)
    run_profile(market, D2, "test/profile/typed")
    notes = records(
        url,
        "SELECT m.column_name, m.data_type, m.metrics->>'type_note' AS note FROM column_metrics m "
        "JOIN profile_runs p ON p.id = m.profile_run_id JOIN assets a ON a.id = p.asset_id WHERE a.location = :l",
        l=f"exports/{D2}/sellers.csv",
    )
    assert {r["column_name"]: (r["data_type"], r["note"]) for r in notes} == {
        "seller_id": ("string", None),
        "zip": ("string", "declared string"),  # inferred, 11037 and 24571 would be int64
        "rating": ("int64", None),
    }


def test_a_series_is_named_by_its_key_when_profiling(market):
    inventory(market, D2)
    report = run_profile(market, D2, "test/profile/key", assets=[SELLERS])
    assert [(r.asset, r.partition_key, r.status) for r in report.results] == [
        (f"marketplace:exports/{D2}/sellers.csv", str(D2), "profiled")
    ]


def test_suggestions_read_the_whole_series(untyped, tmp_path):
    """A day's file proposes from every profiled day of its series (3 here), not from itself alone.

    Failed before: the proposal read the profile runs of the one file asset (1 run per file, ever).
    """
    import json

    from assay.quality.proposals import propose_suite

    inventory(untyped, D3)
    for day in (D1, D2, D3):
        run_profile(untyped, day, f"test/profile/{day}")
    path = propose_suite(untyped, f"exports/{D3}/sellers.csv", folder=tmp_path / "expectations")
    proposal = json.loads(path.read_text())["meta"]["proposal"]
    assert (proposal["runs"], proposal["from"], proposal["to"]) == (3, str(D1), str(D3))


def test_bad_files_of_a_day_are_errors_of_their_own(catalog_url, tmp_path):
    """Undecodable bytes, a ragged TSV, an empty file and a value unfit for its declared type, among good files."""
    root = tmp_path / "pos"
    day = root / "2026-03-02"
    day.mkdir(parents=True)
    (day / "tills.csv").write_text("till_id,store_zip\nt1,00501\nt2,10001\n")
    (day / "legacy.csv").write_bytes("till_id,label\nt1,caf\xe9\n".encode("latin-1"))
    (day / "shifts.tsv").write_text("shift\tstaff\nmorning\t3\nevening\t4\textra\n")
    (day / "empty.csv").write_bytes(b"")
    (day / "counts.csv").write_text("till_id,units\nt1,4\nt2,four\n")
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [{
        "name": "pos", "kind": "files", "root": str(root), "patterns": ["*/*"],
        "assets": {"counts.csv": {"columns": {"units": "integer"}}},
    }]}))  # fmt: skip
    settings = Settings(database_url=catalog_url, sources_file=path)
    report = inventory(settings, D2)
    assert (report.source("pos").status, report.source("pos").errors) == ("partial", 3)
    found = assets(catalog_url)
    where = f"{day}/"
    assert found["2026-03-02/tills.csv"]["status"] == "active"
    assert columns(catalog_url, "2026-03-02/tills.csv") == {"till_id": "string", "store_zip": "string"}
    assert found["2026-03-02/legacy.csv"]["error"] == (
        f"{where}legacy.csv: not valid UTF-8: byte 0xE9 at offset 20 (line 2), column 'label'; "
        "only UTF-8 (with or without a byte-order mark) is read - re-export the file as UTF-8"
    )
    assert found["2026-03-02/shifts.tsv"]["error"] == (
        f"{where}shifts.tsv: line 3 has 3 fields, expected 2 (as in the header); delimiter '\\t'"
    )
    assert found["2026-03-02/counts.csv"]["error"] == (
        f"{where}counts.csv: line 3: the value of column 'units' is not an integer "
        "(declared integer in the source's columns); fix the file or the declaration"
    )
    # An empty file is readable (no columns, no rows): active, with a note saying so.
    assert found["2026-03-02/empty.csv"]["status"] == "active"
    assert found["2026-03-02/empty.csv"]["error"] == "2026-03-02/empty.csv: empty file (0 bytes): no header and no rows"
