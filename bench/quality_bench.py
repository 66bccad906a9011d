"""Cost of validating a suite, as a ratio to one scan of what it validates; and many small partitions.

Targets (issue #16, items 3 and 4), each printed with its measured figure, exit status 1 on a miss:

* **whole table** -- a 10-expectation suite on the whole 5M-row table costs <= 3x one scan of it;
* **one day** -- the same suite on one 400k-row day of it (``WHERE day = ...``, ``day`` indexed)
  costs <= 3x one scan of that day;
* **memory** -- the partition is never fetched into Python: the process's peak RSS grows by
  <= 150 MB while validating (the process itself holds GX, pandas and SQLAlchemy, ~300 MB, before
  the first validation: that baseline is printed, not counted);
* **many partitions** -- 1,000 one-day partitions of small tables (10 tables x 100 days, one GX
  context, each suite built once) validated at <= 0.1 s each, printed as partitions/s. Measured
  per partition: ``GxSession.validate_sql`` plus writing its result to the Data Docs store
  (``store_masked``) -- not the catalog writes and the Data Docs build of ``run_quality``.

"One scan" is what the issue's "today 7-8x" was measured against (docs/benchmarks.md, before #16):
a plain read of every column of every row validated, ``SELECT sum(length(x::text)) FROM (<rows>) x``.
The ratio to a cheaper floor is printed beside it, not judged: the full-scan aggregate of the
issue's profile target, ``count(col)`` of every column plus ``sum(length(col))`` of every text
column. The data is built here, shaped
unlike the demo's shop: 12 columns (bigint ids, md5 session ids, free text of 2-46 characters,
numeric prices with nulls, timestamps, booleans, a nullable int), 400k rows a day.

The suite passes on both scopes, which is the path this bench measures (the common one); a
partition with failing values is validated by GX itself, whose cost the ``--gx-reference`` run
prints (GX only, the route before issue #16: 7-8 scans of the table).

    .venv/bin/python -m bench.quality_bench [--rows 5000000] [--day-rows 400000] [--repeat 3]

Defaults are the issue's sizes. ``python -m bench --quick`` passes ``--rows 500000 --day-rows 40000``.

Growth (issue #16 item 6, not in CI): ``--rows`` >= 10M (or ``--growth``) times the whole-table
suite and one scan at ``--growth-base`` rows (5M), grows the same table to ``--rows`` and times
them again, judging time per 5M rows (<= 1.3x) and peak memory (<= 1.2x); see :mod:`bench.growth`::

    nice -n 10 .venv/bin/python -m bench.quality_bench --rows 50000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import growth

FULL_ROWS = 5_000_000
DAY_ROWS = 400_000
#: Target ratios and limits (issue #16).
MAX_RATIO = 3.0
MAX_RSS_GROWTH_MB = 150.0
MAX_PARTITION_S = 0.1
#: Many small partitions: tables x days x rows a day.
SMALL_TABLES, SMALL_DAYS, SMALL_ROWS = 10, 100, 50
START = dt.date(2026, 3, 1)
#: Growth: seconds to wait before reading ``pg_stat_database`` (idle backends flush after 10 s).
STATS_IDLE_S = 11.0


def table_sql(name: str, rows: int, per_day: int) -> str:
    """``CREATE TABLE`` of ``rows`` events, ``per_day`` a day from :data:`START`, indexed on ``day``."""
    return f"""
CREATE TABLE {name} AS
{rows_sql(0, rows, per_day)};
CREATE INDEX ix_{name}_day ON {name} (day);
ANALYZE {name}
"""


def grow_sql(name: str, rows: int, to_rows: int, per_day: int) -> str:
    """``INSERT`` the events ``rows`` .. ``to_rows - 1`` into a table made by :func:`table_sql`."""
    return f"INSERT INTO {name} {rows_sql(rows, to_rows, per_day)}"


def rows_sql(first: int, stop: int, per_day: int) -> str:
    """The ``SELECT`` of events ``first`` .. ``stop - 1`` (each a pure function of its number)."""
    return f"""
