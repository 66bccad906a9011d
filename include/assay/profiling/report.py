"""What a profiling run returns, and the error it raises when an asset failed (no database here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from assay.errors import AssayError


@dataclass(frozen=True)
class AssetResult:
    """One asset partition in one profiling run.

    Attributes:
        asset_id: the catalog asset.
        asset: ``namespace/name`` as people read it.
        partition_key: ``YYYY-MM-DD`` or ``__all__``.
        status: ``profiled``, ``skipped`` (already profiled for the date; rerun with force) or
            ``failed``.
        profile_run_id: the ``profile_runs`` row (also for failures, which are recorded).
        row_count: rows in the partition, when profiled.
        anomalies: anomalies found in this partition.
        error: why it failed.
        pii_columns: columns not classified PII holding PII-looking values (a review item each).
        columns: columns profiled (0 unless profiled).
    """

    asset_id: int
    asset: str
    partition_key: str
    status: str
    profile_run_id: int | None = None
    row_count: int | None = None
    anomalies: int = 0
    error: str | None = None
    pii_columns: int = 0
    columns: int = 0


@dataclass(frozen=True)
class ProfileReport:
    """The result of :func:`assay.profiling.run_profile`."""

    run_key: str
    logical_date: dt.date
    results: tuple[AssetResult, ...] = field(default_factory=tuple)

    def _with(self, status: str) -> list[AssetResult]:
        return [r for r in self.results if r.status == status]

    @property
    def profiled(self) -> list[AssetResult]:
        return self._with("profiled")

    @property
    def skipped(self) -> list[AssetResult]:
        return self._with("skipped")

    @property
    def failed(self) -> list[AssetResult]:
        return self._with("failed")

    @property
    def anomaly_count(self) -> int:
        return sum(r.anomalies for r in self.results)

    @property
    def pii_column_count(self) -> int:
        """Columns not classified PII found holding PII-looking values (each has a review item)."""
        return sum(r.pii_columns for r in self.results)

    def summary(self) -> str:
        head = (
            f"profiling {self.logical_date} ({self.run_key}): {len(self.profiled)} profiled, "
            f"{len(self.skipped)} skipped, {len(self.failed)} failed, {self.anomaly_count} anomalies"
        )
        if self.pii_column_count:
            head += f", {self.pii_column_count} columns with PII-looking values (review items opened)"
        errors = [f"{r.asset} [{r.partition_key}]: {r.error}" for r in self.failed]
        return "\n".join([head, *errors])

    def as_dict(self) -> dict[str, Any]:
        """Small and JSON-safe (for XCom): ids and figures, no metrics."""
        return {
            "run_key": self.run_key,
            "logical_date": self.logical_date.isoformat(),
            "profiled": len(self.profiled),
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "anomalies": self.anomaly_count,
            "pii_columns": self.pii_column_count,
            "results": [asdict(r) for r in self.results],
        }


class ProfilingError(AssayError):
    """At least one asset could not be profiled; raised after every other asset was recorded."""

    def __init__(self, report: ProfileReport) -> None:
        super().__init__(report.summary())
        self.report = report
