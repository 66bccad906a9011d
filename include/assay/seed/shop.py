"""``seed_shop``: build (or rebuild) the deterministic demo shop and its landing files.

Idempotence: the dimension tables (products, customers) are truncated and reloaded in one
transaction; each day of the event tables is deleted and reloaded in a transaction of its own, so
a re-seed replaces exactly the days of its window and a failure leaves every day whole (old or
new). Feed and truth files are replaced by atomic renames. No wall clock is read for data: every
timestamp derives from the seeded days, and the same config gives byte-identical rows and files.
"""

from __future__ import annotations

import io
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from assay.catalog.urls import masked, scrub
from assay.errors import DatabaseError, SourceError
from assay.seed import schema
from assay.seed.catalog import Products, make_customers, make_products
from assay.seed.config import DEFECTS, MISSING_PARTITION, SeedConfig
from assay.seed.events import make_day
from assay.seed.feeds import atomic_write, write_feeds
from assay.seed.load import copy_table

log = logging.getLogger(__name__)

TRUTH_DIR = "_truth"
DEFECTS_FILE = "defects.json"
DEFECT_DETAILS_FILE = "defect_details.json"


@dataclass(frozen=True)
class SeedStats:
    """What one ``seed_shop`` call wrote.

    Attributes:
        days: the seeded days, in order.
        rows: event table -> day -> rows loaded (0 on a ``missing_partition`` day).
        dimension_rows: products and customers loaded.
        files_written: feed and truth files written, in order.
        defects: day -> defects applied that day (empty list on clean days).
        elapsed_seconds: wall time of the call (a measurement, never part of the data).
    """

    days: tuple[date, ...]
    rows: dict[str, dict[date, int]]
    dimension_rows: dict[str, int]
    files_written: tuple[Path, ...]
    defects: dict[date, list[str]]
    elapsed_seconds: float

    @property
    def total_rows(self) -> int:
        """Rows loaded into all tables."""
        return sum(self.dimension_rows.values()) + sum(sum(d.values()) for d in self.rows.values())

    @property
    def rows_per_second(self) -> float:
        """Load throughput of the call (all tables)."""
        return self.total_rows / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0


def truth_dir(landing_dir: Path) -> Path:
    """Folder of the hidden truth files (relevance grades, defect schedule)."""
    return landing_dir / TRUTH_DIR


def relevance_path(landing_dir: Path, day: date) -> Path:
    """Where the hidden relevance grades of ``day`` are written."""
    return truth_dir(landing_dir) / f"relevance_{day.isoformat()}.parquet"


def read_defects(landing_dir: Path) -> dict[date, list[str]]:
    """The defects recorded in ``<landing>/_truth/defects.json`` (day -> names; {} if none yet).

    Raises:
        SourceError: the file exists but is not the JSON object seed_shop writes.
    """
    return {date.fromisoformat(k): v for k, v in _read_json(truth_dir(landing_dir) / DEFECTS_FILE).items()}


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SourceError(f"{path} cannot be read as JSON ({exc}); delete it and re-seed") from exc
    if not isinstance(data, dict):
        raise SourceError(f"{path} holds {type(data).__name__}, expected an object keyed by day")
    return data


