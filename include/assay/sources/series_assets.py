"""The catalog assets of a file series: one asset with partitions, as readers of history see it.

Each file is its own catalog asset; :mod:`assay.sources.series` says which files form a series.
:func:`series_assets` finds them in the catalog, so profiling (anomaly history) and suggestions
(``assay suggest``) read the profiles of the whole series, not of one day's file.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.catalog.models import Asset, Source, SourceKind
from assay.sources.declarations import Declarations, FileSource
from assay.sources.series import series_of


def series_assets(s: Session, decls: Declarations, asset_id: int) -> list[int]:
    """The assets whose profiles are one history with ``asset_id``'s, oldest partition first.

    For a file of a series: every file of the same source whose path differs only in the
    partition (``exports/{partition}/sellers.csv``); otherwise the asset itself. Suggestions read
    the profile runs of all of them, so a daily file has as much history as a partitioned table.
    """
    row = s.execute(
        select(Asset.source_id, Asset.location, Source.name, Source.kind)
        .join(Source, Source.id == Asset.source_id)
        .where(Asset.id == asset_id)
    ).one_or_none()
    if row is None or row.kind != SourceKind.FILES.value:
        return [asset_id]
    decl = decls.get(row.name) if row.name in {d.name for d in decls.sources} else None
    regex = decl.series_regex if isinstance(decl, FileSource) else None
    member = series_of(regex, row.location)
    if member is None:
        return [asset_id]
    siblings = s.execute(select(Asset.id, Asset.location).where(Asset.source_id == row.source_id)).all()
    ordered = sorted(
        (found.partition, aid)
        for aid, location in siblings
        if (found := series_of(regex, location)) is not None and found.key == member.key
    )
    return [aid for _, aid in ordered] or [asset_id]
