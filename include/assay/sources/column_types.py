"""Column types of landing files: declared ones applied, inferred ones kept honest, both explained.

A file source may declare the types of a file's columns (``columns: {zip: string, price: number}``
in ``config/sources.yaml``, per source or per asset). :func:`canonical` validates a declared
name; :func:`convert` turns a column read by :mod:`assay.sources.files` into the declared type,
or names the first row whose value does not fit (never quoting the value: it may be personal
data). Undeclared columns keep the type pyarrow infers, except that :func:`exact_numbers` keeps a
column with leading zeros as text and integers beyond 64 bits exact.

Why a column has the type it has travels with the table as Arrow field metadata
(:data:`NOTE_KEY`); :func:`type_notes` reads it back, e.g. ``{"zip": "kept as text: leading
zeros in 3 values"}``, so the inventory, the profile and the quality run can each say why.

pyarrow is imported inside the functions that need it: declarations validate types without it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa

#: The declared type names and what each becomes in Arrow.
TYPES: tuple[str, ...] = ("string", "integer", "number", "boolean", "date", "timestamp")
#: Other spellings accepted in a declaration.
ALIASES: dict[str, str] = {
    "text": "string", "str": "string", "varchar": "string",
    "int": "integer", "int64": "integer", "bigint": "integer",
    "float": "number", "double": "number", "float64": "number", "numeric": "number", "decimal": "number",
    "bool": "boolean",
    "datetime": "timestamp", "timestamptz": "timestamp",
}  # fmt: skip
#: Field metadata key holding why a column has its type.
NOTE_KEY = b"assay.type_note"
#: A numeric value written with a leading zero (a zip code, an article number): kept as text.
LEADING_ZERO = r"^[+-]?0[0-9]"
_INTEGER = r"^[+-]?[0-9]+$"
#: Digits of the widest exact integer type (``decimal128(38, 0)``); wider integers stay text.
MAX_DIGITS = 38
#: What each declared type accepts in text (surrounding white space is trimmed first).
_TEXT_FORMS = {
    "integer": r"^[+-]?[0-9]+$",
    "number": r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$|^(?i:nan|[+-]?inf(inity)?)$",
    "boolean": r"^(?i:true|false|t|f|yes|no|y|n|1|0)$",
    "date": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "timestamp": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$",
}
_ZONED = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
_TRUE = ["true", "t", "yes", "y", "1"]
_ARTICLE = {"integer": "an integer", "number": "a number", "boolean": "a boolean", "date": "a date",
            "timestamp": "a timestamp", "string": "text"}  # fmt: skip


def canonical(name: str) -> str:
    """The declared type ``name`` in its canonical spelling (``int`` -> ``integer``).

    Raises:
        ValueError: an unknown type, naming the accepted ones.
    """
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in TYPES:
        raise ValueError(f"unknown column type {name!r}; use one of {', '.join(TYPES)}")
    return key


def arrow_type(name: str) -> pa.DataType:
    """The Arrow type a declared type reads as."""
    import pyarrow as pa

    return {
        "string": pa.string(),
        "integer": pa.int64(),
        "number": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }[canonical(name)]


def with_note(table: pa.Table, name: str, values: Any, note: str) -> pa.Table:
    """``table`` with column ``name`` replaced by ``values`` and ``note`` recorded on its field."""
    import pyarrow as pa

    index = table.column_names.index(name)
    field = pa.field(name, values.type, nullable=True, metadata={NOTE_KEY: note.encode("utf-8")})
    return table.set_column(index, field, values)


def type_notes(table: pa.Table) -> dict[str, str]:
    """``{column: why it has its type}`` for the columns the reader recorded a reason for."""
    out: dict[str, str] = {}
    for f in table.schema:
        note = (f.metadata or {}).get(NOTE_KEY)
        if note:
            out[f.name] = note.decode("utf-8")
    return out


def leading_zero_note(count: int) -> str:
    """Why a column that looks numeric stays text."""
    return f"kept as text: leading zeros in {count} value{'s' if count != 1 else ''}"


def exact_numbers(table: pa.Table, text: pa.Table, declared: Mapping[str, str] | None = None) -> pa.Table:
    """Numeric columns whose text a double or an int64 would change: exact decimals or text.

    pyarrow types ``01234`` as the integer 1234 and a 27-digit integer as a double; only the text
    tells. ``text`` holds the numeric columns of ``table`` read again as text: a column with a
    value with a leading zero stays text (with a note saying so), integers beyond 64 bits become
    ``decimal128(38, 0)`` (text beyond 38 digits). Declared columns are left alone.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    for name in text.column_names:
        if declared and name in declared:
            continue
        values = text.column(name)
        zeros = pc.sum(pc.match_substring_regex(values, LEADING_ZERO)).as_py() or 0
        if zeros:
            table = with_note(table, name, values, leading_zero_note(zeros))
        elif pa.types.is_floating(table.schema.field(name).type) and pc.all(
            pc.match_substring_regex(values, _INTEGER)
        ).as_py():
            # Only integers, yet typed double: at least one did not fit in 64 bits.
            digits = pc.max(pc.utf8_length(pc.replace_substring_regex(values, "^[+-]", ""))).as_py()
            exact = values if digits > MAX_DIGITS else pc.cast(values, pa.decimal128(MAX_DIGITS, 0))
            table = table.set_column(table.column_names.index(name), name, exact)
    return table


