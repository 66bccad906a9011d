"""The search-log contract as SQL: quoted table and column references, and a check against the database.

:func:`tables` turns a :class:`~assay.training.contract.SearchLogContract` into SQLAlchemy Core
``table()`` objects whose columns carry the **contract's** names (``sessions.c.query`` is whatever
column the mapping names, quoted), so training and drift build their statements once, for every
source. :func:`check` inspects the database and names the contract key of any missing table or
column, or of a column whose type family does not match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assay.errors import ConfigError
from assay.training.contract import KINDS, SearchLogContract

#: SQLAlchemy type class names accepted per contract type family.
_FAMILIES: dict[str, tuple[str, ...]] = {
    "text": ("String", "Text", "VARCHAR", "CHAR", "Unicode", "UnicodeText", "UUID", "Uuid", "Enum"),
    "date": ("Date",),
    "integer": ("Integer", "SmallInteger", "BigInteger"),
    "number": ("Integer", "SmallInteger", "BigInteger", "Numeric", "Float", "Double", "REAL", "DOUBLE_PRECISION"),
}


@dataclass(frozen=True)
class LogTables:
    """The four record kinds as SQLAlchemy ``TableClause`` objects (columns under contract names)."""

    sessions: Any
    impressions: Any
    interactions: Any
    products: Any

    def of(self, kind: str) -> Any:
        """The table of record kind ``kind``."""
        return getattr(self, kind)


def _quoted(name: str) -> Any:
    from sqlalchemy.sql.elements import quoted_name

    return quoted_name(name, quote=True)


def table_of(contract: SearchLogContract, kind: str) -> Any:
    """One record kind as a ``TableClause``; each column is labelled with its contract name."""
    from sqlalchemy import column, table

    mapping = contract.table(kind)
    cols: list[Any] = [column(_quoted(mapping.column(name))) for name in contract.wanted_columns(kind)]
    clause = table(_quoted(mapping.table), *cols, schema=_quoted(contract.schema_))
    return _Renamed(clause, {name: clause.c[mapping.column(name)] for name in contract.wanted_columns(kind)})


class _Renamed:
    """A table clause whose ``.c`` is keyed by contract column names (SQL still names the source's)."""

    def __init__(self, clause: Any, columns: dict[str, Any]) -> None:
        self.clause = clause
        self.c = _Columns(columns)


class _Columns:
    def __init__(self, columns: dict[str, Any]) -> None:
        self._columns = columns

    def __getattr__(self, name: str) -> Any:
        try:
            return self._columns[name]
        except KeyError:
            raise AttributeError(name) from None

    def __contains__(self, name: str) -> bool:
        return name in self._columns


def tables(contract: SearchLogContract) -> LogTables:
    """Every record kind of ``contract`` as a table clause."""
    return LogTables(**{kind: table_of(contract, kind) for kind in KINDS})


def mismatches(contract: SearchLogContract, columns_of: Callable[[str], dict[str, Any] | None]) -> list[str]:
    """What a database lacks for ``contract``: one message per contract key that does not fit.

    ``columns_of(table)`` gives a table's column name -> SQLAlchemy type (``None``: no such table).
    """
    problems: list[str] = []
    for kind in KINDS:
        mapping = contract.table(kind)
        qualified = f'"{contract.schema_}"."{mapping.table}"'
        found = columns_of(mapping.table)
        if found is None:
            problems.append(f"tables.{kind}.table: {qualified} cannot be read")
            continue
        for name, family in contract.wanted_columns(kind).items():
            col = mapping.column(name)
            if col not in found:
                problems.append(f"tables.{kind}.columns.{name}: {qualified} has no column {col!r}")
                continue
            type_names = {t.__name__ for t in type(found[col]).__mro__}
            if not type_names & set(_FAMILIES[family]):
                problems.append(f"tables.{kind}.columns.{name}: {qualified}.{col} is {found[col]}, "
                                f"expected a {family} column")
    return problems


def check(conn: Any, contract: SearchLogContract, where: str) -> None:
    """Refuse a mapping the database does not satisfy, naming the contract key and the table.

    Raises:
        ConfigError: a mapped table or column is missing, or a column's type is of another family.
    """
    from sqlalchemy import inspect

    insp = inspect(conn)

    def columns_of(table: str) -> dict[str, Any] | None:
        try:
            return {c["name"]: c["type"] for c in insp.get_columns(table, schema=contract.schema_)}
        except Exception:  # noqa: BLE001 - NoSuchTableError or a permission error: both mean "cannot read"
            return None

    problems = mismatches(contract, columns_of)
    if problems:
        raise ConfigError(f"{where}: the search-log mapping does not fit source {contract.source!r}: "
                          + "; ".join(problems))


def engine_for(url: str) -> Any:
    """A pool-less engine (one short read per call; parameters hidden from error messages)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from assay.catalog.db import connect_args

    return create_engine(url, poolclass=NullPool, connect_args=connect_args(url), hide_parameters=True)
