"""The console of a command run through its real entry point (``.venv/bin/assay``), issue #16 target 7.

The console shows stages, progress and problems; Airflow's and the libraries' INFO records go to
``<state>/logs/<command>-<time>.log``, whose path ``assay demo`` prints; ``-v`` shows them again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

ASSAY = str(Path(sys.executable).with_name("assay"))
#: A record alembic logs at INFO on every migration: a library record.
ALEMBIC_INFO = "Context impl PostgresqlImpl."

# A stand-in for the first pipeline DAG: a task that logs progress, library chatter and an assay warning.
PROBE_DAG = textwrap.dedent('''
    import datetime
    import logging

    from airflow.sdk import dag, task


    @dag(dag_id="catalog_maintenance", schedule=None, start_date=datetime.datetime(2026, 1, 1))
    def probe():
        @task
        def work():
            logging.getLogger("assay.progress.catalog_maintenance").info("probe: 1/2 items done")
            logging.getLogger("great_expectations.probe").info("library chatter 4711")
            logging.getLogger("assay.probe").warning("assay warning 4712")

        work()


    probe()
''')


def _run(args: list[str], env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([ASSAY, *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"exit {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    return res


def _logs(home: Path, command: str) -> list[Path]:
    return sorted((home / "logs").glob(f"{command}-*.log"))


@pytest.mark.integration
def test_library_records_go_to_the_log_file_and_v_brings_them_back(
    fresh_db: Callable[[str], str], tmp_path: Path
) -> None:
    home = tmp_path / "state"
    env = {**os.environ, "ASSAY_HOME": str(home), "ASSAY_DATABASE_URL": fresh_db("console"), "ASSAY_LOG_LEVEL": "INFO"}
    env.pop("ASSAY_VERBOSE", None)

    quiet = _run(["catalog", "migrate"], env)
    assert ALEMBIC_INFO not in quiet.stdout + quiet.stderr, quiet.stderr
    assert quiet.stderr == ""  # no record reached the console: nothing went wrong, nothing to show
    assert quiet.stdout.startswith("catalog at revision ")
    (log,) = _logs(home, "catalog-migrate")
    assert ALEMBIC_INFO in log.read_text()
    assert (log.stat().st_mode & 0o777, log.parent.stat().st_mode & 0o777) == (0o600, 0o700)

    loud = _run(["-v", "catalog", "migrate"], env)
    assert ALEMBIC_INFO in loud.stderr and "INFO alembic.runtime.migration" in loud.stderr
    assert len(_logs(home, "catalog-migrate")) == 2  # the file gets them too

    by_setting = _run(["catalog", "migrate"], {**env, "ASSAY_VERBOSE": "1"})
    assert ALEMBIC_INFO in by_setting.stderr


@pytest.mark.integration
@pytest.mark.airflow
@pytest.mark.slow
def test_demo_console_shows_stages_progress_and_the_log_path_only(
    fresh_db: Callable[[str], str], catalog_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "project"
    (root / "dags").mkdir(parents=True)
    (root / "plugins").mkdir()
    (root / "dags" / "catalog_maintenance.py").write_text(PROBE_DAG)
    home = tmp_path / "state"
    env = {
        **os.environ,
        "ASSAY_HOME": str(home),
        "ASSAY_PROJECT_ROOT": str(root),
        "ASSAY_DATABASE_URL": catalog_url,
        "ASSAY_SHOP_URL": fresh_db("cshop"),
        "MLFLOW_TRACKING_URI": fresh_db("cmlf"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": fresh_db("caf"),
        "ASSAY_LOG_LEVEL": "INFO",
    }
    env.pop("ASSAY_VERBOSE", None)

    res = _run(["demo"], env, timeout=900)
    console = res.stdout + res.stderr
    (log,) = _logs(home, "demo")
    logged = log.read_text()
    # The stages and their times, the progress of the task (its own line and the relay's task lines).
    assert "==> catalog_maintenance (2026-11-20)" in res.stdout
    assert "catalog_maintenance done in " in res.stdout
    assert "  probe: 1/2 items done" in res.stderr
    assert "catalog_maintenance: task work started" in res.stderr
    assert "catalog_maintenance: task work done (" in res.stderr
    assert "WARNING assay.probe: assay warning 4712" in res.stderr  # assay's own warnings stay visible
    # The log path, at the start and at the end.
    assert res.stdout.count(str(log)) == 2, res.stdout
    # Airflow's and the libraries' records: in the file, not on the console.
    for chatter in ("library chatter 4711", "[DAG TEST] starting task_id=work", "Database migration done"):
        assert chatter in logged, chatter
        assert chatter not in console, chatter
    assert "INFO airflow." not in console and "[info" not in console
    # Stages, progress, the summary: a screenful, not thousands of records.
    assert len(console.splitlines()) < 60, console
