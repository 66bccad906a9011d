"""The embedded PostgreSQL 16 server (pgserver) that backs a laptop or CI install.

State lives under ``<state_dir>/pg`` (data) and ``<state_dir>/pg.json`` (socket folder and pid),
so every process — Airflow tasks, the MLflow UI, tests — finds the same server without importing
pgserver. ``up`` is idempotent: it starts the server if needed, creates the missing databases and
rewrites the state file; it also creates the least-privilege roles (:mod:`assay.db.roles`): the
shop readable by ``assay_reader``, the catalog owned by ``assay_writer``. A folder left
half-initialised by a killed ``initdb`` is detected and rebuilt; a folder with a real cluster in it
is never deleted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from assay.config import EMBEDDED_DATABASES, EMBEDDED_SUPERUSER, Settings
from assay.db import roles
from assay.errors import DatabaseError

log = logging.getLogger(__name__)
# pgserver logs every pg_ctl call at INFO; keep its warnings and errors only.
logging.getLogger("pgserver").setLevel(logging.WARNING)

#: Files initdb writes last; a data folder without them never finished initialising.
_CLUSTER_MARKERS = ("PG_VERSION", "global/pg_control", "postgresql.conf")


@dataclass(frozen=True)
class ServerState:
    """What ``assay db up`` records for other processes."""

    pgdata: str
    socket_dir: str
    pid: int
    databases: tuple[str, ...]

    def url(self, database: str, user: str = EMBEDDED_SUPERUSER) -> str:
        """SQLAlchemy URL of ``database`` as ``user`` (the socket trusts every role: no password)."""
        return f"postgresql+psycopg2://{user}@localhost/{database}?host={self.socket_dir}"


def _is_half_initialised(pgdata: Path) -> bool:
    if not pgdata.exists() or not any(pgdata.iterdir()):
        return False
    return not all((pgdata / marker).exists() for marker in _CLUSTER_MARKERS)


def _server_log_tail(pgdata: Path, lines: int = 15) -> str:
    logfile = pgdata / "log"
    try:
        return "\n".join(logfile.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def _explain_start_failure(pgdata: Path) -> str:
    tail = _server_log_tail(pgdata)
    hint = ""
    if "lock file" in tail and "already exists" in tail:
        hint = (
            "\nAnother PostgreSQL already holds this socket or data folder. Stop it (`assay db down`), "
            "or set ASSAY_HOME to another short folder."
        )
    elif "could not bind" in tail or "Address already in use" in tail:
        hint = "\nThe socket or port is taken by another server."
    return f"embedded PostgreSQL in {pgdata} failed to start.{hint}\nLast lines of {pgdata / 'log'}:\n{tail}"


def up(settings: Settings) -> ServerState:
    """Start (or find) the embedded server and make sure every database exists.

    Raises:
        DatabaseError: the server cannot start; the message carries the server log's last lines.
    """
    import warnings

    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset; pgserver only keeps a lock file there.
        warnings.simplefilter("ignore")
        import pgserver

    pgdata = settings.pgdata
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if _is_half_initialised(pgdata):
        log.warning("%s was left half-initialised by an interrupted run; rebuilding it", pgdata)
        shutil.rmtree(pgdata)
    _clear_stale_server(pgdata)
    # pgserver caches one handle per folder and per process and trusts it forever; a server
    # stopped or killed since would never be restarted. Always look again.
    pgserver.PostgresServer._instances.pop(pgdata.resolve(), None)
    try:
        server = pgserver.get_server(pgdata, cleanup_mode=None)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError) as exc:
        raise DatabaseError(_explain_start_failure(pgdata)) from exc
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir) if info.socket_dir else str(pgdata)
    if Path(socket_dir).resolve() != pgdata.resolve():
        log.warning(
            "data folder path is too long for a unix socket; the socket lives in %s instead", socket_dir
        )
    state = ServerState(
        pgdata=str(pgdata), socket_dir=socket_dir, pid=int(info.pid or 0), databases=EMBEDDED_DATABASES
    )
    create_databases(state.url("postgres"), EMBEDDED_DATABASES)
    roles.setup(
        state.url("postgres"),
        catalog_database="assay",
        source_databases=["shop"],
        statement_timeout=settings.reader_statement_timeout,
    )
    _write_state(settings.pg_state_file, state)
    return state


def create_databases(admin_url: str, names: tuple[str, ...] | list[str]) -> None:
    """Create each database that does not exist yet (CREATE DATABASE cannot run in a transaction)."""
    import psycopg2
    from psycopg2 import sql
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    conn = psycopg2.connect(
        dbname=url.database, user=url.username, host=url.query.get("host", url.host), password=url.password
    )
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for name in names:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                    log.info("created database %s", name)
    finally:
        conn.close()


def _write_state(path: Path, state: ServerState) -> None:
    # Write-then-rename so a reader never sees half a file.
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2))
    os.replace(tmp, path)


def read_state(settings: Settings) -> ServerState | None:
    try:
        raw = json.loads(settings.pg_state_file.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return ServerState(
        pgdata=raw["pgdata"], socket_dir=raw["socket_dir"], pid=int(raw["pid"]), databases=tuple(raw["databases"])
    )


def _postmaster_pid(pgdata: Path) -> int | None:
    """The live postmaster's pid from ``postmaster.pid``; None when absent, dead or a zombie."""
    import psutil

    try:
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
        if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return None
    except (OSError, ValueError, IndexError, psutil.NoSuchProcess):
        return None
    return pid


