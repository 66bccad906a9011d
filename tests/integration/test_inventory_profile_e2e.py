"""Inventory + profile over the demo defect schedule, day by day (real PostgreSQL, real files).

A scale-1 shop is seeded with ``DefectSchedule.demo`` over its shortest window (16 days: 7 clean
warm-up days, then one defect a day). Supplier feeds are seeded into a staging folder and each
day's files land in the real landing folder on their day, as they would in production; then
``run_inventory`` and ``run_profile`` run for that day, in order. The test checks both directions:
each defect the inventory and the profile are meant to catch is caught on its day, with its
evidence (schema event with the predecessor, anomaly bounds and method, the unreadable file's
byte offset), and nothing is flagged where no defect is.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from support.db import records as _rows
from support.worlds import shop_world

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START = dt.date(2026, 11, 1)
#: The shortest window DefectSchedule.demo allows (7 warm-up days + one day per defect).
DAYS = 16
DAY = [START + dt.timedelta(days=i) for i in range(DAYS)]
FEEDS = ("brightline", "cascade", "meridian", "northwind")
EVENT_TABLES = ("search_sessions", "impressions", "interactions")


@dataclass
class Run:
    settings: Any
    catalog: str
    schedule: dict[dt.date, frozenset[str]]
    seconds: dict[str, float]


def _target(namespace: str, name: str) -> str:
    """``search_sessions`` for a table, ``feeds/northwind`` for any day's file of that supplier."""
    return "/".join(namespace.split("/")[:2]) if namespace.startswith("feeds/") else name


@pytest.fixture(scope="module")
def e2e(scratch_db, tmp_path_factory) -> Iterator[Run]:
    from assay.inventory import run_inventory
    from assay.profiling import run_profile
    from assay.seed import DefectSchedule, SeedConfig

    schedule = DefectSchedule.demo(START, DAYS)
    seconds: dict[str, float] = {}
    config = SeedConfig(start_date=START, days=DAYS, scale=1, defects=schedule)
    staging = tmp_path_factory.mktemp("staging")
    t0 = time.perf_counter()  # times the seed with its two scratch databases and the catalog migration
    with shop_world(scratch_db, tmp_path_factory.mktemp("e2e"), "e2e", config, seed_into=staging) as world:
        seconds["seed"] = time.perf_counter() - t0
        settings, catalog_url, landing = world.settings, world.catalog_url, world.landing
        seconds["inventory"] = seconds["profile"] = 0.0
        for day in DAY:
            for supplier in FEEDS:  # the day's files arrive (none on the missing day)
                src = staging / "feeds" / supplier / day.isoformat()
                if src.exists():
                    shutil.copytree(src, landing / "feeds" / supplier / day.isoformat())
            t0 = time.perf_counter()
            run_inventory(settings, day, f"e2e/inventory/{day}", use_embeddings=False)
            t1 = time.perf_counter()
            run_profile(settings, day, f"e2e/profile/{day}")
            seconds["inventory"] += t1 - t0
            seconds["profile"] += time.perf_counter() - t1
        print(f"\ne2e timings (s): {', '.join(f'{k} {v:.1f}' for k, v in seconds.items())}")
        yield Run(settings, catalog_url, {d: schedule.for_day(d) for d in DAY}, seconds)


def _day_of(schedule: dict[dt.date, frozenset[str]], defect: str) -> dt.date:
    (day,) = [d for d, names in schedule.items() if defect in names]
    return day


def _anomalies(url: str) -> list[dict[str, Any]]:
    return _rows(
        url,
        "SELECT a.namespace, a.name, n.logical_date, n.partition_key, n.column_name, n.metric, n.observed, "
        "n.lower, n.upper, n.method, n.details FROM anomalies n JOIN assets a ON a.id = n.asset_id",
    )


def _schema_events(url: str) -> list[dict[str, Any]]:
    return _rows(
        url,
        "SELECT a.namespace, a.name, a.location, e.event_type, e.column_name, e.old, e.new, e.observed_at, e.run_key "
        "FROM schema_events e JOIN assets a ON a.id = e.asset_id",
    )