def _merge_json(path: Path, updates: dict[str, Any]) -> None:
    """Replace the seeded days' entries, keep other days' (an earlier seed of another window)."""
    merged = {**_read_json(path), **updates}
    text = json.dumps(dict(sorted(merged.items())), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write(path, text.encode("utf-8"))


@dataclass(frozen=True)
class _PreparedDay:
    day: date
    defects: list[str]
    # Event table -> rows to load; None on a missing_partition day. The truth table is written by
    # the worker and not kept: at scale 2000 it is the largest table of a day (~0.5 GB).
    tables: dict[str, pa.Table] | None
    files: list[Path]
    details: dict[str, Any]


def _prepare_day(config: SeedConfig, landing_dir: Path, products: Products, day: date) -> _PreparedDay:
    """Generate a day and write its feed and truth files (everything but the database load)."""
    defects = config.defects.for_day(day)
    files, details = write_feeds(landing_dir, day, products, config.seed, defects)
    truth_file = relevance_path(landing_dir, day)
    tables = None
    if MISSING_PARTITION in defects:
        truth_file.unlink(missing_ok=True)
        details[MISSING_PARTITION] = {
            **details[MISSING_PARTITION],
            "tables": [t.name for t in schema.EVENT_TABLES],
        }
    else:
        data = make_day(config.seed, config.scale, day, products, config.customer_count, defects)
        details.update(data.defect_details)
        if config.write_truth:
            buf = io.BytesIO()
            pq.write_table(data.truth, buf)
            atomic_write(truth_file, buf.getvalue())
            files.append(truth_file)
        tables = {
            "search_sessions": data.sessions,
            "impressions": data.impressions,
            "interactions": data.interactions,
        }
    return _PreparedDay(day, [d for d in DEFECTS if d in defects], tables, files, details)


def seed_shop(shop_url: str, landing_dir: Path, config: SeedConfig) -> SeedStats:
    """Build the demo shop for ``config`` in ``shop_url`` and its feeds in ``landing_dir``.

    Creates the tables when missing, reloads products and customers, and replaces each day of the
    window in the event tables (one transaction per day). Writes the supplier feeds, the hidden
    relevance truth (when ``config.write_truth``) and ``_truth/defects.json``. The next day is
    generated in a worker thread while the database ingests the current one.

    Args:
        shop_url: SQLAlchemy URL of the shop database (PostgreSQL).
        landing_dir: the landing folder for feeds and truth files (created if missing).
        config: what to seed.

    Returns:
        Rows per table and day, files written, defects applied, elapsed seconds.

    Raises:
        DatabaseError: the shop database cannot be reached or a load fails (the failing day is
            rolled back; earlier days stay loaded).
    """
    import psycopg2
    from psycopg2 import sql
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    started = time.perf_counter()
    landing_dir = Path(landing_dir)
    landing_dir.mkdir(parents=True, exist_ok=True)
    days = config.dates
    outside = sorted(d for d in config.defects if d not in days)
    if outside:
        log.warning("defects scheduled outside the seeded window are not applied: %s", outside)
    products = make_products(config.seed, config.product_count, config.start_date)

    rows: dict[str, dict[date, int]] = {t.name: {} for t in schema.EVENT_TABLES}
    files: list[Path] = []
    applied: dict[date, list[str]] = {}
    details: dict[str, Any] = {}
    engine = create_engine(shop_url, poolclass=NullPool, hide_parameters=True)
    where = masked(shop_url)
    try:
        with engine.begin() as conn:
            schema.metadata.create_all(conn, checkfirst=True)
        raw = engine.raw_connection()
    except SQLAlchemyError as exc:
        engine.dispose()
        raise DatabaseError(f"cannot prepare the shop tables in {where}: {scrub(str(exc), shop_url)}") from exc
    # One worker: generation is CPU-bound Python/numpy, and PostgreSQL needs the other core.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="assay-seed")
    try:
        pending = pool.submit(_prepare_day, config, landing_dir, products, days[0])
        customers = make_customers(config.seed, config.customer_count, config.start_date)
        cur = raw.cursor()
        step = "products and customers"
        try:
            # Seed data is reproducible from the config: an unflushed commit lost in a crash is
            # rebuilt by re-seeding, so skip the per-commit WAL flush.
            cur.execute("SET synchronous_commit = off")
            cur.execute("TRUNCATE public.products, public.customers")
            dimension_rows = {
                "products": copy_table(cur, "products", products.table),
                "customers": copy_table(cur, "customers", customers),
            }
            raw.commit()
            del customers
            for i, day in enumerate(days):
                step = f"day {day}"
                prepared = pending.result()
                if i + 1 < len(days):
                    pending = pool.submit(_prepare_day, config, landing_dir, products, days[i + 1])
                applied[day] = prepared.defects
                files.extend(prepared.files)
                for table in schema.EVENT_TABLES:
                    cur.execute(
                        sql.SQL("DELETE FROM {}.{} WHERE day = %s").format(
                            sql.Identifier("public"), sql.Identifier(table.name)
                        ),
                        (day,),
                    )
                for name in rows:
                    rows[name][day] = (
                        0 if prepared.tables is None else copy_table(cur, name, prepared.tables[name])
                    )
                raw.commit()
                if prepared.details:
                    details[day.isoformat()] = prepared.details
                log.info(
                    "seeded %s: %s rows, defects %s",
                    day,
                    {name: rows[name][day] for name in rows},
                    applied[day] or "none",
                )
            step = "ANALYZE"
            for tbl in schema.metadata.sorted_tables:
                cur.execute(
                    sql.SQL("ANALYZE {}.{}").format(sql.Identifier("public"), sql.Identifier(tbl.name))
                )
            raw.commit()
        except psycopg2.Error as exc:
            raw.rollback()
            raise DatabaseError(f"seeding the shop in {where} failed at {step}: {scrub(str(exc), shop_url)}".strip()) from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        raw.close()
        engine.dispose()

    tdir = truth_dir(landing_dir)
    _merge_json(tdir / DEFECTS_FILE, {d.isoformat(): names for d, names in applied.items()})
    _merge_json(tdir / DEFECT_DETAILS_FILE, {d.isoformat(): details.get(d.isoformat(), {}) for d in days})
    files.extend([tdir / DEFECTS_FILE, tdir / DEFECT_DETAILS_FILE])
    elapsed = time.perf_counter() - started
    stats = SeedStats(
        days=days,
        rows=rows,
        dimension_rows=dimension_rows,
        files_written=tuple(files),
        defects=applied,
        elapsed_seconds=elapsed,
    )
    log.info(
        "seeded %d day(s) into %s: %d rows in %.1f s (%.0f rows/s), %d files",
        len(days),
        where,
        stats.total_rows,
        elapsed,
        stats.rows_per_second,
        len(files),
    )
    return stats
