"""The steward app serves Data Docs read-only and says when there are none yet."""

from __future__ import annotations

from fastapi.testclient import TestClient

from assay.config import Settings
from assay.steward_app import build_app


def test_serves_data_docs_when_published(tmp_path):
    s = Settings(home=tmp_path)
    client = TestClient(build_app(s))
    assert "No Data Docs yet" in client.get("/").text
    assert client.get("/data-docs/index.html").status_code == 404
    docs = s.data_docs_dir
    assert docs.is_dir()  # created by build_app
    (docs / "index.html").write_text("<html>suite report</html>")
    assert 'href="data-docs/index.html"' in client.get("/").text
    page = client.get("/data-docs/index.html")
    assert page.status_code == 200 and "suite report" in page.text
    assert client.post("/data-docs/index.html").status_code == 405


def test_plugin_registers_app_and_links():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "plugins" / "assay_plugin.py"
    spec = importlib.util.spec_from_file_location("assay_plugin_under_test", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    plugin = mod.AssayPlugin
    assert plugin.fastapi_apps[0]["url_prefix"] == "/assay"
    names = {v["name"] for v in plugin.external_views}
    assert names == {"Data Docs", "MLflow"}
    assert all(not v["href"].startswith("/") for v in plugin.external_views)
