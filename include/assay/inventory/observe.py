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

from assay.catalog.db import masked, scrub
from assay.catalog.models import AssetKind
from assay.config import Settings
from assay.errors import SourceError
from assay.sources.declarations import AssetDecl, FileSource, SqlSource
from assay.sources.sql import ColumnInfo, RelationInfo, RelationStats

log = logging.getLogger(__name__)

#: Values per column handed to classification.
SAMPLE_ROWS = 200
#: What a driver or pyarrow raises for one value it cannot hand to Python (a date of year 10000,
#: a number out of range, text in a broken encoding): recorded against the asset, never the run.
VALUE_ERRORS: tuple[type[Exception], ...] = (ValueError, ArithmeticError)


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
    except (SQLAlchemyError, ValueError) as exc:  # an unknown dialect or a malformed URL (a port that is no number)
        # Not chained: the parser's message may quote a piece of a password it cut in the wrong place.
        raise SourceError(f"source {decl.name}: unusable URL {masked(url)}: {scrub(str(exc), url)}") from None
    try:
        try:
            conn = engine.connect()
        except SQLAlchemyError as exc:
            raise SourceError(
                f"source {decl.name}: cannot connect to {masked(url)}: {scrub(db_error_text(exc), url)}"
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
    problems: list[str] = []
    try:
        estimate = stats.row_estimate if stats else None
        if estimate is None and rel.kind == "view":
            estimate = sql.planner_estimate(conn, rel.schema, rel.name)
        newest = None
        if estimate is not None and estimate >= decl.exact_row_count_below:
            asset.row_count, asset.row_count_is_estimate = estimate, True
            if event_time:
                try:
                    newest = sql.max_of(conn, rel.schema, rel.name, event_time)
                except VALUE_ERRORS as exc:
                    problems.append(_unreadable(event_time, exc))
        else:
            try:
                asset.row_count, newest = sql.count_and_max(conn, rel.schema, rel.name, event_time)
            except VALUE_ERRORS as exc:
                if not event_time:
                    raise
                problems.append(_unreadable(event_time, exc))
                asset.row_count, newest = sql.count_and_max(conn, rel.schema, rel.name, None)
        try:
            asset.freshness_at = as_utc(newest)
        except TypeError as exc:
            asset.notes.append(f"event_time_column {event_time!r}: {exc}; freshness not recorded")
        if with_samples and names:
            asset.samples = _sample(conn, rel, names, problems)
    except SQLAlchemyError as exc:
        # Typically the table was dropped (or its permissions changed) after it was listed.
        asset.error = f"{asset.location}: cannot be read: {db_error_text(exc)}"
        log.warning("%s", asset.error)
    except VALUE_ERRORS as exc:  # a value of no particular column (a row count the driver refuses)
        problems.append(f"a value cannot be read: {type(exc).__name__}: {exc}")
    if problems and asset.error is None:
        asset.error = f"{asset.location}: " + "; ".join(problems)
        log.warning("%s", asset.error)
    return asset


def _unreadable(column: str, exc: BaseException) -> str:
    return f"column {column!r} holds a value that cannot be read ({type(exc).__name__}: {exc})"


def _sample(conn: Connection, rel: RelationInfo, names: list[str], problems: list[str]) -> dict[str, list[str | None]]:
    """The sample of every column in one statement; when a value cannot be read, column by column.

    The driver converts a whole row at once, so one unreadable value fails the statement without
    saying where; the fallback (only then) finds the columns at fault and samples the others.
    """
    from assay.sources import sql

    try:
        return sql.sample_columns(conn, rel.schema, rel.name, names, order_by=rel.primary_key, limit=SAMPLE_ROWS)
    except VALUE_ERRORS:
        pass
    samples: dict[str, list[str | None]] = {}
    for name in names:
        try:
            samples.update(
                sql.sample_columns(conn, rel.schema, rel.name, [name], order_by=rel.primary_key, limit=SAMPLE_ROWS)
            )
        except VALUE_ERRORS as exc:
            problems.append(_unreadable(name, exc))
    return samples


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

    Symbolic links are listed too: :func:`observe_files` reads those that stay inside the root.

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

    A file reached through a symbolic link that leads outside the root (a link to a file, or to a
    folder, anywhere outside) is not read: it is recorded as an error of its own, so a landing
    folder cannot expose other files of the machine to profiling and the catalog.

    Raises:
        SourceError: the landing folder is missing (nothing was listed).
    """
    # Imported here: pyarrow (behind sources.files) loads only when a file source is observed.
    from assay.sources.files import OUTSIDE_ROOT, inside

    root = decl.resolve_root(settings)
    for path in list_files(decl, root):
        relpath = path.relative_to(root).as_posix()
        if printable(relpath) != relpath:
            yield _refused(decl, root, path, "the file name is not valid UTF-8: not read (rename the file)")
        elif not inside(root, path):
            yield _refused(decl, root, path, OUTSIDE_ROOT)
        else:
            yield observe_file(decl, root, path, with_samples=with_samples)


def printable(name: str) -> str:
    """A file name as text the catalog can hold: bytes that were not UTF-8 spelled ``\\xe9``."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _refused(decl: FileSource, root: Path, path: Path, reason: str) -> ObservedAsset:
    """A listed file that is not opened (nothing of it is read), recorded as an error of its own."""
    relpath = printable(path.relative_to(root).as_posix())
    parent = printable(path.parent.relative_to(root).as_posix())
    name = printable(path.name)
    asset = ObservedAsset(
        namespace="" if parent == "." else parent,
        name=name,
        kind=AssetKind.FILE,
        location=relpath,
        decl=_file_decl(decl, relpath, name),
        error=f"{relpath}: {reason}",
    )
    log.warning("source %s: %s", decl.name, asset.error)
    return asset


def observe_file(decl: FileSource, root: Path, path: Path, *, with_samples: bool = True) -> ObservedAsset:
    """Read one file completely (to count its rows and prove it readable) and describe it."""
    from assay.sources.files import arrow_type_name

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
    if (read := _read_file(asset, path, relpath)) is None:
        return asset
    fmt, table, size = read
    problems: list[str] = []
    asset.row_count = table.num_rows
    asset.columns = tuple(
        ColumnInfo(name=f.name, data_type=arrow_type_name(f.type), nullable=f.nullable, ordinal=i)
        for i, f in enumerate(table.schema, start=1)
    )
    asset.notes.extend(_shape_notes(path, relpath, fmt, table, size))
    if adecl.event_time_column:
        _event_time(asset, table, adecl.event_time_column, relpath, problems)
    if with_samples and table.num_columns:
        _file_samples(asset, table, problems)
    if problems:
        asset.error = f"{relpath}: " + "; ".join(problems)
        log.warning("%s", asset.error)
    return asset


def _read_file(asset: ObservedAsset, path: Path, relpath: str) -> tuple[Any, Any, int] | None:
    """Stat, sniff and read ``path`` into ``asset``; ``None`` (with ``asset.error`` set) when it cannot be read."""
    from assay.sources import files

    try:
        stat = path.stat()
        asset.size_bytes = stat.st_size
        try:
            asset.freshness_at = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)
        except (ValueError, ArithmeticError, OSError):  # a modification time beyond year 9999 (or before 1)
            asset.notes.append(f"{relpath}: modification time {stat.st_mtime:.0f} is out of range; freshness not recorded")
        fmt = files.sniff(path)
        asset.extra_tags.append(f"format:{fmt.kind}")
        if fmt.has_bom:
            asset.extra_tags.append("encoding:utf-8-sig")
        if fmt.delimiter not in (None, ",", "\t"):
            asset.extra_tags.append(f"delimiter:{fmt.delimiter}")
        table = files.read_table(path, fmt)
    except SourceError as exc:
        asset.error = str(exc)
    except OSError as exc:  # vanished or unreadable between listing and reading
        asset.error = f"{path}: cannot be read: {exc.strerror or exc}"
    except VALUE_ERRORS as exc:  # a value the reader could not convert, whatever the reader
        asset.error = f"{path}: a value cannot be read ({type(exc).__name__}: {exc})"
    else:
        return fmt, table, stat.st_size
    log.warning("%s", asset.error)
    return None