def _clear_stale_server(pgdata: Path, wait: float = 10.0) -> None:
    """After a killed postmaster: end its orphaned backends and drop the stale ``postmaster.pid``.

    PostgreSQL refuses to start while a zombie holds the old pid or an orphan backend still
    attaches the old shared memory; both happen after ``kill -9`` in a container.
    """
    import psutil

    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists() or _postmaster_pid(pgdata) is not None:
        return
    try:
        socket_dir = Path(pidfile.read_text().splitlines()[4].strip() or pgdata)
    except (OSError, IndexError):
        socket_dir = pgdata
    log.warning("%s holds a stale postmaster.pid (server was killed); cleaning up", pgdata)
    orphans = []
    for p in psutil.process_iter(["name"]):
        try:
            if p.info["name"] == "postgres" and Path(p.cwd()) == pgdata.resolve():
                orphans.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    _gone, alive = psutil.wait_procs(orphans, timeout=wait)
    for p in alive:
        p.kill()
    # The socket lock names the dead postmaster too; postgres trusts it while that pid is a zombie.
    (socket_dir / ".s.PGSQL.5432.lock").unlink(missing_ok=True)
    (socket_dir / ".s.PGSQL.5432").unlink(missing_ok=True)
    pidfile.unlink(missing_ok=True)


def status(settings: Settings) -> dict[str, object]:
    """Whether the embedded server runs, and where."""
    pid = _postmaster_pid(settings.pgdata)
    state = read_state(settings)
    return {
        "running": pid is not None,
        "pid": pid,
        "pgdata": str(settings.pgdata),
        "socket_dir": state.socket_dir if state else None,
        "initialised": (settings.pgdata / "PG_VERSION").exists(),
    }


def down(settings: Settings, timeout: float = 30.0) -> bool:
    """Stop the embedded server (fast shutdown). Returns False if it was not running.

    pg_ctl refuses to run as root, so as root it runs as the ``pgserver`` user, like pgserver does.
    """
    pgdata = settings.pgdata
    pid = _postmaster_pid(pgdata)
    settings.pg_state_file.unlink(missing_ok=True)
    if pid is None:
        return False
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]  # made at import time

    user = "pgserver" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=timeout)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        log.warning("pg_ctl stop failed; sending SIGTERM to postmaster %s", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 15)
    deadline = time.monotonic() + timeout
    while _postmaster_pid(pgdata) is not None:
        if time.monotonic() > deadline:
            raise DatabaseError(f"embedded PostgreSQL (pid {pid}) did not stop within {timeout:.0f} s")
        time.sleep(0.1)
    return True
