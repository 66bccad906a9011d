"""Partition status, the run summary, enforce(), and the scorecard arithmetic."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from assay.catalog.models import Dimension, QualityStatus, Severity
from assay.errors import QualityError
from assay.quality import report as rpt
from assay.quality.report import Outcome, PartitionResult, QualityFailure, QualityReport, enforce
from assay.quality.scorecard import WEIGHTS, compute

DAY = dt.date(2026, 11, 12)


def outcome(eid: str, severity: str = "critical", success: bool = True, **kw) -> Outcome:
    return Outcome(eid, "expect_x", None, kw.pop("dimension", "validity"), severity, success, **kw)


def partition(*outcomes: Outcome, error: str | None = None, target: str = "t") -> PartitionResult:
    p = PartitionResult("s", target, DAY.isoformat(), DAY, asset_id=1, quality_run_id=7, error=error)
    p.outcomes = list(outcomes)
    p.status = p.decide_status()
    return p


def test_status_names_match_the_catalog():
    assert {rpt.RUNNING, rpt.OK, rpt.FAILED, rpt.ERROR} == {s.value for s in QualityStatus}
    assert {rpt.CRITICAL, rpt.WARNING} == {s.value for s in Severity}


def test_warning_failures_pass_and_critical_failures_fail():
    assert partition(outcome("a"), outcome("b", "warning", False)).status == "ok"
    assert partition(outcome("a", "critical", False)).status == "failed"


def test_waived_critical_failure_does_not_fail():
    p = partition(outcome("a", "critical", False, waiver_id=3))
    assert p.status == "ok" and p.waived[0].waiver_id == 3 and p.critical_failures == []


def test_errors_win_over_failures():
    assert partition(outcome("a", "warning", False, error="column gone")).status == "error"
    assert partition(error="table gone").status == "error"
    # a waiver also covers an expectation that could not be evaluated
    assert partition(outcome("a", "warning", False, error="column gone", waiver_id=1)).status == "ok"


def test_summary_is_small_json_and_names_failures_and_waivers():
    report = QualityReport(
        "quality/manual__1",
        DAY,
        (
            partition(outcome("ok"), target="good"),
            partition(outcome("query_not_null", "critical", False), outcome("dup", "warning", False), target="bad"),
            partition(outcome("x", "critical", False, waiver_id=9), target="waived"),
        ),
    )
    summary = report.summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["validated_partitions"] == ["good:2026-11-12", "waived:2026-11-12"]
    assert report.validated_partitions == summary["validated_partitions"]
    assert summary["partitions"]["bad:2026-11-12"]["critical"] == ["query_not_null"]
    assert summary["partitions"]["bad:2026-11-12"]["warning"] == ["dup"]
    assert summary["waivers"] == [9]
    assert not summary["ok"]
    assert "bad:2026-11-12 [s] failed: critical failed: query_not_null" in report.failure_text()
    assert "good" not in report.failure_text()


def test_enforce_raises_a_quality_error_with_the_summary():
    ok = QualityReport("k", DAY, (partition(outcome("a")),)).summary()
    enforce(ok)
    bad = QualityReport("k", DAY, (partition(outcome("a", "critical", False)),), ("x.json: not valid JSON",)).summary()
    with pytest.raises(QualityError) as err:
        enforce(bad)
    assert isinstance(err.value, QualityFailure) and err.value.summary == bad
    assert "critical failed: a" in str(err.value) and "suite error: x.json: not valid JSON" in str(err.value)


def test_scorecard_weights_critical_over_warning():
    scores, overall = compute([("completeness", "critical", False), ("completeness", "warning", True),
                               ("validity", "warning", True)])
    c, w = WEIGHTS["critical"], WEIGHTS["warning"]
    assert scores["completeness"] == round(w / (c + w), 4)
    assert scores["validity"] == 1.0
    assert scores["timeliness"] is None
    assert set(scores) == {d.value for d in Dimension}
    assert overall == round(2 * w / (c + 2 * w), 4)


def test_scorecard_of_a_run_that_could_not_validate_is_zero_not_perfect():
    assert compute([], run_errors=1) == ({d.value: None for d in Dimension}, 0.0)
    assert compute([])[1] is None
    assert compute([("validity", "critical", True)], run_errors=1)[1] == 0.0
