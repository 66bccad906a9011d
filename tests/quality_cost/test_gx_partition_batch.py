"""A failing day partition goes through GX: its rows stay on the server, its results stay GX's own.

GX 1.24 read a query asset's columns by running the query and buffering every row in the client
(the whole day, 361 MB at 400k rows). ``assay.quality.gxengine`` names the partition's source
table so the columns come from the catalog; these tests prove no statement sends the day's rows,
and that the results are those of GX's stock PostgreSQL datasource, failing values included.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

DAYS, PER_DAY = 5, 300
DAY = dt.date(2026, 11, 3)


@pytest.fixture(scope="module")
def table_url(scratch_db) -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    with scratch_db("qbatch") as url:
        engine = create_engine(url, poolclass=NullPool)
        with engine.begin() as conn:
            conn.execute(text(f"""
                CREATE TABLE events AS
                SELECT g AS event_id, 'S' || (g % 50) AS session_id,
                       (ARRAY['view', 'cart', 'purchase'])[1 + g % 3] AS event_type,
                       CASE WHEN g % 4 = 0 THEN NULL ELSE g % 7 END AS rank,
                       date '2026-11-01' + (g % {DAYS}) AS day
                FROM generate_series(1, {DAYS * PER_DAY}) AS g"""))
        engine.dispose()
        yield url


def failing_suite(tmp_path: Path) -> Any:
    from assay.quality.suites import parse_suite

    def e(type_: str, name: str, **kwargs: Any) -> dict[str, Any]:
        return {"type": type_, "kwargs": kwargs, "meta": {"name": name, "dimension": "validity",
                                                          "severity": "critical"}}

    doc = {"name": "events",
           "meta": {"assay": {"source": "shop", "table": "public.events", "partition_column": "day",
                              "row_id_columns": ["event_id"]}},
           "expectations": [
               e("expect_table_row_count_to_be_between", "rows", min_value=1),
               e("expect_column_values_to_be_unique", "session_unique", column="session_id"),
               e("expect_column_values_to_be_in_set", "known_type", column="event_type", value_set=["view"]),
               e("expect_column_values_to_not_be_null", "rank_present", column="rank"),
               e("expect_column_max_to_be_between", "rank_max", column="rank", max_value=6),
               e("unexpected_rows_expectation", "rank_low",
                 unexpected_rows_query="SELECT * FROM {batch} WHERE rank < 2 AND event_id % 100 = 2"),
           ]}
    path = tmp_path / "events.json"
    path.write_text(json.dumps(doc))
    return parse_suite(path, path.read_bytes())


def run(gx: Any, spec: Any, url: str, result_format: str) -> Any:
    from assay.quality.gxrun import result_format_config

    result, _ = gx.validate_sql(
        suite_name=spec.gx_name, source="shop", url=url, asset_name="events", schema="public", table="events",
        partition_column="day", day=DAY, run_name="t", result_format=result_format_config(result_format, ("event_id",)),
    )
    return result


def comparable(result: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(result.to_json_dict(), default=str))
    for key in ("validation_id", "run_id", "validation_time", "batch_markers"):
        doc["meta"].pop(key, None)
    for r in doc["results"]:
        r["expectation_config"].pop("id", None)
    return doc


@pytest.mark.parametrize("result_format", ["SUMMARY", "COMPLETE"])
def test_results_are_those_of_gx_stock_datasource(table_url, tmp_path, result_format):
    from assay.quality.gxrun import GxSession
    from assay.quality.suites import build_gx_suite

    spec = failing_suite(tmp_path)
    ours = GxSession(tmp_path / "ours")
    stock = GxSession(tmp_path / "stock", one_scan=False)
    for gx in (ours, stock):
        gx.add_suite(build_gx_suite(spec))
    # GX's own PostgreSQL datasource, as validate_sql used it before (no partition registry)
    stock._sql["shop"] = stock.context.data_sources.add_postgres(
        name="shop", connection_string=table_url, kwargs={"hide_parameters": True})
    engine = stock._sql["shop"].get_execution_engine()
    engine.register = lambda *args: None  # type: ignore[attr-defined]
    engine.forget = lambda *args: None  # type: ignore[attr-defined]

    mine = run(ours, spec, table_url, result_format)
    assert ours.last_route == "gx"  # failing values to collect
    theirs = run(stock, spec, table_url, result_format)
    failed = sorted(r.expectation_config.meta["name"] for r in theirs.results if not r.success)
    assert failed == ["known_type", "rank_low", "rank_present", "session_unique"]
    assert comparable(mine) == comparable(theirs)


@pytest.fixture
def fetched() -> Iterator[list[tuple[int, str]]]:
    """Rows each SELECT sent to the client while the test runs: [(rowcount, statement)]."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    seen: list[tuple[int, str]] = []

    def watch(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001 - SQLAlchemy's hook
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((cursor.rowcount, " ".join(statement.split())[:200]))

    event.listen(Engine, "after_cursor_execute", watch)
    yield seen
    event.remove(Engine, "after_cursor_execute", watch)


def test_a_failing_day_is_validated_without_fetching_its_rows(table_url, tmp_path, fetched):
    from assay.quality.gxrun import GxSession
    from assay.quality.suites import build_gx_suite

    spec = failing_suite(tmp_path)
    gx = GxSession(tmp_path / "state")
    gx.add_suite(build_gx_suite(spec))
    result = run(gx, spec, table_url, "SUMMARY")
    assert gx.last_route == "gx" and not result.success
    from assay.quality.gxrun import partition_sql

    assert partition_sql("public", "events", "day", DAY) not in [s for _, s in fetched]
    biggest = max(fetched)
    # the partial lists (20 values), the reflected columns: never the day's 300 rows
    assert biggest[0] <= 20, f"GX fetched {biggest[0]} rows of the day's {PER_DAY}: {biggest[1]}"
