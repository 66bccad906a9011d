"""Reading landing files (CSV, TSV, Parquet, JSON Lines) into Arrow tables, strictly.

Inventory, profiling and quality all read supplier files through this module, so every stage
agrees on what a file contains:

* :func:`sniff` (in :mod:`assay.sources.sniff`, re-exported here) looks at the bytes (not the
  file name) and returns a :class:`FileFormat`: the kind, the delimiter of delimited text, the
  encoding (UTF-8, with or without a byte-order mark) and whether the first line is a header. A
  tab-separated file named ``.csv`` comes back as ``kind="tsv"``; a semicolon-separated one as
  ``kind="csv", delimiter=";"``. Compressed or binary content behind a text name is refused by name.
* :func:`read_table` reads the file with pyarrow's readers (which infer the column types). Given
  the source's ``root``, it first refuses a file whose real path (links resolved) is outside it
  (:func:`require_inside`; :func:`inside` is the same test as a boolean, for listings).

Nothing is guessed silently. Text that is not UTF-8 is refused with the byte offset, line and
column of the first invalid byte (pyarrow would otherwise hand back a ``binary`` column), so is
a NUL character, ragged rows are refused with the line number, and repeated column names are
refused too. Every such failure is a :class:`~assay.errors.SourceError` whose message starts with
the file's path. An empty file is not an error: it reads as a table with no columns and no rows.

Values stay what they are: a column declared in the source (``columns: {zip: string}``) is read
in its declared type, never inferred; otherwise an integer beyond 64 bits is an exact
``decimal128(38, 0)`` (text beyond 38 digits), never a double, and a numeric column with a
leading zero (``01234``, a zip code) stays text, its field noting why
(:mod:`assay.sources.column_types`). A header cell that is empty (the index column pandas writes) is named
``column_<position>`` (:func:`placeholder_columns`). A row longer than pyarrow's block is read
with a larger block, up to :data:`MAX_BLOCK_BYTES`.
"""

from __future__ import annotations

import codecs
import csv
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from assay.errors import SourceError
from assay.sources import column_types
from assay.sources.read_errors import json_line_error, ragged_row_error
from assay.sources.sniff import (
    DELIMITERS,
    SNIFF_BYTES,
    SNIFF_LINES,
    FileFormat,
    FileKind,
    column_at,
    column_names,
    csv_reader,
    invalid_utf8,
    kind_for_name,
    placeholders,
    read_head,
    sniff,
)

__all__ = [
    "DELIMITERS",
    "MAX_BLOCK_BYTES",
    "OUTSIDE_ROOT",
    "SNIFF_BYTES",
    "SNIFF_LINES",
    "FileFormat",
    "FileKind",
    "arrow_type_name",
    "check_utf8",
    "inside",
    "kind_for_name",
    "placeholder_columns",
    "read_table",
    "require_inside",
    "sniff",
]

#: Bytes per chunk when scanning a whole file (encoding check, line search).
_CHUNK = 1 << 20
#: pyarrow parses a file in blocks and needs each row within one block. The first block is
#: pyarrow's default; a row that straddles it is read again with blocks 8 times larger, up to
#: this limit (a 64 MiB cell is read). Only a row longer than this is refused, naming its line.
MAX_BLOCK_BYTES = 64 << 20
_FIRST_BLOCK = 1 << 20


def _header(path: Path, fmt: FileFormat) -> list[str] | None:
    """The header's cells, or ``None`` (no header, or it cannot be read)."""
    if not fmt.has_header or fmt.delimiter is None:
        return None
    try:
        return _first_record(path, fmt)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def _where(path: Path, fmt: FileFormat | None, line_start: int, offset: int, line: int) -> str:
    """``, column 'x'`` for the byte at ``offset`` of delimited text, or ``""``."""
    if fmt is None or fmt.delimiter is None or offset - line_start > MAX_BLOCK_BYTES:
        return ""
    with path.open("rb") as fh:
        fh.seek(line_start)
        prefix = fh.read(offset - line_start)
    if line == 1 and fmt.has_bom:
        prefix = prefix[len(codecs.BOM_UTF8) :]
    return column_at(prefix, fmt, _header(path, fmt), line)


