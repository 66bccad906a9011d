"""Profiling: per-partition column metrics by SQL pushdown (or pyarrow for files), and anomalies.

* :func:`run_profile` profiles every active asset's partition for a logical date into the
  catalog (``profile_runs``, ``column_metrics``, ``anomalies``); the DAG calls this.
* :func:`profile_sql_partition` profiles one partition of one table, without the catalog.
* :func:`profile_arrow` profiles an Arrow table (a landing file), without the catalog.
* :mod:`assay.profiling.anomalies` is the pure detector (rolling band and rate of change).

See ``docs/profiling.md`` for the metrics, the two statements per partition, the distinct-count
estimator and its error, and the anomaly rules. Importing this package is cheap: SQLAlchemy and
pyarrow load when a function is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assay.profiling.anomalies import AnomalyConfig, Finding, detect
from assay.profiling.report import AssetResult, ProfileReport, ProfilingError

if TYPE_CHECKING:
    from assay.profiling.arrow import profile_arrow
    from assay.profiling.run import run_profile
    from assay.profiling.sql import SqlTuning, profile_sql_partition

__all__ = [
    "AnomalyConfig",
    "AssetResult",
    "Finding",
    "ProfileReport",
    "ProfilingError",
    "SqlTuning",
    "detect",
    "profile_arrow",
    "profile_sql_partition",
    "run_profile",
]

_LAZY = {
    "run_profile": "assay.profiling.run",
    "profile_sql_partition": "assay.profiling.sql",
    "SqlTuning": "assay.profiling.sql",
    "profile_arrow": "assay.profiling.arrow",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
