"""Discovery: what one source holds right now, as :class:`ObservedAsset` values.

Nothing here writes to the catalog. A source that cannot be listed at all raises
:class:`~assay.errors.SourceError`; an asset that cannot be read is yielded with ``error`` set
(and whatever was learnt before the failure), so the others carry on.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from assay.catalog.db import masked
from assay.catalog.models import AssetKind
from assay.config import Settings
from assay.errors import SourceError
from assay.sources.declarations import AssetDecl, FileSource, SqlSource
from assay.sources.sql import ColumnInfo, RelationInfo, RelationStats

log = logging.getLogger(__name__)

#: Values per column handed to classification.
SAMPLE_ROWS = 200


@dataclass
class ObservedAsset:
    """One table, view or file as the inventory saw it.

    ``columns is None`` means the columns are unknown (the asset could not be read far enough).
    ``error`` set means the asset could not be (fully) read: it is recorded with status ``error``.
    ``note`` is a warning for a readable asset (an empty file, a ``.csv`` that is tab-separated);
    it goes in the asset's ``error`` column while the status stays ``active``.
    """

    namespace: str
    name: str
    kind: AssetKind
    location: str
    decl: AssetDecl
    columns: tuple[ColumnInfo, ...] | None = None
    row_count: int | None = None
    row_count_is_estimate: bool = False
    size_bytes: int | None = None
    freshness_at: dt.datetime | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    extra_tags: list[str] = field(default_factory=list)
    samples: dict[str, list[str | None]] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass
class Listing:
    """What the observer of one source learnt besides the assets: which namespaces it could list.

    Only assets in a namespace that was listed completely can be declared vanished; a namespace
    that failed to list is in ``failed`` with the reason.
    """

    failed: dict[str, str] = field(default_factory=dict)


def db_error_text(exc: BaseException) -> str:
    """The first line of the driver's message (SQLAlchemy appends the statement and a link)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return f"{type(orig if orig is not None else exc).__name__}: {first}"


def as_utc(value: Any) -> dt.datetime | None:
    """A newest event time as an aware UTC datetime; a naive timestamp is taken to be UTC.

    ISO-8601 text (event times in a JSON Lines feed) is parsed.

    Raises:
        TypeError: the value is not a date or a timestamp.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), dt.UTC)
    if isinstance(value, str):
        try:
            return as_utc(dt.datetime.fromisoformat(value))
        except ValueError:
            raise TypeError(f"{value[:40]!r} is not an ISO date or timestamp") from None
    raise TypeError(f"{type(value).__name__} is not a date or timestamp")


# ---- SQL ----------------------------------------------------------------------------------------
def observe_sql(
    decl: SqlSource, url: str, listing: Listing, *, with_samples: bool = True
) -> Iterator[ObservedAsset]:
    """Every table and view of the declared schemas, with counts, freshness and samples.

    Reflection is batched per schema (:func:`assay.sources.sql.list_relations`). Then each
    relation costs one statement for ``count(*)`` and ``max(event_time)`` together (or only the
    ``max`` when the planner's estimate is at or above ``exact_row_count_below``) and one for the
    sample.

    Raises:
        SourceError: the database cannot be reached (nothing was listed).
    """
    from assay.sources import sql

    try:
        engine = sql.source_engine(url)
    except SQLAlchemyError as exc:  # an unknown dialect or a malformed URL
        raise SourceError(f"source {decl.name}: unusable URL {masked(url)}: {exc}") from exc
    try:
        try:
            conn = engine.connect()
        except SQLAlchemyError as exc:
            raise SourceError(
                f"source {decl.name}: cannot connect to {masked(url)}: {db_error_text(exc)}"
            ) from exc
        with conn:
            try:
                present = set(sql.schema_names(conn))
            except SQLAlchemyError as exc:
                raise SourceError(f"source {decl.name}: cannot list schemas: {db_error_text(exc)}") from exc
            for schema in decl.schemas:
                if schema not in present:
                    listing.failed[schema] = f"schema {schema!r} does not exist in {masked(url)}"
                    continue
                try:
                    found = sql.list_relations(conn, schema, decl.wants)
                except SQLAlchemyError as exc:
                    listing.failed[schema] = f"schema {schema!r}: cannot reflect: {db_error_text(exc)}"
                    continue
                yield from _observe_relations(engine, conn, decl, found, with_samples)
    finally:
        engine.dispose()


#: Connections reading relations side by side (counts, samples) on PostgreSQL.
READERS = 3
#: Relations observed ahead of the consumer, at most.
READ_AHEAD = 4 * READERS


def _observe_relations(
    engine: Any, conn: Connection, decl: SqlSource, found: Any, with_samples: bool
) -> Iterator[ObservedAsset]:
    """Observe the relations of one schema, in order.

    Each relation costs one or two short statements whose time is mostly the round trip, so on
    PostgreSQL with many relations they run on :data:`READERS` connections side by side (measured
    on 2,000 tables: the sample statements were the inventory's critical path). A relation's
    failure stays its own (recorded on its asset), exactly as when read one by one.
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    from assay.sources.sql import is_postgres

    relations = list(found.relations)
    if not is_postgres(conn) or len(relations) <= READ_AHEAD:
        for rel in relations:
            yield _observe_relation(conn, decl, rel, found.stats.get(rel.name), with_samples)
        return
    local = threading.local()
    opened: list[Connection] = []
    lock = threading.Lock()

    def observe(rel: RelationInfo) -> ObservedAsset:
        mine: Connection | None = getattr(local, "conn", None)
        if mine is None:
            mine = engine.connect()
            local.conn = mine
            with lock:
                opened.append(mine)
        return _observe_relation(mine, decl, rel, found.stats.get(rel.name), with_samples)

    pending: deque[Future[ObservedAsset]] = deque()
    pool = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="inventory-observe")
    try:
        for rel in relations:
            pending.append(pool.submit(observe, rel))
            if len(pending) >= READ_AHEAD:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=True)
        for c in opened:
            c.close()


