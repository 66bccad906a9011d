"""An `airflow standalone` deployment of its own, for tests of the whole chain under a scheduler (#14.7).

Every store is a fresh database on the embedded test server (catalog migrated, shop empty until the
test seeds it, MLflow, Airflow's metadata), the state folder is the test's, and the port is apart
from the other standalone test's. The deployment's ``airflow_local_settings.py`` is a cluster
policy, the way an Airflow operator sizes a deployment without editing DAG files: ``train``'s
Param defaults name the tiny test model and a few steps (an asset-triggered run has no form to
fill), and ``wait_for_data`` polls every few seconds instead of every 5 minutes.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from assay.config import Settings

#: API port of the chain's standalone (+1, +2: its log servers); test_standalone_days uses 18082.
PORT = 18092
#: The five DAGs of the chain, in the order the assets start them.
CHAIN = ("inventory", "profile", "quality", "train", "promote")
#: Seconds between two looks of the arrival trigger in this deployment (product default: 300).
POLL_SECONDS = 5

_LOCAL_SETTINGS = '''"""The chain test's deployment policy (written by tests/support/standalone.py)."""
import json

from airflow.sdk import Param

TRAIN_DEFAULTS = json.loads({train!r})
POLL_SECONDS = {poll}


def dag_policy(dag):
    """``train``: the test's tiny training as the Param defaults (DAG and task params alike)."""
    if dag.dag_id != "train":
        return
    for holder in (dag, *dag.tasks):
        for key, value in TRAIN_DEFAULTS.items():
            if key in holder.params:
                old = holder.params.get_param(key)
                holder.params[key] = Param(value, description=old.description, schema=dict(old.schema))


def task_policy(task):
    """The arrival sensors look again every few seconds (the test seeds a day while they wait)."""
    if task.task_id == "wait_for_data" and hasattr(task, "poll_seconds"):
        task.poll_seconds = POLL_SECONDS
'''


@dataclass
class Deployment:
    """A running standalone: its settings, the REST client's APIs and the stores' URLs."""

    settings: Settings
    token: str
    api: Any  # airflow_client.client.ApiClient
    catalog_url: str
    shop_url: str
    mlflow_uri: str
    airflow_db: str

    def dags(self) -> Any:
        from airflow_client import client

        return client.DAGApi(self.api)

    def runs(self) -> Any:
        from airflow_client import client

        return client.DagRunApi(self.api)

    def task_instances(self) -> Any:
        from airflow_client import client

        return client.TaskInstanceApi(self.api)

    def backfills(self) -> Any:
        from airflow_client import client

        return client.BackfillApi(self.api)

    def log_tail(self, dag_id: str, run_id: str, task_id: str, chars: int = 4000) -> str:
        """The end of the newest try's log of one task (Airflow's file task handler)."""
        folder = self.settings.airflow_home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        tries = sorted(folder.glob("attempt=*.log"), key=lambda p: p.stat().st_mtime)
        if not tries:
            return f"(no log under {folder})"
        return _readable_log(tries[-1].read_text(errors="replace"))[-chars:]

    def failure_report(self, dag_id: str, run_id: str) -> str:
        """Each task of a run that did not succeed, with its log's last lines."""
        lines = [f"{dag_id} / {run_id}:"]
        for ti in self.task_instances().get_task_instances(dag_id, run_id).task_instances:
            state = state_of(ti.state)
            lines.append(f"  {ti.task_id}: {state} (try {ti.try_number})")
            if state in ("failed", "up_for_retry", "upstream_failed"):
                lines.append(self.log_tail(dag_id, run_id, ti.task_id))
        return "\n".join(lines)


def state_of(value: Any) -> str | None:
    """A state of the client's models as its plain string (they are enums)."""
    return None if value is None else str(getattr(value, "value", value))


def _readable_log(text: str) -> str:
    """Airflow 3 writes JSON lines; keep level and event of each, plus any error detail."""
    out = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            out.append(line)
            continue
        if not isinstance(entry, dict):
            out.append(line)
            continue
        msg = f"{entry.get('level', '')} {entry.get('event', '')}".strip()
        if entry.get("error_detail"):
            msg += f" {json.dumps(entry['error_detail'])[:3000]}"
        out.append(msg)
    return "\n".join(out)


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 5.0,
             report: Callable[[], str] | None = None) -> Any:
    """``check()`` until it returns something truthy; fail naming ``what`` (and ``report()``) after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s\n{report() if report else ''}")
        time.sleep(interval)


@pytest.fixture
def chain_deployment(settings: Settings, fresh_db: Callable[[str], str], tiny: str, tmp_path: Path) -> Iterator[Deployment]:
    """``airflow standalone`` on fresh stores (shop empty), the `gpu` pool created, every DAG paused."""
    from airflow_client import client

    from assay.catalog import migrate
    from assay.ops import airflow
    from assay.training.run import ensure_gpu_pool

    catalog, shop, mlflow_uri, airflow_db = (fresh_db(p) for p in ("chcat", "chshop", "chml", "chaf"))
    migrate.upgrade(catalog, "head")
    s = settings.model_copy(update={
        "home": tmp_path / "state", "database_url": catalog, "shop_url": shop, "shop_reader_url": None,
        "mlflow_tracking_uri": mlflow_uri, "airflow_sql_alchemy_conn": airflow_db, "airflow_port": PORT,
        "landing_dir": None, "judgments_dir": None,
    })
    # No landing folder is made here: `standalone_up` makes assay's own, as on a clean clone.
    config = s.airflow_home / "config"
    config.mkdir(parents=True, exist_ok=True)
    train = {"base_model": tiny, "epochs": 1, "max_steps": 4, "batch_size": 8, "max_queries": 40,
             "teacher_weight": 0.0}
    (config / "airflow_local_settings.py").write_text(
        _LOCAL_SETTINGS.format(train=json.dumps(train), poll=POLL_SECONDS))

    airflow.standalone_up(s, timeout=600)
    try:
        token = airflow.rest_token(s)
        ensure_gpu_pool(s)
        api = client.ApiClient(client.Configuration(host=f"http://127.0.0.1:{PORT}", access_token=token))
        yield Deployment(s, token, api, catalog, shop, mlflow_uri, airflow_db)
    finally:
        airflow.standalone_down(s)


@pytest.fixture
def last_day() -> dt.date:
    """The last day that has ended (UTC): the day unpausing ``inventory`` runs."""
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
