"""The `promote` DAG: structure, the task's glue, and `airflow dags test` end to end on scratch stores."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from assay import names

ROOT = Path(__file__).resolve().parents[2]


def _gate_world_module():
    """The evidence builders of tests/integration/test_gate_run.py (one copy of that code)."""
    spec = importlib.util.spec_from_file_location("gate_world", ROOT / "tests/integration/test_gate_run.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def promote_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "promote.py"))
    assert bag.import_errors == {}
    return bag.dags["promote"]


@pytest.mark.airflow
def test_structure(promote_dag):
    assert [t.task_id for t in promote_dag.tasks] == ["gate"]
    assert names.CANDIDATE_URI in str(promote_dag.timetable.asset_condition)
    assert set(promote_dag.params.keys()) == {"model_name", "version", "dry_run"}
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


@pytest.mark.integration
@pytest.mark.airflow
@pytest.mark.slow
def test_airflow_dags_test_promotes_a_clean_candidate(isolated_settings, scratch_db, fresh_db, tmp_path):
    """`airflow dags test promote` with a manual version: the gate records pass and moves champion."""
    from mlflow import MlflowClient

    gw = _gate_world_module()
    with scratch_db("pdshop") as shop:
        gw.fill_shop(shop, drifted=False)
        settings = isolated_settings.model_copy(update={"shop_url": shop})
        w = gw.World(settings, MlflowClient(tracking_uri=settings.mlflow_uri(), registry_uri=settings.mlflow_uri()),
                     tmp_path / "artifacts")
        from assay.catalog.db import session
        from assay.catalog.models import Asset, Source

        with session(settings.catalog_url()) as s:
            src = Source(name="shop", kind="sql", url_or_conn_id="settings:shop")
            s.add(src)
            s.flush()
            for t in gw.TABLES:
                a = Asset(source_id=src.id, namespace="public", name=t, kind="table", location=f"public.{t}")
                s.add(a)
                s.flush()
                w.asset_ids[t] = int(a.id)
        version = w.candidate(gw.GOOD)

        airflow_db = fresh_db("pdaf")
        bin_dir = Path(sys.executable).parent
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_db,
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "ASSAY_HOME": str(tmp_path / "state"),
            "ASSAY_DATABASE_URL": settings.catalog_url(),
            "ASSAY_SHOP_URL": shop,
            "MLFLOW_TRACKING_URI": settings.mlflow_uri(),
        }
        migrated = subprocess.run([bin_dir / "airflow", "db", "migrate"], env=env, capture_output=True, text=True,
                                  timeout=300)
        assert migrated.returncode == 0, migrated.stderr[-2000:]
        # Logical date 2026-11-08 12:00: newest training partition (11-05) ended 60 h before (policy: 72 h).
        run = subprocess.run(
            [bin_dir / "airflow", "dags", "test", "promote", "2026-11-08T12:00:00+00:00",
             "-c", json.dumps({"model_name": names.MODEL_NAME, "version": version})],
            env=env, capture_output=True, text=True, timeout=600,
        )
        log = run.stdout + run.stderr
        states = dict(gw.rows(airflow_db, "SELECT task_id, state FROM task_instance WHERE dag_id = 'promote'"))
        assert states == {"gate": "success"}, log[-4000:]
        ((xcom,),) = gw.rows(airflow_db, "SELECT value::text FROM xcom WHERE dag_id = 'promote' AND key = 'return_value'")
        summary = json.loads(xcom)
        assert summary["decision"] == "pass" and summary["champion_version"] == version, summary
        assert gw.rows(settings.catalog_url(), "SELECT decision, actor FROM gate_decisions") == [
            ("pass", "airflow:promote")]
        assert w.aliases()[names.CHAMPION] == version
