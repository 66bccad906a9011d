"""The run and its sources in the catalog: the ``inventory_runs`` row, ``sources`` rows, run context.

Timestamps that describe the observation (``first_seen_at``, ``last_seen_at``, ``observed_at``,
``last_observed_at``, ``deleted_at``, ``decided_at``) are the run's logical date at midnight UTC,
so a rerun of the same logical date writes the same values; ``updated_at`` is the wall clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from assay.catalog.models import InventoryRun, RunStatus, Source
from assay.catalog.upsert import upsert_keyed


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


def lock_key(source_name: str) -> int:
    """A signed 64-bit advisory-lock key for one source (two runs of one source take turns)."""
    digest = hashlib.sha256(f"assay.inventory:{source_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def start_run(conn: Connection, run_key: str, logical_date: dt.date, started_at: dt.datetime) -> int:
    """Create (or reset, on a rerun) the ``inventory_runs`` row; return its id."""
    row = {
        "run_key": run_key,
        "logical_date": logical_date,
        "started_at": started_at,
        "finished_at": None,
        "status": RunStatus.RUNNING.value,
        "error": None,
    }
    ids = upsert_keyed(conn, InventoryRun, [row], ["run_key"], [k for k in row if k != "run_key"])
    return ids[(run_key,)]


def finish_run(
    conn: Connection,
    run_key: str,
    status: RunStatus,
    stats: dict[str, Any],
    error: str | None,
    finished_at: dt.datetime,
) -> None:
    """Record the run's final status, its figures per source and what failed."""
    row = {"run_key": run_key, "status": status.value, "stats": stats, "error": error, "finished_at": finished_at}
    upsert_keyed(conn, InventoryRun, [row], ["run_key"], [k for k in row if k != "run_key"])


def record_source(conn: Connection, row: dict[str, Any]) -> int:
    """Upsert a declared source's ``sources`` row on its name; return its id."""
    return upsert_keyed(conn, Source, [row], ["name"], [k for k in row if k != "name"])[(row["name"],)]
