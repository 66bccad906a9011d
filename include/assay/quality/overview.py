"""What the catalog says about quality over a window of days: partitions, scorecards, failures.

Everything here reads ``quality_runs``, ``expectation_results`` and ``scorecards`` -- never a
run's in-memory report -- so the answer is the same after a re-run, a backfill or a run from
another process. ``make demo`` prints it at the end (rendered by :mod:`assay.cli.render`).

A *partition* is one asset partition on one logical date (``<target>:<partition>``, the key the
``VALIDATED`` asset event lists). It is validated when every suite run on it has status ``ok``
(no unwaived critical failure, nothing that could not be evaluated); otherwise it is failed
(``failed`` or ``error``), or still ``running`` when a run never finished.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from assay.catalog.db import session
from assay.catalog.models import (
    Asset,
    Dimension,
    ExpectationResult,
    QualityRun,
    QualityStatus,
    Scorecard,
    Severity,
)
from assay.catalog.runs import QUALITY, is_current

#: The scorecard dimensions, in :class:`Dimension` order (the order the scorecard table shows).
DIMENSIONS: tuple[str, ...] = tuple(d.value for d in Dimension)


@dataclass(frozen=True)
class PartitionState:
    """One asset partition on one logical date, judged over every suite run on it."""

    day: dt.date
    target: str
    partition_key: str
    status: str  # ok | failed | error | running
    suites: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.target}:{self.partition_key}"

    @property
    def validated(self) -> bool:
        return self.status == QualityStatus.OK.value


@dataclass(frozen=True)
class CriticalFailure:
    """An unwaived critical expectation that failed (or a run that could not validate at all)."""

    day: dt.date
    target: str
    suite: str
    expectation: str  # "(run error)" when the run itself could not validate
    column: str | None
    detail: str | None = None


@dataclass(frozen=True)
class ScoreRow:
    """An asset's scorecard of one day, in 0..100 (``None``: no expectation of that dimension)."""

    target: str
    overall: float | None
    dimensions: dict[str, float | None]


@dataclass
class QualityOverview:
    """The catalog's quality state of ``end`` and of the ``days`` days ending at ``end``."""

    end: dt.date
    days: int
    partitions: list[PartitionState] = field(default_factory=list)
    scorecards: list[ScoreRow] = field(default_factory=list)
    failures: list[CriticalFailure] = field(default_factory=list)

    @property
    def start(self) -> dt.date:
        return self.end - dt.timedelta(days=self.days - 1)

    def of_day(self, day: dt.date) -> list[PartitionState]:
        return [p for p in self.partitions if p.day == day]

    def validated(self, day: dt.date | None = None) -> list[str]:
        """Keys of the validated partitions of ``day`` (default: the last day)."""
        return [p.key for p in self.of_day(day or self.end) if p.validated]

    def not_validated(self, day: dt.date | None = None) -> list[PartitionState]:
        return [p for p in self.of_day(day or self.end) if not p.validated]

    def counts(self) -> dict[str, int]:
        """Partitions of the whole window by outcome: ``validated``, ``failed``, ``running``."""
        out = {"validated": 0, "failed": 0, "running": 0}
        for p in self.partitions:
            if p.validated:
                out["validated"] += 1
            elif p.status == QualityStatus.RUNNING.value:
                out["running"] += 1
            else:
                out["failed"] += 1
        return out

    def failed_days(self) -> list[dt.date]:
        return sorted({p.day for p in self.partitions if not p.validated})


def target_of(namespace: str, name: str, kind: str) -> str:
    """The name a quality run reports an asset by: the table name, or a feed file's supplier folder.

    Feed files are recorded one asset per day (``feeds/northwind/2026-11-20`` / ``products.csv``);
    their target is the folder before the day (``feeds/northwind``), as in ``run_quality``.
    """
    if "/" in namespace:
        group, _, last = namespace.rpartition("/")
        try:
            dt.date.fromisoformat(last)
        except ValueError:
            return f"{namespace}/{name}"
        return group
    return name


