"""Inventory benchmark: 2,000 tables x 20 columns, batched inventory vs per-table reflection.

Run from the project root::

    .venv/bin/python -m bench.inventory_bench                # embedded PostgreSQL (assay db up)
    .venv/bin/python -m bench.inventory_bench --tables 500   # smaller
    .venv/bin/python -m bench.inventory_bench --distinct-values  # no two tables share a sample
    .venv/bin/python -m bench.inventory_bench --server-url postgresql+psycopg2://postgres@host/postgres

It creates a source database with the tables (10 rows each, analysed so the planner's estimates
exist and ``exact_row_count_below: 0`` uses them) and catalog databases, then measures:

* reflection alone: the batched ``assay.sources.sql.list_relations`` (two catalog queries per
  schema on PostgreSQL) against the per-table baseline (``Inspector.get_columns`` per table);
* the whole inventory (reflection, estimates, one sample query per table, rule-based
  classification, catalog writes) with embeddings off: the first run into an empty catalog, and
  the next day's run with nothing changed (stored labels are reused, only facts are rewritten);
* the same with embeddings on, for ``--embedding-tables`` tables (embedding every column on a CPU
  takes far longer than the target; the figure per column is what to extrapolate from).

The databases are dropped at the end unless ``--keep``. Target: inventory <= 15 s. The exit
status is 1 when a full-size run misses the target.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from assay.catalog import migrate
from assay.config import Settings
from assay.inventory import run_inventory
from assay.sources import sql
from assay.sources.declarations import Declarations

TARGET_S = 15.0
COLUMN_TYPES = ("bigint", "text", "numeric(12,2)", "timestamptz", "boolean")


def _admin(server_url: str | None, settings: Settings) -> str:
    if server_url:
        return server_url
    from assay.db import embedded

    return embedded.up(settings).url("postgres")


def _create_db(admin_url: str, name: str) -> str:
    eng = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    eng.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop_db(admin_url: str, name: str) -> None:
    eng = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    eng.dispose()


def _build_source(url: str, tables: int, columns: int, rows: int, distinct: bool = False) -> None:
    """Create the tables; with ``distinct`` no two tables hold the same values (``i`` is offset)."""

    def column_def(j: int) -> str:
        return f"c{j:02d} {COLUMN_TYPES[j % len(COLUMN_TYPES)]}"

    def value(j: int) -> str:
        return {
            "bigint": "i",
            "text": "'value ' || i",
            "numeric(12,2)": "i * 1.25",
            "timestamptz": "TIMESTAMPTZ '2026-11-01 00:00+00' + i * INTERVAL '1 hour'",
            "boolean": "mod(i, 2) = 0",
        }[COLUMN_TYPES[j % len(COLUMN_TYPES)]]

    cols = ", ".join(["id bigint PRIMARY KEY", *(column_def(j) for j in range(1, columns))])
    names = ", ".join(["id", *(f"c{j:02d}" for j in range(1, columns))])
    values = ", ".join(["i", *(value(j) for j in range(1, columns))])
    eng = create_engine(url)
    with eng.begin() as c:
        for start in range(0, tables, 100):
            batch = [
                f"CREATE TABLE t{k:05d} ({cols}); INSERT INTO t{k:05d} ({names}) "
                f"SELECT {values} FROM generate_series({k * rows * distinct + 1}, {k * rows * distinct + rows}) i;"
                for k in range(start, min(start + 100, tables))
            ]
            c.exec_driver_sql("\n".join(batch))
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("ANALYZE")
    eng.dispose()


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def _per_table_reflection(url: str) -> int:
    eng = create_engine(url)
    with eng.connect() as c:
        insp = inspect(c)
        n = 0
        for name in insp.get_table_names(schema="public"):
            n += len(insp.get_columns(name, schema="public"))
    eng.dispose()
    return n


def _batched_reflection(url: str) -> int:
    eng = sql.source_engine(url)
    with eng.connect() as c:
        listing = sql.list_relations(c, "public")
    eng.dispose()
    return sum(len(r.columns) for r in listing.relations)


def _inventory(
    settings: Settings,
    src_url: str,
    catalog_url: str,
    embeddings: bool,
    day: dt.date,
    tables: int | None = None,
) -> float:
    source: dict[str, Any] = {"name": "bench", "kind": "sql", "url": src_url, "exact_row_count_below": 0}
    if tables is not None:
        source["include"] = [f"t{i:05d}" for i in range(tables)]
    decls = Declarations.model_validate({"sources": [source]})
    run_settings = settings.model_copy(update={"database_url": catalog_url})
    cpu = time.process_time()
    elapsed, report = _timed(
        lambda: run_inventory(
            run_settings, day, f"bench/{day.isoformat()}", use_embeddings=embeddings, declarations=decls
        )
    )
    cpu = time.process_time() - cpu
    src = report.source("bench")
    print(
        f"    {elapsed:.2f} s wall, {cpu:.2f} s CPU in this process (all threads): {src.seen} assets, "
        f"{src.new} new, {src.errors} errors, status {report.status}"
    )
    if report.status != "success":
        raise SystemExit(f"inventory did not succeed: {report.summary()}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tables", type=int, default=2000)
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--rows", type=int, default=10)
    parser.add_argument(
        "--server-url", help="maintenance-database URL of a PostgreSQL server (default: embedded)"
    )
    parser.add_argument(
        "--embedding-tables",
        type=int,
        default=200,
        help="tables inventoried with embeddings on (0: skip; CPU embedding of every column is slow)",
    )
    parser.add_argument(
        "--distinct-values",
        action="store_true",
        help=(
            "give every table its own values (by default all tables hold the same 10 rows, so the "
            "classifier computes each column shape once per chunk of 64 tables and copies the rest)"
        ),
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # The run's own account of where its time went: per source, and classification's share.
    logging.basicConfig(format="    %(message)s")
    logging.getLogger("assay.inventory.run").setLevel(logging.INFO)

    settings = Settings()
    admin = _admin(args.server_url, settings)
    tag = uuid.uuid4().hex[:6]
    names = [f"assay_bench_src_{tag}", f"assay_bench_cat_{tag}", f"assay_bench_emb_{tag}"]
    day1, day2 = dt.date(2026, 11, 20), dt.date(2026, 11, 21)
    results: list[tuple[str, float, bool]] = []
    try:
        src_url = _create_db(admin, names[0])
        shape = "distinct values per table" if args.distinct_values else "the same values in every table"
        print(f"creating {args.tables} tables x {args.columns} columns ({args.rows} rows each, {shape}) ...")
        build_s, _ = _timed(
            lambda: _build_source(src_url, args.tables, args.columns, args.rows, args.distinct_values)
        )
        print(f"  built in {build_s:.1f} s")

        base_s, base_cols = _timed(lambda: _per_table_reflection(src_url))
        batch_s, batch_cols = _timed(lambda: _batched_reflection(src_url))
        if base_cols != batch_cols:
            raise SystemExit(f"reflection disagrees: {base_cols} columns per table vs {batch_cols} batched")
        print(f"reflection of {base_cols} columns: per-table {base_s:.2f} s, batched {batch_s:.2f} s")

        catalog_url = _create_db(admin, names[1])
        migrate.upgrade(catalog_url, "head")
        print(f"inventory of {args.tables} tables, embeddings off, first run (empty catalog):")
        results.append(
            ("embeddings off, first run", _inventory(settings, src_url, catalog_url, False, day1), True)
        )
        print("  next day, nothing changed (stored labels reused):")
        results.append(
            ("embeddings off, next day", _inventory(settings, src_url, catalog_url, False, day2), True)
        )

        if args.embedding_tables:
            n = min(args.embedding_tables, args.tables)
            emb_url = _create_db(admin, names[2])
            migrate.upgrade(emb_url, "head")
            print(f"inventory of {n} tables, embeddings on, first run (loads the model):")
            first = _inventory(settings, src_url, emb_url, True, day1, n)
            results.append((f"embeddings on, {n} tables, first run", first, n == args.tables))
            print("  next day, nothing changed:")
            again = _inventory(settings, src_url, emb_url, True, day2, n)
            results.append((f"embeddings on, {n} tables, next day", again, n == args.tables))

        print(
            f"\nresults ({args.tables} tables x {args.columns} columns, {shape}, {os.cpu_count()} CPUs, "
            f"load {os.getloadavg()[0]:.1f})"
        )
        print(f"  reflection, per-table get_columns : {base_s:7.2f} s")
        print(f"  reflection, batched               : {batch_s:7.2f} s   ratio {base_s / batch_s:.1f}x")
        for label, seconds, full in results:
            verdict = ("OK" if seconds <= TARGET_S else "OVER") if full else "subset, not judged"
            print(f"  inventory, {label:<35}: {seconds:7.2f} s   target {TARGET_S:.0f} s: {verdict}")
        return 0 if all(seconds <= TARGET_S for _, seconds, full in results if full) else 1
    finally:
        if not args.keep:
            for name in names:
                _drop_db(admin, name)


if __name__ == "__main__":
    sys.exit(main())
