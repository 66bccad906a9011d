"""The declarative base, the constraint naming convention and the column shapes every table uses."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Integer,
    MetaData,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, mapped_column

#: Constraint names are derived, never left to the server, so migrations can address them.
#: Keys whose derived name would pass PostgreSQL's 63-character limit are named explicitly
#: (``uq_<table>_natural_key``).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Alembic's bookkeeping table; named so it never clashes with MLflow's or Airflow's
#: ``alembic_version`` when a database is shared.
VERSION_TABLE = "alembic_version_assay"

#: Tables whose rows are never updated or deleted once written (guarded by a trigger).
APPEND_ONLY_TABLES: tuple[str, ...] = ("gate_decisions", "alias_events")

#: Comments of the attempt columns of run tables (see :mod:`assay.catalog.runs`).
ATTEMPT_STARTED_AT = "Set while an attempt to replace this record runs; the record stays until it finishes"
ATTEMPT_ERROR = "Why the last attempt ended without replacing this record (interrupted)"


def one_of(column: str, values: type[StrEnum]) -> CheckConstraint:
    """CHECK (column IN (...)) named ``ck_<table>_<column>``."""
    listed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=column)


# ---- column shapes ----------------------------------------------------------------------------
PK = Annotated[int, mapped_column(BigInteger, Identity(), primary_key=True)]
Now = Annotated[dt.datetime, mapped_column(server_default=func.now())]
JsonObject = Annotated[dict[str, Any], mapped_column(JSONB, server_default=text("'{}'::jsonb"))]
JsonList = Annotated[list[Any], mapped_column(JSONB, server_default=text("'[]'::jsonb"))]


def sha256_check(column: str) -> CheckConstraint:
    """CHECK that ``column`` holds a lower-case hex sha256 digest."""
    return CheckConstraint(f"{column} ~ '^[0-9a-f]{{64}}$'", name=f"{column}_sha256")


class Base(DeclarativeBase):
    """The declarative base: one metadata with the naming convention, and the type map."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: DateTime(timezone=True),
        dt.date: Date,
        str: Text,
        float: Double,
        int: Integer,
        dict[str, Any]: JSONB,
        list[Any]: JSONB,
    }


def fk(target: str, ondelete: str = "CASCADE", **kw: Any) -> Any:
    """A BIGINT foreign key column to ``target`` (``table.id``)."""
    return mapped_column(BigInteger, ForeignKey(target, ondelete=ondelete), **kw)
