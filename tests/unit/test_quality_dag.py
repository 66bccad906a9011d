"""The quality DAG's wiring: schedule on the profiles asset (and a backfillable timetable), params,
three tasks, VALIDATED only from the publishing task, and publish/enforce on a summary."""

from __future__ import annotations

import datetime as dt

import pytest
from support.airflow import load_dag

from assay.errors import QualityError
from assay.quality.report import Outcome, PartitionResult, QualityReport, enforce

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def dag():
    return load_dag("quality")


def test_schedule_params_and_policies(dag, assay_plugin):
    from airflow.sdk import AssetOrTimeSchedule
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    from assay import names

    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert names.PROFILES_URI in str(dag.timetable.asset_condition)
    # What the scheduler sees: periodic, which `airflow backfill create` requires.
    assert decode_timetable(encode_timetable(dag.timetable)).periodic
    assert not dag.catchup and "assay" in dag.tags and dag.doc_md
    assert set(dag.params) == {"assets", "result_format", "arrival_deadline_hours", "review_hours"}
    assert dag.params["result_format"] == "SUMMARY"
    assert {t.task_id for t in dag.tasks} == {"wait_for_data", "validate", "publish", "review", "enforce"}
    assert all(t.retries >= 1 and t.owner == "data-platform" for t in dag.tasks)


def test_only_publish_and_review_emit_validated_and_enforce_runs_after_a_skip(dag):
    from assay import names

    # #15.3: a steward's Waive in the review task publishes the re-validated partitions too
    outlets = {t.task_id: [getattr(o, "uri", None) for o in t.outlets] for t in dag.tasks}
    assert outlets == {"wait_for_data": [], "validate": [], "publish": [names.VALIDATED_URI],
                       "review": [names.VALIDATED_URI], "enforce": []}
    enforce_task, review_task = dag.get_task("enforce"), dag.get_task("review")
    assert enforce_task.trigger_rule == "none_failed" and review_task.trigger_rule == "none_failed"
    assert "publish" in review_task.upstream_task_ids and "review" in enforce_task.upstream_task_ids


def summary(*statuses: bool) -> dict:
    parts = []
    for i, ok in enumerate(statuses):
        p = PartitionResult("s", f"t{i}", "2026-11-12", dt.date(2026, 11, 12))
        p.outcomes = [Outcome("e", "x", None, "validity", "critical", ok)]
        p.status = p.decide_status()
        parts.append(p)
    return QualityReport("quality/r", dt.date(2026, 11, 12), tuple(parts)).summary()


def test_publish_and_enforce_on_a_mixed_summary():
    s = summary(True, False)
    assert s["validated_partitions"] == ["t0:2026-11-12"]
    with pytest.raises(QualityError, match="t1:2026-11-12"):
        enforce(s)
    enforce(summary(True, True))
