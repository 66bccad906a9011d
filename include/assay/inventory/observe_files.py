"""Discovery of a file source: every file matching its patterns, as :class:`ObservedAsset` values.

Nothing here writes to the catalog. A root that cannot be listed raises
:class:`~assay.errors.SourceError`; a file that cannot be read is yielded with ``error`` set, so
the other files carry on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay.catalog.models import AssetKind
from assay.config import Settings
from assay.errors import SourceError
from assay.inventory.observed import SAMPLE_ROWS, VALUE_ERRORS, Listing, ObservedAsset, as_utc, unreadable
from assay.sources.declarations import FileSource
from assay.sources.sql import ColumnInfo

log = logging.getLogger(__name__)


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
    decl: FileSource,
    settings: Settings,
    listing: Listing,
    *,
    with_samples: bool = True,
    until: dt.date | None = None,
) -> Iterator[ObservedAsset]:
    """Every file matching the declared patterns: format, columns, rows, size and freshness.

    A file reached through a symbolic link that leads outside the root (a link to a file, or to a
    folder, anywhere outside) is not read: it is recorded as an error of its own, so a landing
    folder cannot expose other files of the machine to profiling and the catalog.

    Args:
        until: the run's logical date: a file whose partition (a date in its path, see
            :mod:`assay.sources.series`) is later is not observed, it did not exist on that day.
            Files without a date partition are always observed. ``None``: every file.

    Raises:
        SourceError: the landing folder is missing (nothing was listed).
    """
    # Imported here: pyarrow (behind sources.files) loads only when a file source is observed.
    from assay.sources.files import OUTSIDE_ROOT, inside

    root = decl.resolve_root(settings)
    for path in list_files(decl, root):
        relpath = path.relative_to(root).as_posix()
        if until is not None and decl.after(until, printable(relpath)):
            listing.later += 1
            continue
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
        decl=decl.file_decl(relpath),
        error=f"{relpath}: {reason}",
    )
    log.warning("source %s: %s", decl.name, asset.error)
    return asset


def observe_file(decl: FileSource, root: Path, path: Path, *, with_samples: bool = True) -> ObservedAsset:
    """Read one file completely (to count its rows and prove it readable) and describe it."""
    from assay.sources.files import arrow_type_name

    relpath = path.relative_to(root).as_posix()
    parent = path.parent.relative_to(root).as_posix()
    adecl = decl.file_decl(relpath)
    types = decl.column_types(relpath)
    asset = ObservedAsset(
        namespace="" if parent == "." else parent,
        name=path.name,
        kind=AssetKind.FILE,
        location=relpath,
        decl=adecl,
    )
    if (read := _read_file(asset, path, relpath, types)) is None:
        return asset
    fmt, table, size = read
    problems: list[str] = []
    asset.row_count = table.num_rows
    asset.columns = tuple(
        ColumnInfo(name=f.name, data_type=arrow_type_name(f.type), nullable=f.nullable, ordinal=i)
        for i, f in enumerate(table.schema, start=1)
    )
    asset.notes.extend(_shape_notes(path, relpath, fmt, table, size))
    asset.notes.extend(_type_notes(relpath, table, types))
    if adecl.event_time_column:
        _event_time(asset, table, adecl.event_time_column, relpath, problems)
    if with_samples and table.num_columns:
        _file_samples(asset, table, problems)
    if problems:
        asset.error = f"{relpath}: " + "; ".join(problems)
        log.warning("%s", asset.error)
    return asset


def _read_file(
    asset: ObservedAsset, path: Path, relpath: str, types: dict[str, str]
) -> tuple[Any, Any, int] | None:
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
        table = files.read_table(path, fmt, types=types)
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


def _type_notes(relpath: str, table: Any, types: dict[str, str]) -> list[str]:
    """Why a column has the type it has, where the reader chose (leading zeros), and declared columns missing."""
    from assay.sources.column_types import type_notes

    notes = [
        f"{relpath}: column {name!r} {note}"
        for name, note in type_notes(table).items()
        if not note.startswith("declared ")  # a declared type explains itself
    ]
    missing = [name for name in types if name not in table.column_names]
    if missing and table.num_columns:
        notes.append(f"{relpath}: declared column(s) {', '.join(map(repr, missing))} not in the file")
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
        problems.append(unreadable(event_time, exc))


def _file_samples(asset: ObservedAsset, table: Any, problems: list[str]) -> None:
    """The first SAMPLE_ROWS values of each column as text (for classification); unreadable ones named."""
    head = table.slice(0, SAMPLE_ROWS)
    for i, name in enumerate(table.column_names):
        try:
            values = head.column(i).to_pylist()
        except VALUE_ERRORS as exc:
            problems.append(f"{unreadable(name, exc)} at row {_first_bad_row(head.column(i))}")
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
