"""The catalog's state of a source's assets before a run touches them, read once per source.

:func:`load_state` reads assets, schema versions, columns and automatic labels in four queries
whatever the source's size; the writers compare each observed asset with it, so an unchanged
asset costs two or three statements.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from assay.catalog.models import Asset, AssetColumn, Classification, DecisionSource, SchemaVersion
from assay.inventory.classifications import SAMPLE_KEY


@dataclass
class AssetState:
    """An asset as the catalog knows it before this run touches it."""

    id: int
    status: str
    current_version_id: int | None
    current_fingerprint: str | None
    current_columns: list[dict[str, Any]] | None
    current_last_observed_at: dt.datetime | None
    versions: dict[str, tuple[int, int]] = field(default_factory=dict)  # fingerprint -> (id, version)
    columns: dict[str, tuple[int, bool]] = field(default_factory=dict)  # name -> (id, is_present)
    auto: dict[int, dict[str, str | None]] = field(default_factory=dict)  # column id -> kind -> sample digest

    @property
    def max_version(self) -> int:
        """The highest schema version number stored for the asset (0: none)."""
        return max((v for _, v in self.versions.values()), default=0)

    def sample_digest(self, column: str) -> str | None:
        """The digest every stored automatic label of ``column`` was computed from, if they agree."""
        found = self.columns.get(column)
        kinds = self.auto.get(found[0]) if found else None
        if not kinds:
            return None
        digests = set(kinds.values())
        return digests.pop() if len(digests) == 1 else None


def load_state(conn: Connection, source_id: int) -> dict[tuple[str, str], AssetState]:
    """Every asset of a source with its schema versions, columns and automatic labels.

    Four queries per source, whatever its size.
    """
    rows = conn.execute(
        select(
            Asset.id,
            Asset.namespace,
            Asset.name,
            Asset.status,
            Asset.current_schema_version_id,
            SchemaVersion.fingerprint,
            SchemaVersion.columns,
            SchemaVersion.last_observed_at,
        )
        .outerjoin(SchemaVersion, SchemaVersion.id == Asset.current_schema_version_id)
        .where(Asset.source_id == source_id)
    ).all()
    state = {
        (ns, name): AssetState(
            id=aid,
            status=status,
            current_version_id=vid,
            current_fingerprint=fp,
            current_columns=cols,
            current_last_observed_at=seen,
        )
        for aid, ns, name, status, vid, fp, cols, seen in rows
    }
    by_id = {st.id: st for st in state.values()}
    in_source = select(Asset.id).where(Asset.source_id == source_id).scalar_subquery()
    for asset_id, fp, vid, version in conn.execute(
        select(SchemaVersion.asset_id, SchemaVersion.fingerprint, SchemaVersion.id, SchemaVersion.version).where(
            SchemaVersion.asset_id.in_(in_source)
        )
    ):
        by_id[asset_id].versions[fp] = (vid, version)
    column_owner: dict[int, AssetState] = {}
    for asset_id, name, cid, present in conn.execute(
        select(AssetColumn.asset_id, AssetColumn.name, AssetColumn.id, AssetColumn.is_present).where(
            AssetColumn.asset_id.in_(in_source)
        )
    ):
        by_id[asset_id].columns[name] = (cid, present)
        column_owner[cid] = by_id[asset_id]
    for cid, kind, digest in conn.execute(
        select(Classification.column_id, Classification.kind, Classification.evidence[SAMPLE_KEY].astext)
        .join(AssetColumn, AssetColumn.id == Classification.column_id)
        .where(Classification.source == DecisionSource.AUTO.value, AssetColumn.asset_id.in_(in_source))
    ):
        column_owner[cid].auto.setdefault(cid, {})[kind] = digest
    return state
