"""assay's Airflow plugin: the steward app (Data Docs) under /assay and links in the UI nav."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from assay.config import get_settings
from assay.steward_app import build_app

_settings = get_settings()


class AssayPlugin(AirflowPlugin):
    name = "assay"
    fastapi_apps = [{"app": build_app(_settings), "url_prefix": "/assay", "name": "assay steward"}]
    external_views = [
        {
            "name": "Data Docs",
            "href": "assay/data-docs/index.html",
            "url_route": "assay-data-docs",
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "MLflow",
            "href": f"http://127.0.0.1:{_settings.mlflow_port}",
            "destination": "nav",
            "category": "browse",
        },
    ]
