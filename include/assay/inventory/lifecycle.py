"""The run and its sources in the catalog: the ``inventory_runs`` row, ``sources`` rows, run context.

Timestamps that describe the observation (``first_seen_at``, ``last_seen_at``, ``observed_at``,
``last_observed_at``, ``deleted_at``, ``decided_at``) are the run's logical date at midnight UTC,
so a rerun of the same logical date writes the same values; ``updated_at`` is the wall clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from assay.catalog import runs
from assay.catalog.db import advisory_key, engine
from assay.catalog.models import InventoryRun, RunStatus, Source
from assay.catalog.upsert import upsert_keyed
from assay.catalog.urls import scrub


@dataclass(frozen=True)
class RunContext:
    """What every write of one source in one run shares."""

    run_id: int
    run_key: str
    observed_at: dt.datetime
    source_id: int
    source_owner: str | None
    source_tags: tuple[str, ...]


def observed_at_of(logical_date: dt.date) -> dt.datetime:
    """The observation time written for a run: its logical date at midnight UTC."""
    return dt.datetime.combine(logical_date, dt.time(), dt.UTC)


def lock_name(source_name: str) -> str:
    """The advisory-lock name of one source (two runs of one source take turns)."""
    return f"assay.inventory:{source_name}"


def lock_key(source_name: str) -> int:
    """The signed 64-bit advisory-lock key of :func:`lock_name`."""
    return advisory_key(lock_name(source_name))


def start_run(conn: Connection, run_key: str, logical_date: dt.date, started_at: dt.datetime) -> int:
    """Begin an attempt of inventory run ``run_key``; return the row's id.

    First reaps the inventory attempts whose process is gone (:func:`assay.catalog.runs.reap`),
    then holds this attempt's owner lock until :func:`finish_run` or :func:`abandon_run`. A rerun
    of a key keeps the previous attempt's record until its own finish replaces it.
    """
    with conn.engine.begin() as other:  # committed before the claim: the reaper's locks are gone
        runs.reap(other, runs.INVENTORY, run_key, started_at)
    runs.claim(conn.engine, runs.INVENTORY, (run_key,))
    try:
        row = {"run_key": run_key, "logical_date": logical_date}
        return runs.start_attempt(conn, runs.INVENTORY, row, started_at)
    except BaseException:
        runs.release(conn.engine, runs.INVENTORY, (run_key,))
        raise


def finish_run(
    conn: Connection,
    run_key: str,
    status: RunStatus,
    stats: dict[str, Any],
    error: str | None,
    finished_at: dt.datetime,
) -> None:
    """Record the run's final status, its figures per source and what failed.

    Every text stored passes :func:`assay.catalog.urls.scrub` (a URL in a message is masked),
    the last net before the catalog under the callers' own scrubbing.
    """
    values = {
        "status": status.value,
        "stats": _scrubbed(stats),
        "error": scrub(error) if error else error,
        "finished_at": finished_at,
        **runs.finished_sql(runs.INVENTORY),
    }
    try:
        conn.execute(update(InventoryRun).where(InventoryRun.run_key == run_key).values(values))
    finally:
        # Released before the caller commits: a reaper that takes the lock meanwhile waits for this
        # row and then finds the attempt finished (runs.interrupt re-checks it). Released when the
        # write fails too: the attempt, still in progress, is then the reaper's.
        runs.release(conn.engine, runs.INVENTORY, (run_key,))


def abandon_run(conn: Connection, run_key: str, reason: str, now: dt.datetime) -> None:
    """End this process's attempt of ``run_key`` without an outcome (the catalog refused a write).

    The previous attempt's record, if any, is kept; ``reason`` goes to ``attempt_error`` (or to
    ``error`` of a run that had no record, now ``failed``).
    """
    try:
        run_id = conn.execute(select(InventoryRun.id).where(InventoryRun.run_key == run_key)).scalar_one()
        runs.interrupt(conn, runs.INVENTORY, run_id, scrub(reason), now)
    finally:
        runs.release(conn.engine, runs.INVENTORY, (run_key,))


def release(url: str, run_key: str) -> None:
    """Release this process's owner lock of run ``run_key`` if it still holds it (any exit of a run)."""
    runs.release(engine(url), runs.INVENTORY, (run_key,))


def _scrubbed(value: Any) -> Any:
    """A JSON-like value with every string scrubbed of URL secrets."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    return value


def record_source(conn: Connection, row: dict[str, Any]) -> int:
    """Upsert a declared source's ``sources`` row on its name; return its id."""
    return upsert_keyed(conn, Source, [row], ["name"], [k for k in row if k != "name"])[(row["name"],)]
