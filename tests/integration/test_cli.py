"""The `assay` CLI as people and make use it: real subprocesses, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ASSAY = str(Path(sys.executable).with_name("assay"))


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ASSAY, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def test_db_url_and_status_use_the_running_server(pg_server):
    res = _run("db", "url", "shop")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == pg_server.url("shop")
    assert _run("db", "status").returncode == 0


def test_unknown_database_name_is_a_clear_error(pg_server):
    res = _run("db", "url", "nope")
    assert res.returncode == 2
    assert "unknown database 'nope'" in res.stderr
    assert "Traceback" not in res.stderr


def test_unreachable_catalog_url_fails_fast_with_masked_url():
    res = _run(
        "catalog",
        "migrate",
        env={"ASSAY_DATABASE_URL": "postgresql+psycopg2://svc:hunter2@localhost/assay?host=/nonexistent-socket-dir"},
    )
    assert res.returncode == 2
    assert "assay: error:" in res.stderr
    assert "hunter2" not in res.stderr + res.stdout
    assert "***" in res.stderr
    assert "Traceback" not in res.stderr


def test_catalog_migrate_is_idempotent(pg_server):
    first = _run("catalog", "migrate")
    second = _run("catalog", "migrate")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.strip().splitlines()[-1] == second.stdout.strip().splitlines()[-1]
    assert "catalog at revision" in second.stdout


def test_env_prints_exports_a_shell_can_eval(pg_server):
    res = _run("env")
    assert res.returncode == 0
    out = subprocess.run(
        ["bash", "-c", f'eval "$({ASSAY} env)" && echo "$AIRFLOW_HOME|$AIRFLOW__CORE__EXECUTOR"'],
        capture_output=True, text=True, env=os.environ.copy(), timeout=60,
    )
    home, executor = out.stdout.strip().split("|")
    assert home.endswith("airflow") and executor == "LocalExecutor"