def _judge(statuses: list[str]) -> str:
    """A partition's status from its suite runs: any error, else any failure, else running, else ok."""
    for status in (QualityStatus.ERROR, QualityStatus.FAILED, QualityStatus.RUNNING):
        if status.value in statuses:
            return status.value
    return QualityStatus.OK.value


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100.0 * value, 1)


def _first_line(text: str | None, limit: int = 120) -> str | None:
    if not text:
        return None
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def load(s: Session, end: dt.date, days: int) -> QualityOverview:
    """Read the overview of the ``days`` days ending at ``end`` (``days`` >= 1) from the catalog."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    ov = QualityOverview(end=end, days=days)
    # The current attempt of each key only: superseded attempts are history, not the day's state.
    in_window = and_(QualityRun.logical_date >= ov.start, QualityRun.logical_date <= end, is_current(QUALITY))
    runs = s.execute(
        select(QualityRun.id, QualityRun.logical_date, QualityRun.suite_name, QualityRun.partition_key,
               QualityRun.status, QualityRun.error, Asset.namespace, Asset.name, Asset.kind)
        .join(Asset, Asset.id == QualityRun.asset_id)
        .where(in_window)
    ).all()
    grouped: dict[tuple[dt.date, str, str], list[tuple[str, str]]] = defaultdict(list)
    for r in runs:
        grouped[(r.logical_date, target_of(r.namespace, r.name, r.kind), r.partition_key)].append(
            (r.suite_name, r.status)
        )
    ov.partitions = [
        PartitionState(day, target, key, _judge([st for _, st in v]), tuple(sorted({su for su, _ in v})))
        for (day, target, key), v in sorted(grouped.items())
    ]

    cards = s.execute(
        select(Scorecard.dimension_scores, Scorecard.overall, Asset.namespace, Asset.name, Asset.kind)
        .join(Asset, Asset.id == Scorecard.asset_id)
        .where(Scorecard.day == end)
    ).all()
    ov.scorecards = sorted(
        (
            ScoreRow(
                target_of(c.namespace, c.name, c.kind),
                _pct(c.overall),
                {d: _pct(c.dimension_scores.get(d)) for d in DIMENSIONS},
            )
            for c in cards
        ),
        key=lambda row: row.target,
    )

    failed = s.execute(
        select(QualityRun.logical_date, QualityRun.suite_name, Asset.namespace, Asset.name, Asset.kind,
               ExpectationResult.expectation_id, ExpectationResult.column_name, ExpectationResult.details)
        .join(Asset, Asset.id == QualityRun.asset_id)
        .join(ExpectationResult, ExpectationResult.quality_run_id == QualityRun.id)
        .where(
            in_window,
            QualityRun.status != QualityStatus.OK.value,
            # critical failures, and any expectation that could not be evaluated (it fails the run too)
            or_(ExpectationResult.severity == Severity.CRITICAL.value, ExpectationResult.details.has_key("error")),
            ExpectationResult.success.is_(False),
            or_(ExpectationResult.waived.is_(False), ExpectationResult.waived.is_(None)),
        )
    ).all()
    ov.failures = [
        CriticalFailure(f.logical_date, target_of(f.namespace, f.name, f.kind), f.suite_name, f.expectation_id,
                        f.column_name, _first_line((f.details or {}).get("error")))
        for f in failed
    ]
    # A run that could not validate at all has no failed expectation to name: name the run.
    named = {(f.day, f.target, f.suite) for f in ov.failures}
    for r in runs:
        target = target_of(r.namespace, r.name, r.kind)
        if r.status == QualityStatus.ERROR.value and (r.logical_date, target, r.suite_name) not in named:
            ov.failures.append(CriticalFailure(r.logical_date, target, r.suite_name, "(run error)", None,
                                               _first_line(r.error)))
    ov.failures.sort(key=lambda f: (f.day, f.target, f.expectation))
    return ov


def overview(catalog_url: str, end: dt.date, days: int) -> QualityOverview:
    """:func:`load` in a session of its own."""
    with session(catalog_url) as s:
        return load(s, end, days)

