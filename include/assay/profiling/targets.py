"""Which asset partitions a profiling run reads for a logical date, and with which PII labels.

Which partition an asset has for a logical date:

* a SQL table or view with a ``partition_column``: the rows ``WHERE partition_column = <date>``
  (partition key ``YYYY-MM-DD``), profiled even when there are none (a missing day is an anomaly);
* a SQL table or view without one: the whole table, as the ``__all__`` snapshot of that date;
* a file: the file whose partition (a date in its path: the source's ``partition_regex``, else
  the default date pattern of :mod:`assay.sources.series`) is the date; a file without a
  partition (or of a source declared ``partitioned: false``) is profiled whole as ``__all__``.

The files of one series (paths that differ only in the partition) are one asset with
partitions for history: :func:`series_assets` gives the catalog assets whose profiles form one
history, so anomaly detection and suggestions read the whole series, not one day's file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.catalog.models import (
    Asset,
    AssetColumn,
    AssetStatus,
    Classification,
    ClassificationKind,
    DecisionSource,
    ProfileRun,
    RunStatus,
    Source,
    SourceKind,
)
from assay.errors import ConfigError
from assay.names import ALL_PARTITIONS
from assay.sources.declarations import Declarations, FileSource, SqlSource
from assay.sources.series import series_of
from assay.sources.series_assets import series_assets

__all__ = ["NO_LABEL", "Profile", "Target", "resolve", "series_assets"]

#: A steward's label that says "no PII here".
NO_LABEL = "none"


@dataclass
class Target:
    """One asset partition to profile."""

    asset_id: int
    source_id: int
    source: str
    source_kind: str
    kind: str
    namespace: str
    name: str
    location: str | None
    partition_column: str | None
    partition_key: str
    series_key: str | None = None
    series_regex: str | None = None
    done: bool = False
    pii: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``source:namespace/name``, as reports and logs name the asset."""
        return (
            f"{self.source}:{self.namespace}/{self.name}" if self.namespace else f"{self.source}:{self.name}"
        )


@dataclass
class Profile:
    """One computed partition profile (SQL pushdown or Arrow), before it is written."""

    row_count: int
    columns: dict[str, dict[str, Any]]
    data_types: dict[str, str]
    stats: dict[str, Any]


def resolve(
    s: Session, decls: Declarations, day: dt.date, wanted: list[str] | None, source: str | None = None
) -> list[Target]:
    """The active assets' partitions for ``day`` (``wanted``: names, ``namespace.name`` or locations).

    ``source``: only that declared source's assets (``wanted`` then names assets of it).

    Raises:
        ConfigError: ``source`` is not declared, or a wanted asset is not an active asset of the
            catalog (of ``source``, when given).
    """
    query = (
        select(Asset, Source.name, Source.kind)
        .join(Source, Source.id == Asset.source_id)
        .where(Asset.status == AssetStatus.ACTIVE.value)
        .order_by(Source.name, Asset.namespace, Asset.name)
    )
    if source is not None:
        decls.get(source)  # an undeclared source is a ConfigError naming the declared ones
        query = query.where(Source.name == source)
    rows = s.execute(query).all()
    if wanted is not None:
        names = set(wanted)
        spelled = {r[0].id: _spellings(r[0], r[1], decls) for r in rows}
        matched = [r for r in rows if names & spelled[r[0].id]]
        found = {n for r in matched for n in spelled[r[0].id]}
        unknown = sorted(names - found)
        if unknown:
            of = f" of source {source}" if source is not None else ""
            raise ConfigError(f"not active assets{of} of the catalog: {', '.join(unknown)}")
        rows = matched
    targets: list[Target] = []
    for asset, source_name, source_kind in rows:
        key, series = _partition_of(asset, source_name, source_kind, decls, day)
        if key is None:
            continue  # a file of another date
        targets.append(
            Target(
                asset_id=asset.id,
                source_id=asset.source_id,
                source=source_name,
                source_kind=source_kind,
                kind=asset.kind,
                namespace=asset.namespace,
                name=asset.name,
                location=asset.location,
                partition_column=asset.partition_column if source_kind == SourceKind.SQL.value else None,
                partition_key=key,
                series_key=series,
                series_regex=_series_regex(decls, source_name) if series else None,
            )
        )
    if not targets:
        return targets
    ids = [t.asset_id for t in targets]
    done = set(
        s.execute(
            select(ProfileRun.asset_id, ProfileRun.partition_key).where(
                ProfileRun.asset_id.in_(ids),
                ProfileRun.logical_date == day,
                ProfileRun.status == RunStatus.SUCCESS.value,
            )
        ).all()
    )
    labels = _pii_labels(s, ids)
    for t in targets:
        t.done = (t.asset_id, t.partition_key) in done
        t.pii = labels.get(t.asset_id, {})
    return targets


def _partition_of(
    asset: Asset, source_name: str, source_kind: str, decls: Declarations, day: dt.date
) -> tuple[str | None, str | None]:
    """``(partition key or None when the asset has no partition that day, file series key)``."""
    if source_kind == SourceKind.SQL.value:
        return (day.isoformat() if asset.partition_column else ALL_PARTITIONS), None
    decl = _declared(decls, source_name)
    if not isinstance(decl, FileSource) or not asset.location:
        return ALL_PARTITIONS, None
    member = series_of(decl.series_regex, asset.location)
    if member is None:
        return ALL_PARTITIONS, None
    if member.partition != day.isoformat():
        return None, None
    return member.partition, member.key


def _series_regex(decls: Declarations, source_name: str) -> str | None:
    decl = _declared(decls, source_name)
    return decl.series_regex if isinstance(decl, FileSource) else None


def _spellings(asset: Asset, source_name: str, decls: Declarations) -> set[str]:
    """The names an asset answers to: name, ``namespace.name``, location, and a file's series key."""
    out = {asset.name, f"{asset.namespace}.{asset.name}", asset.location or ""}
    member = series_of(_series_regex(decls, source_name), asset.location)
    if member is not None:
        out.add(member.key)
    return out


def _declared(decls: Declarations, source_name: str) -> SqlSource | FileSource | None:
    try:
        return decls.get(source_name)
    except ConfigError:
        return None


def _pii_labels(s: Session, asset_ids: list[int]) -> dict[int, dict[str, str]]:
    """``{asset_id: {column: pii label}}``; a steward's row wins over the automatic one."""
    rows = s.execute(
        select(AssetColumn.asset_id, AssetColumn.name, Classification.label, Classification.source)
        .join(Classification, Classification.column_id == AssetColumn.id)
        .where(AssetColumn.asset_id.in_(asset_ids), Classification.kind == ClassificationKind.PII.value)
    ).all()
    chosen: dict[tuple[int, str], tuple[str, str]] = {}
    for asset_id, column, label, source in rows:
        current = chosen.get((asset_id, column))
        if current is None or source == DecisionSource.STEWARD.value:
            chosen[(asset_id, column)] = (label, source)
    out: dict[int, dict[str, str]] = {}
    for (asset_id, column), (label, _) in chosen.items():
        if label != NO_LABEL:
            out.setdefault(asset_id, {})[column] = label
    return out
