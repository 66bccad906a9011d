"""Airflow in tests: one DAG file's DAG, and ``airflow dags test`` in a subprocess.

The subprocess gets the environment assay gives every Airflow process it starts
(``Settings.airflow_env()``), on a fresh metadata database and a state folder of the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest

if TYPE_CHECKING:
    from airflow.sdk import DAG

    from assay.config import Settings

DAGS = Path(__file__).resolve().parents[2] / "dags"
#: The ``airflow`` script of the interpreter running the tests (the project venv).
AIRFLOW = Path(sys.executable).with_name("airflow")


def load_dag(dag_id: str) -> DAG:
    """The DAG ``dag_id`` parsed from its own file ``dags/<dag_id>.py``, which must import cleanly."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py"))
    assert bag.import_errors == {}
    return bag.dags[dag_id]


@pytest.fixture(scope="module")
def assay_plugin() -> Iterator[None]:
    """Airflow's plugin manager loading ``plugins/``, as every Airflow process assay starts does.

    The daily DAGs' timetable is a custom one: Airflow serialises it only when a plugin registers it.
    """
    from airflow import plugins_manager, settings

    cached = [f for f in vars(plugins_manager).values() if callable(getattr(f, "cache_clear", None))]
    before = settings.PLUGINS_FOLDER
    settings.PLUGINS_FOLDER = str(DAGS.parent / "plugins")
    for f in cached:
        f.cache_clear()
    try:
        yield
    finally:
        settings.PLUGINS_FOLDER = before
        for f in cached:
            f.cache_clear()


class DagsTest(NamedTuple):
    """What ``airflow dags test`` left: its metadata database and its output (stdout + stderr)."""

    airflow_db: str
    log: str


DagsTestRunner = Callable[..., DagsTest]


@pytest.fixture
def dags_test(fresh_db: Callable[[str], str], tmp_path: Path) -> DagsTestRunner:
    """Runner: ``dags_test(settings, "quality", "2026-11-02", conf=None, timeout=600)``.

    Airflow gets ``settings.airflow_env()`` with a fresh metadata database (migrated first) and
    ``tmp_path/state`` as the state folder; ``settings`` must name every store (catalog, shop,
    MLflow). The run's exit code is not checked: tests assert on the task states it recorded.
    """

    def run(settings: Settings, dag_id: str, logical_date: str, conf: dict[str, Any] | None = None,
            *, timeout: int = 600) -> DagsTest:
        airflow_db = fresh_db(f"{dag_id[:6]}af")
        ours = settings.model_copy(update={"home": tmp_path / "state", "airflow_sql_alchemy_conn": airflow_db})
        # ASSAY_LANDING_DIR is not part of airflow_env(): the landing folder follows the state folder there.
        env = {**os.environ, **ours.airflow_env(), "ASSAY_LANDING_DIR": str(ours.landing)}
        migrated = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
        assert migrated.returncode == 0, migrated.stderr[-2000:]
        args = [AIRFLOW, "dags", "test", dag_id, logical_date, *(["-c", json.dumps(conf)] if conf is not None else [])]
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
        return DagsTest(airflow_db, done.stdout + done.stderr)

    return run
