"""The one-scan route gives GX's results: both paths over the demo's suites, clean, failing and empty days.

Every (suite, table partition) of the seeded shop is validated twice -- by ``GxSession`` as it runs
(one aggregate statement when nothing fails, GX otherwise) and by GX alone -- and every
expectation's success flag, observed value and unexpected count must be identical. Where the scan
answered, the whole result (each expectation's result dict, the suite statistics, the batch meta,
the store key's batch) must be GX's too, ids and times aside. Real PostgreSQL, real GX.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.worlds import ShopWorld, shop_world

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
START = dt.date(2026, 11, 1)
DAYS = 4
# Day 2: nulls in a not-null column and duplicated event ids (failing values to show: GX's route);
# day 3: no rows at all (row counts fail, aggregates are null: the scan's route).
SCHEDULE = "2026-11-02:null_burst,duplicated_events;2026-11-03:missing_partition"


@pytest.fixture(scope="module")
def world(scratch_db, tmp_path_factory) -> Iterator[ShopWorld]:
    from assay.seed import DefectSchedule, SeedConfig

    config = SeedConfig(start_date=START, days=DAYS, defects=DefectSchedule.parse(SCHEDULE))
    with shop_world(scratch_db, tmp_path_factory.mktemp("scan"), "scan", config) as w:
        yield w


@pytest.fixture(scope="module")
def table_suites() -> list[Any]:
    from assay.quality.suites import load_suites

    loaded = load_suites(ROOT / "expectations")
    specs = [s for s in loaded.suites if s.target.table is not None]
    assert len(specs) == 5, [s.name for s in specs]  # customers, products and the three event tables
    return specs


def sessions(tmp: Path, specs: list[Any]) -> tuple[Any, Any]:
    from assay.quality.gxrun import GxSession
    from assay.quality.suites import build_gx_suite

    pair = GxSession(tmp / "scan", one_scan=True), GxSession(tmp / "gx", one_scan=False)
    for gx in pair:
        for spec in specs:
            gx.add_suite(build_gx_suite(spec))
    return pair


def validate(gx: Any, world: ShopWorld, spec: Any, day: dt.date, result_format: str) -> tuple[Any, Any]:
    from assay.quality.gxrun import result_format_config

    return gx.validate_sql(
        suite_name=spec.gx_name, source="shop", url=world.shop_url, asset_name=spec.target.relation,
        schema=spec.target.schema, table=spec.target.relation, partition_column=spec.target.partition_column,
        day=day, run_name=f"t-{day}", result_format=result_format_config(result_format, spec.target.row_id_columns),
    )


def comparable(result: Any) -> dict[str, Any]:
    """The result as JSON without what differs between any two runs (ids, times), results keyed by name."""
    doc = json.loads(json.dumps(result.to_json_dict(), default=str))
    for key in ("validation_id", "run_id", "validation_time", "batch_markers"):
        doc["meta"].pop(key, None)
    by_name = {}
    for r in doc.pop("results"):
        r["expectation_config"].pop("id", None)
        by_name[r["expectation_config"]["meta"]["name"]] = r
    doc["results"] = by_name
    return doc


def facts(doc: dict[str, Any]) -> dict[str, tuple[Any, Any, Any]]:
    return {name: (r["success"], r["result"].get("observed_value"), r["result"].get("unexpected_count"))
            for name, r in doc["results"].items()}


def test_both_routes_agree_on_the_demo_suites(world, table_suites, tmp_path):
    scan, gx = sessions(tmp_path, table_suites)
    routes: dict[str, list[str]] = {"scan": [], "gx": []}
    for day in (START + dt.timedelta(days=i) for i in range(DAYS)):
        for spec in table_suites:
            fast, fast_key = validate(scan, world, spec, day, "SUMMARY")
            plain, plain_key = validate(gx, world, spec, day, "SUMMARY")
            where = f"{spec.name} {day}"
            routes[scan.last_route or "?"].append(where)
            a, b = comparable(fast), comparable(plain)
            assert facts(a) == facts(b), where
            assert a["success"] == b["success"] and a["statistics"] == b["statistics"], where
            if scan.last_route == "scan":
                assert a == b, where  # the whole result, shape included
                assert fast_key.batch_identifier == plain_key.batch_identifier, where
    assert len(routes["scan"]) >= 12, routes  # clean and empty days of most suites
    # failing values to show: GX collects them (null burst, duplicated events on day 2)
    assert "search_sessions 2026-11-02" in routes["gx"] and "interactions 2026-11-02" in routes["gx"], routes


@pytest.mark.parametrize("result_format", ["BOOLEAN_ONLY", "BASIC"])
def test_other_result_formats_agree(world, table_suites, tmp_path, result_format):
    scan, gx = sessions(tmp_path, table_suites)
    for spec in table_suites:
        fast, _ = validate(scan, world, spec, START, result_format)
        plain, _ = validate(gx, world, spec, START, result_format)
        if scan.last_route == "scan":
            assert comparable(fast) == comparable(plain), spec.name


def test_complete_goes_through_gx(world, table_suites, tmp_path):
    """COMPLETE lists row ids and the query that finds them: GX writes those."""
    scan, _ = sessions(tmp_path, table_suites)
    validate(scan, world, table_suites[0], START, "COMPLETE")
    assert scan.last_route == "gx"


@pytest.fixture(scope="module")
def odd_table(scratch_db) -> Iterator[str]:
    """Columns the demo lacks: all null, empty text, a quoted name with a %, a day with no rows."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    with scratch_db("scanodd") as url:
        engine = create_engine(url, poolclass=NullPool)
        with engine.begin() as conn:
            conn.execute(text("""
                CREATE TABLE "Odd Events" AS
                SELECT g AS id, NULL::text AS nothing, CASE WHEN g % 2 = 0 THEN '' ELSE 'x' || g END AS "50% text",
                       (g % 3)::numeric / 7 AS ratio, date '2026-11-01' + (g % 2) AS day
                FROM generate_series(1, 40) AS g"""))
        engine.dispose()
        yield url


