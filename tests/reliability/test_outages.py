"""Outages: a source that cannot be reached, MLflow unreachable during training, PostgreSQL stopped mid-run.

* **Source unreachable**: a declared SQL source on a closed port of 127.0.0.1 (its password in
  the settings, never in the declaration). The inventory records the error against that source,
  naming it with the masked URL, and inventories the other sources; a rerun changes nothing stored.
* **MLflow unreachable during training**: the tiny model trained with the tracking URI on a closed
  port. A :class:`~assay.errors.TrainingError` names MLflow and the masked URL, the catalog records
  the failed attempt, no version is registered, no file is left in the state folder's training
  output (checkpoints, MLflow artifacts).
* **PostgreSQL stopped mid-run and restarted**: a second embedded server of the test's own (the
  shared test server is never stopped) holds the catalog and the source; ``assay profile`` waits
  on a table lock, the server is stopped under it. The CLI ends with one ``assay: error:`` line;
  after the restart the next run reaps the attempt (no row ``running``) and converges to the rows
  of an uninterrupted run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.db import execute, rows

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 11, 20)
SECRET = "s3cret-Pw"
ASSAY = str(Path(sys.executable).with_name("assay"))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _table(url: str, name: str, n: int = 50) -> None:
    execute(url, f"CREATE TABLE {name} (id int PRIMARY KEY, note text)")
    execute(url, f"INSERT INTO {name} SELECT g, 'note ' || g FROM generate_series(1, {n}) g")


def _catalog_rows(url: str) -> dict[str, list[tuple]]:
    """What inventory and profiling stored, without wall-clock columns."""
    return {
        "sources": rows(url, "SELECT id, name, kind, url_or_conn_id FROM sources ORDER BY id"),
        "assets": rows(url, "SELECT id, source_id, namespace, name, kind, status FROM assets ORDER BY id"),
        "columns": rows(url, "SELECT id, asset_id, name, data_type FROM asset_columns ORDER BY id"),
    }


# ---- source unreachable -------------------------------------------------------------------------
def test_unreachable_source_is_recorded_against_it_and_the_others_carry_on(
    fresh_db, catalog_url, tmp_path
) -> None:
    from assay.config import Settings
    from assay.errors import SourceError
    from assay.inventory import run_inventory

    live = fresh_db("live")
    _table(live, "orders")
    port = _closed_port()
    dead = f"postgresql+psycopg2://reader:{SECRET}@127.0.0.1:{port}/shop"
    decls = tmp_path / "sources.json"
    decls.write_text(
        json.dumps(
            {
                "sources": [
                    {
                        "name": "aaa_dead",
                        "kind": "sql",
                        "url_from": "shop",
                    },  # first: the others come after it
                    {"name": "live", "kind": "sql", "url": live},
                ]
            }
        )
    )
    settings = Settings(
        home=tmp_path / "state",
        database_url=catalog_url,
        sources_file=decls,
        shop_url=dead,
        landing_dir=tmp_path / "landing",
    )
    t0 = time.perf_counter()
    with pytest.raises(SourceError) as raised:
        run_inventory(settings, DAY, "test/outage", use_embeddings=False)
    seconds = time.perf_counter() - t0
    message = str(raised.value)
    assert "aaa_dead" in message and f"127.0.0.1:{port}" in message and SECRET not in message, message
    assert "aaa_dead: failed" in message and "live: success" in message, message
    assert "reader:***@127.0.0.1" in message and "refused" in message.lower(), message
    # recorded: the run failed with the source named, the live source's assets inventoried
    ((status, error, stats),) = rows(catalog_url, "SELECT status, error, stats::text FROM inventory_runs")
    assert status == "failed" and "aaa_dead" in error and f"127.0.0.1:{port}" in error
    assert SECRET not in error + stats
    stored = _catalog_rows(catalog_url)
    assert [(ns, name) for _, _, ns, name, _, _ in stored["assets"]] == [("public", "orders")]
    assert {name for _, _, name, _ in stored["columns"]} == {"id", "note"}
    assert all(SECRET not in str(r) for r in stored["sources"])
    assert rows(catalog_url, "SELECT count(*) FROM inventory_runs WHERE status = 'running'") == [(0,)]
    # a rerun of the same key: the same error, nothing stored lost or duplicated
    with pytest.raises(SourceError):
        run_inventory(settings, DAY, "test/outage", use_embeddings=False)
    assert _catalog_rows(catalog_url) == stored
    # Fail fast, not after minutes of retries; loose enough for a loaded 2-core CI runner.
    assert seconds < 60, f"an unreachable source took {seconds:.1f} s"


# ---- MLflow unreachable during training ---------------------------------------------------------
def _files_under(folder: Path) -> list[str]:
    return (
        sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        if folder.exists()
        else []
    )


def test_mlflow_unreachable_fails_training_clearly_and_records_the_attempt(
    isolated_settings, tiny, tmp_path
) -> None:
    from assay.errors import TrainingError
    from assay.training.config import TrainConfig
    from assay.training.request import TrainRequest
    from assay.training.run import checkpoint_root, train_candidate

    port = _closed_port()
    uri = f"postgresql+psycopg2://mlflow:{SECRET}@127.0.0.1:{port}/mlflow"
    settings = isolated_settings.model_copy(update={"home": tmp_path / "state", "mlflow_tracking_uri": uri})
    built: list[str] = []

    def build(*_a: Any, **_k: Any) -> Any:
        built.append("called")  # never reached: nothing is read before MLflow answers
        raise AssertionError("the training set was built with MLflow unreachable")

    config = TrainConfig(base_model=tiny, epochs=1, batch_size=8, progress=False)
    request = TrainRequest(window_end=DAY, days=14, run_key="test/mlflow-down", config=config)
    t0 = time.perf_counter()
    with pytest.raises(TrainingError) as raised:
        train_candidate(settings, request, build=build)
    seconds = time.perf_counter() - t0
    message = str(raised.value)
    assert "MLflow" in message and f"mlflow:***@127.0.0.1:{port}/mlflow" in message, message
    assert SECRET not in message and "\n" not in message.strip(), message
    assert built == []
    catalog = settings.catalog_url()
    runs = rows(catalog, "SELECT run_key, status, error, model_uri FROM training_runs")
    assert len(runs) == 1, runs
    run_key, status, error, model_uri = runs[0]
    assert (run_key, status, model_uri) == ("test/mlflow-down", "failed", None)
    assert "MLflow" in error and SECRET not in error
    assert rows(catalog, "SELECT count(*) FROM model_candidates") == [(0,)]
    assert _files_under(checkpoint_root(settings)) == [] and _files_under(settings.mlflow_artifacts) == []
    # MLflow's own retries take ~115 s; assay checks first and fails well before (loose for a loaded CI).
    assert seconds < 90, f"MLflow unreachable took {seconds:.1f} s to report"
    # a retry of the same key while MLflow is still down: one attempt row, not two
    with pytest.raises(TrainingError):
        train_candidate(settings, request, build=build)
    assert len(rows(catalog, "SELECT id FROM training_runs")) == 1


# ---- PostgreSQL stopped mid-run and restarted ---------------------------------------------------
@pytest.fixture
def own_server() -> Iterator[Any]:
    """A second embedded server in a short temporary folder (the shared test server keeps running)."""
    from assay.catalog import migrate
    from assay.config import Settings
    from assay.db import embedded

    folder = Path(tempfile.mkdtemp(prefix="assay-pg-"))
    folder.chmod(0o755)  # as root, the server runs as the pgserver user
    settings = Settings(
        home=folder / "state", sources_file=folder / "sources.json", landing_dir=folder / "landing"
    )
    try:
        state = embedded.up(settings)
        migrate.upgrade(settings.catalog_url(), "head")
        settings.sources_file.write_text(
            json.dumps({"sources": [{"name": "shop", "kind": "sql", "url_from": "shop"}]})
        )
        for table in ("alpha", "beta"):
            _table(state.url("shop"), table, n=200)
        yield settings, state
    finally:
        embedded.down(settings)
        shutil.rmtree(folder, ignore_errors=True)


def _profile_records(url: str) -> dict[str, tuple]:
    """Per table: the profile record (the current attempt) and its metrics, without dates, times, ids and run keys."""
    runs = rows(
        url,
        """
        SELECT a.name, r.status, r.error, r.row_count, r.status = 'running',
               (SELECT jsonb_object_agg(m.column_name, m.metrics - 'profiled_at')
                FROM column_metrics m WHERE m.profile_run_id = r.id)::text
        FROM profile_runs r JOIN profile_current c ON c.profile_run_id = r.id
        JOIN assets a ON a.id = r.asset_id WHERE r.logical_date = :d""",
        d=NEXT,
    )
    return {name: rest for name, *rest in runs}


NEXT = DAY + dt.timedelta(days=1)


def test_postgresql_stopped_mid_profile_is_one_line_and_a_rerun_after_restart_converges(own_server) -> None:
    import psycopg2

    from assay.db import embedded
    from assay.inventory import run_inventory
    from assay.profiling import run_profile

    settings, state = own_server
    catalog = settings.catalog_url()
    run_inventory(settings, DAY, "test/setup", use_embeddings=False)
    env = {
        **os.environ,
        "ASSAY_HOME": str(settings.state_dir),
        "ASSAY_SOURCES_FILE": str(settings.sources_file),
        "ASSAY_LANDING_DIR": str(settings.landing_dir),
    }
    env.pop("ASSAY_DATABASE_URL", None)
    # the run waits on alpha, locked by the test, when the server stops under it
    locker = psycopg2.connect(dbname="shop", user="postgres", host=state.socket_dir)
    with locker.cursor() as cur:
        cur.execute("LOCK TABLE alpha IN ACCESS EXCLUSIVE MODE")
    proc = subprocess.Popen(
        [ASSAY, "profile", "--date", NEXT.isoformat()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while rows(
            state.url("shop"), "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'relation'"
        ) == [(0,)]:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the profile never reached alpha"
            time.sleep(0.2)
        in_flight = rows(catalog, "SELECT count(*) FROM profile_runs WHERE status = 'running'")  # an attempt row
        t0 = time.perf_counter()
        assert embedded.down(settings)
        out, err = proc.communicate(timeout=120)
        seconds = time.perf_counter() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
        locker.close()
    assert in_flight == [(1,)]
    assert proc.returncode == 2 and "Traceback" not in out + err, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("assay: error:")]
    assert len(errors) == 1 and err.rstrip().splitlines()[-1] == errors[0], err[-3000:]
    # the catalog is named as such although the stopped server's state file is gone
    assert errors[0].startswith(
        "assay: error: catalog database unreachable (postgresql+psycopg2://assay_writer@"
    ), errors[0]
    print(f"\nserver stopped mid-profile: the CLI ended {seconds:.1f} s later with: {errors[0][:200]}")
    # restart: the interrupted attempt is still marked; the next run reaps it and converges
    state = embedded.up(settings)
    left = rows(
        catalog,
        "SELECT count(*) FROM profile_runs WHERE status = 'running'",
    )
    run_profile(settings, NEXT, f"cli/{NEXT}")
    assert rows(
        catalog,
        "SELECT count(*) FROM profile_runs WHERE status = 'running'",
    ) == [(0,)]
    after = _profile_records(catalog)
    assert sorted(after) == ["alpha", "beta"] and all(r[0] == "success" for r in after.values()), after
    # the same rows as an uninterrupted run of the same day
    execute(
        catalog,
        "DELETE FROM column_metrics WHERE profile_run_id IN (SELECT id FROM profile_runs WHERE logical_date = :d)",
        d=NEXT,
    )
    execute(catalog, "DELETE FROM anomalies WHERE logical_date = :d", d=NEXT)
    execute(catalog, "DELETE FROM profile_runs WHERE logical_date = :d", d=NEXT)
    run_profile(settings, NEXT, f"cli/{NEXT}")
    assert _profile_records(catalog) == after
    print(f"rows marked in progress after the restart, before the rerun: {left[0][0]}")


def test_mlflow_lost_mid_run_still_records_the_failed_attempt(
    isolated_settings, tiny, tmp_path, pg_server
) -> None:
    """The MLflow store goes away after the run started: the failure is recorded, nothing registered."""
    import psycopg2
    from sqlalchemy.engine import make_url

    from assay.errors import TrainingError
    from assay.training.config import TrainConfig
    from assay.training.request import TrainRequest
    from assay.training.run import checkpoint_root, train_candidate

    settings = isolated_settings.model_copy(update={"home": tmp_path / "state"})
    store = make_url(settings.mlflow_uri()).database

    def build(*_a: Any, **_k: Any) -> Any:
        admin = psycopg2.connect(dbname="postgres", user="postgres", host=pg_server.socket_dir)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE "{store}" WITH (FORCE)')
        admin.close()
        raise TrainingError("the training set could not be built: MLflow's store is gone")

    config = TrainConfig(base_model=tiny, epochs=1, batch_size=8, progress=False)
    request = TrainRequest(window_end=DAY, days=14, run_key="test/mlflow-lost", config=config)
    with pytest.raises(TrainingError, match="MLflow's store is gone"):
        train_candidate(settings, request, build=build)
    runs = rows(settings.catalog_url(), "SELECT run_key, status, error, model_uri FROM training_runs")
    assert len(runs) == 1 and runs[0][:2] == ("test/mlflow-lost", "failed") and runs[0][3] is None, runs
    assert "MLflow's store is gone" in runs[0][2]
    assert rows(settings.catalog_url(), "SELECT count(*) FROM model_candidates") == [(0,)]
    assert _files_under(checkpoint_root(settings)) == []
