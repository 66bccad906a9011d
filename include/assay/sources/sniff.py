"""Sniffing landing files: what a file holds, decided by its first bytes, not by its name.

:func:`sniff` returns a :class:`FileFormat`: the kind, the delimiter of delimited text, the
encoding (UTF-8, with or without a byte-order mark) and whether the first line is a header.
Compressed or binary content behind a text name (a gzip file called ``.csv``, a zip archive, a
PDF) is recognised by its magic bytes and refused under its own name, not reported as a bad
UTF-8 byte. :mod:`assay.sources.files` reads what this module found.
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

from assay.errors import SourceError

FileKind = Literal["csv", "tsv", "parquet", "jsonl"]

#: Bytes :func:`sniff` looks at: enough for a few hundred lines of a typical feed.
SNIFF_BYTES = 64 * 1024
#: Lines the delimiter and header heuristics look at.
SNIFF_LINES = 50
#: Delimiters tried by :func:`sniff`, in order of preference when the evidence ties.
DELIMITERS: tuple[str, ...] = (",", "\t", ";", "|")
#: Longest field the standard ``csv`` module accepts here (its default, 128 KiB, is below the
#: longest cell the Arrow reader handles; see ``assay.sources.files.MAX_BLOCK_BYTES``).
CSV_FIELD_LIMIT = 1 << 30

_PARQUET_MAGIC = b"PAR1"
_UTF16_32_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
#: Magic bytes of compressed, archive and binary formats that land under text names.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"PK\x03\x04", "zip archive (or an Office document such as .xlsx)"),
    (b"PK\x05\x06", "zip archive (empty)"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
    (b"\x04\x22\x4d\x18", "lz4-compressed data"),
    (b"7z\xbc\xaf\x27\x1c", "7-zip archive"),
    (b"%PDF-", "PDF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE2 document (legacy Excel .xls or Word .doc)"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"ARROW1", "Arrow IPC file"),
    (b"Obj\x01", "Avro container file"),
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
)
#: bzip2: "BZh", a block size digit, then the magic of a block or of the end of stream.
_BZIP2 = re.compile(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)")
#: Control bytes that never appear in text (tab, newlines, form feed and escape excluded).
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13, 27))
_KIND_LABEL = {"csv": "CSV", "tsv": "TSV", "jsonl": "JSON Lines", "parquet": "Parquet"}
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


def kind_for_name(path: str | Path) -> FileKind | None:
    """The kind a file's name suggests (``products.csv`` -> ``csv``); ``None`` for other names."""
    return _BY_SUFFIX.get(Path(path).suffix.lower())


def read_head(path: Path, size: int = SNIFF_BYTES) -> tuple[bytes, bool]:
    """The first ``size`` bytes and whether they are the whole file."""
    try:
        with path.open("rb") as fh:
            head = fh.read(size + 1)
    except OSError as exc:
        raise SourceError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    return head[:size], len(head) <= size


def csv_reader(lines: Any, delimiter: str, quote: str | None = '"', *, strict: bool = True) -> Any:
    """``csv.reader`` that accepts fields as long as the Arrow reader does."""
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)  # process-wide, only ever raised: long cells are valid CSV
    return csv.reader(lines, delimiter=delimiter, quotechar=quote or '"', strict=strict)


# ---- where a bad byte sits ------------------------------------------------------------------------
def placeholders(names: list[str]) -> dict[int, str]:
    """Names for the empty cells of a header: ``{position (from 1): name}``.

    The empty cell is usually the index column pandas (``to_csv``) or R (``write.csv``) write
    before the names. It becomes ``column_<position>``, the name a file without a header gives
    that column, with ``_1``, ``_2``... appended if the header already uses the name.
    """
    used = {n for n in names if n.strip()}
    out: dict[int, str] = {}
    for position, name in enumerate(names, start=1):
        if name.strip():
            continue
        chosen = base = f"column_{position}"
        suffix = 0
        while chosen in used:
            suffix += 1
            chosen = f"{base}_{suffix}"
        used.add(chosen)
        out[position] = chosen
    return out


def column_names(header: list[str] | None, width: int) -> list[str]:
    """The names the reader gives the columns of a header (placeholders filled), or ``column_N``."""
    if header is None:
        return [f"column_{i + 1}" for i in range(width)]
    filled = placeholders(header)
    return [filled.get(i, name) for i, name in enumerate(header, start=1)]


def column_at(prefix: bytes, fmt: FileFormat, header: list[str] | None, line: int) -> str:
    """``, column 'x'`` for a bad byte after ``prefix`` (its line up to it), or ``""``.

    Found by splitting the line up to the byte, so it is exact unless a quoted value spans lines.
    """
    if fmt.delimiter is None:
        return ""
    if line == 1 and header is not None:
        return ", in the header"
    text = prefix.decode("utf-8", errors="replace")
    try:
        fields: list[str] = next(csv_reader([text], fmt.delimiter, fmt.quote, strict=False), [])
    except csv.Error:
        return ""
    index = max(len(fields) - 1, 0)  # the prefix ends inside the field that holds the byte
    names = column_names(header, index + 1)
    return f", column {names[index]!r}" if index < len(names) else f", column {index + 1}"


def invalid_utf8(path: Path, offset: int, byte: int, line: int, where: str = "") -> SourceError:
    """The error for the first byte that is not UTF-8."""
    return SourceError(
        f"{path}: not valid UTF-8: byte 0x{byte:02X} at offset {offset} (line {line}){where}; "
        "only UTF-8 (with or without a byte-order mark) is read - re-export the file as UTF-8"
    )