def test_the_added_column_is_a_schema_event_on_its_day(e2e):
    day = _day_of(e2e.schedule, "added_column")
    added = [e for e in _schema_events(e2e.catalog) if e["event_type"] == "column_added"]
    assert {(_target(e["namespace"], e["name"]), e["column_name"]) for e in added} == {
        (f"feeds/{s}", "promo_code") for s in FEEDS
    }
    for e in added:
        assert e["run_key"] == f"e2e/inventory/{day}"
        assert e["observed_at"].date() == day
        assert day.isoformat() in e["location"]
        # The predecessor is the same supplier's file of the day before.
        before = (day - dt.timedelta(days=1)).isoformat()
        pred = e["old"]["predecessor"]
        assert pred["location"] == e["location"].replace(day.isoformat(), before)
        (pred_row,) = _rows(e2e.catalog, "SELECT id FROM assets WHERE location = :l", l=pred["location"])
        assert pred["asset_id"] == pred_row["id"]


def test_no_other_schema_events_after_the_first_day(e2e):
    added = _day_of(e2e.schedule, "added_column")
    missing = _day_of(e2e.schedule, "missing_partition")
    back = min(d for d in DAY if d > missing)  # the first files after the missing day
    unexpected = []
    for e in _schema_events(e2e.catalog):
        day = e["observed_at"].date()
        if day == START:
            assert e["event_type"] == "asset_created", e  # the first day: every asset is new
            continue
        if e["event_type"] == "asset_created" and e["namespace"].startswith("feeds/"):
            continue  # each day's feed file is a new asset of its series
        if e["event_type"] == "column_added" and day == added:
            continue
        # The day after the gap, each file is diffed against the last file before it: the one
        # with the extra column, which the new file no longer has.
        if (e["event_type"], e["column_name"], day) == ("column_removed", "promo_code", back):
            assert e["old"]["predecessor"]["location"].count(added.isoformat()) == 1, e
            continue
        unexpected.append(e)
    assert unexpected == []
    removed = [e for e in _schema_events(e2e.catalog) if e["event_type"] == "column_removed"]
    assert len(removed) == len(FEEDS)


def test_the_null_burst_is_an_anomaly_with_its_bounds_and_method(e2e):
    day = _day_of(e2e.schedule, "null_burst")
    found = [
        a for a in _anomalies(e2e.catalog)
        if a["logical_date"] == day and a["name"] == "search_sessions" and a["column_name"] == "query"
        and a["metric"] == "null_ratio"
    ]
    assert len(found) == 1, _anomalies(e2e.catalog)
    (a,) = found
    assert a["lower"] is not None and a["upper"] is not None and a["observed"] > a["upper"]
    assert a["observed"] == pytest.approx(0.4, abs=0.02)
    # Seven clean prior days: the z-score band is warm, and the stored bounds are that band.
    assert a["details"]["history_size"] == 7
    assert "zscore" in a["method"].split("+") and set(a["method"].split("+")) <= {"zscore", "rate_of_change"}
    z = a["details"]["zscore"]
    assert a["upper"] == pytest.approx(z["mean"] + z["band"])
    assert a["lower"] == pytest.approx(max(0.0, z["mean"] - z["band"]))


def test_the_missing_partition_is_an_anomaly_of_every_event_table(e2e):
    day = _day_of(e2e.schedule, "missing_partition")
    found = {
        a["name"]: a for a in _anomalies(e2e.catalog)
        if a["logical_date"] == day and a["metric"] == "row_count" and a["column_name"] == ""
    }
    assert sorted(found) == sorted(EVENT_TABLES)
    for a in found.values():
        assert a["observed"] == 0
        assert "missing_partition" in a["method"].split("+")
        assert a["lower"] is not None and a["upper"] is not None and a["lower"] > 0
    # No feed file exists for the day, and none was profiled for it.
    files = _rows(e2e.catalog, "SELECT location FROM assets WHERE location LIKE :p", p=f"%{day.isoformat()}%")
    assert files == []


