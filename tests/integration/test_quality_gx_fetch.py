"""GX must not pull a whole table into the client to validate it (it did: 1.3 GB for 5M rows).

Every statement GX runs through SQLAlchemy is watched; a SELECT's ``rowcount`` is the number of
rows the server sent to the client.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DAYS, PER_DAY = 20, 200
DAY = dt.date(2026, 11, 5)


@pytest.fixture(scope="module")
def table_url(scratch_db):
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    with scratch_db("qfetch") as url:
        engine = create_engine(url, poolclass=NullPool)
        with engine.begin() as conn:
            conn.execute(text("CREATE SCHEMA shop"))
            for schema in ("public", "shop"):
                conn.execute(text(f"""
                    CREATE TABLE {schema}.events AS
                    SELECT d::date + (g % 7) AS placeholder, 'E' || to_char(d, 'MMDD') || '-' || g AS event_id,
                           d::date AS day
                    FROM generate_series(date '2026-11-01', date '2026-11-01' + {DAYS - 1}, interval '1 day') AS d,
                         generate_series(1, {PER_DAY}) AS g"""))
        engine.dispose()
        yield url


@pytest.fixture
def gx(tmp_path):
    from assay.quality.gxrun import GxSession
    from assay.quality.suites import build_gx_suite, parse_suite

    doc = {
        "name": "events",
        "meta": {"assay": {"source": "shop", "table": "public.events", "partition_column": "day"}},
        "expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "event_id"},
             "meta": {"name": "event_id_not_null", "dimension": "completeness", "severity": "critical"}},
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "event_id"},
             "meta": {"name": "event_id_unique", "dimension": "uniqueness", "severity": "critical"}},
            {"type": "unexpected_rows_expectation",
             "kwargs": {"unexpected_rows_query": "SELECT * FROM (SELECT * FROM {batch}) AS b WHERE b.event_id IS NULL"},
             "meta": {"name": "no_null_rows", "dimension": "completeness", "severity": "critical"}},
        ],
    }
    path = tmp_path / "events.json"
    path.write_text(json.dumps(doc))
    session = GxSession(Path(tmp_path / "state"))
    session.add_suite(build_gx_suite(parse_suite(path, path.read_bytes())))
    return session


@pytest.fixture
def fetched():
    """Rows each SELECT sent to the client while the test runs: [(rowcount, statement)]."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    seen: list[tuple[int, str]] = []

    def watch(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((cursor.rowcount, " ".join(statement.split())[:200]))

    event.listen(Engine, "after_cursor_execute", watch)
    yield seen
    event.remove(Engine, "after_cursor_execute", watch)


def validate(gx, url, schema, partition_column):
    # GX knows a suite as <source>.<stem> (SuiteSpec.gx_name), see docs/quality.md "Names"
    result, _ = gx.validate_sql(
        suite_name="shop.events", source="shop", url=url, asset_name=f"{schema}.events", schema=schema,
        table="events", partition_column=partition_column, day=DAY, run_name="t",
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": 20},
    )
    assert result.statistics["evaluated_expectations"] == 3
    assert not [r for r in result.results if r.exception_info.get("raised_exception")]
    return result


@pytest.mark.parametrize("schema", ["public", "shop"])
def test_whole_table_is_validated_without_fetching_its_rows(gx, table_url, fetched, schema):
    result = validate(gx, table_url, schema, None)
    assert result.success  # every expectation ran on all DAYS * PER_DAY rows
    biggest = max(fetched)
    assert biggest[0] <= 20, f"GX fetched {biggest[0]} rows of {DAYS * PER_DAY}: {biggest[1]}"


def test_a_day_partition_fetches_at_most_that_day(gx, table_url, fetched):
    """At most one day's rows, never the table's (a bound; that GX's route now fetches none of the day is
    tests/quality_cost/test_gx_partition_batch.py)."""
    assert validate(gx, table_url, "public", "day").success
    assert max(fetched)[0] <= PER_DAY


def test_a_vanished_table_is_a_clear_error(gx, table_url):
    with pytest.raises(Exception, match="nowhere"):
        gx.validate_sql(
            suite_name="shop.events", source="shop", url=table_url, asset_name="nowhere", schema="public",
            table="nowhere", partition_column=None, day=DAY, run_name="t",
            result_format={"result_format": "SUMMARY"},
        )
