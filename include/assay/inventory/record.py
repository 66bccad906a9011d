"""Catalog writes of observed assets: one asset, or a chunk of assets in a fixed number of statements.

The catalog's state of a source's assets is read once per source (:mod:`assay.inventory.state`).
Each chunk of observed assets is then written in one transaction by :func:`record_assets`, or
asset by asset by :func:`record_asset` when the catalog refuses the chunk, and each vanished
asset by :func:`mark_deleted`. Schema versions and columns are planned and written by
:mod:`assay.inventory.versions`, automatic labels by :mod:`assay.inventory.classifications`;
every write is an ``INSERT ... ON CONFLICT`` through :mod:`assay.catalog.upsert`, with
statements built once and cached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Connection, func, update
from sqlalchemy.exc import StatementError

from assay.catalog.models import Asset, AssetStatus, SchemaEventType
from assay.catalog.upsert import cached, json_records, records_param, upsert_keyed
from assay.inventory.classifications import Labels, classification_rows, write_classifications
from assay.inventory.lifecycle import RunContext
from assay.inventory.observe import ObservedAsset
from assay.inventory.schema import Change
from assay.inventory.state import AssetState
from assay.inventory.versions import (
    column_rows,
    event_rows,
    gone_columns,
    insert_events,
    mark_absent,
    plan_version,
    record_columns,
    record_version,
    upsert_columns,
    upsert_versions,
)

#: The natural key of ``assets``.
ASSET_KEY = ("source_id", "namespace", "name")


def _tags(*groups: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(t for g in groups for t in g))


def storable(message: str | None) -> str | None:
    """An error message PostgreSQL can store: a NUL or undecodable byte quoted from bad input is
    spelled ``\\x00`` / ``\\udce9``.

    Without it the catalog would refuse the very row that records the bad input.
    """
    if not message:
        return message
    return message.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def _refused(exc: Exception) -> StatementError:
    """A value the driver refused before sending it (a ``ValueError``, not a database error).

    Raised as a SQLAlchemy error so the caller's per-asset fallback records it as that asset's
    error (the transaction is rolled back as for any refused write) instead of ending the run.
    """
    return StatementError(f"the driver refused a value: {exc}", None, None, exc)


def _asset_row(ctx: RunContext, asset: ObservedAsset) -> dict[str, Any]:
    decl = asset.decl
    messages = ([asset.error] if asset.error else []) + asset.notes
    row: dict[str, Any] = {
        "source_id": ctx.source_id,
        "namespace": asset.namespace,
        "name": asset.name,
        "kind": asset.kind.value,
        "location": asset.location,
        "owner": decl.owner or ctx.source_owner,
        "tags": _tags(ctx.source_tags, decl.tags, asset.extra_tags),
        "event_time_column": decl.event_time_column,
        "partition_column": decl.partition_column,
        "status": (AssetStatus.ERROR if asset.error else AssetStatus.ACTIVE).value,
        "error": storable("; ".join(messages)) or None,
        "deleted_at": None,
        "first_seen_at": ctx.observed_at,
        "last_seen_at": ctx.observed_at,
        "last_inventory_run_id": ctx.run_id,
    }
    if decl.description is not None:
        row["description"] = decl.description
    facts = {
        "row_count": asset.row_count,
        "row_count_is_estimate": asset.row_count_is_estimate,
        "size_bytes": asset.size_bytes,
        "freshness_at": asset.freshness_at,
    }
    if asset.error:
        # A failed read keeps the last good figures rather than blanking them.
        facts = {k: v for k, v in facts.items() if v is not None and k != "row_count_is_estimate"}
        if "row_count" in facts:
            facts["row_count_is_estimate"] = asset.row_count_is_estimate
    row.update(facts)
    return row


def _asset_update(shape: Sequence[str]) -> list[str]:
    """Columns an asset row overwrites: all it carries but its key and ``first_seen_at``."""
    return [k for k in shape if k not in (*ASSET_KEY, "first_seen_at")]


def _upsert_asset(conn: Connection, row: dict[str, Any]) -> int:
    ids = upsert_keyed(conn, Asset, [row], ASSET_KEY, _asset_update(list(row)))
    return ids[tuple(row[k] for k in ASSET_KEY)]


def _restored(state: AssetState | None, status: str) -> list[Change]:
    """The ``asset_restored`` change when a soft-deleted asset is observed again."""
    if state is not None and state.status == AssetStatus.DELETED.value:
        return [Change(SchemaEventType.ASSET_RESTORED, "", {"status": AssetStatus.DELETED.value}, {"status": status})]
    return []


#: What a driver raises for a value it cannot send (text with a NUL or a lone surrogate).
_VALUE_ERRORS = (ValueError, ArithmeticError)


def record_asset(
    conn: Connection,
    ctx: RunContext,
    state: AssetState | None,
    asset: ObservedAsset,
    labels: Labels | None,
) -> None:
    """Write one observed asset: row, schema version and events, columns, classifications.

    Args:
        conn: a connection inside the asset's own transaction.
        ctx: the run and source.
        state: the asset as the catalog knew it before this run (``None``: never seen).
        asset: what was observed.
        labels: ``{column name: (classifications, sample digest)}`` for the columns classified
            this run (:class:`assay.classify.Classification` values); ``None`` or a missing
            column keeps the stored labels.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the catalog (or the driver) refused a value of the asset.
    """
    try:
        _record_asset(conn, ctx, state, asset, labels)
    except _VALUE_ERRORS as exc:
        raise _refused(exc) from exc


def _record_asset(
    conn: Connection,
    ctx: RunContext,
    state: AssetState | None,
    asset: ObservedAsset,
    labels: Labels | None,
) -> None:
    row = _asset_row(ctx, asset)
    version_id = state.current_version_id if state else None
    changes: list[Change] = []
    columns = [c.as_dict() for c in asset.columns] if asset.columns is not None else None
    if state is not None and columns is not None:
        # The asset id is known: write the version first and point the asset at it in one go.
        version_id, changes = record_version(conn, ctx, state.id, state, columns)
        row["current_schema_version_id"] = version_id
        asset_id = _upsert_asset(conn, row)
    else:
        asset_id = _upsert_asset(conn, row)
        if columns is not None:
            version_id, changes = record_version(conn, ctx, asset_id, state, columns)
            conn.execute(update(Asset).where(Asset.id == asset_id).values(current_schema_version_id=version_id))
    if columns is not None:
        column_ids = record_columns(conn, ctx, asset_id, state, columns)
        if labels and not asset.error:
            found, stale = classification_rows(ctx, state.auto if state else {}, column_ids, labels)
            write_classifications(conn, list(found.values()), stale)
    if version_id is not None:
        changes.extend(_restored(state, row["status"]))
    if changes and version_id is not None:
        insert_events(conn, event_rows(ctx, asset_id, version_id, changes))


def record_assets(
    conn: Connection,
    ctx: RunContext,
    items: Sequence[tuple[AssetState | None, ObservedAsset, Labels | None]],
) -> None:
    """Write a chunk of observed assets: the rows :func:`record_asset` writes for each, in a
    fixed number of statements whatever the chunk's size.

    One statement per kind of row for the whole chunk (assets, schema versions, the assets'
    version pointers, columns, absent columns, labels, stale labels, events) instead of six or
    so per asset: on a 2,000-table source the per-asset statements and commits were most of the
    inventory's time. The caller runs it in one transaction and, if the catalog refuses it, writes
    the chunk's assets one by one with :func:`record_asset` so only the offending asset fails.

    Args:
        items: ``(state, asset, labels)`` per asset, as for :func:`record_asset`; the assets
            must be distinct.
    """
    try:
        _record_assets(conn, ctx, items)
    except _VALUE_ERRORS as exc:
        raise _refused(exc) from exc


def _record_assets(
    conn: Connection,
    ctx: RunContext,
    items: Sequence[tuple[AssetState | None, ObservedAsset, Labels | None]],
) -> None:
    if not items:
        return
    rows = [_asset_row(ctx, asset) for _, asset, _ in items]
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        shapes.setdefault(tuple(row), []).append(row)
    ids: dict[tuple[Any, ...], int] = {}
    for shape, group in shapes.items():
        ids.update(upsert_keyed(conn, Asset, group, ASSET_KEY, _asset_update(shape), as_recordset=True))
    asset_ids = [ids[tuple(row[k] for k in ASSET_KEY)] for row in rows]

    planned: list[tuple[int, str | None, int | None, list[Change]]] = []  # (item, fingerprint, known id, changes)
    version_rows: list[dict[str, Any]] = []
    for i, ((state, asset, _), asset_id) in enumerate(zip(items, asset_ids, strict=True)):
        if asset.columns is None:
            planned.append((i, None, state.current_version_id if state else None, []))
            continue
        new_fp, known_id, vrow, changes = plan_version(ctx, asset_id, state, [c.as_dict() for c in asset.columns])
        if vrow is not None:
            version_rows.append(vrow)
        planned.append((i, new_fp, known_id, changes))
    version_ids = upsert_versions(conn, version_rows)

    pointers: list[dict[str, int]] = []
    new_columns: list[dict[str, Any]] = []
    gone: list[tuple[int, str]] = []
    events: list[dict[str, Any]] = []
    for i, fp, known_id, changes in planned:
        state, asset, _ = items[i]
        asset_id = asset_ids[i]
        version_id = known_id if known_id is not None or fp is None else version_ids[(asset_id, fp)]
        if fp is not None:
            assert version_id is not None
            if state is None or state.current_version_id != version_id:
                pointers.append({"asset_id": asset_id, "version_id": version_id})
            columns = [c.as_dict() for c in asset.columns or ()]
            new_columns.extend(column_rows(ctx, asset_id, columns))
            gone.extend((asset_id, n) for n in gone_columns(state, columns))
        if version_id is not None:
            changes = [*changes, *_restored(state, rows[i]["status"])]
        if changes and version_id is not None:
            events.extend(event_rows(ctx, asset_id, version_id, changes))
    _point_at_versions(conn, pointers)
    column_ids = upsert_columns(conn, new_columns)
    mark_absent(conn, gone)

    label_rows: list[dict[str, Any]] = []
    stale: list[tuple[int, str]] = []
    for (state, asset, labels), asset_id in zip(items, asset_ids, strict=True):
        if not labels or asset.error or asset.columns is None:
            continue
        mine = {c.name: column_ids[(asset_id, c.name)] for c in asset.columns}
        found, old = classification_rows(ctx, state.auto if state else {}, mine, labels)
        label_rows.extend(found.values())
        stale.extend(old)
    write_classifications(conn, label_rows, stale)
    insert_events(conn, events)


def _point_at_versions(conn: Connection, pointers: Sequence[Mapping[str, int]]) -> None:
    """Set ``assets.current_schema_version_id`` for many assets in one ``UPDATE ... FROM``."""
    if not pointers:
        return

    def build() -> Any:
        records = json_records([("asset_id", BigInteger()), ("version_id", BigInteger())], name="pointers")
        return update(Asset).where(Asset.id == records.c.asset_id).values(current_schema_version_id=records.c.version_id)

    conn.execute(cached(("assets", "point_at_versions"), build), records_param(pointers))


def record_asset_failure(conn: Connection, ctx: RunContext, asset: ObservedAsset, reason: str) -> None:
    """Mark an asset ``error`` when writing it failed (its full write was rolled back)."""
    row = {
        "source_id": ctx.source_id,
        "namespace": asset.namespace,
        "name": asset.name,
        "kind": asset.kind.value,
        "location": asset.location,
        "status": AssetStatus.ERROR.value,
        "error": storable(reason),
        "first_seen_at": ctx.observed_at,
        "last_seen_at": ctx.observed_at,
        "last_inventory_run_id": ctx.run_id,
    }
    upsert_keyed(conn, Asset, [row], ASSET_KEY, ["status", "error", "last_seen_at", "last_inventory_run_id"])


def mark_deleted(conn: Connection, ctx: RunContext, state: AssetState) -> None:
    """Soft-delete a vanished asset (status ``deleted``) and record ``asset_deleted``."""
    conn.execute(
        update(Asset)
        .where(Asset.id == state.id)
        .values(
            status=AssetStatus.DELETED.value,
            deleted_at=ctx.observed_at,
            last_inventory_run_id=ctx.run_id,
            updated_at=func.now(),
        )
    )
    if state.current_version_id is not None:
        change = Change(SchemaEventType.ASSET_DELETED, "", {"status": state.status}, {"status": AssetStatus.DELETED.value})
        insert_events(conn, event_rows(ctx, state.id, state.current_version_id, [change]))
