"""Glue between Airflow task contexts and assay's keys: the partition a run processes and its run key.

Cheap to import (standard library only): DAG files and task bodies use it. The Airflow-facing
parts live in submodules that DAG files import at parse time (all cheap, none reads a connection):
:mod:`.timetable` (one run per day), :mod:`.tasks` (retries, time-outs, failure callback, data
failures as ``AirflowFailException``), :mod:`.arrival` (the deferrable wait for a day's data), and
:mod:`.failures` (the catalog record of a failed task).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

log = logging.getLogger(__name__)

#: Params that limit a run to part of the declared world; they are part of its run key.
SCOPE_PARAMS: tuple[str, ...] = ("sources", "assets")


def partition_date(context: Mapping[str, Any]) -> dt.date:
    """The day (partition) a run processes, the same for every way a run starts.

    * a partitioned run (Airflow's ``partition_key``, ``YYYY-MM-DD``): that day;
    * a run with a logical date — scheduled, manual (UI, REST, ``airflow dags test DAG D``) or
      backfilled — on :class:`assay.orchestration.timetable.DailyPartitions`: the logical date is
      the start of the day D whose data it processes (data interval D 00:00 → D+1 00:00);
    * an asset-triggered run (no logical date): the ``logical_date`` the producing task put in its
      asset event's extra; when several events name different days, the newest event wins and
      the others are logged (each producer run emits its own event, so this is rare);
    * otherwise the run's ``run_after`` (a REST trigger with ``logical_date: null``).
    """
    run = context.get("dag_run")
    key = getattr(run, "partition_key", None)
    if key:
        return _as_date(key)
    logical = context.get("logical_date")
    if logical is not None:
        return _as_date(logical)
    days = _event_days(context.get("triggering_asset_events") or {})
    if days:
        if len(set(days)) > 1:
            log.warning("asset events name several days %s; processing the newest event's %s", sorted(set(days)), days[-1])
        return days[-1]
    if run is None:
        raise KeyError("the task context has neither a logical date, an asset event nor a dag_run")
    return _as_date(run.run_after)


def run_scope(params: Mapping[str, Any] | None) -> str:
    """The part of the declared world a run is limited to, e.g. ``assets=interactions,products``.

    Empty when the run covers everything. Order and duplicates in the Params do not matter.
    """
    parts = []
    for name in SCOPE_PARAMS:
        values = (params or {}).get(name) or []
        if isinstance(values, str):
            values = [values]
        if values:
            parts.append(f"{name}={','.join(sorted(set(map(str, values))))}")
    return "&".join(parts)


def run_key(context: Mapping[str, Any], params: Mapping[str, Any] | None = None) -> str:
    """A stable key for the run and its scope: ``dag_id/run_id`` or ``dag_id/run_id?assets=a,b``.

    Retries of the same run share it; runs of different sources or assets on one date (or in one
    run id) never share it, so neither replaces the other's run record.

    Args:
        params: the run's Params; default ``context["params"]`` (a ``@task`` that takes ``params``
            as an argument no longer has them in ``**context``: pass them).
    """
    run = context["dag_run"]
    scope = run_scope(params if params is not None else context.get("params"))
    return f"{run.dag_id}/{run.run_id}" + (f"?{scope}" if scope else "")


def day_partitions(partitions: Iterable[str]) -> list[str]:
    """The dated partitions among ``target:partition_key`` names (not whole-table ``__all__`` snapshots).

    A day is published as validated only when one of them passed: dimension tables validated
    whole say nothing about whether the day's facts arrived and passed.
    """
    from assay.names import ALL_PARTITIONS

    return [p for p in partitions if p.rpartition(":")[2] != ALL_PARTITIONS]


def _event_days(events: Mapping[Any, Iterable[Any]]) -> list[dt.date]:
    """The days named by triggering asset events, oldest event first."""
    found: list[tuple[str, dt.date]] = []
    for stream in events.values():
        for event in stream:
            value = (getattr(event, "extra", None) or {}).get("logical_date")
            key = getattr(event, "partition_key", None)
            if value or key:
                found.append((str(getattr(event, "timestamp", "")), _as_date(value or key)))
    return [day for _, day in sorted(found, key=lambda f: f[0])]


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
