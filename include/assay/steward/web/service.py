"""The steward service as the pages call it: :mod:`assay.steward.service` (one layer for CLI and pages).

Imported on first use, so building the app needs no database. While the service module is being
written its parts (``items``, ``waivers``, ``audit``) are used directly -- the same functions.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any


def steward_service() -> Any:
    """:mod:`assay.steward.service`, or the namespace of its parts when it does not exist yet."""
    try:
        return importlib.import_module("assay.steward.service")
    except ModuleNotFoundError as exc:
        if exc.name != "assay.steward.service":
            raise
    parts: dict[str, Any] = {}
    for name in ("audit", "waivers", "items"):
        try:
            mod = importlib.import_module(f"assay.steward.{name}")
        except ModuleNotFoundError:
            continue
        parts.update({k: v for k, v in vars(mod).items() if not k.startswith("_")})
    return SimpleNamespace(**parts)
