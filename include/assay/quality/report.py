"""What a quality run returns (cheap to import: no GX, no SQLAlchemy).

The status and severity names are the catalog's (``QualityStatus``, ``Severity`` in
:mod:`assay.catalog.models`), repeated here so a DAG's last task can judge a summary without
importing SQLAlchemy; a unit test keeps the two lists equal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from assay.errors import QualityError

RUNNING, OK, FAILED, ERROR = "running", "ok", "failed", "error"
CRITICAL, WARNING = "critical", "warning"


class QualityFailure(QualityError):
    """Critical expectations failed or could not be evaluated; ``summary`` is the run's summary."""

    def __init__(self, message: str, summary: dict[str, Any]) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass(frozen=True)
class Outcome:
    """One expectation's result, masked, with its tags and any waiver that covers it.

    ``error`` is set when the expectation could not be evaluated (GX raised inside it, e.g. the
    column is gone); such an outcome is unsuccessful.
    """

    expectation_id: str
    expectation_type: str
    column: str | None
    dimension: str
    severity: str
    success: bool
    observed_value: Any = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    waiver_id: int | None = None

    @property
    def waived(self) -> bool:
        return not self.success and self.waiver_id is not None

    @property
    def counts_against(self) -> bool:
        """Failed (or errored) and not waived."""
        return not self.success and self.waiver_id is None


@dataclass
class PartitionResult:
    """One suite on one asset partition: what was recorded in ``quality_runs``."""

    suite: str
    target: str
    partition_key: str
    logical_date: dt.date
    asset_id: int | None = None
    quality_run_id: int | None = None
    status: str = RUNNING
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None
    data_docs_url: str | None = None
    statistics: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """``<target>:<partition>``, as the VALIDATED asset event lists partitions."""
        return f"{self.target}:{self.partition_key}"

    def failed(self, severity: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.counts_against and o.error is None and o.severity == severity]

    @property
    def critical_failures(self) -> list[Outcome]:
        return self.failed(CRITICAL)

    @property
    def warning_failures(self) -> list[Outcome]:
        return self.failed(WARNING)

    @property
    def errored(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.error is not None and o.waiver_id is None]

    @property
    def waived(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.waived]

    def decide_status(self) -> str:
        """``error`` if the validation (or an unwaived expectation) could not run, ``failed`` on an
        unwaived critical failure, else ``ok``."""
        if self.error is not None or self.errored:
            return ERROR
        if self.critical_failures:
            return FAILED
        return OK

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"suite": self.suite, "status": self.status, "quality_run_id": self.quality_run_id}
        if self.critical_failures:
            out["critical"] = [o.expectation_id for o in self.critical_failures]
        if self.warning_failures:
            out["warning"] = [o.expectation_id for o in self.warning_failures]
        if self.waived:
            out["waived"] = {o.expectation_id: o.waiver_id for o in self.waived}
        if self.errored:
            out["errors"] = {o.expectation_id: o.error for o in self.errored}
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class QualityReport:
    """The result of :func:`assay.quality.run_quality`."""

    run_key: str
    logical_date: dt.date
    partitions: tuple[PartitionResult, ...]
    unrecorded_errors: tuple[str, ...] = ()
    data_docs_index: str | None = None
    elapsed_s: float = 0.0

    @property
    def validated_partitions(self) -> list[str]:
        """``<target>:<partition>`` of every partition with no unwaived critical failure or error."""
        return [p.key for p in self.partitions if p.status == OK]

    @property
    def failed_partitions(self) -> list[PartitionResult]:
        return [p for p in self.partitions if p.status != OK]

    @property
    def ok(self) -> bool:
        return not self.failed_partitions and not self.unrecorded_errors

    def partition(self, target: str, suite: str | None = None) -> PartitionResult:
        for p in self.partitions:
            if p.target == target and (suite is None or p.suite == suite):
                return p
        raise KeyError(target)

    def summary(self) -> dict[str, Any]:
        """A small JSON-able dict (XCom, logs): status per partition, what failed, what was waived."""
        return {
            "run_key": self.run_key,
            "logical_date": self.logical_date.isoformat(),
            "ok": self.ok,
            "validated_partitions": self.validated_partitions,
            "partitions": {p.key: p.as_dict() for p in self.partitions},
            "waivers": sorted({o.waiver_id for p in self.partitions for o in p.waived if o.waiver_id is not None}),
            "unrecorded_errors": list(self.unrecorded_errors),
            "data_docs": self.data_docs_index,
            "elapsed_s": self.elapsed_s,
        }

    def failure_text(self) -> str:
        """What a person must look at, one line per failed partition (empty when all passed)."""
        return failure_text(self.summary())


def failure_text(summary: dict[str, Any]) -> str:
    """The failure lines of a :meth:`QualityReport.summary` (also usable on an XCom copy of it)."""
    lines = []
    for key, p in summary["partitions"].items():
        if p["status"] == OK:
            continue
        parts = []
        if p.get("critical"):
            parts.append("critical failed: " + ", ".join(p["critical"]))
        if p.get("errors"):
            parts.append("could not evaluate: " + "; ".join(f"{k} ({v})" for k, v in p["errors"].items()))
        if p.get("error"):
            parts.append(f"error: {p['error']}")
        lines.append(f"{key} [{p['suite']}] {p['status']}: " + "; ".join(parts))
    lines.extend(f"suite error: {e}" for e in summary.get("unrecorded_errors", []))
    if not lines:
        return ""
    return f"quality {summary['run_key']} ({summary['logical_date']}): " + "\n".join(lines)


def enforce(summary: dict[str, Any]) -> None:
    """Raise :class:`QualityFailure` if the summary has an unwaived critical failure or an error.

    Used by the DAG's last task on the summary the validation task returned, so the partitions
    that passed are published before the run is marked failed.
    """
    text = failure_text(summary)
    if text:
        raise QualityFailure(text, summary)
