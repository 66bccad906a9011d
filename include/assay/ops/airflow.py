"""Airflow on the embedded PostgreSQL: ``airflow standalone`` in the background, and CLI pass-through.

Airflow runs with LocalExecutor and a small parallelism (Settings.airflow_parallelism): standalone
otherwise pre-forks 32 workers, too many for a laptop or a 2-core CI box.

The admin password: SimpleAuthManager generates one, writes it world-readable and prints it to
standalone's output for any user missing from its passwords file. assay writes that file first
(0600, in a 0700 ``AIRFLOW_HOME``), so Airflow finds the user and prints
nothing; a password line an older run left in the service log is overwritten with ``*``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
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

log = logging.getLogger(__name__)
SERVICE = "airflow"
#: SimpleAuthManager's default passwords file, under AIRFLOW_HOME.
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
#: Airflow's line announcing a generated password (3.x) or the login (2.x), colour codes allowed.
_PASSWORD_LINE = re.compile(rb"(?i)(password for user '[^'\n]*':[ \t]*|login with username:?[ \t]*\S+[ \t]+password:?[ \t]*)([^\s\x1b]+)")


@dataclass(frozen=True)
class AirflowInfo:
    url: str
    user: str
    password_file: Path
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


def passwords_file(settings: Settings) -> Path:
    """Where SimpleAuthManager keeps its passwords (``[core] simple_auth_manager_passwords_file``)."""
    configured = child_env(settings).get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
    return Path(configured) if configured else settings.airflow_home / PASSWORDS_FILE


def _read_passwords(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def ensure_admin_password(settings: Settings) -> Path:
    """The admin's passwords file, written before Airflow would write it; returns its path.

    AIRFLOW_HOME and the service folders (logs, run) are made 0700 and the file 0600. The state
    folder itself keeps its mode: the embedded PostgreSQL may run as another user (pgserver drops
    root) and must reach its data folder through it. An existing admin password is kept (the user
    may have noted it); a missing or unreadable file gets a new one.
    """
    for folder in (settings.airflow_home, settings.state_dir / "logs", settings.state_dir / "run"):
        proc.private_dir(folder)
    path = passwords_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)  # a configured folder keeps the mode its owner gave it
    passwords = _read_passwords(path)
    if "admin" not in passwords:
        passwords["admin"] = secrets.token_urlsafe(18)
        # Created 0600 under a temporary name, then renamed: never readable by others, never half written.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "w") as fh:
            fh.write(json.dumps(passwords) + "\n")
        os.replace(tmp, path)
    path.chmod(0o600)
    return path


def redact_log(path: Path) -> int:
    """Overwrite each password Airflow printed in ``path`` with ``*``; returns how many.

    In place and length for length, so a running standalone appending to the file loses nothing.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return 0
    count = 0

    def hide(m: re.Match[bytes]) -> bytes:
        nonlocal count
        count += bool(m.group(2).strip(b"*"))  # a line redacted earlier is not counted again
        return m.group(1) + b"*" * len(m.group(2))

    redacted = _PASSWORD_LINE.sub(hide, data)
    if count:
        with open(path, "r+b") as fh:
            fh.write(redacted)
    return count


def _password(settings: Settings) -> str:
    try:
        return _read_passwords(passwords_file(settings))["admin"]
    except KeyError:
        raise AssayError(f"no admin password in {passwords_file(settings)}: run `assay airflow up`") from None


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
        ensure_admin_password(settings)
        # assay's own landing zone (`root_from: landing`): on a clean clone nothing has landed yet,
        # and a missing folder would read as a source outage (retried, then a failed run), not as
        # data that has not arrived.
        settings.landing.mkdir(parents=True, exist_ok=True)
        redact_log(service.logfile)
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
    password_file = ensure_admin_password(settings)
    if redact_log(service.logfile):
        log.warning("a generated Airflow password was printed to %s; overwritten there", service.logfile)
    return AirflowInfo(url=url, user="admin", password_file=password_file, logfile=service.logfile, pid=pid)


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
