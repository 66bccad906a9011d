"""Faults: runs interrupted by ``kill -9`` and databases that go away mid-run.

* Interrupted runs (inventory, profile, quality): a real process is stopped in the middle of an
  attempt (it waits on a lock the test holds, so the kill lands mid-run every time), killed with
  SIGKILL, and the next run of the stage reaps the attempt: no row stays ``running``, the reason is
  recorded, and a successful record of the same key is intact while the new attempt ran and after
  it died.
* Database loss: the ``assay`` CLI with the catalog on a closed port, or with the catalog dropped
  (``DROP DATABASE ... WITH (FORCE)``) while a run waits, ends with one ``assay: error:`` line and
  exit status 2: no traceback, no password. A source connection terminated mid-statement is
  recorded against its asset and the run goes on.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.db import rows

from assay.config import Settings

pytestmark = pytest.mark.integration

ASSAY = str(Path(sys.executable).with_name("assay"))
DAY = dt.date(2026, 11, 20)
NEXT = DAY + dt.timedelta(days=1)
#: Seconds a process may take to reach the lock the test holds (imports, catalog reads).
REACH_S = 120


@dataclass(frozen=True)
class World:
    """A source database with two small tables, a migrated catalog, and settings naming both."""

    settings: Settings
    catalog: str
    source: str
    folder: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of an ``assay`` subprocess on this world."""
        return {
            **os.environ,
            "ASSAY_HOME": str(self.settings.state_dir),
            "ASSAY_DATABASE_URL": self.catalog,
            "ASSAY_SOURCES_FILE": str(self.settings.sources_file),
            "ASSAY_LOG_LEVEL": "INFO",
            **extra,
        }


@pytest.fixture
def world(fresh_db: Callable[[str], str], catalog_url: str, tmp_path: Path) -> World:
    from support.db import execute

    source = fresh_db("fsrc")
    for table in ("alpha", "beta"):
        execute(source, f"CREATE TABLE {table} (id int PRIMARY KEY, note text)")
        execute(source, f"INSERT INTO {table} SELECT g, 'note ' || g FROM generate_series(1, 200) g")
    decls = tmp_path / "sources.yaml"
    decls.write_text(json.dumps({"sources": [{"name": "shop", "kind": "sql", "url": source}]}))
    settings = Settings(home=tmp_path / "state", database_url=catalog_url, sources_file=decls,
                        landing_dir=tmp_path / "landing")
    return World(settings, catalog_url, source, tmp_path)


