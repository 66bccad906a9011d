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

Values stay what they are: an integer beyond 64 bits is an exact ``decimal128(38, 0)`` (text
beyond 38 digits), never a double, and a numeric column with a leading zero (``01234``, a zip
code) stays text. A header cell that is empty (the index column pandas writes) is named
``column_<position>`` (:func:`placeholder_columns`). A row longer than pyarrow's block is read
with a larger block, up to :data:`MAX_BLOCK_BYTES`.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from assay.errors import SourceError
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
#: A numeric value written with a leading zero (a zip code, an article number): kept as text.
_LEADING_ZERO = r"^[+-]?0[0-9]"
_INTEGER = r"^[+-]?[0-9]+$"
#: Digits of the widest exact integer type (``decimal128(38, 0)``); wider integers stay text.
_MAX_DIGITS = 38


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


def _ragged_row_error(path: Path, fmt: FileFormat, cause: Exception) -> SourceError:
    """Find the first line whose field count differs from the first record's and name it."""
    assert fmt.delimiter is not None
    with path.open(encoding=fmt.encoding or "utf-8", newline="") as fh:
        reader = csv_reader(fh, fmt.delimiter, fmt.quote, strict=False)
        expected: int | None = None
        try:
            for record in reader:
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue  # pyarrow skips blank lines too
                if expected is None:
                    expected = len(record)
                    continue
                if len(record) != expected:
                    what = "the header" if fmt.has_header else "the first line"
                    return SourceError(
                        f"{path}: line {reader.line_num} has {len(record)} fields, expected {expected} "
                        f"(as in {what}); delimiter {fmt.delimiter!r}"
                    )
        except csv.Error as exc:
            return SourceError(f"{path}: line {reader.line_num}: {exc}")
    return SourceError(f"{path}: cannot parse as {fmt.kind.upper()}: {cause}")


def _json_line_error(path: Path, fmt: FileFormat, cause: Exception) -> SourceError:
    """Find the first line that is not a JSON object and name it."""
    with path.open(encoding=fmt.encoding or "utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                return SourceError(f"{path}: line {number} is not valid JSON: {exc.args[0]}")
            if not isinstance(value, dict):
                return SourceError(f"{path}: line {number} is a JSON {type(value).__name__}, not an object")
    return SourceError(f"{path}: cannot read as JSON Lines: {cause}")


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


def _exact_numbers(path: Path, fmt: FileFormat, table: pa.Table, max_rows: int | None) -> pa.Table:
    """Numeric columns whose text a double or an int64 would change: exact decimals or text.

    pyarrow types ``01234`` as the integer 1234 and a 27-digit integer as a double; only the
    text tells, so the numeric columns (only them) are read again as text and checked: a value
    with a leading zero keeps its column text, integers beyond 64 bits become
    ``decimal128(38, 0)`` (text beyond 38 digits).
    """
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    numeric = [f.name for f in table.schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)]
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

    text = _with_blocks(path, read)
    for name in numeric:
        values = text.column(name)
        index = table.column_names.index(name)
        if pc.any(pc.match_substring_regex(values, _LEADING_ZERO)).as_py():
            table = table.set_column(index, name, values)
        elif pa.types.is_floating(table.schema.field(name).type) and pc.all(
            pc.match_substring_regex(values, _INTEGER)
        ).as_py():
            # Only integers, yet typed double: at least one did not fit in 64 bits.
            digits = pc.max(pc.utf8_length(pc.replace_substring_regex(values, "^[+-]", ""))).as_py()
            exact = values if digits > _MAX_DIGITS else pc.cast(values, pa.decimal128(_MAX_DIGITS, 0))
            table = table.set_column(index, name, exact)
    return table


def _read_delimited(path: Path, fmt: FileFormat, max_rows: int | None) -> pa.Table:
    import pyarrow.csv as pcsv

    assert fmt.delimiter is not None
    # pyarrow skips a UTF-8 byte-order mark itself.
    names = None if fmt.has_header else column_names(None, len(_first_record(path, fmt)))
    parse_options = pcsv.ParseOptions(
        delimiter=fmt.delimiter, quote_char=fmt.quote or False, newlines_in_values=True
    )
    convert_options = pcsv.ConvertOptions(strings_can_be_null=True)

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
        table = _exact_numbers(path, fmt, table, max_rows)
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "Expected" in message and "columns" in message:
            raise _ragged_row_error(path, fmt, exc) from exc
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
        raise _json_line_error(path, fmt, exc) from exc
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
    path: str | Path, fmt: FileFormat | None = None, max_rows: int | None = None, *, root: str | Path | None = None
) -> pa.Table:
    """Read a landing file into an Arrow table, column types inferred by pyarrow.

    Args:
        path: the file.
        fmt: its format; :func:`sniff` finds it when not given.
        max_rows: read at most this many rows (a sample). Without it the whole file is read and
            its encoding checked from the first byte to the last.
        root: the file source's root: a file whose real path (links resolved) is not under it is
            refused before a byte is read (:func:`require_inside`). ``None``: not checked.

    Returns:
        The table. An empty file (0 bytes, or only a byte-order mark and blank lines) gives a table
        with no columns and no rows; a delimited file with only a header gives its columns and no
        rows (type ``null``).

    Raises:
        SourceError: the file cannot be read, or leads outside ``root``; the message starts with
            the path and names the line (ragged rows, bad JSON) or byte offset (bad encoding) at fault.
    """
    path = Path(path)
    if root is not None:
        require_inside(Path(root), path)
    fmt = fmt or sniff(path)
    if fmt.kind == "parquet":
        return _read_parquet(path, max_rows)
    if _is_blank(path, fmt):
        return pa.table({})
    if max_rows is None:
        check_utf8(path, fmt)
    table = _read_jsonl(path, fmt, max_rows) if fmt.kind == "jsonl" else _read_delimited(path, fmt, max_rows)
    _check_no_binary(path, table, fmt)
    return table


def arrow_type_name(data_type: pa.DataType) -> str:
    """The type's name as the catalog records it for file columns (e.g. ``int64``, ``string``)."""
    return str(data_type)
