"""Reading SQL sources through SQLAlchemy: batched reflection, row counts, freshness, samples.

The interface is dialect-neutral: callers pass a :class:`~sqlalchemy.engine.Connection` and get
plain dataclasses back. PostgreSQL gets fast paths, each behind a dialect check with a generic
fallback:

==========================  ===========================================  ============================
fact                        PostgreSQL                                   any other dialect
==========================  ===========================================  ============================
tables, views, columns      ``Inspector.get_multi_columns`` (one query   the same call (the dialect
                            per schema, however many tables)             may loop internally)
row estimate                ``pg_class.reltuples``, one query per        none: every row count is
                            schema; views: the planner's ``EXPLAIN``     exact
size in bytes               ``pg_total_relation_size``, same query       none
partitioned tables          the parent is one asset (kind                partitions are tables
                            ``partitioned``); its partitions are hidden
==========================  ===========================================  ============================

Every identifier reaches SQL through SQLAlchemy's quoting (``quoted_name(..., quote=True)`` in
``table()``/``column()`` constructs) and every value through bound parameters, so names such as
``a"b``, ``my table``, ``größe`` or ``x; DROP TABLE y--`` are read like any other.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Engine, Select, create_engine, func, inspect, select, text
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.engine import Connection
from sqlalchemy.engine.reflection import ObjectKind
from sqlalchemy.exc import SAWarning
from sqlalchemy.sql.elements import quoted_name
from sqlalchemy.sql.expression import TableClause

from assay.catalog.db import connect_args
from assay.sources.sql_types import NamedType as NamedType
from assay.sources.sql_types import normal_type as normal_type
from assay.sources.sql_types import reflect_columns as reflect_columns
from assay.sources.sql_types import type_name as type_name  # type spelling lives there, imported from here

log = logging.getLogger(__name__)

RelationKind = Literal["table", "view", "partitioned"]

#: Longest string value handed to classification; longer values are cut (they are samples).
MAX_SAMPLE_CHARS = 1000


@dataclass(frozen=True)
class ColumnInfo:
    """One column as reflected: ``ordinal`` counts from 1 in the table's column order."""

    name: str
    data_type: str
    nullable: bool
    ordinal: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ordinal": self.ordinal, "data_type": self.data_type, "nullable": self.nullable}


@dataclass(frozen=True)
class RelationInfo:
    """A table or view found in one schema, with its columns and primary key."""

    schema: str
    name: str
    kind: RelationKind
    columns: tuple[ColumnInfo, ...]
    primary_key: tuple[str, ...] = ()


@dataclass(frozen=True)
class RelationStats:
    """What a dialect's catalog knows without scanning: the planner's estimate and the size."""

    row_estimate: int | None = None
    size_bytes: int | None = None
    relkind: str | None = None
    is_partition: bool = False


@dataclass
class SchemaListing:
    """Everything reflection found in one schema."""

    schema: str
    relations: list[RelationInfo] = field(default_factory=list)
    stats: dict[str, RelationStats] = field(default_factory=dict)


def is_postgres(conn: Connection | Engine) -> bool:
    return conn.dialect.name == "postgresql"


def source_engine(url: str) -> Engine:
    """An engine for reading a source: every statement in its own transaction (AUTOCOMMIT).

    A statement that fails (a table dropped since it was listed) then costs only itself, not
    every later statement of a shared transaction.
    """
    return create_engine(
        url, connect_args=connect_args(url), isolation_level="AUTOCOMMIT", pool_pre_ping=True, hide_parameters=True
    )


def relation(schema: str | None, name: str, columns: Sequence[str] = ()) -> TableClause:
    """A ``table()`` construct whose schema, name and columns are always quoted."""
    return sa_table(
        quoted_name(name, quote=True),
        *(sa_column(quoted_name(c, quote=True)) for c in columns),
        schema=quoted_name(schema, quote=True) if schema is not None else None,
    )


