"""How SQL column types are spelled in the catalog: PostgreSQL's ``format_type`` spelling.

Inventory and profiling both store types through :func:`normal_type`; :func:`reflect_columns`
gives the types SQLAlchemy does not model (``point``, composite types) their database's name.
Imported through :mod:`assay.sources.sql`.
"""

from __future__ import annotations

import warnings
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import ReflectedColumn
from sqlalchemy.exc import CompileError, SAWarning
from sqlalchemy.types import NullType, TypeEngine, UserDefinedType

#: Other spellings of a type -> PostgreSQL's ``format_type`` spelling (the catalog's).
_TYPE_ALIASES: dict[str, str] = {
    "int": "integer",
    "int4": "integer",
    "int2": "smallint",
    "int8": "bigint",
    "bool": "boolean",
    "float": "double precision",
    "float8": "double precision",
    "double": "double precision",
    "float4": "real",
    "decimal": "numeric",
    "varchar": "character varying",
    "char": "character",
    "bpchar": "character",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "time": "time without time zone",
    "timetz": "time with time zone",
    "datetime": "timestamp without time zone",
}
_ZONE_SUFFIXES = (" with time zone", " without time zone")


def normal_type(spelling: str) -> str:
    """One spelling for a SQL type in the catalog: PostgreSQL's ``format_type`` spelling.

    Inventory (``asset_columns.data_type``, schema versions) and profiling
    (``column_metrics.data_type``) both store types through this function, so the two always
    agree: PostgreSQL's own spelling (``numeric(12,2)``, ``character varying(20)``,
    ``timestamp with time zone``, ``integer[]``) is kept as it is, and SQLAlchemy's
    (``NUMERIC(12, 2)``, ``VARCHAR(20)``, ``TIMESTAMP WITH TIME ZONE``, ``INTEGER[]``) or the
    short aliases (``int4``, ``timestamptz``) are rewritten to it. Arrow type names of files are
    not SQL types and do not go through here.
    """
    if '"' in spelling:
        return " ".join(spelling.split())  # a quoted (user-defined) type name: its case is its identity
    t = " ".join(spelling.strip().lower().split())
    t = t.replace(", ", ",").replace(" (", "(")
    dims = ""
    while t.endswith("[]"):
        t, dims = t[:-2].rstrip(), dims + "[]"
    zone = next((z for z in _ZONE_SUFFIXES if t.endswith(z)), "")
    if zone:
        t = t[: -len(zone)]
    base, paren, rest = t.partition("(")
    base = base.strip()
    args = paren + rest
    if base in ("timestamp", "time") and not zone:
        zone = " without time zone"
    elif base in ("timestamptz", "timetz"):
        base, zone = base[:-2], " with time zone"
    base = _TYPE_ALIASES.get(base, base)
    if zone and base.endswith(_ZONE_SUFFIXES):  # an alias that already carries its zone
        base = base.rsplit(" with", 1)[0]
    return f"{base}{args}{zone}{dims}"


def type_name(conn: Connection | Engine, data_type: TypeEngine[Any]) -> str:
    """The column type, spelled by :func:`normal_type` (e.g. ``numeric(10,2)``).

    A type SQLAlchemy does not know reflects as ``NullType``; it is recorded as ``unknown``.
    """
    if isinstance(data_type, NullType):
        return "unknown"
    try:
        compiled = str(data_type.compile(dialect=conn.dialect))
    except CompileError:
        compiled = type(data_type).__name__
    return normal_type(compiled)


class NamedType(UserDefinedType[Any]):
    """A type SQLAlchemy does not model (``point``, a composite type), kept under the database's name."""

    cache_ok = True

    def __init__(self, name: str) -> None:
        self.name = name

    def get_col_spec(self, **kw: Any) -> str:
        """The type as the database spells it."""
        return self.name


_PG_TYPES_OF = text(
    """
    SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = to_regclass(:name) AND a.attnum > 0 AND NOT a.attisdropped
    """
)


def reflect_columns(conn: Connection, table: str, schema: str | None = None) -> list[ReflectedColumn]:
    """``Inspector.get_columns`` where every column has a type with a name.

    SQLAlchemy reflects a type it does not model (PostgreSQL's geometric types, composite types,
    arrays of them) as ``NullType``, which :func:`type_name` could only call ``unknown``. On
    PostgreSQL those columns get a :class:`NamedType` with ``format_type``'s spelling instead, the
    name inventory records for them, so profiling and inventory agree.

    Raises:
        sqlalchemy.exc.NoSuchTableError: the table does not exist.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Did not recognize type", SAWarning)
        columns = list(inspect(conn).get_columns(table, schema=schema))
    unnamed = [c for c in columns if isinstance(c["type"], NullType)]
    if unnamed and conn.dialect.name == "postgresql":
        # A bound value, not SQL text: quoted by hand (the psycopg2 preparer would double a "%").
        qualified = ".".join('"' + p.replace('"', '""') + '"' for p in ((schema, table) if schema else (table,)))
        spelled: dict[str, str] = {name: spelling for name, spelling in conn.execute(_PG_TYPES_OF, {"name": qualified})}
        for c in unnamed:
            if spelled.get(c["name"]):
                c["type"] = NamedType(spelled[c["name"]])
    return columns
