"""The catalog record of a failed Airflow task (``task_failures``), written by the failure callback.

One row per (dag, run, task, try): scope (the run's ``sources``/``assets``), the partition (day)
it processed, the error type and its message — PII-scrubbed (:func:`assay.classify.scrub.safe_value`)
and with any URL secret masked (:func:`assay.catalog.urls.scrub`) — so the steward pages can list
what failed for which day without opening Airflow's logs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

#: Characters of an error message kept (the first lines carry the summary).
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class Failure:
    """One failed task try, as the catalog stores it."""

    dag_id: str
    run_id: str
    task_id: str
    try_number: int
    scope: str
    logical_date: dt.date | None
    error_type: str | None
    error: str | None


def _safe_text(text: str) -> str:
    from assay.catalog.urls import scrub as scrub_urls
    from assay.classify.scrub import safe_value

    return str(safe_value(scrub_urls(text), limit=MAX_ERROR_CHARS))


def failure_from_context(context: Mapping[str, Any]) -> Failure:
    """The :class:`Failure` an ``on_failure_callback`` context describes."""
    from assay.orchestration import partition_date, run_scope

    ti = context["ti"]
    exc = context.get("exception")
    try:
        day: dt.date | None = partition_date(context)
    except (KeyError, ValueError, AttributeError):
        day = None  # a run without a day (an unscheduled DAG) still records its failure
    return Failure(
        dag_id=str(ti.dag_id),
        run_id=str(ti.run_id),
        task_id=str(ti.task_id),
        try_number=int(getattr(ti, "try_number", 0) or 0),
        scope=run_scope(context.get("params")),
        logical_date=day,
        error_type=type(exc).__name__ if isinstance(exc, BaseException) else None,
        error=_safe_text(str(exc)) if exc is not None else None,
    )


def record(catalog_url: str, failure: Failure) -> int:
    """Write ``failure`` (idempotent per dag, run, task and try); returns its row id."""
    from assay.catalog.db import session
    from assay.catalog.models import TaskFailure
    from assay.catalog.upsert import upsert

    with session(catalog_url) as s:
        (row_id,) = upsert(s, TaskFailure, [asdict(failure)], ["dag_id", "run_id", "task_id", "try_number"])
    return row_id
