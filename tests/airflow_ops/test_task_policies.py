"""#14.6 Data failures fail cleanly; every task has a time-out, backoff and the failure callback.

Before #14: no task had an `execution_timeout`, retries had no backoff and no failure callback was
set; `enforce` retried a data failure and ended in a chained Python traceback.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from support.airflow import DAGS, load_dag

from assay.errors import GateError, QualityError, SourceError
from assay.orchestration.tasks import data_failures, record_failure

pytestmark = pytest.mark.airflow

ALL = sorted(p.stem for p in DAGS.glob("*.py"))


@pytest.mark.parametrize("dag_id", ALL)
def test_every_task_has_a_timeout_backoff_and_the_failure_callback(dag_id):
    problems = []
    for t in load_dag(dag_id).tasks:
        where = f"{dag_id}.{t.task_id}"
        if not t.execution_timeout or t.execution_timeout > dt.timedelta(hours=12):
            problems.append(f"{where}: execution_timeout {t.execution_timeout}")
        if (t.retries or 0) < 1 or not t.retry_exponential_backoff or not t.max_retry_delay:
            problems.append(f"{where}: retries with exponential backoff and a max_retry_delay")
        callbacks = t.on_failure_callback if isinstance(t.on_failure_callback, list) else [t.on_failure_callback]
        if record_failure not in callbacks:
            problems.append(f"{where}: on_failure_callback must record the failure in the catalog")
    assert problems == [], "use default_args=assay.orchestration.tasks.default_args(owner, timeout=...)"


@pytest.mark.parametrize("error", [QualityError("2 partitions failed: interactions:2026-11-19 ..."),
                                   GateError("decision #4 error: no metrics")])
def test_a_data_failure_is_an_airflow_fail_exception_with_the_summary_and_no_chain(error):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException) as raised, data_failures():
        raise error
    assert str(raised.value) == str(error)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__  # no chained traceback


def test_an_infrastructure_error_is_left_to_retry():
    with pytest.raises(SourceError), data_failures():
        raise SourceError("source shop: connection refused")


def test_the_failure_callback_never_raises(monkeypatch):
    """A catalog that cannot be reached is logged; the task's own error stays the one reported."""
    monkeypatch.setenv("ASSAY_DATABASE_URL", "postgresql+psycopg2://nobody@localhost:1/none?connect_timeout=1")
    from assay.config import get_settings

    get_settings.cache_clear()
    try:
        ti = SimpleNamespace(dag_id="quality", run_id="r", task_id="validate", try_number=1)
        record_failure({"ti": ti, "dag_run": None, "exception": RuntimeError("x"), "params": {}})
        record_failure({})  # not even a task instance
    finally:
        get_settings.cache_clear()


@pytest.mark.integration
def test_a_failure_is_recorded_once_per_try_scrubbed(catalog_url):
    from support.db import rows

    from assay.orchestration.failures import failure_from_context, record

    ti = SimpleNamespace(dag_id="quality", run_id="manual__2026-11-19T00:00:00+00:00", task_id="enforce", try_number=1)
    run = SimpleNamespace(dag_id="quality", run_id=ti.run_id, partition_key=None, run_after=None)
    error = QualityError("interactions:2026-11-19 failed for jane.doe@example.com via postgresql://u:s3cretpw@db/x")
    context = {"ti": ti, "dag_run": run, "logical_date": dt.datetime(2026, 11, 19, tzinfo=dt.UTC),
               "exception": error, "params": {"assets": ["interactions"]}}
    first = record(catalog_url, failure_from_context(context))
    assert record(catalog_url, failure_from_context(context)) == first  # a callback run twice: one row
    ((scope, day, kind, text, task, tried),) = rows(
        catalog_url, "SELECT scope, logical_date, error_type, error, task_id, try_number FROM task_failures")
    assert (scope, day, kind, task, tried) == ("assets=interactions", dt.date(2026, 11, 19), "QualityError", "enforce", 1)
    assert "jane.doe@example.com" not in text and "s3cretpw" not in text and "interactions:2026-11-19" in text


def test_a_gate_refusal_fails_the_promote_task_once_with_each_reason():
    from airflow.sdk.exceptions import AirflowFailException

    from assay.orchestration.tasks import fail_on_refusal

    passed = {"decision_id": 1, "decision": "pass", "model_name": "m", "version": "1", "reason": "ok"}
    refused = {"decision_id": 2, "decision": "fail", "model_name": "m", "version": "2",
               "reason": "ndcg_at_10 0.61 < champion 0.64"}
    fail_on_refusal({"decisions": [passed]})  # nothing refused: the run stays green
    with pytest.raises(AirflowFailException, match=r"gate refused m v2 \(decision #2\): ndcg_at_10 0.61 < champion"):
        fail_on_refusal({"decisions": [passed, refused]})
