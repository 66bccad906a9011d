"""Cost of a GX validation per partition vs the whole table, each as a ratio to a plain scan.

Builds a 365-day event table (``day`` indexed, like the shop's event tables) in a throw-away
database on the embedded PostgreSQL, then times, for a 10-expectation suite:

* GX on one day (the query asset ``assay.quality`` uses: ``WHERE day = '<day>'``) vs a plain
  ``SELECT`` that reads every column of that day;
* GX on the whole table vs a plain read of the whole table.

A ratio of 4 means the suite costs four reads of the data it validates. The point of per-partition
validation is the absolute gap between the two GX figures, also printed.

    .venv/bin/python -m bench.quality_bench [--rows 5000000] [--repeat 3]

The default is the issue's size: 5M rows over 365 days (13,699 rows a day); ``python -m bench
--quick`` passes ``--rows 500000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
import uuid
from pathlib import Path

#: The issue's table: 5M rows over 365 days.
FULL_ROWS = 5_000_000
DAYS = 365

DDL = """
CREATE TABLE events AS
SELECT 'E' || to_char(d, 'YYYYMMDD') || '-' || g AS event_id,
       'S' || (g / 5) AS session_id,
       'P' || lpad(((g::bigint * 7919) % 50000)::text, 6, '0') AS product_id,
       (ARRAY['click', 'click', 'click', 'add_to_cart', 'purchase'])[1 + g % 5] AS event_type,
       d::timestamptz + ((g % 86000) || ' seconds')::interval AS event_at,
       d AS day,
       round(((g % 997) + 0.99)::numeric, 2) AS price
FROM generate_series(date '2026-01-01', date '2026-12-31', interval '1 day') AS d,
     generate_series(1, :rows) AS g;
CREATE INDEX ix_events_day ON events (day);
ANALYZE events;
"""


def suite(name: str) -> dict:
    def e(type_: str, n: str, **kwargs) -> dict:
        return {
            "type": type_,
            "kwargs": kwargs,
            "meta": {"name": n, "dimension": "validity", "severity": "critical"},
        }

    return {
        "name": name,
        "meta": {"assay": {"source": "bench", "table": "public.events", "partition_column": "day"}},
        "expectations": [
            e("expect_table_row_count_to_be_between", "rows", min_value=1),
            e("expect_column_values_to_not_be_null", "event_id_not_null", column="event_id"),
            e("expect_column_values_to_be_unique", "event_id_unique", column="event_id"),
            e("expect_column_values_to_not_be_null", "session_not_null", column="session_id"),
            e(
                "expect_column_values_to_be_in_set",
                "type_known",
                column="event_type",
                value_set=["click", "add_to_cart", "purchase"],
            ),
            e(
                "expect_column_values_to_match_regex",
                "product_format",
                column="product_id",
                regex="^P[0-9]{6}$",
            ),
            e(
                "expect_column_values_to_be_between",
                "price_range",
                column="price",
                min_value=0,
                max_value=1000,
            ),
            e(
                "expect_column_max_to_be_between",
                "event_at_max",
                column="event_at",
                min_value="2026-01-01T00:00:00+00:00",
                max_value="2027-01-01T00:00:00+00:00",
            ),
            e("expect_column_mean_to_be_between", "price_mean", column="price", min_value=0, max_value=1000),
            e(
                "unexpected_rows_expectation",
                "purchase_has_session",
                unexpected_rows_query="SELECT * FROM (SELECT * FROM {batch}) AS b WHERE b.session_id IS NULL "
                "AND b.event_type = 'purchase'",
            ),
        ],
    }


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.quality_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--rows", type=int, default=FULL_ROWS, help="rows of the 365-day table (default 5,000,000)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timings per measurement; the median is kept")
    args = parser.parse_args(argv)
    rows_per_day = max(1, round(args.rows / DAYS))

    import psycopg2
    from psycopg2 import sql
    from sqlalchemy import create_engine, text

    from assay.config import get_settings
    from assay.db import embedded
    from assay.quality.gxrun import GxSession, partition_sql
    from assay.quality.suites import build_gx_suite, parse_suite

    state = embedded.up(get_settings())
    db = f"bench_quality_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(dbname="postgres", user="postgres", host=state.socket_dir)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    url = state.url(db)
    engine = create_engine(url)
    try:
        t0 = time.perf_counter()
        with engine.begin() as conn:
            for stmt in DDL.replace(":rows", str(rows_per_day)).split(";"):
                if stmt.strip():
                    conn.execute(text(stmt))
            total = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
        print(f"built events: {total:,} rows over 365 days in {time.perf_counter() - t0:.1f} s")

        day = dt.date(2026, 7, 1)
        day_sql = partition_sql("public", "events", "day", day)
        whole_sql = partition_sql("public", "events", None, day)
        with engine.connect() as conn:  # the partition query GX wraps must use the day index
            wrapped = f"SELECT count(*) FROM (SELECT * FROM ({day_sql}) AS subselect) AS b WHERE b.event_type = 'purchase'"
            plan = [r[0] for r in conn.execute(text(f"EXPLAIN {wrapped}"))]
        print(
            "plan of a {batch} query on one day:",
            next((p.strip() for p in plan if "ix_events_day" in p), plan),
        )

        def scan(query: str) -> None:
            with engine.connect() as conn:  # reads every column of every row it selects
                conn.execute(text(f"SELECT sum(length(x::text)) FROM ({query}) AS x")).scalar_one()

        with tempfile.TemporaryDirectory() as home:
            path = Path(home) / "bench.json"
            import json

            path.write_text(json.dumps(suite("bench")))
            spec = parse_suite(path, path.read_bytes())
            gx = GxSession(Path(home))
            gx.add_suite(build_gx_suite(spec))
            rf = {"result_format": "SUMMARY", "partial_unexpected_count": 20}

            def validate(partition_column: str | None) -> None:
                result, _ = gx.validate_sql(
                    suite_name="bench",
                    source="bench",
                    url=url,
                    asset_name="events",
                    schema="public",
                    table="events",
                    partition_column=partition_column,
                    day=day,
                    run_name="bench",
                    result_format=rf,
                )
                assert result.statistics["evaluated_expectations"] == 10
                errors = [r for r in result.results if r.exception_info.get("raised_exception")]
                assert not errors, errors
                # both scopes pass: no failing values to collect, so the two do the same work
                failed = [r.expectation_config.meta["name"] for r in result.results if not r.success]
                assert not failed, failed

            scan(whole_sql)  # warm the cache for both sides
            figures = {
                "scan_day": timed(lambda: scan(day_sql), args.repeat),
                "gx_day": timed(lambda: validate("day"), args.repeat),
                "scan_whole": timed(lambda: scan(whole_sql), args.repeat),
                "gx_whole": timed(lambda: validate(None), max(1, args.repeat - 1)),
            }
        print(f"rows: one day {rows_per_day:,}, whole table {total:,}; median of {args.repeat} runs")
        for k, v in figures.items():
            print(f"  {k:<11} {v:8.3f} s")
        print(f"ratio GX/scan, one day:     {figures['gx_day'] / figures['scan_day']:8.1f}")
        print(f"ratio GX/scan, whole table: {figures['gx_whole'] / figures['scan_whole']:8.1f}")
        print(f"whole table / one day (GX): {figures['gx_whole'] / figures['gx_day']:8.1f}")
        return 0
    finally:
        engine.dispose()
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
        admin.close()


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
