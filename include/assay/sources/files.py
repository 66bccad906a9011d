"""Reading landing files (CSV, TSV, Parquet, JSON Lines) into Arrow tables, strictly.

Inventory, profiling and quality all read supplier files through this module, so every stage
agrees on what a file contains:

* :func:`sniff` looks at the bytes (not the file name) and returns a :class:`FileFormat`: the kind,
  the delimiter of delimited text, the encoding (UTF-8, with or without a byte-order mark) and
  whether the first line is a header. A tab-separated file named ``.csv`` comes back as
  ``kind="tsv"``; a semicolon-separated one as ``kind="csv", delimiter=";"``.
* :func:`read_table` reads the file with pyarrow's readers (which infer the column types).

Nothing is guessed silently. Text that is not UTF-8 is refused with the byte offset and line of
the first invalid byte (pyarrow would otherwise hand back a ``binary`` column), ragged rows are
refused with the line number, and duplicate or empty column names are refused too. Every such
failure is a :class:`~assay.errors.SourceError` whose message starts with the file's path. An
empty file is not an error: it reads as a table with no columns and no rows.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from assay.errors import SourceError

FileKind = Literal["csv", "tsv", "parquet", "jsonl"]

#: Bytes :func:`sniff` looks at: enough for a few hundred lines of a typical feed.
SNIFF_BYTES = 64 * 1024
#: Lines the delimiter and header heuristics look at.
SNIFF_LINES = 50
#: Delimiters tried by :func:`sniff`, in order of preference when the evidence ties.
DELIMITERS: tuple[str, ...] = (",", "\t", ";", "|")
#: Bytes per chunk when scanning a whole file (encoding check, line search).
_CHUNK = 1 << 20

_PARQUET_MAGIC = b"PAR1"
_UTF16_32_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_BY_SUFFIX: dict[str, FileKind] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
#: A cell that is a value rather than a column name: a number, a boolean, a date or a timestamp.
_TYPED_CELL = re.compile(
    r"""^\s*(
        [+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?      # number
      | (?i:true|false|null|nan|inf)                 # literal
      | \d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?  # ISO date/time
    )\s*$""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class FileFormat:
    """How a file is laid out, as found by :func:`sniff`.

    Attributes:
        kind: ``csv``, ``tsv``, ``parquet`` or ``jsonl``. Delimited text with a tab delimiter is
            ``tsv`` whatever the file is called.
        delimiter: the field separator of delimited text; ``None`` for Parquet and JSON Lines.
        encoding: ``utf-8``, or ``utf-8-sig`` when the file starts with a UTF-8 byte-order mark;
            ``None`` for Parquet (binary).
        has_bom: whether the file starts with a UTF-8 byte-order mark.
        has_header: whether the first line of delimited text holds column names. Parquet and JSON
            Lines carry their names in the data and report ``True``; an empty file reports ``False``.
        quote: the quote character of delimited text; ``None`` otherwise.
    """

    kind: FileKind
    delimiter: str | None = None
    encoding: str | None = "utf-8"
    has_bom: bool = False
    has_header: bool = True
    quote: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The format as a JSON-ready dict (for the catalog and logs)."""
        return asdict(self)


# ---- sniffing ----------------------------------------------------------------------------------
def kind_for_name(path: str | Path) -> FileKind | None:
    """The kind a file's name suggests (``products.csv`` -> ``csv``); ``None`` for other names."""
    return _BY_SUFFIX.get(Path(path).suffix.lower())


def _read_head(path: Path, size: int = SNIFF_BYTES) -> tuple[bytes, bool]:
    """The first ``size`` bytes and whether they are the whole file."""
    try:
        with path.open("rb") as fh:
            head = fh.read(size + 1)
    except OSError as exc:
        raise SourceError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    return head[:size], len(head) <= size


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _invalid_utf8(path: Path, offset: int, byte: int, line: int) -> SourceError:
    return SourceError(
        f"{path}: not valid UTF-8: byte 0x{byte:02X} at offset {offset} (line {line}); "
        "only UTF-8 (with or without a byte-order mark) is read - re-export the file as UTF-8"
    )


def _check_utf8_bytes(path: Path, data: bytes, *, final: bool) -> None:
    """Raise if ``data`` (the start of the file) holds bytes that are not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(data, final=final)
    except UnicodeDecodeError as exc:
        raise _invalid_utf8(path, exc.start, data[exc.start], _line_of(data, exc.start)) from None


def check_utf8(path: str | Path) -> None:
    """Check that the whole file is UTF-8 (a leading byte-order mark is allowed).

    Raises:
        SourceError: naming the file, the byte offset and the line of the first invalid byte.
    """
    path = Path(path)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # bytes handed to the decoder so far
    lines = 1
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
                    raise _invalid_utf8(path, offset - pending + exc.start, data[exc.start], line) from None
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


def _complete_lines(text: str, whole: bool) -> list[str]:
    lines = text.splitlines()
    if not whole and lines:
        lines = lines[:-1]  # the last line of a truncated sample may be cut
    return [line for line in lines if line.strip()][:SNIFF_LINES]


def _records(lines: list[str], delimiter: str) -> list[list[str]]:
    try:
        return list(csv.reader(lines, delimiter=delimiter, quotechar='"', strict=False))
    except csv.Error:
        return []


def _pick_delimiter(lines: list[str], preferred: str) -> str:
    """The candidate that splits every sampled line into the same number (>1) of fields.

    Ties go to the delimiter the file name suggests, then to the order of :data:`DELIMITERS`.
    When no candidate is consistent, the one whose most common field count (>1) covers the most
    lines wins, so a few ragged rows do not hide the delimiter (they are reported when read).
    """
    best: tuple[int, int, int, int] | None = None
    choice = preferred
    for rank, delim in enumerate(DELIMITERS):
        records = _records(lines, delim)
        if not records:
            continue
        counts = Counter(len(r) for r in records)
        fields, support = counts.most_common(1)[0]
        if fields < 2:
            continue
        consistent = int(support == len(records))
        score = (consistent, support, fields, int(delim == preferred) * 10 - rank)
        if best is None or score > best:
            best, choice = score, delim
    return choice


def _looks_like_header(records: list[list[str]]) -> bool:
    """Whether the first record names columns rather than holding values.

    A header has no empty cell and no typed cell (a number, a date, a boolean). When every sampled
    line is plain text the first line is taken as the header, the usual case for feeds. Repeated
    names still make a header: :func:`read_table` then refuses it with a clear message.
    """
    if not records:
        return False
    first = records[0]
    return all(cell.strip() and not _TYPED_CELL.match(cell) for cell in first)


def sniff(path: str | Path) -> FileFormat:
    """Find how ``path`` is laid out by looking at its first bytes.

    The content decides, the file name only breaks ties: Parquet is recognised by its magic
    bytes, JSON Lines by a first line that is a JSON object, anything else is delimited text whose
    delimiter (``,``, tab, ``;`` or ``|``) splits the sampled lines most consistently.

    Raises:
        SourceError: the file cannot be opened, is UTF-16/32, or its first bytes are not UTF-8.
    """
    path = Path(path)
    head, whole = _read_head(path)
    by_name = kind_for_name(path)
    if head.startswith(_PARQUET_MAGIC):
        return FileFormat(kind="parquet", encoding=None, has_header=True)
    if by_name == "parquet" and head:
        raise SourceError(f"{path}: named {path.suffix} but not a Parquet file (no PAR1 magic bytes)")
    for bom, name in _UTF16_32_BOMS:
        if head.startswith(bom):
            raise SourceError(f"{path}: the file is {name} encoded; only UTF-8 is read - re-export it as UTF-8")
    has_bom = head.startswith(codecs.BOM_UTF8)
    encoding = "utf-8-sig" if has_bom else "utf-8"
    body = head[len(codecs.BOM_UTF8) :] if has_bom else head
    _check_utf8_bytes(path, body, final=whole)
    text = body.decode("utf-8", errors="ignore")  # a cut trailing character is all that can go
    lines = _complete_lines(text, whole)
    if not lines and text.strip():
        lines = [text.strip()[:SNIFF_BYTES]]  # one line longer than the sample
    if not lines:
        kind: FileKind = by_name if by_name in ("csv", "tsv", "jsonl") else "csv"
        if kind == "jsonl":
            return FileFormat(kind="jsonl", encoding=encoding, has_bom=has_bom, has_header=False)
        return FileFormat(
            kind=kind,
            delimiter="\t" if kind == "tsv" else ",",
            encoding=encoding,
            has_bom=has_bom,
            has_header=False,
            quote='"',
        )
    if lines[0].lstrip().startswith("{"):
        try:
            is_object = isinstance(json.loads(lines[0]), dict)
        except ValueError:
            is_object = False
        if is_object or by_name == "jsonl":
            return FileFormat(kind="jsonl", encoding=encoding, has_bom=has_bom, has_header=True)
    delimiter = _pick_delimiter(lines, "\t" if by_name == "tsv" else ",")
    records = _records(lines, delimiter)
    return FileFormat(
        kind="tsv" if delimiter == "\t" else "csv",
        delimiter=delimiter,
        encoding=encoding,
        has_bom=has_bom,
        has_header=_looks_like_header(records),
        quote='"',
    )


# ---- reading ---------------------------------------------------------------------------------
def _is_blank(path: Path, fmt: FileFormat) -> bool:
    """True for a file with no content: 0 bytes, or only a byte-order mark and white space."""
    head, whole = _read_head(path, 4096)
    if not whole:
        return False
    if fmt.has_bom:
        head = head[len(codecs.BOM_UTF8) :]
    return not head.strip()


def _ragged_row_error(path: Path, fmt: FileFormat, cause: Exception) -> SourceError:
    """Find the first line whose field count differs from the first record's and name it."""
    assert fmt.delimiter is not None
    with path.open(encoding=fmt.encoding or "utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=fmt.delimiter, quotechar=fmt.quote or '"')
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
        for record in csv.reader(fh, delimiter=fmt.delimiter, quotechar=fmt.quote or '"'):
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


def _check_no_binary(path: Path, table: pa.Table) -> None:
    """pyarrow reads non-UTF-8 text as ``binary``; find and name the first bad byte instead."""
    if any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in table.schema):
        check_utf8(path)
        raise SourceError(f"{path}: a text column holds bytes that are not UTF-8")


def _read_delimited(path: Path, fmt: FileFormat, max_rows: int | None) -> pa.Table:
    import pyarrow.csv as pcsv

    assert fmt.delimiter is not None
    # pyarrow skips a UTF-8 byte-order mark itself.
    read_options = pcsv.ReadOptions(encoding="utf8")
    if not fmt.has_header:
        width = len(_first_record(path, fmt))
        read_options = pcsv.ReadOptions(encoding="utf8", column_names=[f"column_{i + 1}" for i in range(width)])
    parse_options = pcsv.ParseOptions(
        delimiter=fmt.delimiter, quote_char=fmt.quote or False, newlines_in_values=True
    )
    convert_options = pcsv.ConvertOptions(strings_can_be_null=True)
    try:
        if max_rows is None:
            table = pcsv.read_csv(path, read_options, parse_options, convert_options)
        else:
            batches: list[pa.RecordBatch] = []
            rows = 0
            with pcsv.open_csv(path, read_options, parse_options, convert_options) as reader:
                schema = reader.schema
                for batch in reader:
                    batches.append(batch)
                    rows += batch.num_rows
                    if rows >= max_rows:
                        break
            table = pa.Table.from_batches(batches, schema=schema).slice(0, max_rows)
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "Expected" in message and "columns" in message:
            raise _ragged_row_error(path, fmt, exc) from exc
        if "UTF8" in message or "UTF-8" in message:
            check_utf8(path)
        raise SourceError(f"{path}: cannot parse as {fmt.kind.upper()}: {message}") from exc
    except pa.ArrowException as exc:
        raise SourceError(f"{path}: cannot read as {fmt.kind.upper()}: {exc}") from exc
    _check_names(path, table.column_names)
    return table


def _read_jsonl(path: Path, fmt: FileFormat, max_rows: int | None) -> pa.Table:
    import pyarrow.json as pjson

    try:
        if max_rows is None:
            table = pjson.read_json(path)
        else:
            batches: list[pa.RecordBatch] = []
            rows = 0
            with pjson.open_json(path) as reader:
                schema = reader.schema
                for batch in reader:
                    batches.append(batch)
                    rows += batch.num_rows
                    if rows >= max_rows:
                        break
            table = pa.Table.from_batches(batches, schema=schema).slice(0, max_rows)
    except pa.ArrowInvalid as exc:
        raise _json_line_error(path, fmt, exc) from exc
    except pa.ArrowException as exc:
        raise SourceError(f"{path}: cannot read as JSON Lines: {exc}") from exc
    return table


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


def read_table(path: str | Path, fmt: FileFormat | None = None, max_rows: int | None = None) -> pa.Table:
    """Read a landing file into an Arrow table, column types inferred by pyarrow.

    Args:
        path: the file.
        fmt: its format; :func:`sniff` finds it when not given.
        max_rows: read at most this many rows (a sample). Without it the whole file is read and
            its encoding checked from the first byte to the last.

    Returns:
        The table. An empty file (0 bytes, or only a byte-order mark and blank lines) gives a table
        with no columns and no rows; a delimited file with only a header gives its columns and no
        rows (type ``null``).

    Raises:
        SourceError: the file cannot be read; the message starts with the path and names the line
            (ragged rows, bad JSON) or byte offset (bad encoding) at fault.
    """
    path = Path(path)
    fmt = fmt or sniff(path)
    if fmt.kind == "parquet":
        return _read_parquet(path, max_rows)
    if _is_blank(path, fmt):
        return pa.table({})
    if max_rows is None:
        check_utf8(path)
    table = _read_jsonl(path, fmt, max_rows) if fmt.kind == "jsonl" else _read_delimited(path, fmt, max_rows)
    _check_no_binary(path, table)
    return table


def arrow_type_name(data_type: pa.DataType) -> str:
    """The type's name as the catalog records it for file columns (e.g. ``int64``, ``string``)."""
    return str(data_type)