SELECT g AS event_id,
       md5((g / 8)::text) AS session_id,
       (g * 7) % 200003 AS user_id,
       'q' || ((g * 7919) % 100000)::text || ' ' || repeat(chr((97 + g % 26)::int), (g % 40)::int) AS query_text,
       (g * 31) % 50000 AS product_id,
       CASE WHEN g % 17 = 0 THEN NULL ELSE round(((g % 99991) / 100.0)::numeric, 2) END AS price,
       timestamptz '{START} 00:00:00+00' + (g / {per_day}) * interval '1 day'
           + (g % {per_day}) * (interval '86399 seconds' / {per_day}) AS event_at,
       (date '{START}' + (g / {per_day})::int) AS day,
       (g % 3 = 0) AS clicked,
       (ARRAY['search', 'view', 'view', 'cart', 'purchase'])[1 + g % 5] AS event_type,
       (ARRAY['web', 'ios', 'android'])[1 + (g / 7) % 3] AS channel,
       CASE WHEN g % 11 = 0 THEN NULL ELSE ((g % 5) + 1)::int END AS rank
FROM generate_series({first}::bigint, {stop} - 1) AS g"""


def suite(name: str, table: str) -> dict[str, Any]:
    """Ten expectations over the event table: counts, uniqueness, a regex, a set, ranges, a row query."""

    def e(type_: str, n: str, **kwargs: Any) -> dict[str, Any]:
        return {"type": type_, "kwargs": kwargs, "meta": {"name": n, "dimension": "validity", "severity": "critical"}}

    return {
        "name": name,
        "meta": {"assay": {"source": "bench", "table": f"public.{table}", "partition_column": "day"}},
        "expectations": [
            e("expect_table_row_count_to_be_between", "rows", min_value=1),
            e("expect_column_values_to_not_be_null", "event_id_not_null", column="event_id"),
            e("expect_column_values_to_be_unique", "event_id_unique", column="event_id"),
            # PostgreSQL's regex engine runs a bounded repetition such as ``{32}`` about 6x slower
            # than an open one (1 us a value here); docs/benchmarks.md has the figures.
            e("expect_column_values_to_match_regex", "query_format", column="query_text", regex="^q[0-9]+ [a-z]*$"),
            e("expect_column_values_to_be_in_set", "type_known", column="event_type",
              value_set=["search", "view", "cart", "purchase"]),
            e("expect_column_values_to_be_between", "price_range", column="price", min_value=0, max_value=1000),
            e("expect_column_value_lengths_to_be_between", "query_length", column="query_text", min_value=2,
              max_value=60),
            e("expect_column_max_to_be_between", "event_at_max", column="event_at",
              min_value=f"{START}T00:00:00+00:00", max_value="2027-01-01T00:00:00+00:00"),
            e("expect_column_mean_to_be_between", "price_mean", column="price", min_value=0, max_value=1000),
            e("unexpected_rows_expectation", "rank_range",
              unexpected_rows_query="SELECT * FROM {batch} WHERE rank < 1 OR rank > 5"),
        ],
    }


def timed(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def floor_sql(conn: Any, table: str, where: str) -> str:
    """Issue #16's full-scan aggregate: ``count`` of every column, ``sum(length)`` of every text column."""
    from sqlalchemy import text

    cols = conn.execute(text("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_schema = 'public' AND table_name = :t ORDER BY ordinal_position"),
                        {"t": table}).all()
    parts = [f'count("{c}")' for c, _ in cols]
    parts += [f'sum(length("{c}"))' for c, t in cols if t in ("text", "character varying")]
    return f"SELECT {', '.join(parts)} FROM public.{table} WHERE {where}"  # noqa: S608 - names from the catalog


def build(engine: Any, rows: int, day_rows: int, small_days: int) -> None:
    """The event table and the small tables, vacuumed and analysed."""
    from sqlalchemy import text

    with engine.begin() as conn:
        for stmt in table_sql("events", rows, day_rows).split(";"):
            conn.execute(text(stmt))
        for i in range(SMALL_TABLES):
            for stmt in table_sql(f"small_{i}", small_days * SMALL_ROWS, SMALL_ROWS).split(";"):
                conn.execute(text(stmt))
    # Vacuumed before timing: autovacuum would otherwise start on the new tables mid-run
    # (hint bits, visibility map) and land on whichever measurement runs then.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ["events", *(f"small_{i}" for i in range(SMALL_TABLES))]:
            conn.execute(text(f"VACUUM (ANALYZE) {table}"))


