"""Background services (Airflow standalone, MLflow UI) run as their own process group.

Each service gets a pid file under ``<state_dir>/run`` and a log under ``<state_dir>/logs``, both
private (folders 0700, log 0600: a service may print a credential), and its command line is logged
with every URL masked.
Stopping sends SIGTERM to the whole group, then SIGKILL to whatever is left after a grace period,
then sweeps processes that left the group but still carry the service's marker in their
environment — Airflow's LocalExecutor workers and task supervisors can outlive a plain TERM.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from assay.catalog.urls import scrub
from assay.errors import AssayError

log = logging.getLogger(__name__)

#: Environment variable stamped on every process a service starts, to find stragglers.
MARKER_VAR = "ASSAY_SERVICE_MARKER"


@dataclass(frozen=True)
class Service:
    name: str
    state_dir: Path

    @property
    def pidfile(self) -> Path:
        return self.state_dir / "run" / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return self.state_dir / "logs" / f"{self.name}.log"

    @property
    def marker(self) -> str:
        return f"{self.state_dir}:{self.name}"


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def running_pid(service: Service) -> int | None:
    """The group leader's pid if the service runs, else None (stale pid files are removed)."""
    try:
        pid = int(service.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    if psutil.pid_exists(pid):
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return pid
        except psutil.NoSuchProcess:
            pass
    service.pidfile.unlink(missing_ok=True)
    return None


def private_dir(path: Path) -> Path:
    """``path`` created if missing and made 0700 (owner only); returns it."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def open_private_log(path: Path) -> int:
    """A file descriptor appending to ``path``, created 0600 (an older, wider file is narrowed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def start(service: Service, argv: list[str], env: dict[str, str]) -> int:
    """Start ``argv`` in a new session (its own process group) with output to the service log."""
    private_dir(service.pidfile.parent)
    private_dir(service.logfile.parent)
    full_env = {**env, MARKER_VAR: service.marker}
    with open(open_private_log(service.logfile), "ab") as out:
        proc = subprocess.Popen(
            argv,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    service.pidfile.write_text(str(proc.pid))
    log.info("started %s (pid %s): %s", service.name, proc.pid, " ".join(scrub(a) for a in argv))
    return proc.pid


def _marked_processes(service: Service) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get(MARKER_VAR) == service.marker:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def stop(service: Service, grace: float = 20.0) -> bool:
    """Stop the service's whole process group and any marked stragglers. False if nothing ran."""
    pid = running_pid(service)
    procs = _marked_processes(service)
    if pid is None and not procs:
        return False
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _gone, alive = psutil.wait_procs(_marked_processes(service), timeout=grace)
    for proc in alive:
        log.warning("%s: pid %s ignored SIGTERM; killing it", service.name, proc.pid)
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    service.pidfile.unlink(missing_ok=True)
    left = _marked_processes(service)
    if left:
        raise AssayError(f"{service.name}: processes still running after stop: {[p.pid for p in left]}")
    return True


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` of a service log, URLs masked (they go into error messages)."""
    try:
        return scrub("\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
    except OSError:
        return f"(no log at {path})"


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 1.0) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