def check_utf8(path: str | Path, fmt: FileFormat | None = None) -> None:
    """Check that the whole file is UTF-8 text (a leading byte-order mark is allowed, NUL is not).

    Args:
        path: the file.
        fmt: its format; when given, the error also names the column of delimited text.

    Raises:
        SourceError: naming the file, the byte offset, the line (and column) of the first invalid
            byte or NUL character.
    """
    path = Path(path)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # bytes handed to the decoder so far
    lines = 1
    line_start = 0  # offset of the first byte of the current line
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                # Bytes of a character cut by the previous chunk boundary wait in the decoder;
                # on error the decoder reports positions in (those bytes + this chunk).
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(chunk, final=False)
                except UnicodeDecodeError as exc:
                    data = exc.object
                    line = lines + data.count(b"\n", 0, exc.start)
                    at = offset - pending + exc.start
                    newline = data.rfind(b"\n", 0, exc.start)
                    start = line_start if newline < 0 else offset - pending + newline + 1
                    where = _where(path, fmt, start, at, line)
                    raise invalid_utf8(path, at, data[exc.start], line, where) from None
                nul = chunk.find(b"\x00")
                if nul >= 0:
                    line = lines + chunk.count(b"\n", 0, nul)
                    newline = chunk.rfind(b"\n", 0, nul)
                    start = line_start if newline < 0 else offset + newline + 1
                    where = _where(path, fmt, start, offset + nul, line)
                    raise SourceError(
                        f"{path}: NUL character (byte 0x00) at offset {offset + nul} (line {line}){where}; "
                        "text holds none: the file is corrupt or not text"
                    )
                newline = chunk.rfind(b"\n")
                if newline >= 0:
                    line_start = offset + newline + 1
                offset += len(chunk)
                lines += chunk.count(b"\n")
            pending = len(decoder.getstate()[0])
            if pending:
                raise SourceError(
                    f"{path}: not valid UTF-8: the file ends inside a multi-byte character "
                    f"at offset {offset - pending} (line {lines})"
                )
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def placeholder_columns(path: str | Path, fmt: FileFormat | None = None) -> dict[int, str]:
    """The header cells that were empty and the names :func:`read_table` gave them.

    Returns:
        ``{position counted from 1: name}``, e.g. ``{1: "column_1"}`` for pandas' index column;
        ``{}`` when the header has no empty cell or the file has no header.
    """
    path = Path(path)
    header = _header(path, fmt or sniff(path))
    return placeholders(header) if header else {}


# ---- the source root --------------------------------------------------------------------------
#: Why a file reached through a link out of its source's root is not read (the same words everywhere).
OUTSIDE_ROOT = "a symbolic link to a path outside the source root: not followed"


def inside(root: Path, path: Path) -> bool:
    """Whether ``path``, every symbolic link along it resolved, is still under ``root`` (resolved)."""
    try:
        return path.resolve(strict=True).is_relative_to(root.resolve(strict=True))
    except (OSError, RuntimeError):  # vanished, or a symlink loop
        return False


def require_inside(root: Path, path: Path) -> None:
    """Refuse ``path`` unless it (links resolved) is under ``root``: a landing folder exposes nothing else.

    Raises:
        SourceError: naming the file, which leads outside the root or cannot be resolved.
    """
    try:
        target = path.resolve(strict=True)
        base = root.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # vanished, unreadable, or a symlink loop (RuntimeError)
        raise SourceError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from exc
    if not target.is_relative_to(base):
        raise SourceError(f"{path}: {OUTSIDE_ROOT}")


# ---- reading ---------------------------------------------------------------------------------
def _is_blank(path: Path, fmt: FileFormat) -> bool:
    """True for a file with no content: 0 bytes, or only a byte-order mark and white space."""
    head, whole = read_head(path, 4096)
    if not whole:
        return False
    if fmt.has_bom:
        head = head[len(codecs.BOM_UTF8) :]
    return not head.strip()


def _first_record(path: Path, fmt: FileFormat) -> list[str]:
    assert fmt.delimiter is not None
    with path.open(encoding=fmt.encoding or "utf-8", newline="") as fh:
        for record in csv_reader(fh, fmt.delimiter, fmt.quote, strict=False):
            if record and not (len(record) == 1 and not record[0].strip()):
                return record
    return []


def _check_names(path: Path, names: list[str]) -> None:
    empty = [i + 1 for i, n in enumerate(names) if not n.strip()]
    if empty:
        raise SourceError(f"{path}: empty column name at position {', '.join(map(str, empty))} of the header")
    repeated = sorted(n for n, k in Counter(names).items() if k > 1)
    if repeated:
        raise SourceError(f"{path}: repeated column names in the header: {', '.join(map(repr, repeated))}")


def _check_no_binary(path: Path, table: pa.Table, fmt: FileFormat) -> None:
    """pyarrow reads non-UTF-8 text as ``binary``; find and name the first bad byte instead."""
    if any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in table.schema):
        check_utf8(path, fmt)
        raise SourceError(f"{path}: a text column holds bytes that are not UTF-8")


