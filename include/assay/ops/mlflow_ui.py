"""The MLflow tracking UI on assay's MLflow store, run in the background like Airflow."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

from assay.config import Settings, environ_snapshot
from assay.errors import AssayError
from assay.ops import proc

SERVICE = "mlflow"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=3) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def server_command(settings: Settings, port: int) -> tuple[list[str], dict[str, str]]:
    """``mlflow server``'s argv and environment.

    The store URI (which may hold a password) goes in the environment, not argv: any user of
    the machine can read a command line in ``ps``.
    """
    argv = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--default-artifact-root", settings.mlflow_artifacts.as_uri(),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
    ]
    return argv, {**environ_snapshot(), "MLFLOW_BACKEND_STORE_URI": settings.mlflow_uri()}


def up(settings: Settings, port: int | None = None, timeout: float = 90.0) -> str:
    """Start ``mlflow server`` on 127.0.0.1 (idempotent) and return its URL."""
    port = port or settings.mlflow_port
    url = f"http://127.0.0.1:{port}"
    service = proc.Service(SERVICE, settings.state_dir)
    if proc.running_pid(service) is None:
        if proc.port_in_use(port):
            raise AssayError(f"port {port} is taken by another program; stop it or set ASSAY_MLFLOW_PORT")
        if not settings.mlflow_tracking_uri:
            from assay.db import embedded

            embedded.up(settings)
        settings.mlflow_artifacts.mkdir(parents=True, exist_ok=True)
        proc.start(service, *server_command(settings, port))

    def ready() -> bool:
        if proc.running_pid(service) is None:
            raise AssayError(f"mlflow server exited; last lines of {service.logfile}:\n{proc.tail(service.logfile)}")
        return _healthy(url)

    if not proc.wait_until(ready, timeout, interval=1.0):
        proc.stop(service)
        raise AssayError(f"MLflow UI did not answer on {url} within {timeout:.0f} s:\n{proc.tail(service.logfile)}")
    return url


def down(settings: Settings) -> bool:
    return proc.stop(proc.Service(SERVICE, settings.state_dir))