def display_name(conn: Connection | Engine, schema: str | None, name: str) -> str:
    """``schema.name`` for people: each part double-quoted only where SQL would need it."""
    prep = conn.dialect.identifier_preparer

    def shown(part: str) -> str:
        # The preparer also doubles "%" for pyformat drivers; a person should not see that.
        return part if prep.quote(part) == part else '"' + part.replace('"', '""') + '"'

    return f"{shown(schema)}.{shown(name)}" if schema else shown(name)


# ---- reflection ---------------------------------------------------------------------------------
def schema_names(conn: Connection) -> list[str]:
    return list(inspect(conn).get_schema_names())


def _names(insp: Any, method: str, schema: str) -> list[str]:
    try:
        return list(getattr(insp, method)(schema=schema))
    except NotImplementedError:  # e.g. materialized views on dialects without them
        return []


def list_relations(conn: Connection, schema: str, wants: Any = None) -> SchemaListing:
    """Reflect every table and view of ``schema`` with a fixed number of catalog queries.

    The count of queries does not grow with the number of tables. PostgreSQL: one ``pg_class``
    query for kinds, estimates and sizes, and one ``pg_attribute`` query for every column, type
    (as ``format_type`` spells it), nullability and primary-key position. Other dialects: one
    name query per object kind, one ``Inspector.get_multi_columns`` call and one
    ``get_multi_pk_constraint`` call.

    Args:
        conn: a connection to the source.
        schema: the schema (namespace) to list.
        wants: optional predicate on a relation name (the declaration's include/exclude).

    Returns:
        The relations sorted by name, and the dialect's cheap stats keyed by name.
    """
    if is_postgres(conn):
        return _pg_list_relations(conn, schema, wants)
    insp = inspect(conn)
    kinds: dict[str, RelationKind] = {}
    for name in _names(insp, "get_table_names", schema):
        kinds[name] = "table"
    for method in ("get_view_names", "get_materialized_view_names"):
        for name in _names(insp, method, schema):
            kinds[name] = "view"
    selected = sorted(n for n in kinds if wants is None or wants(n))
    listing = SchemaListing(schema=schema)
    if not selected:
        return listing
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SAWarning)
        columns = insp.get_multi_columns(schema=schema, filter_names=selected, kind=ObjectKind.ANY)
        pks = insp.get_multi_pk_constraint(schema=schema, filter_names=selected, kind=ObjectKind.ANY)
    for w in caught:
        log.info("reflecting schema %s: %s", schema, w.message)
    for name in selected:
        cols = columns.get((schema, name))
        if cols is None:
            continue  # dropped between the name query and the column query
        infos = tuple(
            ColumnInfo(name=c["name"], data_type=type_name(conn, c["type"]), nullable=bool(c["nullable"]), ordinal=i)
            for i, c in enumerate(cols, start=1)
        )
        pk: dict[str, Any] = dict(pks.get((schema, name)) or {})
        listing.relations.append(
            RelationInfo(
                schema=schema,
                name=name,
                kind=kinds[name],
                columns=infos,
                primary_key=tuple(pk.get("constrained_columns") or ()),
            )
        )
    return listing


# ---- PostgreSQL fast paths ----------------------------------------------------------------------
_PG_STATS = text(
    """
    SELECT c.relname,
           c.relkind,
           c.relispartition,
           CASE WHEN c.relkind = 'p' THEN leaves.tuples ELSE c.reltuples::bigint END AS estimate,
           CASE WHEN c.relkind = 'p' THEN leaves.bytes ELSE pg_total_relation_size(c.oid) END AS size_bytes
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN LATERAL (
        SELECT CASE WHEN bool_or(l.reltuples < 0) THEN -1 ELSE sum(l.reltuples)::bigint END AS tuples,
               sum(pg_total_relation_size(l.oid))::bigint AS bytes
        FROM pg_catalog.pg_partition_tree(c.oid) t
        JOIN pg_catalog.pg_class l ON l.oid = t.relid
        WHERE t.isleaf
    ) leaves ON c.relkind = 'p'
    WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    """
)