def _observe_relation(
    conn: Connection, decl: SqlSource, rel: RelationInfo, stats: RelationStats | None, with_samples: bool
) -> ObservedAsset:
    from assay.sources import sql

    adecl = decl.asset_decl(rel.name)
    kind = {"table": AssetKind.TABLE, "view": AssetKind.VIEW, "partitioned": AssetKind.PARTITIONED}[rel.kind]
    asset = ObservedAsset(
        namespace=rel.schema,
        name=rel.name,
        kind=kind,
        location=sql.display_name(conn, rel.schema, rel.name),
        decl=adecl,
        columns=rel.columns,
        size_bytes=stats.size_bytes if stats else None,
    )
    names = [c.name for c in rel.columns]
    event_time = adecl.event_time_column
    if event_time and event_time not in names:
        asset.notes.append(f"declared event_time_column {event_time!r} is not a column of {asset.location}")
        event_time = None
    try:
        estimate = stats.row_estimate if stats else None
        if estimate is None and rel.kind == "view":
            estimate = sql.planner_estimate(conn, rel.schema, rel.name)
        if estimate is not None and estimate >= decl.exact_row_count_below:
            asset.row_count, asset.row_count_is_estimate = estimate, True
            newest = sql.max_of(conn, rel.schema, rel.name, event_time) if event_time else None
        else:
            asset.row_count, newest = sql.count_and_max(conn, rel.schema, rel.name, event_time)
        try:
            asset.freshness_at = as_utc(newest)
        except TypeError as exc:
            asset.notes.append(f"event_time_column {event_time!r}: {exc}; freshness not recorded")
        if with_samples and names:
            asset.samples = sql.sample_columns(
                conn, rel.schema, rel.name, names, order_by=rel.primary_key, limit=SAMPLE_ROWS
            )
    except SQLAlchemyError as exc:
        # Typically the table was dropped (or its permissions changed) after it was listed.
        asset.error = f"{asset.location}: cannot be read: {db_error_text(exc)}"
        log.warning("%s", asset.error)
    return asset


# ---- files ------------------------------------------------------------------------------------
def _file_decl(decl: FileSource, relpath: str, name: str) -> AssetDecl:
    """The declaration of a file: by relative path, then by a glob matching it, then by file name."""
    if relpath in decl.assets:
        return decl.assets[relpath]
    for pattern, adecl in decl.assets.items():
        if fnmatch.fnmatchcase(relpath, pattern):
            return adecl
    return decl.asset_decl(name)


