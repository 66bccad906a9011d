"""The review request's markdown, built from stored results: masked examples only, every value escaped, links."""

from __future__ import annotations

import datetime as dt

import pytest
from support.gate_world import World

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 11, 2)


def test_body_lists_failures_with_masked_escaped_examples_and_links(gate_world: World) -> None:
    from assay.catalog.db import session
    from assay.catalog.models import ExpectationResult, QualityRun
    from assay.orchestration.hitl import critical_failures, review_body

    w = gate_world
    with session(w.catalog) as s:
        qr = QualityRun(suite_name="search_sessions", asset_id=w.asset_ids["search_sessions"],
                        partition_key=DAY.isoformat(), logical_date=DAY, run_key="quality/r1", success=False,
                        critical_failures=1, status="failed")
        s.add(qr)
        s.flush()
        s.add(ExpectationResult(
            quality_run_id=qr.id, expectation_id="query_*not*_null", expectation_type="expect_column_values_to_match_regex",
            column_name="query", dimension="validity", severity="critical", success=False, unexpected_count=12,
            unexpected_percent=1.5, observed_value=None,
            details={"masked": True, "partial_unexpected_counts": [
                {"value": "j***@e***.com", "count": 3}, {"value": "[x](javascript:alert(1)) <img src=x>", "count": 1}]}))
        s.flush()
        run_id = qr.id
    summary = {"logical_date": DAY.isoformat(), "run_key": "quality/r1", "validated_partitions": [],
               "partitions": {f"search_sessions:{DAY}": {"suite": "search_sessions", "status": "failed",
                                                         "quality_run_id": run_id, "critical": ["query_*not*_null"]}}}
    failing = critical_failures(summary)
    body = review_body(w.settings, summary, failing, 24)
    assert f"(/assay/quality/runs/{run_id})" in body and "(/assay/waivers)" in body
    assert "examples (masked): j\\*\\*\\*@e\\*\\*\\*\\.com (×3)" in body, body
    assert "query\\_\\*not\\*\\_null" in body and "12 unexpected (1.50 %)" in body
    assert "\\]\\(javascript" in body and "\\<img src=x\\>" in body  # inert text, not a link or a tag
    assert "No answer within 24 h fails it" in body