ODD = [
    ("expect_table_row_count_to_be_between", {"min_value": 1, "max_value": 30}),
    ("expect_column_values_to_be_unique", {"column": "nothing"}),
    ("expect_column_values_to_not_be_null", {"column": "nothing", "mostly": 0.0}),
    ("expect_column_values_to_match_regex", {"column": "50% text", "regex": "^x[0-9]+$", "mostly": 0.1}),
    ("expect_column_value_lengths_to_be_between", {"column": "50% text", "min_value": 0, "max_value": 5}),
    ("expect_column_values_to_be_between", {"column": "ratio", "min_value": 0, "max_value": 1, "strict_min": True,
                                            "mostly": 0.1}),
    ("expect_column_mean_to_be_between", {"column": "ratio", "min_value": 0.1, "max_value": 0.2}),
    ("expect_column_min_to_be_between", {"column": "day", "min_value": "2026-11-01", "max_value": "2026-11-02"}),
    ("expect_column_values_to_be_in_set", {"column": "id", "value_set": [1, 2, 3], "mostly": 0.0}),
]


@pytest.mark.parametrize("day", [dt.date(2026, 11, 1), dt.date(2026, 11, 9)], ids=["rows", "empty"])
def test_edge_columns_agree(odd_table, tmp_path, day):
    """Null-only, empty and quoted columns, strict bounds, numeric means, an empty day: same results either way."""
    from assay.quality.gxrun import GxSession, result_format_config
    from assay.quality.suites import build_gx_suite, parse_suite

    doc = {"name": "odd", "meta": {"assay": {"source": "odd", "table": "public.Odd Events", "partition_column": "day"}},
           "expectations": [{"type": t, "kwargs": kw, "meta": {"name": f"e{i}", "dimension": "validity",
                                                                "severity": "warning"}}
                            for i, (t, kw) in enumerate(ODD)]}
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(doc))
    spec = parse_suite(path, path.read_bytes())
    out = []
    for one_scan in (True, False):
        gx = GxSession(tmp_path / str(one_scan), one_scan=one_scan)
        gx.add_suite(build_gx_suite(spec))
        result, _ = gx.validate_sql(
            suite_name=spec.gx_name, source="odd", url=odd_table, asset_name="odd", schema="public",
            table="Odd Events", partition_column="day", day=day, run_name="t",
            result_format=result_format_config("SUMMARY"))
        out.append((gx.last_route, comparable(result)))
    (route, fast), (_, plain) = out
    assert facts(fast) == facts(plain)
    if route == "scan":
        assert fast == plain
