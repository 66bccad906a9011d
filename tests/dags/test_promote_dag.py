"""The `promote` DAG: structure, the task's glue, and `airflow dags test` end to end on scratch stores."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from support.airflow import load_dag
from support.db import rows
from support.gate_world import GOOD

from assay import names


@pytest.fixture(scope="module")
def promote_dag():
    return load_dag("promote")


@pytest.mark.airflow
def test_structure(promote_dag):
    assert [t.task_id for t in promote_dag.tasks] == ["gate", "approve"]  # #15: approve (ApprovalOperator)
    assert names.CANDIDATE_URI in str(promote_dag.timetable.asset_condition)
    assert set(promote_dag.params.keys()) == {"model_name", "version", "dry_run", "approval_hours"}
    assert promote_dag.params["model_name"] == names.MODEL_NAME
    assert not promote_dag.catchup and "assay" in promote_dag.tags


def test_candidates_from_params_and_asset_events():
    from assay.errors import GateError
    from assay.gate.run import candidates

    assert candidates({"model_name": "m", "version": "3"}, {}) == [("m", "3")]
    events = {"candidate": [SimpleNamespace(extra={"model_name": "m", "version": 4, "run_id": "r"}),
                            SimpleNamespace(extra={"model_name": "m", "version": 5}),
                            SimpleNamespace(extra={"model_name": "m", "version": 5})]}
    assert candidates({"version": ""}, {"triggering_asset_events": events}) == [("m", "4"), ("m", "5")]
    with pytest.raises(GateError, match="no candidate"):
        candidates({"version": ""}, {"triggering_asset_events": {}})


def test_a_manual_run_with_the_form_defaults_judges_the_newest_candidate():
    """The form's defaults (no version, no event): the newest registered candidate of the model."""
    from assay.errors import GateError
    from assay.gate.run import candidates

    newest = {names.MODEL_NAME: (names.MODEL_NAME, "7"), "other": ("other", "2")}.get
    form = {"model_name": None, "version": None, "dry_run": False}
    assert candidates(form, {}, newest) == [(names.MODEL_NAME, "7")]
    assert candidates({**form, "model_name": "other"}, {}, newest) == [("other", "2")]
    events = {"candidate": [SimpleNamespace(extra={"model_name": "m", "version": 4})]}
    assert candidates(form, {"triggering_asset_events": events}, newest) == [("m", "4")]  # the event first
    with pytest.raises(GateError, match="no candidate of nobody to judge: none is registered"):
        candidates({**form, "model_name": "nobody"}, {}, newest)


@pytest.mark.integration
def test_the_newest_candidate_of_a_model(catalog_url):
    from assay.catalog.db import session
    from assay.catalog.models import ModelCandidate
    from assay.gate.latest import latest_candidate

    assert latest_candidate(catalog_url) is None
    with session(catalog_url) as s:
        s.add_all([ModelCandidate(model_name=m, version=v, model_uri=f"models:/{m}/{v}")
                   for m, v in (("a", "1"), ("b", "1"), ("a", "2"), ("b", "2"), ("b", "3"))])
    assert latest_candidate(catalog_url) == ("b", "3")
    assert latest_candidate(catalog_url, "a") == ("a", "2")
    assert latest_candidate(catalog_url, "c") is None


@pytest.mark.integration
@pytest.mark.airflow
@pytest.mark.slow
def test_airflow_dags_test_promotes_a_clean_candidate(gate_world, dags_test):
    """`airflow dags test promote` with a manual version: the gate records pass and moves champion."""
    w, settings = gate_world, gate_world.settings
    version = w.candidate(GOOD)

    # Logical date 2026-11-08 12:00: newest training partition (11-05) ended 60 h before (policy: 72 h).
    airflow_db, log = dags_test(settings, "promote", "2026-11-08T12:00:00+00:00",
                                {"model_name": names.MODEL_NAME, "version": version})
    states = dict(rows(airflow_db, "SELECT task_id, state FROM task_instance WHERE dag_id = 'promote'"))
    assert states == {"gate": "success", "approve": "skipped"}, log[-4000:]  # nothing held for approval
    ((xcom,),) = rows(airflow_db, "SELECT value::text FROM xcom WHERE dag_id = 'promote' AND key = 'return_value'")
    summary = json.loads(xcom)
    assert summary["decision"] == "pass" and summary["champion_version"] == version, summary
    assert rows(settings.catalog_url(), "SELECT decision, actor FROM gate_decisions") == [
        ("pass", "airflow:promote")]
    assert w.aliases()[names.CHAMPION] == version
