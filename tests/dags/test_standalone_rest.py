"""`make airflow` for real: standalone on the embedded PostgreSQL, a run triggered through the REST
API and polled to success, then a clean stop of the whole process group (no orphans)."""

from __future__ import annotations

import datetime as dt
import time
import urllib.error
import urllib.request

import psutil
import pytest

from assay.config import Settings
from assay.ops import airflow, proc

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def af_settings(settings, pg_server):
    # A port of its own so a developer's `make airflow` on 8080 does not collide with the test.
    return Settings(home=settings.state_dir, airflow_port=18080)


def _marked(s: Settings) -> list[int]:
    svc = proc.Service(airflow.SERVICE, s.state_dir)
    return [p.pid for p in proc._marked_processes(svc)]


def test_trigger_dag_through_rest_and_stop_cleanly(af_settings):
    from assay.catalog import migrate

    s = af_settings
    info = airflow.standalone_up(s, timeout=240)
    try:
        assert info.url.endswith(":18080")
        # Idempotent: a second `up` finds the running instance.
        assert airflow.standalone_up(s, timeout=30).pid == info.pid
        token = airflow.rest_token(s)
        # assay's pages are behind Airflow's login, like /api/v2 (tests/reliability/test_web_security.py).
        steward = f"http://127.0.0.1:{s.airflow_port}/assay/"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(steward, timeout=30)
        assert refused.value.code == 401
        signed = urllib.request.Request(steward, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(signed, timeout=30) as page:
            assert page.status == 200 and "Signed in as admin" in page.read().decode()
        deadline = time.monotonic() + 120
        while True:  # the dag-processor parses the folder shortly after start
            dags = airflow.rest(s, "GET", "/api/v2/dags?dag_id_pattern=catalog_maintenance", token)
            if dags["total_entries"] == 1:  # type: ignore[index]
                break
            assert time.monotonic() < deadline, "catalog_maintenance never appeared"
            time.sleep(2)
        airflow.rest(s, "PATCH", "/api/v2/dags/catalog_maintenance", token, {"is_paused": False})
        run = airflow.rest(
            s,
            "POST",
            "/api/v2/dags/catalog_maintenance/dagRuns",
            token,
            # Unique per test run: the test server's metadata DB outlives a session.
            {"logical_date": dt.datetime.now(dt.UTC).isoformat(), "conf": {}},
        )
        run_id = run["dag_run_id"]  # type: ignore[index]
        deadline = time.monotonic() + 180
        state = None
        while time.monotonic() < deadline:
            state = airflow.rest(s, "GET", f"/api/v2/dags/catalog_maintenance/dagRuns/{run_id}", token)["state"]  # type: ignore[index]
            if state in ("success", "failed"):
                break
            time.sleep(2)
        assert state == "success"
        xcom = airflow.rest(
            s,
            "GET",
            f"/api/v2/dags/catalog_maintenance/dagRuns/{run_id}/taskInstances/migrate_catalog/xcomEntries/return_value",
            token,
        )
        assert xcom["value"] == migrate.current(s.catalog_url())  # type: ignore[index]
        assert _marked(s), "standalone's processes should carry the service marker"
    finally:
        assert airflow.standalone_down(s) is True
    assert _marked(s) == []
    assert not proc.port_in_use(18080)
    assert proc.running_pid(proc.Service(airflow.SERVICE, s.state_dir)) is None
    assert not any(
        "airflow" in " ".join(p.info["cmdline"] or []) and str(s.airflow_home) in str(p.info.get("cwd") or "")
        for p in psutil.process_iter(["cmdline", "cwd"])
    )


def test_port_taken_is_a_clear_error(af_settings):
    import socket

    from assay.errors import AssayError

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        s = Settings(home=af_settings.state_dir, airflow_port=port)
        with pytest.raises(AssayError, match=f"port {port} is taken"):
            airflow.standalone_up(s, timeout=5)
