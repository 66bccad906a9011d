"""``INSERT ... ON CONFLICT (natural key) DO UPDATE`` for any catalog model.

Every catalog write goes through here (or :func:`insert_new` for append-only rows), so a retried
task or a rerun partition rewrites its own rows instead of adding new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Table, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from assay.catalog.models import Base

#: Rows per statement: keeps statements a reasonable size for wide JSONB rows.
BATCH_SIZE = 1000


def _validated(model: type[Base], rows: Sequence[dict[str, Any]], key: Sequence[str]) -> list[dict[str, Any]]:
    """Rows deduplicated on ``key`` (the last occurrence wins), after checking their shape.

    PostgreSQL refuses a statement that would update the same row twice
    ("ON CONFLICT DO UPDATE command cannot affect row a second time"), so duplicates within one
    call are collapsed here, keeping input order of first appearance.
    """
    table_columns = set(model.__table__.columns.keys())
    if not key:
        raise ValueError(f"{model.__tablename__}: an upsert needs a non-empty key")
    unknown_key = set(key) - table_columns
    if unknown_key:
        raise ValueError(f"{model.__tablename__}: key columns {sorted(unknown_key)} do not exist")
    names = set(rows[0])
    deduped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        if set(row) != names:
            raise ValueError(
                f"{model.__tablename__}: every row must have the same columns; "
                f"got {sorted(row)} after {sorted(names)}"
            )
        missing = set(key) - names
        if missing:
            raise ValueError(f"{model.__tablename__}: rows lack key columns {sorted(missing)}")
        unknown = names - table_columns
        if unknown:
            raise ValueError(f"{model.__tablename__}: unknown columns {sorted(unknown)}")
        deduped[tuple(row[k] for k in key)] = row
    return list(deduped.values())


def _batches(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH_SIZE):
        yield rows[start : start + BATCH_SIZE]


def upsert(
    session: Session,
    model: type[Base],
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    update: Sequence[str] | None = None,
) -> list[int]:
    """Insert ``rows``, or update the existing row with the same ``key``; return the row ids.

    Args:
        session: an open session; the caller owns the transaction.
        model: the ORM class, e.g. ``Asset``.
        rows: column -> value dicts, all with the same columns, each containing every ``key`` column.
            Rows repeating a key collapse to the last one.
        key: the columns of the table's UNIQUE natural key (the conflict target).
        update: columns to overwrite on conflict. ``None`` means every non-key column given in
            the rows; ``[]`` means keep the stored row as it is (the ids are still returned).
            A model with an ``updated_at`` column gets ``updated_at = now()`` on every update
            unless the rows set it.

    Returns:
        The ``id`` of each written row, in the order of the deduplicated rows.
    """
    if not rows:
        return []
    unique_rows = _validated(model, rows, key)
    table = cast(Table, model.__table__)
    columns = list(unique_rows[0])
    to_update = [c for c in columns if c not in key and c != "id"] if update is None else list(update)
    unknown = set(to_update) - set(columns)
    if unknown:
        raise ValueError(f"{model.__tablename__}: update columns {sorted(unknown)} are not in the rows")

    ids: list[int] = []
    for batch in _batches(unique_rows):
        stmt = insert(table).values(batch)
        set_: dict[str, Any] = {c: stmt.excluded[c] for c in to_update}
        if set_ and "updated_at" in table.columns and "updated_at" not in set_:
            set_["updated_at"] = func.now()
        if not set_:
            # A no-op assignment still locks and returns the existing row, unlike DO NOTHING.
            set_ = {key[0]: stmt.excluded[key[0]]}
        stmt = stmt.on_conflict_do_update(index_elements=list(key), set_=set_)
        ids.extend(session.execute(stmt.returning(table.c.id)).scalars().all())
    return ids


def insert_new(
    session: Session, model: type[Base], rows: Sequence[dict[str, Any]], key: Sequence[str]
) -> list[int]:
    """Insert rows whose ``key`` is not stored yet and leave existing rows untouched.

    For append-only tables with a natural key (``schema_events``, ``alias_events``): a rerun
    neither duplicates nor rewrites history, and UPDATE triggers never fire.

    Returns:
        The ids of the rows actually inserted (rows that already existed are not reported).
    """
    if not rows:
        return []
    unique_rows = _validated(model, rows, key)
    table = cast(Table, model.__table__)
    ids: list[int] = []
    for batch in _batches(unique_rows):
        stmt = insert(table).values(batch).on_conflict_do_nothing(index_elements=list(key))
        ids.extend(session.execute(stmt.returning(table.c.id)).scalars().all())
    return ids