def test_the_unreadable_file_is_recorded_with_file_and_byte_offset(e2e):
    day = _day_of(e2e.schedule, "bad_encoding")
    (row,) = _rows(
        e2e.catalog,
        "SELECT location, status, error, current_schema_version_id FROM assets WHERE location = :l",
        l=f"feeds/northwind/{day.isoformat()}/products.csv",
    )
    assert row["status"] == "error"
    assert re.search(
        rf"feeds/northwind/{day.isoformat()}/products.csv: not valid UTF-8: byte 0x[0-9A-F]{{2}} at offset \d+ "
        r"\(line \d+\)",
        row["error"],
    ), row["error"]
    assert row["current_schema_version_id"] is None
    # An unreadable file is not profiled (and is no anomaly).
    assert _rows(
        e2e.catalog,
        "SELECT r.id FROM profile_runs r JOIN assets a ON a.id = r.asset_id WHERE a.location = :l",
        l=f"feeds/northwind/{day.isoformat()}/products.csv",
    ) == []


def test_nothing_is_flagged_where_no_defect_is(e2e):
    """Clean days have no anomaly; a defect day's anomalies are only on what its defect touches."""
    touched = {
        "null_burst": {"search_sessions"},
        "duplicated_events": {"interactions"},
        "price_outlier": {f"feeds/{s}" for s in FEEDS},
        "renamed_category": {f"feeds/{s}" for s in FEEDS},
        "added_column": {f"feeds/{s}" for s in FEEDS},
        "missing_partition": set(EVENT_TABLES),
        "bom_feed": {"feeds/northwind"},
        "wrong_delimiter": {"feeds/northwind"},
        "bad_encoding": {"feeds/northwind"},
    }
    flagged: dict[dt.date, set[str]] = {}
    for a in _anomalies(e2e.catalog):
        flagged.setdefault(a["logical_date"], set()).add(_target(a["namespace"], a["name"]))
    clean = [d for d in DAY if not e2e.schedule[d]]
    assert len(clean) == 7
    for day in DAY:
        allowed = set().union(*(touched[n] for n in e2e.schedule[day]))
        assert flagged.get(day, set()) <= allowed, (day, sorted(e2e.schedule[day]), flagged.get(day))
    for day in clean:
        assert day not in flagged


def test_every_day_was_profiled(e2e):
    rows = _rows(
        e2e.catalog,
        "SELECT r.logical_date, r.status, count(*) AS n FROM profile_runs r GROUP BY 1, 2 ORDER BY 1",
    )
    assert {r["status"] for r in rows} == {"success"}
    assert [r["logical_date"] for r in rows] == DAY


def _review_items(url: str) -> list[dict[str, Any]]:
    return _rows(
        url,
        "SELECT r.id, r.ref, r.anomaly_id, r.asset_id, r.status, r.summary, r.details FROM review_items r "
        "WHERE r.kind = 'anomaly' ORDER BY r.ref",
    )


def test_every_anomaly_opens_one_review_item_and_a_rerun_keeps_the_stewards_status(e2e):
    """Runs last in this module: it reruns one day and closes an item."""
    from assay.profiling import run_profile

    anomalies = _rows(e2e.catalog, "SELECT id, asset_id FROM anomalies ORDER BY id")
    items = _review_items(e2e.catalog)
    assert anomalies and sorted(i["anomaly_id"] for i in items) == [a["id"] for a in anomalies]
    assert all(i["status"] == "open" for i in items)
    day = _day_of(e2e.schedule, "null_burst")
    (burst,) = [i for i in items if i["details"]["column_name"] == "query" and i["details"]["metric"] == "null_ratio"]
    assert burst["ref"].endswith(f"/{day}/{day}/query/null_ratio")
    assert "query.null_ratio = 0.4" in burst["summary"] and "outside [" in burst["summary"]
    with create_engine(e2e.catalog).begin() as c:
        c.execute(text("UPDATE review_items SET status = 'closed', resolution = 'known' WHERE id = :i"), {"i": burst["id"]})
    run_profile(e2e.settings, day, f"e2e/profile/{day}/again", force=True)
    again = _review_items(e2e.catalog)
    assert [(i["id"], i["ref"]) for i in again] == [(i["id"], i["ref"]) for i in items]
    assert {i["id"]: i["status"] for i in again}[burst["id"]] == "closed"
