"""The steward web app served inside the Airflow API server (see plugins/assay_plugin.py).

It serves GX Data Docs (already PII-masked when they are written) read-only, and a small index
page. Airflow does not put its own auth in front of plugin apps: the app is read-only, and the
local stack listens on 127.0.0.1 only.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from assay.config import Settings


def build_app(settings: Settings) -> FastAPI:
    docs = settings.data_docs_dir
    app = FastAPI(title="assay steward", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        has_docs = (docs / "index.html").exists()
        link = (
            '<a href="data-docs/index.html">Data Docs</a>'
            if has_docs
            else "No Data Docs yet: run the <code>quality</code> DAG."
        )
        return (
            "<!doctype html><title>assay steward</title><h1>assay steward</h1>"
            f"<ul><li>{link}</li></ul>"
        )

    # The folder fills with the first quality run; until then the mount answers 404.
    docs.mkdir(parents=True, exist_ok=True)
    app.mount("/data-docs", StaticFiles(directory=docs, html=True), name="data-docs")
    return app