# ---- helpers ------------------------------------------------------------------------------------
def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([ASSAY, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _admin(url: str) -> Any:
    """A psycopg2 connection of the test (autocommit off: it holds locks until rollback)."""
    import psycopg2
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return psycopg2.connect(dbname=u.database, user=u.username or "postgres", host=u.query.get("host") or u.host,
                            port=u.port)


def _wait_until(check: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + REACH_S
    while not check():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended before {what} (rc {proc.returncode}): {err[-3000:]}")
        assert time.monotonic() < deadline, f"no {what} within {REACH_S} s"
        time.sleep(0.1)


def _lock_waiters(url: str, locktype: str) -> int:
    """Backends of ``url``'s database waiting for a lock of ``locktype``."""
    return rows(url, "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                     "WHERE NOT l.granted AND l.locktype = :t AND d.datname = current_database()", t=locktype)[0][0]


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


@contextmanager
def _table_locked(source: str, table: str) -> Iterator[Any]:
    """``table`` locked ACCESS EXCLUSIVE by the test: any read of it waits until the block ends."""
    conn = _admin(source)
    try:
        with conn.cursor() as cur:
            cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield conn
    finally:
        conn.rollback()
        conn.close()


def _error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("assay: error:")]


def _assert_one_clear_line(rc: int, out: str, err: str, secret: str | None = None) -> str:
    assert rc == 2, err[-3000:]
    assert "Traceback" not in out + err, err[-3000:]
    lines = _error_lines(err)
    assert len(lines) == 1 and err.rstrip().splitlines()[-1] == lines[0], err[-3000:]
    if secret is not None:
        assert secret not in out + err
    return lines[0]


def _current_with_attempts(table: str, key: tuple[str, ...]) -> str:
    """Each key's current attempt as JSON, with 0003's attempt columns read off the key's other attempts.

    Since issue #14 item 4 every attempt is a row of its own and ``<table>_current`` names the
    record: ``attempt_started_at`` is an attempt of the key still running, ``attempt_error`` why the
    newest attempt after the record did not replace it (its own ``error``).
    """
    same = " AND ".join(f"x.{k} = r.{k}" for k in key)
    pointer, column = table.replace("_runs", "_current"), table.removesuffix("s") + "_id"
    return f"""to_jsonb(r) || jsonb_build_object(
        'attempt_started_at', (SELECT max(x.started_at) FROM {table} x WHERE {same} AND x.status = 'running'),
        'attempt_error', (SELECT x.error FROM {table} x WHERE {same} AND x.id > r.id AND x.status <> 'running'
                          ORDER BY x.id DESC LIMIT 1))
        FROM {table} r JOIN {pointer} c ON c.{column} = r.id"""


def _profile_runs(w: World) -> dict[tuple[str, dt.date], dict[str, Any]]:
    found = rows(w.catalog, "SELECT a.name, r.logical_date, "
                 + _current_with_attempts("profile_runs", ("asset_id", "partition_key", "logical_date"))
                 + " JOIN assets a ON a.id = r.asset_id")
    return {(name, day): _fields(run) for name, day, run in found}


def _fields(run: dict[str, Any]) -> dict[str, Any]:
    """A run row (as JSON: columns a schema lacks are simply absent) with the attempt columns."""
    return {"attempt_started_at": None, "attempt_error": None, **run}


def _record(row: dict[str, Any]) -> dict[str, Any]:
    """The record of a run row: what consumers read (not the attempt in progress)."""
    return {k: v for k, v in row.items() if not k.startswith("attempt_") and k not in ("id", "updated_at")}


def _running(w: World, table: str) -> list[tuple[Any, ...]]:
    return rows(w.catalog, f"SELECT id, status FROM {table} WHERE status = 'running'")


def _in_progress(w: World, table: str) -> int:
    """Rows with an attempt in progress (columns absent before the change: every row counts)."""
    try:
        if table in ("profile_runs", "quality_runs"):  # an attempt row is in progress while running
            return rows(w.catalog, f"SELECT count(*) FROM {table} WHERE status = 'running'")[0][0]
        return rows(w.catalog, f"SELECT count(*) FROM {table} WHERE attempt_started_at IS NOT NULL")[0][0]
    except Exception:
        return -1


# ---- profile ------------------------------------------------------------------------------------
def test_killed_profile_keeps_the_previous_success_and_the_next_run_reaps_it(world: World) -> None:
    from assay.inventory import run_inventory
    from assay.profiling import run_profile

    run_inventory(world.settings, DAY, f"cli/{DAY}", use_embeddings=False)
    run_profile(world.settings, DAY, f"cli/{DAY}")
    before = _profile_runs(world)
    assert {k: v["status"] for k, v in before.items()} == {("alpha", DAY): "success", ("beta", DAY): "success"}

    with _table_locked(world.source, "alpha"):
        proc = _cli("profile", "--date", DAY.isoformat(), "--force", env=world.env())
        try:
            _wait_until(lambda: _lock_waiters(world.source, "relation") > 0, proc, "profile reading alpha")
            during = _profile_runs(world)
            # The attempt in progress lives beside the record; the record of the success is intact.
            assert {k: _record(v) for k, v in during.items()} == {k: _record(v) for k, v in before.items()}
            assert during[("alpha", DAY)]["attempt_started_at"] is not None
        finally:
            _kill(proc)

    assert _record(_profile_runs(world)[("alpha", DAY)]) == _record(before[("alpha", DAY)])
    # The next run (another day) reaps the attempt whose process is gone.
    run_profile(world.settings, NEXT, f"cli/{NEXT}")
    after = _profile_runs(world)
    alpha = after[("alpha", DAY)]
    assert _record(alpha) == _record(before[("alpha", DAY)])
    assert alpha["attempt_started_at"] is None
    assert alpha["attempt_error"].startswith("interrupted:") and f"cli/{NEXT}" in alpha["attempt_error"]
    assert _running(world, "profile_runs") == []
    # A rerun of the day replaces the record; the interruption note goes with the old attempt.
    run_profile(world.settings, DAY, f"cli/{DAY}", force=True)
    again = _profile_runs(world)[("alpha", DAY)]
    assert (again["status"], again["attempt_error"], again["attempt_started_at"]) == ("success", None, None)
    assert again["started_at"] > before[("alpha", DAY)]["started_at"]


def test_killed_first_profile_is_reaped_as_failed_with_the_reason(world: World) -> None:
    from assay.inventory import run_inventory
    from assay.profiling import run_profile

    run_inventory(world.settings, DAY, f"cli/{DAY}", use_embeddings=False)
    with _table_locked(world.source, "alpha"):
        proc = _cli("profile", "--date", DAY.isoformat(), env=world.env())
        try:
            _wait_until(lambda: _lock_waiters(world.source, "relation") > 0, proc, "profile reading alpha")
        finally:
            _kill(proc)
    assert [s for _, s in _running(world, "profile_runs")] == ["running"]  # what the kill left

    run_profile(world.settings, NEXT, f"cli/{NEXT}")
    alpha = _profile_runs(world)[("alpha", DAY)]
    assert alpha["status"] == "failed" and alpha["finished_at"] is not None
    assert alpha["error"].startswith("interrupted:") and f"cli/{NEXT}" in alpha["error"]
    assert _running(world, "profile_runs") == [] and _in_progress(world, "profile_runs") == 0


def test_a_live_attempt_of_another_process_is_never_reaped(world: World) -> None:
    from assay.inventory import run_inventory
    from assay.profiling import run_profile

    run_inventory(world.settings, DAY, f"cli/{DAY}", use_embeddings=False)
    with _table_locked(world.source, "alpha"):
        proc = _cli("profile", "--date", DAY.isoformat(), "--asset", "alpha", env=world.env())
        try:
            _wait_until(lambda: _lock_waiters(world.source, "relation") > 0, proc, "profile reading alpha")
            run_profile(world.settings, NEXT, f"cli/{NEXT}", assets=["beta"])  # reaps what is orphaned only
            alpha = _profile_runs(world)[("alpha", DAY)]
            assert (alpha["status"], alpha["error"]) == ("running", None)
        except BaseException:
            _kill(proc)
            raise
    out, err = proc.communicate(timeout=REACH_S)
    assert proc.returncode == 0, err[-3000:]
    assert _profile_runs(world)[("alpha", DAY)]["status"] == "success"


# ---- inventory ----------------------------------------------------------------------------------
def _inventory_runs(w: World) -> dict[str, dict[str, Any]]:
    return {key: _fields(run) for key, run in rows(w.catalog, "SELECT run_key, to_jsonb(r) FROM inventory_runs r")}


@contextmanager
def _source_lock_held(w: World, source: str) -> Iterator[None]:
    """The inventory's advisory lock on ``source`` held by the test: a run waits for it mid-run."""
    from assay.inventory.lifecycle import lock_key

    conn = _admin(w.catalog)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (lock_key(source),))
        yield
    finally:
        conn.close()


def test_killed_inventory_keeps_the_previous_success_and_the_next_run_reaps_it(world: World) -> None:
    from assay.inventory import run_inventory

    key = f"cli/inventory/all/{DAY}"  # the key `assay inventory --date DAY` runs under (cli/scope.py)
    run_inventory(world.settings, DAY, key, use_embeddings=False)
    before = _inventory_runs(world)[key]
    assert before["status"] == "success"

    with _source_lock_held(world, "shop"):
        proc = _cli("inventory", "--date", DAY.isoformat(), env=world.env())
        try:
            _wait_until(lambda: _lock_waiters(world.catalog, "advisory") > 0, proc, "inventory waiting for shop")
            during = _inventory_runs(world)[key]
            assert _record(during) == _record(before)
            assert during["attempt_started_at"] is not None
        finally:
            _kill(proc)

    run_inventory(world.settings, NEXT, f"cli/{NEXT}", use_embeddings=False)
    after = _inventory_runs(world)
    assert _record(after[key]) == _record(before)
    assert after[key]["attempt_started_at"] is None
    assert after[key]["attempt_error"].startswith("interrupted:") and f"cli/{NEXT}" in after[key]["attempt_error"]
    assert after[f"cli/{NEXT}"]["status"] == "success"
    assert _running(world, "inventory_runs") == []


def test_killed_first_inventory_is_reaped_as_failed(world: World) -> None:
    from assay.inventory import run_inventory

    with _source_lock_held(world, "shop"):
        proc = _cli("inventory", "--date", DAY.isoformat(), env=world.env())
        try:
            _wait_until(lambda: _lock_waiters(world.catalog, "advisory") > 0, proc, "inventory waiting for shop")
        finally:
            _kill(proc)
    assert len(_running(world, "inventory_runs")) == 1

    run_inventory(world.settings, NEXT, f"cli/{NEXT}", use_embeddings=False)
    killed = _inventory_runs(world)[f"cli/inventory/all/{DAY}"]  # the CLI's scoped run key
    assert killed["status"] == "failed" and killed["error"].startswith("interrupted:")
    assert _running(world, "inventory_runs") == []


# ---- quality ------------------------------------------------------------------------------------
SUITE = {
    "name": "alpha",
    "meta": {"assay": {"source": "shop", "table": "public.alpha"}},
    "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"},
         "meta": {"name": "id_not_null", "dimension": "completeness", "severity": "critical"}},
    ],
}

