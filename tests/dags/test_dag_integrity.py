"""DAG integrity and policies: every DAG file parses, cheaply, and follows the house rules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
HEAVY = ["torch", "transformers", "mlflow", "great_expectations", "pandas", "sqlalchemy", "pyarrow", "numpy"]

pytestmark = pytest.mark.airflow

#: Seconds a DAG file may take to parse (the DAG processor re-parses every file every 30 s).
PARSE_BUDGET_S = 0.5

_PROBE = r"""
import json, runpy, sys, time
from pathlib import Path
import airflow.sdk
from airflow.sdk import dag, task, Asset, Param  # noqa: F401  (what DAG files may use)
import airflow.models.connection, airflow.models.variable
import airflow.sdk.execution_time.context as sdk_context
heavy = %(heavy)r
secrets = []

def guard(owner, name, static):
    # A connection or Variable read at parse time: recorded, and refused like a down secrets backend.
    def refuse(*args, **kwargs):
        secrets.append(f"{getattr(owner, '__name__', owner)}.{name}")
        raise RuntimeError(f"parse-time secret access: {name}")
    setattr(owner, name, classmethod(lambda cls, *a, **k: refuse(*a, **k)) if static == "cls" else refuse)

for owner, name, how in [
    (airflow.sdk.Variable, "get", "cls"), (airflow.sdk.Connection, "get", "cls"),
    (airflow.sdk.BaseHook, "get_connection", "cls"),
    (airflow.models.variable.Variable, "get", "cls"),
    (airflow.models.connection.Connection, "get_connection_from_secrets", "cls"),
    (sdk_context, "_get_connection", "fn"), (sdk_context, "_get_variable", "fn"),
]:
    guard(owner, name, how)
path = Path(%(path)r)
before = set(sys.modules)
t0 = time.perf_counter()
try:
    runpy.run_path(str(path), run_name="__dag_probe__")
    error = None
except Exception as exc:  # reported, with the secrets it tried to read
    error = f"{type(exc).__name__}: {exc}"
elapsed = time.perf_counter() - t0
loaded = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in heavy)
print(json.dumps({"seconds": elapsed, "heavy": sorted({m.split(".")[0] for m in loaded}), "secrets": secrets,
                  "error": error}))
"""


def _probe(dags: Path) -> dict:
    """Parse each DAG file in a fresh interpreter (as the DAG processor's child does): seconds, heavy modules
    it imported, connections and Variables it tried to read."""
    out = {}
    for path in sorted(dags.glob("*.py")):
        code = _PROBE % {"heavy": HEAVY, "path": str(path)}
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-3000:]
        out[path.name] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


@pytest.fixture(scope="module")
def report() -> dict:
    return _probe(DAGS)


def test_dag_files_import_no_heavy_module_at_parse_time(report):
    assert report, "no DAG files found"
    assert {name: r["error"] for name, r in report.items() if r["error"]} == {}
    offenders = {name: r["heavy"] for name, r in report.items() if r["heavy"]}
    assert offenders == {}


def test_every_dag_file_parses_within_half_a_second(report):
    slow = {name: round(r["seconds"], 3) for name, r in report.items() if r["seconds"] > PARSE_BUDGET_S}
    assert slow == {}, f"DAG files slow to parse (budget {PARSE_BUDGET_S} s): {slow}"


def test_no_connection_or_variable_is_read_at_parse_time(report):
    assert {name: r["secrets"] for name, r in report.items() if r["secrets"]} == {}


def test_the_secret_check_catches_a_dag_reading_a_variable(tmp_path):
    """The check above must be able to fail: a Variable and a connection read at top level are reported."""
    (tmp_path / "bad.py").write_text(
        "from airflow.sdk import BaseHook, Variable\n"
        "try:\n    Variable.get('threshold')\nexcept RuntimeError:\n    pass\n"
        "BaseHook.get_connection('warehouse')\n"
    )
    bad = _probe(tmp_path)["bad.py"]
    assert bad["secrets"] == ["Variable.get", "BaseHook.get_connection"] and bad["error"]


def test_the_parse_budget_catches_a_slow_dag(tmp_path):
    (tmp_path / "slow.py").write_text("import time\ntime.sleep(0.6)\nfrom airflow.sdk import dag\n")
    assert _probe(tmp_path)["slow.py"]["seconds"] > PARSE_BUDGET_S


def test_heavy_import_check_catches_a_bad_dag(tmp_path):
    """The check above must be able to fail: a DAG importing pandas at top level is reported."""
    (tmp_path / "bad.py").write_text("import pandas\nfrom airflow.sdk import dag\n")
    assert "pandas" in _probe(tmp_path)["bad.py"]["heavy"]


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert len(dagbag.dags) >= 1


def test_dag_policies(dagbag):
    problems = []
    for dag_id, dag in dagbag.dags.items():
        if not (dag.doc_md and len(dag.doc_md.strip()) > 40):
            problems.append(f"{dag_id}: doc_md missing")
        if not dag.tags or "assay" not in dag.tags:
            problems.append(f"{dag_id}: needs the 'assay' tag")
        if dag.catchup:
            problems.append(f"{dag_id}: catchup must be off by default (backfill explicitly)")
        for t in dag.tasks:
            if t.owner in (None, "", "airflow"):
                problems.append(f"{dag_id}.{t.task_id}: set an owner")
            if (t.retries or 0) < 1:
                problems.append(f"{dag_id}.{t.task_id}: retries >= 1")
    assert problems == []
