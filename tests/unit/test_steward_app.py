"""The steward app serves Data Docs read-only and says when there are none yet."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from assay.config import Settings
from assay.steward_app import build_app

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "assay_plugin.py"


def signed_in(app):
    """The app with Airflow's access check and user replaced (the real ones: tests/reliability/test_web_security.py)."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user

    (access,) = app.router.dependencies
    app.dependency_overrides[access.dependency] = lambda: None
    app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(username="steward", role="viewer")
    return app


def test_serves_data_docs_when_published(tmp_path):
    s = Settings(home=tmp_path)
    client = TestClient(signed_in(build_app(s)))
    assert "No Data Docs yet" in client.get("/").text
    assert "Signed in as steward" in client.get("/").text
    assert client.get("/data-docs/index.html").status_code == 404
    assert client.post("/data-docs/index.html").status_code == 405
    docs = s.data_docs_dir
    assert not docs.exists()  # build_app creates nothing: the first quality run writes the folder
    docs.mkdir(parents=True)
    (docs / "index.html").write_text("<html>suite report</html>")
    assert 'href="data-docs/index.html"' in client.get("/").text
    page = client.get("/data-docs/index.html")
    assert page.status_code == 200 and "suite report" in page.text
    assert client.post("/data-docs/index.html").status_code == 405


def test_plugin_registers_app_and_links():
    spec = importlib.util.spec_from_file_location("assay_plugin_under_test", PLUGIN)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    plugin = mod.AssayPlugin
    assert plugin.fastapi_apps[0]["url_prefix"] == "/assay"
    assert plugin().fastapi_apps[0]["app"] is plugin.fastapi_apps[0]["app"]  # built once per process
    names = {v["name"] for v in plugin.external_views}
    assert names == {"Steward", "Data Docs", "MLflow"}
    assert all(not v["href"].startswith("/") for v in plugin.external_views)


def test_importing_the_plugin_builds_nothing_and_creates_no_folder(tmp_path):
    """Every Airflow process imports plugins: the import must not build the app or touch files."""
    home = tmp_path / "state"
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('assay_plugin', {str(PLUGIN)!r})\n"
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
        "print(sorted(m for m in ('assay.steward_app', 'assay.config') if m in sys.modules))\n"
        "mod.AssayPlugin().fastapi_apps\n"
        "print('assay.steward_app' in sys.modules)\n"
    )
    env = {**os.environ, "ASSAY_HOME": str(home)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    imported, built = out.stdout.split("\n")[:2]
    assert imported == "[]"
    assert built == "True"
    assert not home.exists()  # neither the import nor building the app created a folder