QUALITY_CHILD = """
import datetime as dt, sys
from pathlib import Path
from assay.config import get_settings
from assay.quality import run_quality
run_quality(get_settings(), dt.date.fromisoformat(sys.argv[1]), sys.argv[2], suites=Path(sys.argv[3]))
"""


def _quality_runs(w: World) -> dict[dt.date, dict[str, Any]]:
    key = ("suite_name", "asset_id", "partition_key", "logical_date")
    return {day: _fields(run) for day, run in rows(w.catalog, "SELECT r.logical_date, "
                                                   + _current_with_attempts("quality_runs", key))}


def test_killed_quality_run_keeps_the_previous_result_and_the_next_run_reaps_it(world: World) -> None:
    from assay.quality import run_quality

    suites = world.folder / "expectations"
    suites.mkdir()
    (suites / "alpha.json").write_text(json.dumps(SUITE))
    assert run_quality(world.settings, DAY, "test/first", suites=suites).ok
    before = _quality_runs(world)[DAY]
    assert before["status"] == "ok"

    with _table_locked(world.source, "alpha"):
        proc = subprocess.Popen([sys.executable, "-c", QUALITY_CHILD, DAY.isoformat(), "test/second", str(suites)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=world.env())
        try:
            _wait_until(lambda: _lock_waiters(world.source, "relation") > 0, proc, "quality reading alpha")
            during = _quality_runs(world)[DAY]
            assert _record(during) == _record(before) and during["attempt_started_at"] is not None
        finally:
            _kill(proc)

    assert run_quality(world.settings, NEXT, "test/next", suites=suites).ok
    after = _quality_runs(world)[DAY]
    assert _record(after) == _record(before) and after["attempt_started_at"] is None
    assert after["attempt_error"].startswith("interrupted:") and "test/next" in after["attempt_error"]
    assert _running(world, "quality_runs") == []


# ---- database loss ------------------------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("command", ["profile", "inventory"])
def test_unreachable_catalog_is_one_line_with_the_masked_url(world: World, command: str) -> None:
    port = _closed_port()
    url = f"postgresql+psycopg2://assay:hunter2secret@127.0.0.1:{port}/catalog"
    proc = _cli(command, "--date", DAY.isoformat(), env=world.env(ASSAY_DATABASE_URL=url))
    out, err = proc.communicate(timeout=REACH_S)
    line = _assert_one_clear_line(proc.returncode, out, err, secret="hunter2secret")
    assert f"assay:***@127.0.0.1:{port}/catalog" in line and "refused" in line.lower()
    if command == "profile":
        assert line.startswith(f"assay: error: catalog database unreachable (postgresql+psycopg2://assay:***@127.0.0.1:{port}/catalog): ")


@pytest.mark.parametrize("command", ["profile", "inventory"])
def test_catalog_dropped_mid_run_is_one_line(world: World, command: str, pg_server: Any) -> None:
    import psycopg2
    from sqlalchemy.engine import make_url

    from assay.inventory import run_inventory

    run_inventory(world.settings, DAY, "test/setup", use_embeddings=False)
    holder = _table_locked(world.source, "alpha") if command == "profile" else _source_lock_held(world, "shop")
    with holder:
        args = ("profile", "--date", DAY.isoformat()) if command == "profile" else ("inventory", "--date", NEXT.isoformat())
        proc = _cli(*args, env=world.env())
        try:
            if command == "profile":
                _wait_until(lambda: _lock_waiters(world.source, "relation") > 0, proc, "profile reading alpha")
            else:
                _wait_until(lambda: _lock_waiters(world.catalog, "advisory") > 0, proc, "inventory waiting for shop")
            admin = psycopg2.connect(dbname="postgres", user="postgres", host=pg_server.socket_dir)
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE "{make_url(world.catalog).database}" WITH (FORCE)')
            admin.close()
        except BaseException:
            _kill(proc)
            raise
    out, err = proc.communicate(timeout=REACH_S)
    line = _assert_one_clear_line(proc.returncode, out, err)
    assert line.startswith("assay: error: catalog database unreachable ("), line


def test_source_connection_terminated_mid_statement_is_recorded_on_the_asset(world: World) -> None:
    from assay.inventory import run_inventory

    run_inventory(world.settings, DAY, f"cli/{DAY}", use_embeddings=False)
    with _table_locked(world.source, "alpha") as locker:
        proc = _cli("profile", "--date", DAY.isoformat(), env=world.env())
        try:
            _wait_until(lambda: _lock_waiters(world.source, "relation") > 0, proc, "profile reading alpha")
            with locker.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE NOT granted AND locktype = 'relation'")
        except BaseException:
            _kill(proc)
            raise
    out, err = proc.communicate(timeout=REACH_S)
    # A profiling failure is an AssayError: its summary names each failed asset on a line of its own.
    assert proc.returncode == 2 and "Traceback" not in out + err, err[-3000:]
    assert len(_error_lines(err)) == 1 and "alpha [__all__]: " in err, err[-3000:]
    runs = _profile_runs(world)
    assert runs[("alpha", DAY)]["status"] == "failed" and "connection" in runs[("alpha", DAY)]["error"]
    assert runs[("beta", DAY)]["status"] == "success"
    assert _running(world, "profile_runs") == []


def test_a_row_left_running_before_migration_0003_is_reaped(fresh_db: Callable[[str], str], tmp_path: Path) -> None:
    from support.db import execute

    from assay.catalog import migrate
    from assay.inventory import run_inventory

    catalog = fresh_db("mig3")
    migrate.upgrade(catalog, "0002")
    execute(catalog, "INSERT INTO inventory_runs (run_key, logical_date, status) VALUES ('old/killed', :d, 'running')",
            d=DAY)
    migrate.upgrade(catalog, "head")
    decls = tmp_path / "sources.yaml"
    decls.write_text(json.dumps({"sources": []}))
    run_inventory(Settings(home=tmp_path / "state", database_url=catalog, sources_file=decls), DAY, "new/run",
                  use_embeddings=False)
    ((status, error),) = rows(catalog, "SELECT status, error FROM inventory_runs WHERE run_key = 'old/killed'")
    assert status == "failed" and error.startswith("interrupted:") and "new/run" in error


# ---- failed reruns keep a successful record (issue #12 item 6) -------------------------------------
def test_failed_profile_rerun_keeps_the_success_its_metrics_anomalies_and_review_items(world: World) -> None:
    from support.db import execute

    from assay.inventory import run_inventory
    from assay.profiling import ProfilingError, run_profile

    run_inventory(world.settings, DAY, f"cli/{DAY}", use_embeddings=False)
    run_profile(world.settings, DAY, f"cli/{DAY}")
    before = _profile_runs(world)[("alpha", DAY)]
    assert before["status"] == "success"
    run_id, asset_id = before["id"], before["asset_id"]
    # An anomaly of the partition and a steward's review item on it (set by hand: no history yet).
    execute(world.catalog, "INSERT INTO anomalies (asset_id, profile_run_id, partition_key, logical_date, metric, "
            "method, details, status, status_changed_by) VALUES (:a, :r, '__all__', :d, 'row_count', 'test', '{}', "
            "'acknowledged', 'ana')", a=asset_id, r=run_id, d=DAY)
    ((anomaly_id,),) = rows(world.catalog, "SELECT id FROM anomalies WHERE profile_run_id = :r", r=run_id)
    execute(world.catalog, "INSERT INTO review_items (kind, ref, asset_id, anomaly_id, summary, details, status, "
            "resolution, closed_by) VALUES ('anomaly', 'test/1', :a, :n, 'row count', '{}', 'closed', 'expected: sale', "
            "'ana')", a=asset_id, n=anomaly_id)
    metrics = rows(world.catalog, "SELECT count(*) FROM column_metrics WHERE profile_run_id = :r", r=run_id)[0][0]
    assert metrics > 0

    execute(world.source, "DROP TABLE alpha")
    with pytest.raises(ProfilingError):
        run_profile(world.settings, DAY, "cli/rerun", force=True)
    after = _profile_runs(world)[("alpha", DAY)]
    assert _record(after) == _record(before)
    assert after["attempt_started_at"] is None and "alpha" in after["attempt_error"], after
    assert rows(world.catalog, "SELECT count(*) FROM column_metrics WHERE profile_run_id = :r", r=run_id)[0][0] == metrics
    assert rows(world.catalog, "SELECT status, status_changed_by FROM anomalies WHERE id = :n", n=anomaly_id) == [
        ("acknowledged", "ana")]
    assert rows(world.catalog, "SELECT status, resolution FROM review_items WHERE ref = 'test/1'") == [
        ("closed", "expected: sale")]
    assert _running(world, "profile_runs") == []


def test_failed_first_profile_is_still_recorded_failed(world: World) -> None:
    from support.db import execute

    from assay.inventory import run_inventory
    from assay.profiling import ProfilingError, run_profile

    run_inventory(world.settings, DAY, f"cli/{DAY}", use_embeddings=False)
    execute(world.source, "DROP TABLE alpha")
    with pytest.raises(ProfilingError):
        run_profile(world.settings, DAY, f"cli/{DAY}")
    alpha = _profile_runs(world)[("alpha", DAY)]
    assert alpha["status"] == "failed" and "alpha" in alpha["error"] and alpha["attempt_error"] is None


def test_quality_rerun_that_cannot_run_keeps_the_previous_result(world: World) -> None:
    from support.db import execute

    from assay.quality import run_quality

    suites = world.folder / "expectations"
    suites.mkdir()
    (suites / "alpha.json").write_text(json.dumps(SUITE))
    assert run_quality(world.settings, DAY, "test/first", suites=suites).ok
    before = _quality_runs(world)[DAY]
    results = rows(world.catalog, "SELECT expectation_id, success FROM expectation_results WHERE quality_run_id = :r",
                   r=before["id"])
    assert results == [("id_not_null", True)]
    ((key_id,),) = rows(world.catalog, "SELECT id FROM quality_current WHERE quality_run_id = :r", r=before["id"])
    execute(world.catalog, "INSERT INTO review_items (kind, ref, asset_id, quality_run_id, summary, details) "
            "VALUES ('quality_failure', :ref, :a, :r, 'earlier failure', '{}')",
            ref=f"{key_id}/old", a=before["asset_id"], r=before["id"])

    execute(world.source, "DROP TABLE alpha")
    report = run_quality(world.settings, DAY, "test/second", suites=suites, raise_on_failure=False)
    assert not report.ok
    after = _quality_runs(world)[DAY]
    assert _record(after) == _record(before)
    assert after["attempt_started_at"] is None and after["attempt_error"], after
    assert rows(world.catalog, "SELECT expectation_id, success FROM expectation_results WHERE quality_run_id = :r",
                r=before["id"]) == results
    # The steward's open item is not closed as "passed on re-run"; the failure to run is raised as an item
    # (on the attempt that could not run, under the key's stable id).
    items = dict(rows(world.catalog, "SELECT ref, status FROM review_items WHERE ref LIKE :p", p=f"{key_id}/%"))
    assert items[f"{key_id}/old"] == "open" and items[f"{key_id}/__run__"] == "open", items


# ---- catalog behind the code (item 2) --------------------------------------------------------------
@pytest.mark.parametrize("stage", ["inventory", "profile", "quality"])
def test_a_catalog_behind_the_code_says_to_migrate(fresh_db: Callable[[str], str], tmp_path: Path, stage: str) -> None:
    from assay.catalog import migrate
    from assay.errors import DatabaseError
    from assay.inventory import run_inventory
    from assay.profiling import run_profile
    from assay.quality import run_quality

    catalog = fresh_db("behind")
    migrate.upgrade(catalog, "0002")
    decls = tmp_path / "sources.yaml"
    decls.write_text(json.dumps({"sources": []}))
    settings = Settings(home=tmp_path / "state", database_url=catalog, sources_file=decls)
    suites = tmp_path / "expectations"
    suites.mkdir()
    (suites / "alpha.json").write_text(json.dumps(SUITE))
    call = {
        "inventory": lambda: run_inventory(settings, DAY, "t/1", use_embeddings=False),
        "profile": lambda: run_profile(settings, DAY, "t/1"),
        "quality": lambda: run_quality(settings, DAY, "t/1", suites=suites),
    }[stage]
    with pytest.raises(DatabaseError, match="run `assay catalog migrate`") as err:
        call()
    assert "revision 0002" in str(err.value)


# ---- the inventory's owner lock on any exit (item 3) -----------------------------------------------
def test_an_exception_mid_inventory_releases_the_owner_lock(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from assay.catalog import runs
    from assay.inventory import run as inventory_run
    from assay.inventory import run_inventory

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom in the middle")

    monkeypatch.setattr(inventory_run, "_inventory_source", boom)
    with pytest.raises(RuntimeError, match="boom"):
        run_inventory(world.settings, DAY, f"cli/{DAY}", use_embeddings=False)
    # This run's claim is gone (other tests of the session may hold their own, on other catalogs).
    from assay.catalog.db import engine

    assert not runs._CLAIMS.get(runs._claim_id(engine(world.catalog), runs.INVENTORY, (f"cli/{DAY}",)))
    key = runs.owner_key(runs.INVENTORY, (f"cli/{DAY}",))
    # Nobody holds the owner lock any more: an exclusive take succeeds (released with the connection).
    assert rows(world.catalog, "SELECT pg_try_advisory_lock(:k)", k=key) == [(True,)]
    ((status, error, attempt),) = rows(world.catalog, "SELECT status, error, attempt_started_at FROM inventory_runs "
                                       "WHERE run_key = :k", k=f"cli/{DAY}")
    assert status == "failed" and "RuntimeError" in error and "boom" in error and attempt is None
    monkeypatch.undo()
    run_inventory(world.settings, DAY, f"cli/{DAY}", use_embeddings=False)
    assert rows(world.catalog, "SELECT status FROM inventory_runs WHERE run_key = :k", k=f"cli/{DAY}") == [("success",)]


# ---- owner keys (item 4) ---------------------------------------------------------------------------
def test_owner_key_of_caller_values_equals_the_key_of_the_fetched_row(world: World) -> None:
    import pendulum

    from assay.catalog import runs
    from assay.inventory import run_inventory
    from assay.profiling import run_profile

    run_inventory(world.settings, DAY, f"cli/{DAY}", use_embeddings=False)
    run_profile(world.settings, DAY, f"cli/{DAY}")
    ((asset_id, partition, day),) = rows(world.catalog, "SELECT r.asset_id, r.partition_key, r.logical_date FROM "
                                         "profile_runs r JOIN assets a ON a.id = r.asset_id WHERE a.name = 'alpha'")
    fetched = runs.owner_key(runs.PROFILE, (asset_id, partition, day))
    caller = (str(asset_id), partition, pendulum.datetime(DAY.year, DAY.month, DAY.day, tz="UTC"))
    assert runs.owner_key(runs.PROFILE, caller) == fetched
    assert runs.owner_key(runs.PROFILE, (asset_id, partition, dt.datetime(DAY.year, DAY.month, DAY.day, 5))) == fetched
    assert runs.owner_key(runs.PROFILE, (asset_id + 1, partition, day)) != fetched
    assert runs.owner_key(runs.INVENTORY, (None,)) == runs.owner_key(runs.INVENTORY, ("",))


def test_claims_are_not_keyed_by_a_plain_password() -> None:
    from sqlalchemy import create_engine

    from assay.catalog import runs

    eng = create_engine("postgresql+psycopg2://u:s3cretpw@127.0.0.1:1/x")
    assert "s3cretpw" not in repr(runs._claim_id(eng, runs.INVENTORY, ("k",)))