def _shape_notes(path: Path, relpath: str, fmt: Any, table: Any, size: int) -> list[str]:
    """What a steward should know about how the file was read: empty, header-only, renamed columns."""
    from assay.sources import files

    notes: list[str] = []
    suffix_kind = files.kind_for_name(path)
    if table.num_columns == 0:
        notes.append(f"{relpath}: empty file ({size} bytes): no header and no rows")
    elif table.num_rows == 0:
        notes.append(f"{relpath}: header only, no rows")
    if suffix_kind is not None and suffix_kind != fmt.kind and table.num_columns:
        notes.append(f"{relpath}: named {path.suffix} but the content is {fmt.kind.upper()}: read as {fmt.kind.upper()}")
    if fmt.kind in ("csv", "tsv") and not fmt.has_header and table.num_columns:
        notes.append(f"{relpath}: no header line; columns named column_1..column_{table.num_columns}")
    if fmt.kind in ("csv", "tsv") and fmt.has_header:
        for position, name in files.placeholder_columns(path, fmt).items():
            notes.append(f"{relpath}: header cell {position} is empty: named {name}")
    return notes


def _event_time(asset: ObservedAsset, table: Any, event_time: str, relpath: str, problems: list[str]) -> None:
    """Freshness from the declared event-time column (the newest value), else the file's mtime stays."""
    import pyarrow.compute as pc

    if event_time not in table.column_names:
        asset.notes.append(f"declared event_time_column {event_time!r} is not a column of {relpath}")
        return
    try:
        newest = as_utc(pc.max(table[event_time]).as_py())
        if newest is not None:
            asset.freshness_at = newest
    except (TypeError, NotImplementedError) as exc:
        asset.notes.append(f"event_time_column {event_time!r}: {exc}; file mtime used")
    except VALUE_ERRORS as exc:
        problems.append(_unreadable(event_time, exc))


def _file_samples(asset: ObservedAsset, table: Any, problems: list[str]) -> None:
    """The first SAMPLE_ROWS values of each column as text (for classification); unreadable ones named."""
    head = table.slice(0, SAMPLE_ROWS)
    for i, name in enumerate(table.column_names):
        try:
            values = head.column(i).to_pylist()
        except VALUE_ERRORS as exc:
            problems.append(f"{_unreadable(name, exc)} at row {_first_bad_row(head.column(i))}")
            continue
        asset.samples[name] = [None if v is None else str(v)[:1000] for v in values]


def _first_bad_row(values: Any) -> int:
    """The row (counted from 1) of the first value pyarrow cannot hand to Python."""
    for row in range(len(values)):
        try:
            values[row].as_py()
        except VALUE_ERRORS:
            return row + 1
    return 0
