"""assay's Airflow plugin: the steward app (pages, actions, Data Docs) under /assay and links in the UI nav.

Importing this module builds nothing and reads no settings: every Airflow process imports the
plugins (scheduler, DAG processor, workers), and only the API server serves the app. The plugin's
``fastapi_apps`` and ``external_views`` are built on their first read, once per process.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from assay.orchestration.timetable import DailyPartitions


@cache
def _steward_apps() -> list[dict[str, Any]]:
    """The steward app, as Airflow 3 mounts it (``fastapi_apps``)."""
    from assay.config import get_settings
    from assay.steward_app import build_app

    return [{"app": build_app(get_settings()), "url_prefix": "/assay", "name": "assay steward"}]


@cache
def _nav_links() -> list[dict[str, Any]]:
    """The steward pages and Data Docs (served by the steward app) and MLflow in the UI's Browse menu."""
    from assay.config import get_settings

    return [
        {
            "name": "Steward",
            "href": "assay/",
            "url_route": "assay-steward",
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "Data Docs",
            "href": "assay/data-docs/index.html",
            "url_route": "assay-data-docs",
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "MLflow",
            "href": f"http://127.0.0.1:{get_settings().mlflow_port}",
            "destination": "nav",
            "category": "browse",
        },
    ]


class _OnFirstRead:
    """A plugin attribute built by ``make`` when first read, on the class or an instance."""

    def __init__(self, make: Callable[[], list[dict[str, Any]]]) -> None:
        self._make = make

    def __get__(self, instance: object, owner: type | None = None) -> list[dict[str, Any]]:
        return self._make()


class AssayPlugin(AirflowPlugin):
    name = "assay"
    fastapi_apps = _OnFirstRead(_steward_apps)
    external_views = _OnFirstRead(_nav_links)
    # The daily DAGs' timetable: Airflow (de)serialises a custom timetable only when a plugin registers it.
    timetables = [DailyPartitions]
