"""Writing a profiled partition to the catalog: its attempt row, column metrics, anomalies and review items.

Every profiling attempt is a ``profile_runs`` row of its own with its column metrics, written once
and never changed (:mod:`assay.catalog.runs`); ``profile_current`` names the current attempt of
each (asset, partition, logical date), the one readers take (:func:`is_current`). Anomalies are
keyed naturally (asset, partition, date, column, metric) and point at the attempt that found
them: a rerun refreshes them, deletes those no longer found, and keeps a steward's status on an
anomaly and its review item.

Every text value a metric carries (min, max, top values, whatever a profiler adds) goes through
:func:`assay.classify.scrub.safe_json` on its way in, whatever the column: PII quoted inside free
text is masked and each text is bounded to 256 characters. Only the counts are kept
(``metrics.scrubbed`` per column, ``profile_runs.stats.scrubbed`` per run).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, tuple_
from sqlalchemy.orm import Session

from assay.catalog import runs
from assay.catalog.models import Anomaly, ColumnMetrics, ReviewItem, ReviewKind
from assay.catalog.upsert import upsert
from assay.classify.scrub import safe_json
from assay.profiling.anomalies import Finding
from assay.profiling.targets import Profile, Target

#: Natural key of a ``profile_runs`` attempt (one current attempt per key).
RUN_KEY = ["asset_id", "partition_key", "logical_date"]
_ANOMALY_KEY = ["asset_id", "partition_key", "logical_date", "column_name", "metric"]
#: Columns a rerun rewrites on an existing anomaly; the steward's status and the first
#: detection time stay.
_ANOMALY_UPDATE = ["profile_run_id", "observed", "lower", "upper", "method", "details"]


def safe_metrics(metrics: dict[str, Any], total: Counter[str]) -> dict[str, Any]:
    """One column's metrics with every text value scrubbed and bounded; its counts in ``scrubbed``."""
    counts: Counter[str] = Counter()
    safe = safe_json({k: v for k, v in metrics.items() if k != "scrubbed"}, counts)
    if counts:
        safe["scrubbed"] = dict(sorted(counts.items()))
        total.update(counts)
    return safe


def is_current() -> ColumnElement[bool]:
    """WHERE clause keeping the current attempt of each (asset, partition, logical date)."""
    return runs.is_current(runs.PROFILE)


def finish_profile(s: Session, run_id: int, outcome: dict[str, Any], now: dt.datetime) -> bool:
    """Write a profiling attempt's outcome (``status``, ``error``, ``row_count``, ``stats``); True if kept.

    The attempt becomes the current one of its key unless it failed while the current attempt is
    a success (that one, its metrics and anomalies stay; see :func:`assay.catalog.runs.finish_attempt`).
    """
    return runs.finish_attempt(s, runs.PROFILE, run_id, outcome, now)


def replace_metrics(s: Session, run_id: int, profile: Profile) -> dict[str, int]:
    """Write the attempt's column metrics (an attempt's metrics are written once, with it).

    Returns:
        ``{kind: values masked, "truncated": values cut}`` over every column (empty when none).
    """
    total: Counter[str] = Counter()
    rows = [
        {
            "profile_run_id": run_id,
            "column_name": name,
            "data_type": profile.data_types.get(name),
            "metrics": safe_metrics(m, total),
        }
        for name, m in profile.columns.items()
    ]
    if rows:
        upsert(s, ColumnMetrics, rows, ["profile_run_id", "column_name"])
    return dict(sorted(total.items()))


def anomaly_scope(target: Target, day: dt.date) -> list[Any]:
    """WHERE clauses selecting the anomalies of one asset partition and logical date."""
    return [
        Anomaly.asset_id == target.asset_id,
        Anomaly.partition_key == target.partition_key,
        Anomaly.logical_date == day,
    ]


def replace_anomalies(
    s: Session, target: Target, day: dt.date, run_id: int, findings: Sequence[Finding]
) -> None:
    """Upsert the partition's findings (with review items) and delete anomalies no longer found."""
    rows = [
        {
            "asset_id": target.asset_id,
            "profile_run_id": run_id,
            "partition_key": target.partition_key,
            "logical_date": day,
            "column_name": f.column_name,
            "metric": f.metric,
            "observed": f.observed,
            "lower": f.lower,
            "upper": f.upper,
            "method": f.method,
            "details": f.details,
        }
        for f in findings
    ]
    if rows:
        ids = upsert(s, Anomaly, rows, _ANOMALY_KEY, update=_ANOMALY_UPDATE)
        _open_review_items(s, target, day, run_id, findings, ids)
    keep = [(f.column_name, f.metric) for f in findings]
    stale = delete(Anomaly).where(*anomaly_scope(target, day))
    if keep:
        stale = stale.where(tuple_(Anomaly.column_name, Anomaly.metric).not_in(keep))
    s.execute(stale)


def review_ref(asset_id: int, partition_key: str, day: dt.date, column_name: str, metric: str) -> str:
    """The stable key of an anomaly's review item: asset, partition, logical date, column, metric."""
    return f"{asset_id}/{partition_key}/{day.isoformat()}/{column_name}/{metric}"


def _open_review_items(
    s: Session,
    target: Target,
    day: dt.date,
    run_id: int,
    findings: Sequence[Finding],
    anomaly_ids: Sequence[int],
) -> None:
    """Open a steward review item per anomaly, upserted on ``(kind, ref)``.

    A rerun of the date refreshes the summary and details of the same items and keeps a steward's
    status and resolution. An anomaly a rerun no longer finds is deleted, and its item with it
    (the foreign key cascades).
    """
    rows = []
    for f, anomaly_id in zip(findings, anomaly_ids, strict=True):
        what = f"{f.column_name}.{f.metric}" if f.column_name else f.metric
        bounds = (
            f" outside [{f.lower:.6g}, {f.upper:.6g}]" if f.lower is not None and f.upper is not None else ""
        )
        rows.append(
            {
                "kind": ReviewKind.ANOMALY.value,
                "ref": review_ref(target.asset_id, target.partition_key, day, f.column_name, f.metric),
                "asset_id": target.asset_id,
                "anomaly_id": anomaly_id,
                "summary": f"{target.label} {target.partition_key}: {what} = {f.observed:.6g}{bounds} ({f.method})",
                "details": {
                    "partition_key": target.partition_key,
                    "logical_date": day.isoformat(),
                    "column_name": f.column_name,
                    "metric": f.metric,
                    "observed": f.observed,
                    "lower": f.lower,
                    "upper": f.upper,
                    "method": f.method,
                    "profile_run_id": run_id,
                },
            }
        )
    upsert(s, ReviewItem, rows, ["kind", "ref"], update=["summary", "details", "anomaly_id"])
