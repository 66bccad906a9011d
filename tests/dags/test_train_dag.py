"""The train DAG: wiring (asset schedule, params, gpu queue and pool, CANDIDATE outlet) and a real
`airflow dags test train <day>` on a seeded, quality-checked scratch shop with a tiny BERT."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from support.airflow import load_dag
from support.db import rows

from assay import names

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def dag():
    return load_dag("train")


def test_scheduled_on_validated_with_params_and_policies(dag):
    assert names.VALIDATED_URI in str(dag.timetable.asset_condition)
    assert not dag.catchup and "assay" in dag.tags and len(dag.doc_md) > 40
    assert set(dag.params) == {
        "window_end", "days", "epochs", "max_steps", "batch_size", "max_queries", "base_model", "nproc",
        "allow_unvalidated", "teacher_weight",
    }
    assert dag.params["days"] == 14 and dag.params["allow_unvalidated"] is False


def test_training_task_runs_on_the_gpu_queue_and_pool_and_publish_emits_candidate(dag):
    train_task, publish = dag.get_task("train_model"), dag.get_task("publish")
    assert train_task.queue == names.GPU_QUEUE and train_task.pool == "gpu"
    assert publish.queue != names.GPU_QUEUE
    assert [o.uri for o in publish.outlets] == [names.CANDIDATE_URI]
    assert train_task.outlets == [] and train_task.retries >= 1
    assert publish.upstream_task_ids == {"train_model"}


def test_every_param_is_a_training_option_and_builds_the_request(dag):
    """The DAG's Params (as the trigger form sends them) become one TrainRequest: each Param names a
    request or TrainConfig field, null/empty keep the defaults, empty window_end is the partition."""
    import dataclasses

    from assay.training.config import DEFAULT_CONFIG
    from assay.training.request import TrainRequest

    defaults = {name: param.value for name, param in dag.params.items()}
    request = TrainRequest.from_params(defaults, date(2026, 11, 20), run_key="train/r1")
    assert request == TrainRequest(window_end=date(2026, 11, 20), run_key="train/r1", config=DEFAULT_CONFIG)
    form = {**defaults, "epochs": 2, "max_steps": 0, "allow_unvalidated": True, "nproc": 2, "teacher_weight": 0.0,
            "window_end": "2026-11-18"}
    request = TrainRequest.from_params(form, date(2026, 11, 20), run_key="train/r1")
    assert (request.window_end, request.nproc, request.allow_unvalidated) == (date(2026, 11, 18), 2, True)
    assert request.config == dataclasses.replace(DEFAULT_CONFIG, epochs=2, max_steps=None, teacher_weight=0.0)
    assert TrainRequest.from_json(request.to_json()) == request


@pytest.mark.integration
@pytest.mark.slow
def test_dags_test_trains_registers_and_emits_candidate(seeded_world, mlflow_uri, dags_test, tmp_path):
    """`airflow dags test train` with no `gpu` pool defined: Airflow 3.3's dags test runs it anyway."""
    from assay.quality import run_quality
    from assay.seed import SeedConfig
    from assay.training.testing import make_tiny_model

    start, days = date(2026, 11, 1), 2
    end = start + timedelta(days=days - 1)
    world = seeded_world("train", SeedConfig(start_date=start, days=days))
    settings, catalog = world.settings, world.catalog_url
    for k in range(days):
        day = start + timedelta(days=k)
        run_quality(settings, day, f"test/{day}", assets=["products", "search_sessions", "impressions",
                                                            "interactions"], raise_on_failure=False)
    tiny = make_tiny_model(tmp_path / "tiny")

    conf = {"base_model": str(tiny), "days": days, "max_steps": 20, "batch_size": 8}
    airflow_db, log = dags_test(settings.model_copy(update={"mlflow_tracking_uri": mlflow_uri}), "train",
                                end.isoformat(), conf, timeout=900)
    states = dict(rows(airflow_db, "SELECT task_id, state FROM task_instance WHERE dag_id = 'train'"))
    assert states == {"train_model": "success", "publish": "success"}, log[-4000:]

    ((xcom,),) = rows(airflow_db, "SELECT value::text FROM xcom WHERE dag_id = 'train' AND task_id = 'train_model' AND key = 'return_value'")
    ids = json.loads(xcom)
    ids = json.loads(ids) if isinstance(ids, str) else ids
    assert set(ids) == {"run_id", "model_uri", "model_name", "version", "dataset_digest", "logical_date"}
    assert ids["version"] == "1" and ids["model_uri"] == f"models:/{names.MODEL_NAME}/1"
    assert ids["logical_date"] == end.isoformat()

    ((extra,),) = rows(airflow_db, "SELECT e.extra::text FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                                   f"WHERE a.uri = '{names.CANDIDATE_URI}'")
    assert json.loads(extra) == {"model_name": names.MODEL_NAME, "version": "1", "run_id": ids["run_id"],
                                 "logical_date": end.isoformat()}
    assert rows(catalog, "SELECT status, run_key LIKE 'train/%' FROM training_runs") == [("success", True)]
    assert rows(catalog, "SELECT model_name, version FROM model_candidates") == [(names.MODEL_NAME, "1")]
