"""Data quality: GX suites per asset partition, evidence in the catalog, reports stewards can act on.

``run_quality(settings, logical_date, run_key, assets=None, result_format="SUMMARY")`` is the
entry point of the ``quality`` DAG. Suites live in ``expectations/`` (see :mod:`assay.quality.suites`);
results go to ``quality_runs`` / ``expectation_results`` with PII masked, warnings open review
items, waivers (:mod:`assay.quality.waivers`) exempt named expectations for a time window, and
scorecards (:mod:`assay.quality.scorecard`) summarise each asset's day. See ``docs/quality.md``.

Importing this package is cheap (no GX, no SQLAlchemy); the heavy parts load on first use, so a
DAG file may import it at top level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assay.quality.report import PartitionResult, QualityFailure, QualityReport, enforce, failure_text

if TYPE_CHECKING:
    from assay.quality.proposals import accept_proposal, propose_suite, reject_proposal
    from assay.quality.run import run_quality
    from assay.quality.scorecard import scorecard_history
    from assay.quality.waivers import add_waiver, revoke

__all__ = [
    "PartitionResult",
    "QualityFailure",
    "QualityReport",
    "accept_proposal",
    "add_waiver",
    "enforce",
    "failure_text",
    "propose_suite",
    "reject_proposal",
    "revoke",
    "run_quality",
    "scorecard_history",
]

_LAZY = {
    "run_quality": "assay.quality.run",
    "add_waiver": "assay.quality.waivers",
    "revoke": "assay.quality.waivers",
    "scorecard_history": "assay.quality.scorecard",
    "propose_suite": "assay.quality.proposals",
    "accept_proposal": "assay.quality.proposals",
    "reject_proposal": "assay.quality.proposals",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
