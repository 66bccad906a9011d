"""Human-in-the-loop pieces without Airflow running: form validation, markdown escaping, who is asked, policy."""

from __future__ import annotations

import datetime as dt

import pytest

from assay.gate.approval import why_needed
from assay.gate.policy import PolicyError, RequireApproval, parse
from assay.orchestration.approval import approval_body, approval_hours
from assay.orchestration.hitl import (
    DEFAULT_REVIEW_HOURS,
    MAX_WAIVER_DAYS,
    ReviewAnswerError,
    critical_failures,
    md,
    parse_waive,
    responder,
    review_hours,
)

TODAY = dt.date(2026, 12, 5)
METRIC = {"metrics": [{"metric": "mrr", "threshold": 0.5}]}


def test_waive_form_needs_a_reason_and_a_future_expiry_within_the_horizon() -> None:
    ok = parse_waive({"reason": " upstream bug INC-1 ", "expires_on": "2026-12-20", "comment": ""}, TODAY)
    assert (ok.reason, ok.expires_on, ok.comment) == ("upstream bug INC-1", dt.date(2026, 12, 20), None)
    assert parse_waive({"reason": "r", "expires_on": "2026-12-06", "comment": "c"}, TODAY).text == "r — c"
    bad = [({"expires_on": "2026-12-20"}, "`reason` is required"),
           ({"reason": "r"}, "`expires_on` is required"),
           ({"reason": "r", "expires_on": "20.12.2026"}, "is not a date"),
           ({"reason": "r", "expires_on": "2026-12-05"}, "must be after today"),
           ({"reason": "r", "expires_on": str(TODAY + dt.timedelta(days=MAX_WAIVER_DAYS + 1))}, "days ahead")]
    for form, message in bad:
        with pytest.raises(ReviewAnswerError, match=message):
            parse_waive(form, TODAY)


def test_markdown_values_are_escaped_and_one_line() -> None:
    hostile = "x](http://evil)<script>*bold*\n# heading | `code`"
    out = md(hostile)
    assert "\n" not in out
    for raw in ("](", "<script>", "*bold*", "`code`"):
        assert raw not in out, out
    assert "\\|" in out  # a table cell separator is escaped
    assert md("a" * 500, 20).endswith("…") and len(md("a" * 500, 20)) == 20


def test_who_is_asked_by_default() -> None:
    assert review_hours(None, "asset_triggered") == DEFAULT_REVIEW_HOURS
    assert review_hours(None, "scheduled") == DEFAULT_REVIEW_HOURS
    assert review_hours(None, "manual") == 0  # airflow dags test, make demo, UI trigger
    assert review_hours(None, "backfill") == 0
    assert review_hours(0.5, "manual") == 0.5
    assert approval_hours(None, "manual") == 0 and approval_hours(None, "asset_triggered") > 0


def test_only_partitions_failing_on_critical_expectations_are_reviewable() -> None:
    summary = {"partitions": {
        "interactions:2026-11-02": {"suite": "interactions", "status": "failed", "quality_run_id": 7,
                                    "critical": ["session_id_not_null"]},
        "orders:2026-11-02": {"suite": "orders", "status": "error", "quality_run_id": 8, "critical": ["x"],
                              "errors": {"y": "boom"}},
        "products": {"suite": "products", "status": "ok", "quality_run_id": 9},
    }}
    [f] = critical_failures(summary)
    assert (f.key, f.suite, f.quality_run_id, f.expectations) == ("interactions:2026-11-02", "interactions", 7,
                                                                   ("session_id_not_null",))


def test_responder_is_the_user_name_or_nobody() -> None:
    assert responder({"responded_by_user": {"id": "3", "name": "jane"}}) == "jane"
    assert responder({"responded_by_user": None}) is None


def test_require_approval_policy_option() -> None:
    assert parse(METRIC, "p").require_approval == RequireApproval.NEVER
    always = parse({**METRIC, "require_approval": "always"}, "p")
    waived = parse({**METRIC, "require_approval": "when_waived"}, "p")
    assert why_needed(always, {}) == "require_approval: always"
    assert why_needed(waived, {"waiver_ids": [], "training_waiver_ids": []}) is None
    assert "waiver(s) 4, 9" in str(why_needed(waived, {"waiver_ids": [9], "training_waiver_ids": [4]}))
    assert why_needed(parse(METRIC, "p"), {"waiver_ids": [9]}) is None
    with pytest.raises(PolicyError, match="require_approval"):
        parse({**METRIC, "require_approval": "sometimes"}, "config/promotion_policy.yaml")
    # alias_protection (#14.5) is still there, next to it
    assert parse({**METRIC, "alias_protection": "restore", "require_approval": "always"}, "p").alias_protection == "restore"


def test_approval_body_names_the_waivers_and_who_granted_them() -> None:
    from assay.gate.approval import Pending

    p = Pending(12, "reranker", "3", "all checks passed", "require_approval: when_waived, …",
                [{"name": "ndcg_at_10", "observed": 0.41, "threshold": ">= 0.3", "verdict": "pass"}],
                [{"id": 4, "asset": "interactions", "expectation": "session_id_not_null", "reason": "INC-1 <b>",
                  "created_by": "jane"}])
    body = approval_body([p], 72)
    assert "decision #12" in body and "granted by **jane**" in body and "<b>" not in body