def list_files(decl: FileSource, root: Path) -> list[Path]:
    """The files under ``root`` matching any declared pattern, sorted, each once.

    Raises:
        SourceError: the root folder does not exist or cannot be listed.
    """
    if not root.is_dir():
        raise SourceError(f"source {decl.name}: landing folder {root} does not exist or is not a folder")
    try:
        found = {p for pattern in decl.patterns for p in root.glob(pattern) if p.is_file()}
    except OSError as exc:
        raise SourceError(f"source {decl.name}: cannot list {root}: {exc}") from exc
    return sorted(found)


def observe_files(
    decl: FileSource, settings: Settings, listing: Listing, *, with_samples: bool = True
) -> Iterator[ObservedAsset]:
    """Every file matching the declared patterns: format, columns, rows, size and freshness.

    Raises:
        SourceError: the landing folder is missing (nothing was listed).
    """
    root = decl.resolve_root(settings)
    for path in list_files(decl, root):
        yield observe_file(decl, root, path, with_samples=with_samples)


def observe_file(decl: FileSource, root: Path, path: Path, *, with_samples: bool = True) -> ObservedAsset:
    """Read one file completely (to count its rows and prove it readable) and describe it."""
    import pyarrow.compute as pc

    from assay.sources import files

    relpath = path.relative_to(root).as_posix()
    parent = path.parent.relative_to(root).as_posix()
    adecl = _file_decl(decl, relpath, path.name)
    asset = ObservedAsset(
        namespace="" if parent == "." else parent,
        name=path.name,
        kind=AssetKind.FILE,
        location=relpath,
        decl=adecl,
    )
    try:
        stat = path.stat()
        asset.size_bytes = stat.st_size
        asset.freshness_at = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)
        fmt = files.sniff(path)
        asset.extra_tags.append(f"format:{fmt.kind}")
        if fmt.has_bom:
            asset.extra_tags.append("encoding:utf-8-sig")
        if fmt.delimiter not in (None, ",", "\t"):
            asset.extra_tags.append(f"delimiter:{fmt.delimiter}")
        table = files.read_table(path, fmt)
    except SourceError as exc:
        asset.error = str(exc)
        log.warning("%s", asset.error)
        return asset
    except OSError as exc:  # vanished or unreadable between listing and reading
        asset.error = f"{path}: cannot be read: {exc.strerror or exc}"
        log.warning("%s", asset.error)
        return asset

    asset.row_count = table.num_rows
    asset.columns = tuple(
        ColumnInfo(name=f.name, data_type=files.arrow_type_name(f.type), nullable=f.nullable, ordinal=i)
        for i, f in enumerate(table.schema, start=1)
    )
    suffix_kind = files.kind_for_name(path)
    if table.num_columns == 0:
        asset.notes.append(f"{relpath}: empty file ({stat.st_size} bytes): no header and no rows")
    elif table.num_rows == 0:
        asset.notes.append(f"{relpath}: header only, no rows")
    if suffix_kind is not None and suffix_kind != fmt.kind and table.num_columns:
        asset.notes.append(f"{relpath}: named {path.suffix} but the content is {fmt.kind.upper()}: read as {fmt.kind.upper()}")
    if fmt.kind in ("csv", "tsv") and not fmt.has_header and table.num_columns:
        asset.notes.append(f"{relpath}: no header line; columns named column_1..column_{table.num_columns}")

    event_time = adecl.event_time_column
    if event_time:
        if event_time not in table.column_names:
            asset.notes.append(f"declared event_time_column {event_time!r} is not a column of {relpath}")
        else:
            try:
                newest = as_utc(pc.max(table[event_time]).as_py())
                if newest is not None:
                    asset.freshness_at = newest
            except (TypeError, NotImplementedError) as exc:
                asset.notes.append(f"event_time_column {event_time!r}: {exc}; file mtime used")
    if with_samples and table.num_columns:
        head = table.slice(0, SAMPLE_ROWS)
        asset.samples = {
            name: [None if v is None else str(v)[:1000] for v in head.column(i).to_pylist()]
            for i, name in enumerate(table.column_names)
        }
    return asset
