"""The `alias_watch` DAG: structure, its trigger form, and `airflow dags test` repairing a moved champion."""

from __future__ import annotations

import datetime as dt

import pytest
from support.airflow import load_dag
from support.db import rows
from support.gate_world import GOOD

from assay import names

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def watch_dag():
    return load_dag("alias_watch")


def test_structure(watch_dag):
    assert [t.task_id for t in watch_dag.tasks] == ["reconcile"]
    assert watch_dag.timetable.expression == "0 * * * *"  # @hourly, on the hour
    assert not watch_dag.catchup and watch_dag.max_active_runs == 1 and "assay" in watch_dag.tags
    (task,) = watch_dag.tasks
    assert task.execution_timeout == dt.timedelta(minutes=10) and task.retries >= 1
    assert set(watch_dag.params.keys()) == {"model_name", "mode"}


def test_form_defaults_and_filled_values_validate(watch_dag):
    from airflow.sdk.definitions.param import ParamValidationError

    params = watch_dag.params
    assert params.validate() == {"model_name": None, "mode": None}  # the defaults are triggerable
    assert params.get_param("mode").resolve("restore") == "restore"
    assert params.get_param("model_name").resolve(names.MODEL_NAME) == names.MODEL_NAME
    with pytest.raises(ParamValidationError):
        params.get_param("mode").resolve("revert")
    with pytest.raises(ParamValidationError):
        params.get_param("model_name").resolve("bad name; drop")


@pytest.mark.integration
@pytest.mark.slow
def test_airflow_dags_test_restores_a_champion_moved_outside_the_gate(gate_world, dags_test):
    from assay.gate.policy import parse
    from assay.gate.run import run_gate

    w, settings = gate_world, gate_world.settings
    v1, v2 = w.candidate(GOOD), w.candidate(GOOD)
    pol = parse({"on_no_champion": "promote", "data": {"max_partition_age_hours": 96},
                 "metrics": [{"metric": "ndcg_at_10", "threshold": 0.3}]}, "test-policy")
    now = dt.datetime(2026, 11, 9, 6, 0, tzinfo=dt.UTC)
    assert run_gate(settings, names.MODEL_NAME, v1, actor="t", run_key="t", now=now, policy=pol).decision == "pass"
    w.client.set_registered_model_alias(names.MODEL_NAME, names.CHAMPION, v2)  # never judged

    report_run = dags_test(settings, "alias_watch", "2026-11-09T06:00:00+00:00", {"mode": "report"})
    states = dict(rows(report_run.airflow_db, "SELECT task_id, state FROM task_instance"))
    # failed, not up_for_retry (retries=2): a finding is data, not a flake; the message names it
    assert states == {"reconcile": "failed"}, report_run.log[-4000:]
    assert f"AirflowFailException: registry disagrees with the decision ledger (report mode):\n{names.MODEL_NAME}: " \
           f"champion -> v{v2} was set outside the gate" in report_run.log
    assert "During handling of the above exception" not in report_run.log
    assert w.aliases()[names.CHAMPION] == v2

    restore_run = dags_test(settings, "alias_watch", "2026-11-09T07:00:00+00:00", {"mode": "restore"})
    states = dict(rows(restore_run.airflow_db, "SELECT task_id, state FROM task_instance"))
    assert states == {"reconcile": "success"}, restore_run.log[-4000:]
    assert w.aliases()[names.CHAMPION] == v1
    assert rows(settings.catalog_url(), "SELECT alias, from_version, to_version, actor FROM alias_events "
                                        "WHERE actor = 'reconcile'") == [(names.CHAMPION, v2, v1, "reconcile")]