def relation_stats(conn: Connection, schema: str) -> dict[str, RelationStats]:
    """Row estimates and sizes of every relation in ``schema`` from the dialect's catalog.

    PostgreSQL: one query over ``pg_class`` (``reltuples`` is -1 until the table was first
    analysed or vacuumed: reported as ``None``, unknown). Other dialects: ``{}``.
    """
    if not is_postgres(conn):
        return {}
    out: dict[str, RelationStats] = {}
    for name, relkind, is_partition, estimate, size in conn.execute(_PG_STATS, {"schema": schema}):
        out[name] = RelationStats(
            row_estimate=int(estimate) if estimate is not None and estimate >= 0 else None,
            size_bytes=int(size) if size is not None and relkind not in ("v",) else None,
            relkind=relkind,
            is_partition=bool(is_partition),
        )
    return out


_PG_COLUMNS = text(
    """
    SELECT c.relname,
           a.attname,
           pg_catalog.format_type(a.atttypid, a.atttypmod) AS data_type,
           NOT a.attnotnull AS nullable,
           pg_catalog.array_position(pk.conkey, a.attnum) AS pk_position
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_catalog.pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
    WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
    ORDER BY c.relname, a.attnum
    """
)
_PG_KINDS: dict[str, RelationKind] = {"r": "table", "f": "table", "p": "partitioned", "v": "view", "m": "view"}


def _pg_list_relations(conn: Connection, schema: str, wants: Any) -> SchemaListing:
    stats = relation_stats(conn, schema)
    columns: dict[str, list[ColumnInfo]] = {}
    keys: dict[str, list[tuple[int, str]]] = {}
    wanted: dict[str, bool] = {}
    for relname, attname, data_type, nullable, pk_position in conn.execute(_PG_COLUMNS, {"schema": schema}):
        if relname not in wanted:
            wanted[relname] = wants is None or bool(wants(relname))
        if not wanted[relname]:
            continue
        cols = columns.setdefault(relname, [])
        if attname is None:
            continue  # a table without columns
        cols.append(
            ColumnInfo(name=attname, data_type=normal_type(data_type), nullable=bool(nullable), ordinal=len(cols) + 1)
        )
        if pk_position is not None:
            keys.setdefault(relname, []).append((pk_position, attname))
    listing = SchemaListing(schema=schema, stats=stats)
    for name in sorted(columns):
        st = stats.get(name)
        if st is None or st.relkind not in _PG_KINDS:
            continue  # created between the two queries: the next run sees it
        listing.relations.append(
            RelationInfo(
                schema=schema,
                name=name,
                kind=_PG_KINDS[st.relkind],
                columns=tuple(columns[name]),
                primary_key=tuple(col for _, col in sorted(keys.get(name, []))),
            )
        )
    return listing


def _pg_name(conn: Connection, schema: str, name: str) -> str:
    """``"schema"."name"``: both always quoted, embedded quotes doubled, by the dialect's preparer."""
    prep = conn.dialect.identifier_preparer
    return f"{prep.quote_identifier(schema)}.{prep.quote_identifier(name)}"


def _pg_execute(conn: Connection, statement: str) -> Any:
    """Run SQL without parameters whose identifiers were quoted by the dialect's preparer.

    Used on PostgreSQL's hot path only: building the statement as a string costs microseconds,
    compiling a ``select()`` that names a different table each time costs about a millisecond.
    psycopg2 formats ``%`` even without parameters; the preparer already doubles a ``%`` inside
    an identifier for such drivers, and the statements built here hold no other ``%``.
    """
    return conn.exec_driver_sql(statement)


