"""Anomaly detection on the profile history: a pure function of (observed value, history).

Four metrics are watched: the partition's ``row_count`` and, per column, ``null_ratio``,
``distinct`` and ``mean``. Each new value is judged by two methods:

``zscore``
    After a warm-up of ``warmup`` prior partitions, the value must lie in ``mean ± band`` of the
    last ``window`` prior values, where ``band = max(k * stddev, tolerance)``.
``rate_of_change``
    From the first prior partition on, the change against the previous partition,
    ``|x - prev| / |prev|``, must not exceed ``max_change`` (50 %), unless the absolute change is
    within the tolerance or within ``k * stddev`` of the history (the series' own noise).
``missing_partition``
    A partition with no rows where earlier partitions had rows (a day that should have data).

``tolerance = max(abs_tol[metric], rel_tol * |reference|)``: the guard against a flat history.
A history of identical values has ``stddev = 0``, and without a floor any change at all (one row
more, a null ratio of 0.1001 instead of 0.1) would be flagged. ``rel_tol`` (2 %) and the per-metric
absolute floors (1 row, 1 distinct value, 0.5 percentage points of nulls) are the smallest change
worth a steward's look. The ``k * stddev`` allowance keeps a metric that hovers around zero (a
mean of -1..1) from turning its ordinary noise into huge relative changes.

A column with an ``open`` anomaly on a prior day (any metric of it) leaves that day out of the
column's history for every metric, so one bad day neither widens the band for the next ``window`` days nor makes the
recovery day look like a jump. Once a steward acknowledges or resolves it, the value counts again
(that is how a new normal level is accepted).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Metrics the detector watches: table-level row_count, and these per column.
COLUMN_METRICS: tuple[str, ...] = ("null_ratio", "distinct", "mean")
ROW_COUNT = "row_count"


@dataclass(frozen=True)
class AnomalyConfig:
    """Thresholds of the detector (see the module docstring).

    Attributes:
        k: width of the z-score band in standard deviations.
        warmup: prior partitions needed before the z-score band is used.
        window: prior partitions the band is computed from (the most recent ones).
        max_change: largest relative change against the previous partition that is normal.
        rel_tol: smallest relative change that can be flagged.
        rel_tol_by_metric: per-metric overrides of ``rel_tol``. A daily mean over a sample of
            products (feed prices) drifts by a few per cent on clean days — the demo's 21 days
            showed a 2.1 % move — while the defects it must catch (a x100 currency slip) move it
            by tens of per cent, so means get a 5 % floor.
        abs_tol: smallest absolute change that can be flagged, per metric.
    """

    k: float = 3.0
    warmup: int = 7
    window: int = 28
    max_change: float = 0.5
    rel_tol: float = 0.02
    rel_tol_by_metric: Mapping[str, float] = field(default_factory=lambda: {"mean": 0.05})
    abs_tol: Mapping[str, float] = field(
        default_factory=lambda: {"row_count": 1.0, "null_ratio": 0.005, "distinct": 1.0, "mean": 1e-9}
    )

    def tolerance(self, metric: str, reference: float) -> float:
        rel = self.rel_tol_by_metric.get(metric, self.rel_tol)
        return max(self.abs_tol.get(metric, 0.0), rel * abs(reference))


@dataclass(frozen=True)
class Finding:
    """One flagged value, with the bounds and the reasoning a steward sees."""

    metric: str
    column_name: str
    observed: float
    lower: float | None
    upper: float | None
    method: str
    details: dict[str, Any]


def detect(
    metric: str,
    observed: float | None,
    history: Sequence[float],
    config: AnomalyConfig,
    column_name: str = "",
) -> Finding | None:
    """Judge one value against its history (oldest first, flagged values already removed).

    Returns:
        A :class:`Finding` when the value is anomalous, else ``None``. ``method`` names the rules
        that fired (``zscore``, ``rate_of_change``, ``missing_partition``, joined by ``+``); the
        bounds are those of the z-score band when it applies, else of the rate-of-change band.
    """
    if observed is None or not math.isfinite(observed):
        return None
    details: dict[str, Any] = {
        "history_size": len(history),
        "config": {"k": config.k, "warmup": config.warmup},
    }
    fired: list[str] = []
    bounds: tuple[float, float] | None = None
    recent = list(history[-config.window :])
    sd = statistics.stdev(recent) if len(recent) >= 2 else None

    if metric == ROW_COUNT and observed == 0 and any(v > 0 for v in recent):
        fired.append("missing_partition")
        details["missing_partition"] = {"previous_nonzero": next(v for v in reversed(recent) if v > 0)}

    if len(recent) >= config.warmup:
        mu = statistics.fmean(recent)
        assert sd is not None
        tol = config.tolerance(metric, mu)
        band = max(config.k * sd, tol)
        bounds = (mu - band, mu + band)
        details["zscore"] = {
            "mean": mu,
            "stddev": sd,
            "tolerance": tol,
            "band": band,
            "z": (observed - mu) / sd if sd else None,
            "window": len(recent),
        }
        if not bounds[0] <= observed <= bounds[1]:
            fired.append("zscore")

    if recent:
        prev = recent[-1]
        change = (observed - prev) / abs(prev) if prev else (math.inf if observed != prev else 0.0)
        tol = config.tolerance(metric, prev)
        noise = config.k * sd if sd is not None else 0.0
        allowed = max(config.max_change * abs(prev), tol, noise)
        details["rate_of_change"] = {
            "previous": prev,
            "change": change if math.isfinite(change) else None,
            "max_change": config.max_change,
            "tolerance": tol,
            "noise": noise,
        }
        if bounds is None:
            bounds = (prev - allowed, prev + allowed)
        if abs(observed - prev) > allowed:
            fired.append("rate_of_change")

    if not fired:
        return None
    lower: float | None = bounds[0] if bounds is not None else None
    upper: float | None = bounds[1] if bounds is not None else None
    if metric in (ROW_COUNT, "distinct", "null_ratio") and lower is not None:
        lower = max(lower, 0.0)  # counts and ratios cannot go below zero
    return Finding(
        metric=metric,
        column_name=column_name,
        observed=observed,
        lower=lower,
        upper=upper,
        method="+".join(fired),
        details=details,
    )


def observed_values(row_count: int, metrics: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, str], float]:
    """The watched values of one profile: ``{(column_name, metric): value}`` (row count under ``''``)."""
    out: dict[tuple[str, str], float] = {("", ROW_COUNT): float(row_count)}
    if row_count == 0:
        return out  # ratios and means of no rows say nothing; the row count says it all
    for column, m in metrics.items():
        for metric in COLUMN_METRICS:
            value = m.get(metric)
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                out[(column, metric)] = float(value)
    return out


def detect_all(
    observed: Mapping[tuple[str, str], float],
    history: Sequence[Mapping[tuple[str, str], float]],
    config: AnomalyConfig,
) -> list[Finding]:
    """Every finding for one partition.

    Args:
        observed: this partition's values (from :func:`observed_values`).
        history: the prior partitions' values, oldest first, flagged values already removed.
        config: thresholds.
    """
    findings = []
    for (column, metric), value in sorted(observed.items()):
        series = [h[(column, metric)] for h in history if (column, metric) in h]
        finding = detect(metric, value, series, config, column_name=column)
        if finding is not None:
            findings.append(finding)
    return findings
