"""Schema events between the files of a series: a supplier's file that gains a column on one day.

Each file is its own asset, so the new day's file is simply a new asset (``asset_created``).
:func:`record_series_events` diffs it against the previous file of its series
(:mod:`assay.sources.series`) and records the column events on the new file.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from assay.catalog.models import Asset, SchemaEvent, SchemaEventType, SchemaVersion
from assay.inventory.lifecycle import RunContext
from assay.inventory.schema import Change, diff
from assay.inventory.versions import event_rows, insert_events
from assay.sources.series import predecessor, series_of


def record_series_events(conn: Connection, ctx: RunContext, partition_regex: str | None) -> int:
    """Schema events of the files that started a new partition of their series in this run.

    This diffs such a file's columns against the current schema version of the previous file of
    its series (same source, same path apart from the partition, latest earlier partition that
    has columns) and records the column events on the new file, each with the predecessor in
    ``old``: ``{"value": <old state or null>, "predecessor": {"asset_id", "location", "schema_version"}}``.

    Which files are new is read from the catalog (an ``asset_created`` event of this run), so a
    rerun of the run finds the same files and inserts nothing new; files seen on earlier days are
    not diffed again. Runs after every asset of the source was written, so a backfill that lands
    many days at once diffs each day against the day before it.

    Returns:
        The number of events inserted or already present.
    """
    if not partition_regex:
        return 0
    created = (
        select(SchemaEvent.id)
        .where(
            SchemaEvent.asset_id == Asset.id,
            SchemaEvent.event_type == SchemaEventType.ASSET_CREATED.value,
            SchemaEvent.run_key == ctx.run_key,
        )
        .exists()
    )
    rows = conn.execute(
        select(Asset.id, Asset.location, SchemaVersion.id, SchemaVersion.version, SchemaVersion.columns, created)
        .join(SchemaVersion, SchemaVersion.id == Asset.current_schema_version_id)
        .where(Asset.source_id == ctx.source_id)
    ).all()
    series: dict[str, list[tuple[str, Any]]] = {}
    for row in rows:
        found = series_of(partition_regex, row[1])
        if found is not None:
            series.setdefault(found.key, []).append((found.partition, row))
    events: list[dict[str, Any]] = []
    for files in series.values():
        for partition, (asset_id, _, version_id, _, columns, is_new) in files:
            if not is_new:
                continue
            before = predecessor(partition, files)
            if before is None:
                continue
            pred_id, pred_location, _, pred_version, pred_columns, _ = before
            origin = {"asset_id": pred_id, "location": pred_location, "schema_version": pred_version}
            changes = [
                Change(ch.event_type, ch.column_name, {"value": ch.old, "predecessor": origin}, ch.new)
                for ch in diff(pred_columns or [], columns or [])
            ]
            events.extend(event_rows(ctx, asset_id, version_id, changes))
    insert_events(conn, events)
    return len(events)