def convert(
    path: Path, table: pa.Table, declared: Mapping[str, str], where: Callable[[int], str]
) -> pa.Table:
    """``table`` with each declared column (present in it) in its declared type.

    Args:
        path: the file, for messages.
        table: as read; declared columns of delimited text were read as text.
        declared: ``{column: declared type}``.
        where: ``where(row)`` names the place of a row (counted from 0), e.g. ``line 7``.

    Raises:
        SourceError: a value does not fit its declared type; names the file, the place and the
            column, not the value.
    """
    for name, type_name in declared.items():
        if name not in table.column_names:
            continue
        kind = canonical(type_name)
        column = table.column(name)
        values = _convert(path, column, kind, name, where)
        table = with_note(table, name, values, f"declared {kind}")
    return table


def _convert(path: Path, column: Any, kind: str, name: str, where: Callable[[int], str]) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    target = arrow_type(kind)
    if column.type == target:
        return column
    if kind == "string" or not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        try:
            return pc.cast(column, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise SourceError(
                f"{path}: column {name!r} holds {column.type} values that cannot be read as declared {kind}"
            ) from None
    text = pc.utf8_trim_whitespace(column)
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    fits = pc.match_substring_regex(text, _TEXT_FORMS[kind])
    bad = pc.index(pc.invert(pc.fill_null(fits, True)), True).as_py()
    if bad >= 0:
        raise _unfit(path, name, kind, where(bad))
    try:
        return _cast_text(text, kind)
    except pa.ArrowInvalid:  # a well-formed value out of range: 2026-02-30, an integer beyond 64 bits
        for row, value in enumerate(text.to_pylist()):
            try:
                _cast_text(pa.chunked_array([[value]], pa.string()), kind)
            except pa.ArrowInvalid:
                raise _unfit(path, name, kind, where(row)) from None
        raise


def _cast_text(text: Any, kind: str) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if kind == "boolean":
        lower = pc.utf8_lower(text)
        return pc.if_else(pc.is_null(lower), pa.scalar(None, pa.bool_()), pc.is_in(lower, pa.array(_TRUE)))
    if kind == "integer":
        return pc.cast(pc.replace_substring_regex(text, r"^\+", ""), pa.int64())
    if kind == "timestamp":
        zoned = pc.match_substring_regex(text, _ZONED)
        utc = pa.timestamp("us", tz="UTC")
        with_zone = pc.cast(pc.if_else(zoned, text, pa.scalar(None, pa.string())), utc)
        naive = pc.cast(pc.cast(pc.if_else(zoned, pa.scalar(None, pa.string()), text), pa.timestamp("us")), utc)
        return pc.coalesce(with_zone, naive)
    return pc.cast(text, arrow_type(kind))


def _unfit(path: Path, name: str, kind: str, place: str) -> SourceError:
    return SourceError(
        f"{path}: {place}: the value of column {name!r} is not {_ARTICLE[kind]} "
        f"(declared {kind} in the source's columns); fix the file or the declaration"
    )