def _too_long(path: Path) -> SourceError:
    """The error for a row longer than :data:`MAX_BLOCK_BYTES`, naming the first such line."""
    limit = f"{MAX_BLOCK_BYTES / (1 << 20):g} MiB"
    line, length = 1, 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            start = 0
            while (newline := chunk.find(b"\n", start)) >= 0:
                if length + newline - start > MAX_BLOCK_BYTES:
                    break
                line, length, start = line + 1, 0, newline + 1
            else:
                length += len(chunk) - start
                if length <= MAX_BLOCK_BYTES:
                    continue
            return SourceError(
                f"{path}: line {line} is longer than the reader's limit of {limit} "
                "(assay.sources.files.MAX_BLOCK_BYTES): split the value or raise the limit"
            )
    return SourceError(f"{path}: a row (spanning lines) is longer than the reader's limit of {limit}")


def _with_blocks(path: Path, read: Callable[[int], pa.Table]) -> pa.Table:
    """``read(block_size)``, again with larger blocks while a row straddles two blocks."""
    block = min(_FIRST_BLOCK, MAX_BLOCK_BYTES)
    while True:
        try:
            return read(block)
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc):
                raise
            if block >= MAX_BLOCK_BYTES:
                raise _too_long(path) from exc
            block = min(block * 8, MAX_BLOCK_BYTES)


def _collect(reader: Any, max_rows: int) -> pa.Table:
    """The first ``max_rows`` rows of a streaming reader."""
    batches: list[pa.RecordBatch] = []
    rows = 0
    with reader:
        schema = reader.schema
        for batch in reader:
            batches.append(batch)
            rows += batch.num_rows
            if rows >= max_rows:
                break
    return pa.Table.from_batches(batches, schema=schema).slice(0, max_rows)


def _exact_numbers(
    path: Path, fmt: FileFormat, table: pa.Table, max_rows: int | None, declared: Mapping[str, str]
) -> pa.Table:
    """Read the inferred numeric columns again as text and let :func:`column_types.exact_numbers` judge them."""
    import pyarrow.csv as pcsv

    numeric = [
        f.name for f in table.schema
        if (pa.types.is_integer(f.type) or pa.types.is_floating(f.type)) and f.name not in declared
    ]  # fmt: skip
    if not numeric or table.num_rows == 0:
        return table
    assert fmt.delimiter is not None
    parse_options = pcsv.ParseOptions(delimiter=fmt.delimiter, quote_char=fmt.quote or False, newlines_in_values=True)
    convert_options = pcsv.ConvertOptions(
        strings_can_be_null=True, include_columns=numeric, column_types=dict.fromkeys(numeric, pa.string())
    )

    def read(block: int) -> pa.Table:
        # skip_rows counts physical lines; the header (a quoted name may hold a line break) is a record.
        options = pcsv.ReadOptions(
            encoding="utf8",
            column_names=table.column_names,
            skip_rows_after_names=int(fmt.has_header),
            block_size=block,
        )
        if max_rows is None:
            return pcsv.read_csv(path, options, parse_options, convert_options)
        return _collect(pcsv.open_csv(path, options, parse_options, convert_options), table.num_rows)

    return column_types.exact_numbers(table, _with_blocks(path, read))


def _place(path: Path, fmt: FileFormat, row: int) -> str:
    """``line N`` of data row ``row`` (from 0) of delimited text or JSON Lines; ``row N`` of Parquet."""
    if fmt.kind == "parquet":
        return f"row {row + 1}"
    with path.open(encoding=fmt.encoding or "utf-8", newline="") as fh:
        if fmt.delimiter is None:
            lines = (number for number, line in enumerate(fh, start=1) if line.strip())
            return f"line {next((n for i, n in enumerate(lines) if i == row), '?')}"
        reader = csv_reader(fh, fmt.delimiter, fmt.quote, strict=False)
        records = (reader.line_num for r in reader if r and not (len(r) == 1 and not r[0].strip()))
        wanted = row + int(fmt.has_header)
        return f"line {next((n for i, n in enumerate(records) if i == wanted), '?')}"


