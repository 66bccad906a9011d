"""Inventory: discover tables, views and files of the declared sources and record them.

``run_inventory(settings, logical_date, run_key, sources=None)`` is the entry point of the
inventory DAG task. Importing this package is cheap (no SQLAlchemy, no pyarrow): the runner is
loaded on first use, so a DAG file may import it at top level. See ``docs/inventory.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assay.inventory.report import InventoryReport, SourceReport

if TYPE_CHECKING:
    from assay.inventory.run import run_inventory

__all__ = ["InventoryReport", "SourceReport", "run_inventory"]


def __getattr__(name: str) -> Any:
    if name == "run_inventory":
        from assay.inventory.run import run_inventory

        return run_inventory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
