"""The steward service as the pages call it: :mod:`assay.steward.service` (one layer for CLI and pages).

Imported on first use, so building the app (every Airflow process imports the plugin) opens nothing.
"""

from __future__ import annotations

from types import ModuleType


def steward_service() -> ModuleType:
    """:mod:`assay.steward.service`."""
    from assay.steward import service

    return service
