"""The embedded PostgreSQL: idempotent start, recovery from a killed initdb, clear start errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg2
import pytest

from assay.config import EMBEDDED_DATABASES, Settings
from assay.db import embedded
from assay.errors import DatabaseError

pytestmark = pytest.mark.integration


@pytest.fixture
def home():
    # Short path: the socket lives in the data folder only while its path fits in sun_path.
    path = Path(tempfile.mkdtemp(prefix="ah", dir="/tmp"))
    yield path
    embedded.down(Settings(home=path))
    shutil.rmtree(path, ignore_errors=True)


def _databases(state: embedded.ServerState) -> set[str]:
    conn = psycopg2.connect(dbname="postgres", user="postgres", host=state.socket_dir)
    with conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database")
        names = {r[0] for r in cur.fetchall()}
    conn.close()
    return names


def test_up_is_idempotent_and_creates_every_database(home):
    s = Settings(home=home)
    first = embedded.up(s)
    second = embedded.up(s)
    assert first.pid == second.pid
    assert set(EMBEDDED_DATABASES) <= _databases(second)
    assert embedded.status(s)["running"] is True
    assert s.catalog_url() == second.url("assay", user="assay_writer")
    assert embedded.down(s) is True
    assert embedded.status(s)["running"] is False
    assert not s.pg_state_file.exists()
    assert embedded.down(s) is False
    # Data survives a restart.
    third = embedded.up(s)
    assert set(EMBEDDED_DATABASES) <= _databases(third)


def test_half_initialised_folder_from_a_killed_run_is_rebuilt(home):
    s = Settings(home=home)
    s.pgdata.mkdir(parents=True)
    (s.pgdata / "PG_VERSION").write_text("16\n")  # initdb killed before pg_control was written
    (s.pgdata / "base").mkdir()
    state = embedded.up(s)
    assert set(EMBEDDED_DATABASES) <= _databases(state)


def test_stale_postmaster_pid_from_a_killed_server_recovers(home):
    s = Settings(home=home)
    state = embedded.up(s)
    os.kill(state.pid, 9)  # like an OOM kill: postmaster.pid stays behind
    import time

    time.sleep(0.5)
    again = embedded.up(s)
    assert again.pid != state.pid
    assert set(EMBEDDED_DATABASES) <= _databases(again)


def test_socket_taken_by_another_server_is_a_clear_error(home):
    s = Settings(home=home)
    s.pgdata.mkdir(parents=True)
    embedded.up(s)
    embedded.down(s)
    # Another postmaster (a live process stands in for it) holds the socket's lock file.
    # Not our own pid: postgres ignores a lock held by its parent or grandparent, and one held
    # by a process of another user (EPERM) — so as root the stand-in runs as the server's user.
    other = subprocess.Popen(["sleep", "60"], user="pgserver" if os.geteuid() == 0 else None)
    lock = s.pgdata / ".s.PGSQL.5432.lock"
    lock.write_text(f"{other.pid}\n{s.pgdata}\n")
    if os.geteuid() == 0:
        shutil.chown(lock, "pgserver")
    try:
        with pytest.raises(DatabaseError) as err:
            embedded.up(s)
    finally:
        other.kill()
        lock.unlink(missing_ok=True)
    msg = str(err.value)
    assert "failed to start" in msg
    assert "lock file" in msg
    assert str(s.pgdata) in msg
