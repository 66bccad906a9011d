"""Anomalies of a profiled partition against the prior partitions of its asset (or file series)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.catalog import runs
from assay.catalog.models import (
    Anomaly,
    AnomalyStatus,
    Asset,
    AssetKind,
    ColumnMetrics,
    ProfileRun,
    RunStatus,
)
from assay.profiling.anomalies import AnomalyConfig, Finding, detect_all, observed_values
from assay.profiling.targets import Profile, Target
from assay.sources.series import members


def _series(s: Session, target: Target) -> list[int]:
    """The assets whose history this one continues: itself, or every file of the same series."""
    if target.series_key is None:
        return [target.asset_id]
    rows = s.execute(
        select(Asset.id, Asset.location).where(
            Asset.source_id == target.source_id, Asset.kind == AssetKind.FILE.value
        )
    ).all()
    return members(target.series_regex, target.series_key, rows) or [target.asset_id]


def detect_findings(
    s: Session, target: Target, day: dt.date, profile: Profile, config: AnomalyConfig
) -> list[Finding]:
    """Findings for this partition against the prior partitions of the same asset (or file series)."""
    series = _series(s, target)
    prior = s.execute(
        select(
            ProfileRun.id,
            ProfileRun.asset_id,
            ProfileRun.partition_key,
            ProfileRun.logical_date,
            ProfileRun.row_count,
        )
        .where(
            ProfileRun.asset_id.in_(series),
            ProfileRun.logical_date < day,
            ProfileRun.status == RunStatus.SUCCESS.value,
            runs.is_current(runs.PROFILE),  # one attempt per prior partition: the current one
        )
        .order_by(ProfileRun.logical_date.desc())
        .limit(config.window)
    ).all()
    prior = list(reversed(prior))
    run_ids = [r.id for r in prior]
    metrics: dict[int, dict[str, dict[str, Any]]] = {}
    if run_ids:
        for run_id, column, m in s.execute(
            select(ColumnMetrics.profile_run_id, ColumnMetrics.column_name, ColumnMetrics.metrics).where(
                ColumnMetrics.profile_run_id.in_(run_ids)
            )
        ):
            metrics.setdefault(run_id, {})[column] = m
    flagged: set[tuple[int, str, dt.date, str, str]] = set()
    if prior:
        flagged = set(
            s.execute(
                select(
                    Anomaly.asset_id,
                    Anomaly.partition_key,
                    Anomaly.logical_date,
                    Anomaly.column_name,
                    Anomaly.metric,
                ).where(
                    Anomaly.asset_id.in_(series),
                    Anomaly.logical_date < day,
                    Anomaly.logical_date >= prior[0].logical_date,
                    Anomaly.status == AnomalyStatus.OPEN.value,
                )
            ).all()
        )
    # A column flagged on a day leaves that day out of the column's history for every metric:
    # a null burst flags the null ratio but also depresses the distinct count, and the next
    # day's recovery must be judged against the last clean day, not against the burst.
    flagged_columns = {f[:4] for f in flagged}
    history = []
    for r in prior:
        values = observed_values(int(r.row_count or 0), metrics.get(r.id, {}))
        history.append(
            {
                key: v
                for key, v in values.items()
                if (r.asset_id, r.partition_key, r.logical_date, key[0]) not in flagged_columns
            }
        )
    return detect_all(observed_values(profile.row_count, profile.columns), history, config)
