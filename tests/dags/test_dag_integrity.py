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

_PROBE = r"""
import json, runpy, sys, time
from pathlib import Path
import airflow.sdk
from airflow.sdk import dag, task, Asset, Param  # noqa: F401  (what DAG files may use)
heavy = %(heavy)r
out = {}
for path in sorted(Path(%(dags)r).glob("*.py")):
    before = set(sys.modules)
    t0 = time.perf_counter()
    runpy.run_path(str(path), run_name="__dag_probe__")
    elapsed = time.perf_counter() - t0
    loaded = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in heavy)
    out[path.name] = {"seconds": elapsed, "heavy": sorted({m.split(".")[0] for m in loaded})}
print(json.dumps(out))
"""


def _probe(dags: Path) -> dict:
    code = _PROBE % {"heavy": HEAVY, "dags": str(dags)}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_dag_files_import_no_heavy_module_at_parse_time():
    report = _probe(DAGS)
    assert report, "no DAG files found"
    offenders = {name: r["heavy"] for name, r in report.items() if r["heavy"]}
    assert offenders == {}
    slow = {name: round(r["seconds"], 2) for name, r in report.items() if r["seconds"] > 2.0}
    assert slow == {}, f"DAG files slow to parse: {slow}"


def test_heavy_import_check_catches_a_bad_dag(tmp_path):
    """The check above must be able to fail: a DAG importing pandas at top level is reported."""
    (tmp_path / "bad.py").write_text("import pandas\nfrom airflow.sdk import dag\n")
    report = _probe(tmp_path)
    assert "pandas" in report["bad.py"]["heavy"]


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