def _first_invalid(data: bytes, *, final: bool) -> int | None:
    """Offset of the first byte of ``data`` that is not UTF-8, or ``None``."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(data, final=final)
    except UnicodeDecodeError as exc:
        return int(exc.start)
    return None


# ---- what kind of content -------------------------------------------------------------------------
def binary_content(head: bytes) -> str | None:
    """What a compressed, archive or binary file is (``gzip-compressed data``), or ``None`` for text."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if _BZIP2.match(head):
        return "bzip2-compressed data"
    sample = head[:4096]
    if b"\x00" in sample and not sample.startswith(tuple(b for b, _ in _UTF16_32_BOMS)):
        controls = sum(sample.count(bytes([b])) for b in _CONTROL)
        if controls > len(sample) // 20:  # one NUL in a cell is a bad value; this many is not text
            return "binary data (or UTF-16/32 text without a byte-order mark)"
    return None


def _complete_lines(text: str, whole: bool) -> list[str]:
    lines = text.splitlines()
    if not whole and lines:
        lines = lines[:-1]  # the last line of a truncated sample may be cut
    return [line for line in lines if line.strip()][:SNIFF_LINES]


def _records(lines: list[str], delimiter: str) -> list[list[str]]:
    try:
        return list(csv_reader(lines, delimiter, '"', strict=False))
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

    A header has no typed cell (a number, a date, a boolean) and at least one name, unless it is
    the header of an index column (:func:`_index_header`). When every
    cell is filled and every sampled line is plain text, the first line is taken as the header,
    the usual case for feeds. Empty cells are allowed where a header has them: leading ones (the
    index column pandas and R write before the names), or anywhere when a later line holds a typed
    value under one of the names. Repeated names still make a header: the reader then refuses it.
    """
    if not records:
        return False
    first = records[0]
    filled = [bool(cell.strip()) for cell in first]
    if not any(filled):
        return False
    if _index_header(records, filled):
        return True
    if any(f and _TYPED_CELL.match(cell) for f, cell in zip(filled, first, strict=True)):
        return False
    if all(filled):
        return True
    leading = filled.index(True)
    if all(filled[leading:]):
        return True
    return any(
        filled[i] and i < len(record) and _TYPED_CELL.match(record[i]) is not None
        for record in records[1:]
        for i in range(len(first))
    )


def _index_header(records: list[list[str]], filled: list[bool]) -> bool:
    """The first line leaves the leading cells empty where every later line has a distinct index.

    That is the shape pandas' ``to_csv()`` (and R's ``write.csv``) gives a frame with its index,
    whatever its column names are, even numbers (``,2019,2020`` over ``0,1,4``): an index column
    is filled and unique on every data line, so a first line without it is the header.
    """
    leading = filled.index(True)
    rest = records[1:]
    if leading == 0 or not rest:
        return False
    if any(len(r) <= leading or not all(cell.strip() for cell in r[:leading]) for r in rest):
        return False
    index = [tuple(r[:leading]) for r in rest]
    return len(set(index)) == len(index)


def _not_text(path: Path, what: str) -> SourceError:
    label = _KIND_LABEL.get(kind_for_name(path) or "", "")
    hint = "decompress it first: compressed files are not read" if "compress" in what else "it is not read"
    return SourceError(f"{path}: {what}, not {label + ' ' if label else ''}text; {hint}")


def sniff(path: str | Path) -> FileFormat:
    """Find how ``path`` is laid out by looking at its first bytes.

    The content decides, the file name only breaks ties: Parquet is recognised by its magic
    bytes, JSON Lines by a first line that is a JSON object, anything else is delimited text whose
    delimiter (``,``, tab, ``;`` or ``|``) splits the sampled lines most consistently.

    Raises:
        SourceError: the file cannot be opened; is compressed, an archive or binary (named by its
            magic bytes); is UTF-16/32; or its first bytes are not UTF-8 (offset, line, column).
    """
    path = Path(path)
    head, whole = read_head(path)
    by_name = kind_for_name(path)
    if head.startswith(_PARQUET_MAGIC):
        return FileFormat(kind="parquet", encoding=None, has_header=True)
    what = binary_content(head)
    if what is not None:
        raise _not_text(path, what)
    if by_name == "parquet" and head:
        raise SourceError(f"{path}: named {path.suffix} but not a Parquet file (no PAR1 magic bytes)")
    for bom, name in _UTF16_32_BOMS:
        if head.startswith(bom):
            raise SourceError(f"{path}: the file is {name} encoded; only UTF-8 is read - re-export it as UTF-8")
    has_bom = head.startswith(codecs.BOM_UTF8)
    encoding = "utf-8-sig" if has_bom else "utf-8"
    skip = len(codecs.BOM_UTF8) if has_bom else 0
    body = head[skip:]
    bad = _first_invalid(body, final=whole)
    # The format is found from the text before a bad byte, so the error can name its column.
    text = body[:bad].decode("utf-8", errors="ignore") if bad is not None else body.decode("utf-8", errors="ignore")
    lines = _complete_lines(text, whole and bad is None)
    if not lines and text.strip():
        lines = [text.strip()[:SNIFF_BYTES]]  # one line longer than the sample
    fmt = _layout(lines, by_name, encoding, has_bom)
    if bad is not None:
        line_start = body.rfind(b"\n", 0, bad) + 1
        line = body.count(b"\n", 0, bad) + 1
        header = _records(lines[:1], fmt.delimiter)[0] if fmt.has_header and fmt.delimiter and lines else None
        where = column_at(body[line_start:bad], fmt, header, line)
        raise invalid_utf8(path, skip + bad, body[bad], line, where)
    return fmt


def _layout(lines: list[str], by_name: FileKind | None, encoding: str, has_bom: bool) -> FileFormat:
    """The format of text whose first complete, non-blank lines are ``lines``."""
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
