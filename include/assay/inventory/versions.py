"""Schema versions, columns and schema events of an asset: what a newly observed column list needs.

:func:`plan_version` is pure: given the catalog's state of an asset and the columns observed now,
it says which version row to write (none on a rerun that would change nothing) and which events
to record. The other functions write those rows, for one asset or a whole chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, tuple_, update

from assay.catalog.models import AssetColumn, SchemaEvent, SchemaEventType, SchemaVersion
from assay.catalog.upsert import insert_new_keyed, upsert_keyed
from assay.inventory.lifecycle import RunContext
from assay.inventory.schema import Change, diff, fingerprint
from assay.inventory.state import AssetState

#: The natural key of ``schema_events`` (append-only: a rerun inserts nothing new).
EVENT_KEY = ("asset_id", "schema_version_id", "event_type", "column_name", "run_key")
#: Columns of ``asset_columns`` a new observation overwrites.
COLUMN_UPDATE = ["ordinal", "data_type", "nullable", "is_present", "last_seen_at"]
#: The natural key of ``schema_versions``.
VERSION_KEY = ("asset_id", "fingerprint")


def event_rows(ctx: RunContext, asset_id: int, version_id: int, changes: Sequence[Change]) -> list[dict[str, Any]]:
    """The ``schema_events`` rows of ``changes`` on one asset's schema version."""
    return [
        {
            "asset_id": asset_id,
            "schema_version_id": version_id,
            "event_type": ch.event_type.value,
            "column_name": ch.column_name,
            "old": ch.old,
            "new": ch.new,
            "observed_at": ctx.observed_at,
            "run_key": ctx.run_key,
        }
        for ch in changes
    ]


def insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert schema events that are not stored yet (a rerun of a run adds nothing)."""
    insert_new_keyed(conn, SchemaEvent, rows, EVENT_KEY)


def plan_version(
    ctx: RunContext, asset_id: int, state: AssetState | None, columns: list[dict[str, Any]]
) -> tuple[str, int | None, dict[str, Any] | None, list[Change]]:
    """What the schema version of ``columns`` needs.

    Returns:
        ``(fingerprint, id if already stored as this run would write it, row to upsert or
        None, changes to record)``.
    """
    fp = fingerprint(columns)
    known = state.versions.get(fp) if state else None
    number = known[1] if known else (state.max_version if state else 0) + 1
    if state is None or state.current_version_id is None:
        changes = [Change(SchemaEventType.ASSET_CREATED, "", None, {"version": number, "columns": len(columns)})]
    elif state.current_fingerprint != fp:
        changes = diff(state.current_columns or [], columns)
    else:
        changes = []
        if known and state.current_last_observed_at == ctx.observed_at:
            return fp, known[0], None, changes  # a rerun: the version row is already as this run would write it
    row = {
        "asset_id": asset_id,
        "version": number,
        "fingerprint": fp,
        "columns": columns,
        "observed_at": ctx.observed_at,
        "last_observed_at": ctx.observed_at,
        "run_key": ctx.run_key,
    }
    return fp, None, row, changes


def record_version(
    conn: Connection, ctx: RunContext, asset_id: int, state: AssetState | None, columns: list[dict[str, Any]]
) -> tuple[int, list[Change]]:
    """Upsert the schema version of ``columns``; return its id and the changes to record."""
    fp, known_id, row, changes = plan_version(ctx, asset_id, state, columns)
    if row is None:
        assert known_id is not None
        return known_id, changes
    ids = upsert_keyed(conn, SchemaVersion, [row], VERSION_KEY, ["last_observed_at"])
    return ids[(asset_id, fp)], changes


def upsert_versions(conn: Connection, rows: Sequence[dict[str, Any]]) -> dict[tuple[Any, ...], int]:
    """Upsert the version rows :func:`plan_version` planned for many assets; ``{(asset id, fingerprint): id}``."""
    return upsert_keyed(conn, SchemaVersion, rows, VERSION_KEY, ["last_observed_at"], as_recordset=True)


def column_rows(ctx: RunContext, asset_id: int, columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``asset_columns`` rows of the columns observed now (all present)."""
    return [
        {
            "asset_id": asset_id,
            "name": c["name"],
            "ordinal": c["ordinal"],
            "data_type": c["data_type"],
            "nullable": c["nullable"],
            "is_present": True,
            "first_seen_at": ctx.observed_at,
            "last_seen_at": ctx.observed_at,
        }
        for c in columns
    ]


def gone_columns(state: AssetState | None, columns: list[dict[str, Any]]) -> list[str]:
    """Columns the catalog holds as present that were not observed now."""
    names = {c["name"] for c in columns}
    return [n for n, (_, present) in (state.columns.items() if state else ()) if present and n not in names]


def upsert_columns(conn: Connection, rows: Sequence[dict[str, Any]]) -> dict[tuple[Any, ...], int]:
    """Upsert ``asset_columns`` rows; return ``{(asset id, name): column id}``."""
    return upsert_keyed(conn, AssetColumn, rows, ("asset_id", "name"), COLUMN_UPDATE, as_recordset=True)


def mark_absent(conn: Connection, gone: Sequence[tuple[int, str]]) -> None:
    """Mark ``(asset id, column name)`` pairs ``is_present = false`` (their labels survive)."""
    if gone:
        conn.execute(
            update(AssetColumn)
            .where(tuple_(AssetColumn.asset_id, AssetColumn.name).in_(list(gone)))
            .values(is_present=False, updated_at=func.now())
        )


def record_columns(
    conn: Connection, ctx: RunContext, asset_id: int, state: AssetState | None, columns: list[dict[str, Any]]
) -> dict[str, int]:
    """Upsert the present columns and mark vanished ones absent; return ``{name: column id}``."""
    ids = upsert_columns(conn, column_rows(ctx, asset_id, columns))
    mark_absent(conn, [(asset_id, n) for n in gone_columns(state, columns)])
    return {name: cid for (_, name), cid in ids.items()}