def _bench_database() -> tuple[Any, str, str, Any]:
    """A fresh database of the embedded server for one bench run: (admin connection, name, URL, engine)."""
    import psycopg2
    from psycopg2 import sql
    from sqlalchemy import create_engine

    from assay.config import get_settings
    from assay.db import embedded

    state = embedded.up(get_settings())
    db = f"bench_quality_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(dbname="postgres", user="postgres", host=state.socket_dir)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    return admin, db, state.url(db), create_engine(state.url(db))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=FULL_ROWS, help="rows of the table (default 5,000,000)")
    parser.add_argument("--day-rows", type=int, default=DAY_ROWS, help="rows a day (default 400,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timings per measurement; the median is kept")
    parser.add_argument("--partitions", type=int, default=SMALL_TABLES * SMALL_DAYS,
                        help="small partitions to validate (default 1,000: 10 tables x 100 days)")
    parser.add_argument("--gx-reference", action="store_true",
                        help="also time GX alone (the route before issue #16) on both scopes, once each")
    parser.add_argument("--growth", action="store_true",
                        help=f"growth reading (issue #16 item 6), also implied by --rows >= {growth.GROWTH_MIN_ROWS:,}: "
                        "the event table is built at --growth-base rows, the whole-table suite and one scan are "
                        "timed (best of --repeat, interleaved) with peak memory, the same table is grown in place "
                        "to --rows (insert, VACUUM ANALYZE) and measured again; prints seconds and seconds per 5M "
                        f"rows at both sizes and misses when time per 5M grows > {growth.MAX_TIME_RATIO:g}x or peak "
                        f"memory > {growth.MAX_MEMORY_RATIO:g}x. Replaces the other measurements (the day and the "
                        "small partitions do not grow with the table). Not in CI: 50M rows take ~8 GB and ~20 min")
    parser.add_argument("--growth-base", type=int, default=growth.UNIT_ROWS,
                        help="base size of the growth reading (default 5,000,000)")
    growth.add_tolerances(parser)
    args = parser.parse_args(argv)
    if growth.wanted(args.rows, args.growth, args.growth_base):
        return growth_run(args)
    if args.growth:
        parser.error(f"--growth: --rows ({args.rows:,}) must be above --growth-base ({args.growth_base:,})")

    from psycopg2 import sql
    from sqlalchemy import text

    from assay.quality.gxrun import GxSession, result_format_config
    from assay.quality.suites import build_gx_suite, parse_suite

    print(f"load at start: {growth.loadavg()}")
    admin, db, url, engine = _bench_database()
    small_days = max(1, args.partitions // SMALL_TABLES)
    try:
        t0 = time.perf_counter()
        build(engine, args.rows, args.day_rows, small_days)
        day = START + dt.timedelta(days=min(5, max(0, args.rows // args.day_rows - 1)))
        with engine.connect() as conn:
            total = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
            day_rows = conn.execute(text("SELECT count(*) FROM events WHERE day = :d"), {"d": day}).scalar_one()
            floors = {"whole": floor_sql(conn, "events", "true"), "day": floor_sql(conn, "events", f"day = '{day}'")}
        reads = {scope: f"SELECT sum(length(x::text)) FROM (SELECT * FROM public.events WHERE {where}) AS x"  # noqa: S608
                 for scope, where in (("whole", "true"), ("day", f"day = '{day}'"))}
        print(f"built and vacuumed events: {total:,} rows, {day_rows:,} on {day}; {SMALL_TABLES} small tables x "
              f"{small_days} days x {SMALL_ROWS} rows; {time.perf_counter() - t0:.1f} s")

        def scan(scope: str) -> None:
            with engine.connect() as conn:  # reads every column of every row it selects
                conn.execute(text(reads[scope])).one()

        def aggregate(scope: str) -> None:
            with engine.connect() as conn:
                conn.execute(text(floors[scope])).one()

        rf = result_format_config("SUMMARY")
        with tempfile.TemporaryDirectory() as home:
            specs = {}
            for name, table in [("events", "events")] + [(f"small_{i}", f"small_{i}") for i in range(SMALL_TABLES)]:
                path = Path(home) / f"{name}.json"
                path.write_text(json.dumps(suite(name, table)))
                specs[table] = parse_suite(path, path.read_bytes())

            def session(one_scan: bool) -> GxSession:
                gx = GxSession(Path(home) / f"state-{one_scan}", one_scan=one_scan)
                for spec in specs.values():
                    gx.add_suite(build_gx_suite(spec))
                return gx

            def validate(gx: GxSession, table: str, partition_column: str | None, on: dt.date,
                         route: str) -> Any:
                result, key = gx.validate_sql(
                    suite_name=specs[table].gx_name, source="bench", url=url, asset_name=table, schema="public",
                    table=table, partition_column=partition_column, day=on, run_name=f"bench-{uuid.uuid4().hex[:6]}",
                    result_format=rf,
                )
                assert result.statistics["evaluated_expectations"] == 10
                failed = [r.expectation_config.meta["name"] for r in result.results if not r.success]
                assert not failed, f"{table} {on}: {failed} failed"
                assert gx.last_route == route, f"{table} {on}: validated by {gx.last_route}, not {route}"
                return result, key

            gx = session(True)
            scan("whole")  # warm the cache for both sides
            validate(gx, "events", "day", day, "scan")  # GX's imports and the engine, once
            rss_before = peak_rss_mb()
            figures = {
                "scan_day": timed(lambda: scan("day"), args.repeat),
                "floor_day": timed(lambda: aggregate("day"), args.repeat),
                "assay_day": timed(lambda: validate(gx, "events", "day", day, "scan"), args.repeat),
                "scan_whole": timed(lambda: scan("whole"), args.repeat),
                "floor_whole": timed(lambda: aggregate("whole"), args.repeat),
                "assay_whole": timed(lambda: validate(gx, "events", None, day, "scan"), args.repeat),
            }
            rss_after = peak_rss_mb()

            partitions = [(f"small_{i}", START + dt.timedelta(days=d)) for d in range(small_days)
                          for i in range(SMALL_TABLES)]
            t0 = time.perf_counter()
            for table, on in partitions:
                result, key = validate(gx, table, "day", on, "scan")
                gx.store_masked(key, result)
            many_s = time.perf_counter() - t0

            if args.gx_reference:  # last: GX's whole-table run leaves a heap that slows what follows (~2x)
                plain = session(False)
                figures["gx_day"] = timed(lambda: validate(plain, "events", "day", day, "gx"), 1)
                rss_gx_day = peak_rss_mb()
                figures["gx_whole"] = timed(lambda: validate(plain, "events", None, day, "gx"), 1)

        print(f"median of {args.repeat} runs; load at end: {growth.loadavg()}")
        for k, v in figures.items():
            print(f"  {k:<12} {v:8.3f} s")
        per_partition = many_s / len(partitions)
        checks = [
            ("whole table: validation / one scan", figures["assay_whole"] / figures["scan_whole"], MAX_RATIO, "x"),
            ("one day: validation / one scan", figures["assay_day"] / figures["scan_day"], MAX_RATIO, "x"),
            ("peak RSS growth while validating", rss_after - rss_before, MAX_RSS_GROWTH_MB, " MB"),
            (f"{len(partitions):,} small partitions: s each", per_partition, MAX_PARTITION_S, " s"),
        ]
        print(f"peak RSS: {rss_before:.0f} MB before the timed validations (GX imported), {rss_after:.0f} MB after")
        print(f"small partitions: {len(partitions) / many_s:.1f} partitions/s ({many_s:.1f} s for {len(partitions):,})")
        print(f"to the aggregate floor (not judged): one day {figures['assay_day'] / figures['floor_day']:.1f}x, "
              f"whole table {figures['assay_whole'] / figures['floor_whole']:.1f}x")
        if args.gx_reference:
            print(f"GX alone (the route for failing partitions): one day {figures['gx_day'] / figures['scan_day']:.1f}x, "
                  f"whole table {figures['gx_whole'] / figures['scan_whole']:.1f}x one scan; peak RSS growth "
                  f"after its day {rss_gx_day - rss_before:.1f} MB")
        missed = 0
        for label, value, limit, unit in checks:
            ok = value <= limit
            missed += not ok
            print(f"{'met   ' if ok else 'MISSED'} {label}: {value:.3f}{unit} (target <= {limit:g}{unit})")
        return 1 if missed else 0
    finally:
        engine.dispose()
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
        admin.close()


def growth_run(args: argparse.Namespace) -> int:
    """Issue #16 item 6: the whole-table suite at ``--growth-base`` rows and, the table grown in place, at ``--rows``."""
    from psycopg2 import sql
    from sqlalchemy import text

    from assay.quality.gxrun import GxSession, result_format_config
    from assay.quality.suites import build_gx_suite, parse_suite

    print(f"load at start: {growth.loadavg()}", flush=True)
    admin, db, url, engine = _bench_database()
    day = START  # only a scope argument: the whole table is validated

    def vacuum() -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE) events"))

    def stats() -> tuple[int, int]:
        # The pool's backends flush their statistics when they exit; GX's own engine keeps its
        # connections, which flush once idle for 10 s (PostgreSQL's PGSTAT_IDLE_INTERVAL).
        engine.dispose()
        time.sleep(STATS_IDLE_S)
        with engine.connect() as conn:
            temp = conn.execute(text("SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()"))
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            return int(temp.scalar_one()), int(pid)

    try:
        t0 = time.perf_counter()
        with engine.begin() as conn:
            for stmt in table_sql("events", args.growth_base, args.day_rows).split(";"):
                conn.execute(text(stmt))
        vacuum()
        print(f"built events at {args.growth_base:,} rows in {time.perf_counter() - t0:.1f} s", flush=True)
        with tempfile.TemporaryDirectory() as home:
            path = Path(home) / "events.json"
            path.write_text(json.dumps(suite("events", "events")))
            spec = parse_suite(path, path.read_bytes())
            gx = GxSession(Path(home) / "state", one_scan=True)
            gx.add_suite(build_gx_suite(spec))
            rf = result_format_config("SUMMARY")

            def validate() -> None:
                result, _ = gx.validate_sql(
                    suite_name=spec.gx_name, source="bench", url=url, asset_name="events", schema="public",
                    table="events", partition_column=None, day=day, run_name=f"bench-{uuid.uuid4().hex[:6]}",
                    result_format=rf,
                )
                failed = [r.expectation_config.meta["name"] for r in result.results if not r.success]
                assert result.statistics["evaluated_expectations"] == 10 and not failed, failed
                assert gx.last_route == "scan", f"validated by {gx.last_route}, not the one-scan route"

            def scan() -> None:
                with engine.connect() as conn:
                    conn.execute(text("SELECT sum(length(x::text)) FROM (SELECT * FROM public.events) AS x")).one()

            def reading() -> growth.Reading:
                temp_before, pid = stats()
                start_load = growth.loadavg()
                with engine.connect() as conn:
                    rows = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
                    size = conn.execute(text("SELECT pg_total_relation_size('events')")).scalar_one()
                with growth.peak_rss() as rss, growth.BackendMemory(pid, db) as backends:
                    floor_s, validate_s = growth.interleaved(args.repeat, scan, validate)
                temp_after, _ = stats()
                return growth.Reading(rows, validate_s, floor_s, rss[0], backends.peak_mb, f"{start_load} -> {growth.loadavg()}",
                                      {"table MB": size / 2**20, "temp files MB": (temp_after - temp_before) / 2**20})

            validate()  # GX's imports and the engine, once
            base = reading()
            print(f"  {base.rows:,} rows: suite {base.seconds:.2f} s, one scan {base.floor_seconds:.2f} s", flush=True)
            t0 = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(text(grow_sql("events", args.growth_base, args.rows, args.day_rows)))
            vacuum()
            print(f"grew events to {args.rows:,} rows in {time.perf_counter() - t0:.1f} s (insert, VACUUM ANALYZE)",
                  flush=True)
            result = growth.judge(base, reading(), args.max_time_ratio, args.max_memory_ratio,
                                  label="whole-table suite")
        print("\n".join(growth.report(result, "the 10-expectation suite on the whole table", "one scan")))
        print(f"load at end: {growth.loadavg()}")
        return 1 if result.missed else 0
    finally:
        engine.dispose()
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
        admin.close()


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
