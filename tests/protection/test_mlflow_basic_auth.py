"""MLflow behind its basic-auth app, as in docker-compose.yaml: a real `mlflow server --app-name basic-auth`.

The server runs on a free loopback port with a SQLite store in the test's folder and the auth
config of the compose stack (docker/mlflow/basic_auth.ini, with its user store moved into the
test's folder). Asserted: without credentials nothing can be read or changed; a READ-only account
cannot move an alias; assay's service account (docker/mlflow/service_user.py, credentials from
MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD) can, and reconciliation works through it.
"""

from __future__ import annotations

import configparser
import contextlib
import importlib.util
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
import requests

from assay import names

ROOT = Path(__file__).resolve().parents[2]
AUTH_INI = ROOT / "docker" / "mlflow" / "basic_auth.ini"
SERVICE_USER = ROOT / "docker" / "mlflow" / "service_user.py"
MLFLOW = Path(sys.executable).with_name("mlflow")
START_TIMEOUT_S = 240  # 17 s on an idle 2-core machine, 118 s with ~8 test runs beside it

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass
class AuthServer:
    url: str
    admin: tuple[str, str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _service_user() -> ModuleType:
    spec = importlib.util.spec_from_file_location("service_user", SERVICE_USER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    """`mlflow server --app-name basic-auth` with the compose stack's auth config; stopped afterwards."""
    pytest.importorskip("flask_wtf", reason="MLflow's basic-auth app needs Flask-WTF: install mlflow[auth]")
    home = tmp_path_factory.mktemp("mlflow-auth")
    cfg = configparser.ConfigParser()
    cfg.read(AUTH_INI)
    assert "admin_password" not in cfg["mlflow"], "the admin password must come from the environment"
    cfg["mlflow"]["database_uri"] = f"sqlite:///{home / 'basic_auth.db'}"
    ini = home / "basic_auth.ini"
    with ini.open("w") as fh:
        cfg.write(fh)
    admin = ("admin", secrets.token_urlsafe(16))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    env.update(MLFLOW_AUTH_CONFIG_PATH=str(ini), MLFLOW_AUTH_ADMIN_PASSWORD=admin[1],
               MLFLOW_FLASK_SERVER_SECRET_KEY=secrets.token_urlsafe(24))
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [MLFLOW, "server", "--app-name", "basic-auth", "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited {proc.returncode}:\n{(home / 'server.log').read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"no answer in {START_TIMEOUT_S} s:\n{(home / 'server.log').read_text()[-3000:]}"
            time.sleep(0.5)
        yield AuthServer(url, admin)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the server's own group: its uvicorn workers too
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture
def assay_account(auth_server: AuthServer, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """assay's service account, set up as airflow-init does, and its credentials in the environment."""
    account = ("assay", secrets.token_urlsafe(16))
    env = {"MLFLOW_TRACKING_URI": auth_server.url, "MLFLOW_AUTH_ADMIN_USERNAME": auth_server.admin[0],
           "MLFLOW_AUTH_ADMIN_PASSWORD": auth_server.admin[1], "MLFLOW_TRACKING_USERNAME": account[0],
           "MLFLOW_TRACKING_PASSWORD": account[1]}
    assert _service_user().main(env) == 0
    assert _service_user().main(env) == 0  # idempotent: a second start updates, never fails
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", account[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", account[1])
    return account


def _register(c, model: str) -> str:
    """A run and a registered version of ``model`` through client ``c``; returns the version."""
    exp = c.get_experiment_by_name("auth-test")
    exp_id = exp.experiment_id if exp else c.create_experiment("auth-test")
    run = c.create_run(exp_id)
    c.set_terminated(run.info.run_id)
    with contextlib.suppress(Exception):
        c.create_registered_model(model)
    return str(c.create_model_version(model, source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id).version)


def test_unauthenticated_alias_update_is_refused(auth_server, assay_account, monkeypatch):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    model = "auth-refused"
    version = _register(MlflowClient(auth_server.url, registry_uri=auth_server.url), model)
    # What the MLflow UI's REST calls look like without a login: 401, and the alias does not move.
    raw = requests.post(f"{auth_server.url}/api/2.0/mlflow/registered-models/alias",
                        json={"name": model, "alias": names.CHAMPION, "version": version}, timeout=10)
    assert raw.status_code == 401
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    anonymous = MlflowClient(auth_server.url, registry_uri=auth_server.url)
    with pytest.raises(MlflowException, match="401|[Uu]nauthenticated|credentials"):
        anonymous.set_registered_model_alias(model, names.CHAMPION, version)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", assay_account[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", assay_account[1])
    assert names.CHAMPION not in MlflowClient(auth_server.url, registry_uri=auth_server.url).get_registered_model(model).aliases


def test_read_only_account_cannot_move_an_alias(auth_server, assay_account):
    from mlflow import MlflowClient

    model = "auth-readonly"
    version = _register(MlflowClient(auth_server.url, registry_uri=auth_server.url), model)
    reader = ("teammate", secrets.token_urlsafe(16))
    created = requests.post(f"{auth_server.url}/api/2.0/mlflow/users/create", auth=auth_server.admin,
                            json={"username": reader[0], "password": reader[1]}, timeout=10)
    assert created.status_code == 200, created.text
    body = {"name": model, "alias": names.CHAMPION, "version": version}
    assert requests.get(f"{auth_server.url}/api/2.0/mlflow/registered-models/get", params={"name": model},
                        auth=reader, timeout=10).status_code == 200  # default_permission = READ
    moved = requests.post(f"{auth_server.url}/api/2.0/mlflow/registered-models/alias", json=body, auth=reader,
                          timeout=10)
    assert moved.status_code == 403, moved.text


def test_assays_authenticated_client_moves_aliases_and_reconciles(auth_server, assay_account, isolated_settings):
    from assay.gate import registry
    from assay.gate.policy import parse
    from assay.gate.reconcile import Kind, reconcile

    settings = isolated_settings.model_copy(update={"mlflow_tracking_uri": auth_server.url})
    c = registry.client(settings)  # credentials: MLflow's client reads MLFLOW_TRACKING_USERNAME/PASSWORD
    version = _register(c, names.MODEL_NAME)
    c.set_registered_model_alias(names.MODEL_NAME, "prod", version)
    assert registry.aliases(c, names.MODEL_NAME) == {"prod": version}
    pol = parse({"metrics": [{"metric": "ndcg_at_10", "threshold": 0.3}], "alias_protection": "restore"}, "p")
    report = reconcile(settings, policy=pol, models=[names.MODEL_NAME], run_key="test/auth")
    assert report.ok, report.summary()
    assert [(f.kind, f.alias, f.action) for f in report.findings] == [(Kind.UNBACKED, "prod", "removed")]
    assert registry.aliases(c, names.MODEL_NAME) == {}


def test_reconcile_names_missing_credentials(auth_server, isolated_settings, monkeypatch):
    from assay.gate.policy import parse
    from assay.gate.reconcile import reconcile

    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    settings = isolated_settings.model_copy(update={"mlflow_tracking_uri": auth_server.url})
    pol = parse({"metrics": [{"metric": "ndcg_at_10", "threshold": 0.3}]}, "p")
    report = reconcile(settings, policy=pol, models=[names.MODEL_NAME])
    assert not report.ok
    assert "MLFLOW_TRACKING_USERNAME" in report.errors[0], report.errors
