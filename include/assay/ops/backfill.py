"""Backfills: the demo's history run in-process, and a real Airflow backfill through the REST API.

``airflow backfill create`` only queues runs for a running scheduler, and 20 ``dags test`` runs per
stage would take minutes; so the demo's earlier days call the functions the DAG tasks call. Which
stages get history, and how each one runs a day, is the table :data:`HISTORY`.

Against a running Airflow, :func:`request_backfill` creates the backfill the way an operator would
(``POST /api/v2/backfills``): the daily DAGs run one day per run (``DailyPartitions``), so the
days named are the days processed, both ends included; ``max_active_runs`` 1 keeps the days in
order (a backfill's own limit overrides the DAG's ``max_active_runs``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assay.config import Settings
from assay.errors import AssayError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HistoryStage:
    """How one stage runs a day in-process, and what its failed days are called."""

    #: ``(settings, day, run key) -> True`` when the day's data failed (persisted, not raised).
    run: Callable[[Settings, dt.date, str], bool]
    #: What a failed day means for this stage, e.g. ``anomalies``.
    failures: str


def _profile_day(settings: Settings, day: dt.date, key: str) -> bool:
    """One day of ``profile``: failed when it recorded anomalies."""
    from assay.profiling import run_profile

    return bool(run_profile(settings, day, key).anomaly_count)


def _quality_day(settings: Settings, day: dt.date, key: str) -> bool:
    """One day of ``quality``: a failed day raises (critical failures), so a return is clean."""
    from assay.quality import run_quality

    run_quality(settings, day, key)
    return False


#: Stages whose earlier days the demo backfills before the DAG run of the last day.
HISTORY: dict[str, HistoryStage] = {
    "profile": HistoryStage(_profile_day, "anomalies"),
    "quality": HistoryStage(_quality_day, "critical failures"),
}


@dataclass(frozen=True)
class HistoryResult:
    """What a backfill did: ``days`` days of ``stage`` before ``last``, and the days that failed."""

    stage: str
    last: dt.date
    days: int
    failures: str
    failed_days: tuple[str, ...]


def backfill_history(settings: Settings, stage: str, last: dt.date, days: int) -> HistoryResult:
    """Run ``stage`` in-process for the ``days`` days before ``last``.

    Failures of the data (critical expectations, anomalies) are expected on the demo's defect
    days: they are persisted and counted, not raised.
    """
    history = HISTORY[stage]
    failed: list[str] = []
    for i in range(days, 0, -1):
        day = last - dt.timedelta(days=i)
        key = f"demo-history/{day.isoformat()}"
        try:
            if history.run(settings, day, key):
                failed.append(day.isoformat())
        except AssayError as exc:
            failed.append(day.isoformat())
            log.info("%s %s: %s", stage, day, str(exc).splitlines()[0])
    return HistoryResult(stage, last, days, history.failures, tuple(failed))


def request_backfill(
    settings: Settings, token: str, dag_id: str, first: dt.date, last: dt.date, *,
    reprocess: str = "completed", max_active_runs: int = 1, conf: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create an Airflow backfill of ``dag_id`` for the days ``first``..``last`` (inclusive); returns it.

    Args:
        reprocess: Airflow's ``reprocess_behavior``: ``none`` (skip days that have a run),
            ``failed`` or ``completed`` (re-run those too).
        conf: the runs' Params (e.g. ``{"assets": ["interactions"]}``).

    Raises:
        AssayError: the API refused (the message carries its answer), or ``last`` is before ``first``.
    """
    from assay.ops import airflow

    if last < first:
        raise AssayError(f"backfill {dag_id}: {last} is before {first}")
    body = {
        "dag_id": dag_id,
        "from_date": f"{first.isoformat()}T00:00:00Z",
        "to_date": f"{last.isoformat()}T00:00:00Z",
        "max_active_runs": max_active_runs,
        "reprocess_behavior": reprocess,
        "dag_run_conf": conf or {},
    }
    answer = airflow.rest(settings, "POST", "/api/v2/backfills", token, body)
    if not isinstance(answer, dict):
        raise AssayError(f"backfill {dag_id}: unexpected answer {answer!r:.200}")
    return answer