def planner_estimate(conn: Connection, schema: str, name: str) -> int | None:
    """The planner's row estimate for ``SELECT * FROM schema.name`` (PostgreSQL), else ``None``.

    Used for views, which have no ``reltuples``: a view over a billion-row join is not counted
    exactly just because it is a view.
    """
    if not is_postgres(conn):
        return None
    statement = f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {_pg_name(conn, schema, name)}"  # noqa: S608 - quoted
    plan = _pg_execute(conn, statement).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


# ---- per-relation queries -----------------------------------------------------------------------
def count_and_max(
    conn: Connection, schema: str, name: str, event_time_column: str | None
) -> tuple[int, Any]:
    """``count(*)`` and ``max(event_time_column)`` of one relation, in one statement.

    Returns:
        ``(row_count, newest event time or None)``.
    """
    if is_postgres(conn):
        quote = conn.dialect.identifier_preparer.quote_identifier
        newest = f", max({quote(event_time_column)})" if event_time_column else ""
        statement = f"SELECT count(*){newest} FROM {_pg_name(conn, schema, name)}"  # noqa: S608 - quoted
        row = _pg_execute(conn, statement).one()
    else:
        rel = relation(schema, name, [event_time_column] if event_time_column else [])
        exprs: list[Any] = [func.count()]
        if event_time_column:
            exprs.append(func.max(rel.c[event_time_column]))
        row = conn.execute(select(*exprs).select_from(rel)).one()
    return int(row[0]), (row[1] if event_time_column else None)


def max_of(conn: Connection, schema: str, name: str, column_name: str) -> Any:
    """``max(column)`` of one relation (freshness of a table too big to count)."""
    if is_postgres(conn):
        quoted = conn.dialect.identifier_preparer.quote_identifier(column_name)
        statement = f"SELECT max({quoted}) FROM {_pg_name(conn, schema, name)}"  # noqa: S608 - quoted
        return _pg_execute(conn, statement).scalar_one()
    rel = relation(schema, name, [column_name])
    return conn.execute(select(func.max(rel.c[column_name]))).scalar_one()


def _as_text(value: Any) -> str | None:
    """A sampled value as classification sees it: text, or ``None`` for nulls and raw bytes."""
    kind = type(value)
    if kind is str:
        return value if len(value) <= MAX_SAMPLE_CHARS else value[:MAX_SAMPLE_CHARS]
    if value is None or isinstance(value, bytes | bytearray | memoryview):
        return None
    if kind in (int, float, bool, decimal.Decimal, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        out = value.isoformat()
    elif isinstance(value, dict | list):
        out = json.dumps(value, default=str, ensure_ascii=False)
    else:
        out = str(value)
    return out[:MAX_SAMPLE_CHARS]


def sample_columns(
    conn: Connection,
    schema: str,
    name: str,
    columns: Sequence[str],
    order_by: Sequence[str] = (),
    limit: int = 200,
) -> dict[str, list[str | None]]:
    """Up to ``limit`` values of every column, fetched in ONE query.

    Rows come in primary-key order when there is one (an index scan, and the same rows on every
    run while the table is unchanged); otherwise in the order the database returns them.

    Returns:
        ``{column name: [value as text or None, ...]}`` in the order of ``columns``.
    """
    if not columns:
        return {}
    if is_postgres(conn):
        quote = conn.dialect.identifier_preparer.quote_identifier
        order = f" ORDER BY {', '.join(quote(c) for c in order_by)}" if order_by else ""
        selected = ", ".join(quote(c) for c in columns)
        statement = f"SELECT {selected} FROM {_pg_name(conn, schema, name)}{order} LIMIT {int(limit)}"  # noqa: S608

        rows = _pg_execute(conn, statement).all()
    else:
        rel = relation(schema, name, list(dict.fromkeys([*columns, *order_by])))
        stmt: Select[Any] = select(*(rel.c[c] for c in columns)).limit(limit)
        if order_by:
            stmt = stmt.order_by(*(rel.c[c] for c in order_by))
        rows = conn.execute(stmt).all()
    return {c: [_as_text(row[i]) for row in rows] for i, c in enumerate(columns)}