def _read_delimited(path: Path, fmt: FileFormat, max_rows: int | None, declared: Mapping[str, str]) -> pa.Table:
    import pyarrow.csv as pcsv

    assert fmt.delimiter is not None
    # pyarrow skips a UTF-8 byte-order mark itself.
    names = None if fmt.has_header else column_names(None, len(_first_record(path, fmt)))
    parse_options = pcsv.ParseOptions(
        delimiter=fmt.delimiter, quote_char=fmt.quote or False, newlines_in_values=True
    )
    # Declared columns are read as text and converted by assay: inference never sees them.
    convert_options = pcsv.ConvertOptions(strings_can_be_null=True, column_types=dict.fromkeys(declared, pa.string()))

    def read(block: int) -> pa.Table:
        options = pcsv.ReadOptions(encoding="utf8", column_names=names, block_size=block)
        try:
            if max_rows is None:
                return pcsv.read_csv(path, options, parse_options, convert_options)
            return _collect(pcsv.open_csv(path, options, parse_options, convert_options), max_rows)
        except pa.ArrowInvalid as exc:
            # pyarrow wants a line end after a lone header ("Empty CSV file or block"): its columns, no rows.
            header = _first_record(path, fmt) if names is None and "Empty CSV" in str(exc) else []
            if not header:
                raise
            return pa.Table.from_arrays([pa.nulls(0)] * len(header), names=header)

    try:
        table = _with_blocks(path, read)
        if any(not n.strip() for n in table.column_names):
            table = table.rename_columns(column_names(table.column_names, table.num_columns))
        _check_names(path, table.column_names)
        table = _exact_numbers(path, fmt, table, max_rows, declared)
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "Expected" in message and "columns" in message:
            raise ragged_row_error(path, fmt, exc) from exc
        if "UTF8" in message or "UTF-8" in message:
            check_utf8(path, fmt)
        raise SourceError(f"{path}: cannot parse as {fmt.kind.upper()}: {message}") from exc
    except pa.ArrowException as exc:
        raise SourceError(f"{path}: cannot read as {fmt.kind.upper()}: {exc}") from exc
    return table


def _read_jsonl(path: Path, fmt: FileFormat, max_rows: int | None) -> pa.Table:
    import pyarrow.json as pjson

    def read(block: int) -> pa.Table:
        options = pjson.ReadOptions(block_size=block)
        if max_rows is None:
            return pjson.read_json(path, options)
        return _collect(pjson.open_json(path, options), max_rows)

    try:
        return _with_blocks(path, read)
    except pa.ArrowInvalid as exc:
        raise json_line_error(path, fmt, exc) from exc
    except pa.ArrowException as exc:
        raise SourceError(f"{path}: cannot read as JSON Lines: {exc}") from exc


def _read_parquet(path: Path, max_rows: int | None) -> pa.Table:
    import pyarrow.parquet as pq

    try:
        if max_rows is None:
            return pq.read_table(path)
        pf = pq.ParquetFile(path)
        batches = []
        rows = 0
        for batch in pf.iter_batches(batch_size=max(1, min(max_rows, 65_536))):
            batches.append(batch)
            rows += batch.num_rows
            if rows >= max_rows:
                break
        return pa.Table.from_batches(batches, schema=pf.schema_arrow).slice(0, max_rows)
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{path}: cannot read as Parquet: {exc}") from exc


def read_table(
    path: str | Path,
    fmt: FileFormat | None = None,
    max_rows: int | None = None,
    *,
    root: str | Path | None = None,
    types: Mapping[str, str] | None = None,
) -> pa.Table:
    """Read a landing file into an Arrow table: declared column types applied, the others inferred.

    Args:
        path: the file.
        fmt: its format; :func:`sniff` finds it when not given.
        max_rows: read at most this many rows (a sample). Without it the whole file is read and
            its encoding checked from the first byte to the last.
        root: the file source's root: a file whose real path (links resolved) is not under it is
            refused before a byte is read (:func:`require_inside`). ``None``: not checked.
        types: ``{column: declared type}`` (:mod:`assay.sources.column_types`); a declared column
            of delimited text is never inferred, so ``zip: string`` keeps ``01234`` as written.
            A declared column the file lacks is ignored here (the inventory notes it).

    Returns:
        The table. An empty file (0 bytes, or only a byte-order mark and blank lines) gives a table
        with no columns and no rows; a delimited file with only a header gives its columns and no
        rows (type ``null``). Why a column has its type (declared, or kept as text for its leading
        zeros) is in its field metadata: :func:`column_types.type_notes`.

    Raises:
        SourceError: the file cannot be read, or leads outside ``root``, or a value does not fit
            its declared type; the message starts with the path and names the line (ragged rows,
            bad JSON, a value that does not fit) or byte offset (bad encoding) at fault.
    """
    path = Path(path)
    if root is not None:
        require_inside(Path(root), path)
    fmt = fmt or sniff(path)
    declared = dict(types or {})
    if fmt.kind == "parquet":
        table = _read_parquet(path, max_rows)
    elif _is_blank(path, fmt):
        return pa.table({})
    else:
        if max_rows is None:
            check_utf8(path, fmt)
        if fmt.kind == "jsonl":
            table = _read_jsonl(path, fmt, max_rows)
        else:
            table = _read_delimited(path, fmt, max_rows, declared)
        _check_no_binary(path, table, fmt)
    if declared:
        table = column_types.convert(path, table, declared, lambda row: _place(path, fmt, row))
    return table


def arrow_type_name(data_type: pa.DataType) -> str:
    """The type's name as the catalog records it for file columns (e.g. ``int64``, ``string``)."""
    return str(data_type)
