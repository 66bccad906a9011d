"""Airflow on the embedded PostgreSQL: ``airflow standalone`` in the background, and CLI pass-through.

Airflow runs with LocalExecutor and a small parallelism (Settings.airflow_parallelism): standalone
otherwise pre-forks 32 workers, too many for a laptop or a 2-core CI box.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from assay.config import Settings, environ_snapshot
from assay.errors import AssayError
from assay.ops import proc

SERVICE = "airflow"


@dataclass(frozen=True)
class AirflowInfo:
    url: str
    user: str
    password: str
    logfile: Path
    pid: int


def airflow_bin() -> str:
    """The ``airflow`` script of the interpreter running assay (the project venv)."""
    return str(Path(sys.executable).with_name("airflow"))


def child_env(settings: Settings) -> dict[str, str]:
    env = {**environ_snapshot(), **settings.airflow_env()}
    # standalone starts its components as `airflow ...` through PATH: put this venv first.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def ensure_database(settings: Settings) -> None:
    """Start the embedded server when Airflow's metadata DB lives there."""
    if not settings.airflow_sql_alchemy_conn:
        from assay.db import embedded

        embedded.up(settings)


def run_cli(settings: Settings, args: list[str]) -> int:
    """Run ``airflow ARGS`` in the foreground with assay's environment; returns its exit code."""
    ensure_database(settings)
    return subprocess.call([airflow_bin(), *args], env=child_env(settings))


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=3) as resp:
            body = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return body.get("metadatabase", {}).get("status") == "healthy"


def _password(settings: Settings) -> str:
    path = settings.airflow_home / "simple_auth_manager_passwords.json.generated"
    try:
        return str(json.loads(path.read_text())["admin"])
    except (OSError, ValueError, KeyError):
        return f"(see {path})"


def standalone_up(settings: Settings, timeout: float = 180.0) -> AirflowInfo:
    """Start ``airflow standalone`` once; return when the API server reports a healthy metadata DB.

    Raises:
        AssayError: the port is taken by something else, or Airflow died or did not come up in time
            (the message carries the last lines of its log).
    """
    service = proc.Service(SERVICE, settings.state_dir)
    url = f"http://127.0.0.1:{settings.airflow_port}"
    pid = proc.running_pid(service)
    if pid is None:
        if proc.port_in_use(settings.airflow_port):
            raise AssayError(
                f"port {settings.airflow_port} is taken by another program; stop it or set ASSAY_AIRFLOW_PORT"
            )
        ensure_database(settings)
        settings.airflow_home.mkdir(parents=True, exist_ok=True)
        log_offset = service.logfile.stat().st_size if service.logfile.exists() else 0
        pid = proc.start(service, [airflow_bin(), "standalone"], child_env(settings))

    else:
        log_offset = service.logfile.stat().st_size if service.logfile.exists() else 0

    def ready() -> bool:
        # standalone keeps running when one of its component threads dies: read the log too.
        with open(service.logfile, "rb") as fh:
            fh.seek(log_offset)
            died = b"Exception in thread" in fh.read()
        if died or proc.running_pid(service) is None:
            proc.stop(service)
            raise AssayError(
                f"airflow standalone failed to start; last lines of {service.logfile}:\n{proc.tail(service.logfile)}"
            )
        return _healthy(url)

    if not proc.wait_until(ready, timeout, interval=2.0):
        proc.stop(service)
        raise AssayError(
            f"Airflow did not answer on {url} within {timeout:.0f} s; last lines of {service.logfile}:\n"
            f"{proc.tail(service.logfile)}"
        )
    return AirflowInfo(url=url, user="admin", password=_password(settings), logfile=service.logfile, pid=pid)


def standalone_down(settings: Settings) -> bool:
    return proc.stop(proc.Service(SERVICE, settings.state_dir))


def rest_token(settings: Settings) -> str:
    """A JWT for the REST API (SimpleAuthManager's generated admin password)."""
    body = json.dumps({"username": "admin", "password": _password(settings)}).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{settings.airflow_port}/auth/token",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(json.loads(resp.read())["access_token"])


def rest(
    settings: Settings, method: str, path: str, token: str, payload: object | None = None, attempts: int = 3
) -> object:
    """Call the Airflow REST API v2 and return the decoded JSON body.

    GETs are retried on time-outs and refused connections (a busy API server on a small machine);
    writes are sent once.
    """
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(
        f"http://127.0.0.1:{settings.airflow_port}{path}",
        data=data,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method=method,
    )
    tries = attempts if method == "GET" else 1
    for attempt in range(1, tries + 1):
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AssayError(f"Airflow REST {method} {path}: HTTP {exc.code}: {exc.read()[:500]!r}") from exc
        except (TimeoutError, urllib.error.URLError) as exc:
            if attempt == tries:
                raise AssayError(f"Airflow REST {method} {path}: no answer ({exc})") from exc
            time.sleep(2 * attempt)
    raise AssertionError("unreachable")


__all__ = ["AirflowInfo", "run_cli", "standalone_up", "standalone_down", "rest", "rest_token"]
