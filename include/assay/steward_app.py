"""The steward web app served inside the Airflow API server (see plugins/assay_plugin.py).

It serves GX Data Docs (already PII-masked when they are written) read-only, and a small index
page. Airflow does not put its own auth in front of plugin apps: the app is read-only, and the
local stack listens on 127.0.0.1 only. Building the app touches no file: the Data Docs folder is
created by the first quality run, and until then every Data Docs path answers 404.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from assay.config import Settings


class _DataDocs(StaticFiles):
    """Read-only Data Docs that may not exist yet: a missing folder is a 404, not a server error."""

    async def check_config(self) -> None:
        # StaticFiles checks its folder once, on the first request, and fails every request if
        # it is missing; here the folder appears later (first quality run), so only an existing
        # path is checked and a missing one is simply a folder with no files in it yet.
        if self.directory is not None and Path(self.directory).exists():
            await super().check_config()


def build_app(settings: Settings) -> FastAPI:
    """The steward app: an index page and the Data Docs under ``/data-docs`` (no file is created)."""
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

    app.mount("/data-docs", _DataDocs(directory=docs, html=True, check_dir=False), name="data-docs")
    return app
