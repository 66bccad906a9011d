"""What a run recorded for one source, read back from the catalog (so a rerun reports the same).

The read-back queries live here, apart from :mod:`assay.inventory.report`: the report types are
imported by ``assay.inventory`` itself, which must stay cheap to import (no SQLAlchemy).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, select

from assay.catalog.models import Asset, AssetStatus, SchemaEvent, SchemaEventType

#: Event types that count an asset as ``changed``.
COLUMN_EVENTS = (
    SchemaEventType.COLUMN_ADDED,
    SchemaEventType.COLUMN_REMOVED,
    SchemaEventType.TYPE_CHANGED,
    SchemaEventType.NULLABILITY_CHANGED,
)


@dataclass(frozen=True)
class SourceFigures:
    """What a run recorded for one source, read back from the catalog (so reruns agree)."""

    new: int
    changed: int
    deleted: int
    restored: int
    schema_events: int
    errors: int
    error_messages: tuple[str, ...]


def source_figures(
    conn: Connection, source_id: int, run_id: int, run_key: str, max_messages: int = 20
) -> SourceFigures:
    """Count the run's schema events and failed assets of one source; keep the first error messages."""
    counts: dict[str, int] = {
        event_type: n
        for event_type, n in conn.execute(
            select(SchemaEvent.event_type, func.count())
            .join(Asset, Asset.id == SchemaEvent.asset_id)
            .where(Asset.source_id == source_id, SchemaEvent.run_key == run_key)
            .group_by(SchemaEvent.event_type)
        )
    }
    changed = conn.execute(
        select(func.count(func.distinct(SchemaEvent.asset_id)))
        .join(Asset, Asset.id == SchemaEvent.asset_id)
        .where(
            Asset.source_id == source_id,
            SchemaEvent.run_key == run_key,
            SchemaEvent.event_type.in_([e.value for e in COLUMN_EVENTS]),
        )
    ).scalar_one()
    failed = conn.execute(
        select(Asset.error)
        .where(
            and_(
                Asset.source_id == source_id,
                Asset.last_inventory_run_id == run_id,
                Asset.status == AssetStatus.ERROR.value,
            )
        )
        .order_by(Asset.location)
    ).scalars().all()
    return SourceFigures(
        new=int(counts.get(SchemaEventType.ASSET_CREATED.value, 0)),
        changed=int(changed),
        deleted=int(counts.get(SchemaEventType.ASSET_DELETED.value, 0)),
        restored=int(counts.get(SchemaEventType.ASSET_RESTORED.value, 0)),
        schema_events=int(sum(counts.values())),
        errors=len(failed),
        error_messages=tuple(str(e) for e in failed[:max_messages]),
    )
