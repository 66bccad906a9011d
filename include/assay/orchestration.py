"""Glue between Airflow task contexts and assay's keys: partition date and run key.

Cheap to import (standard library only): DAG files and task bodies use it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any


def partition_date(context: Mapping[str, Any]) -> dt.date:
    """The logical-date partition a run works on.

    * scheduled and manual runs: the run's logical date (with CronDataIntervalTimetable that is
      the start of the day whose data is complete);
    * asset-triggered runs (no logical date in Airflow 3): the ``logical_date`` the producing
      task put in its asset event's extra;
    * otherwise the run's ``run_after``.
    """
    logical = context.get("logical_date")
    if logical is not None:
        return _as_date(logical)
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in events:
            value = (getattr(event, "extra", None) or {}).get("logical_date")
            if value:
                return dt.date.fromisoformat(str(value)[:10])
    return _as_date(context["dag_run"].run_after)


def run_key(context: Mapping[str, Any]) -> str:
    """A stable key for the run: ``dag_id/run_id``; retries of the same run share it."""
    run = context["dag_run"]
    return f"{run.dag_id}/{run.run_id}"


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
