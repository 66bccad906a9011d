"""How every assay task retries, times out and fails: one place for the DAGs' ``default_args``.

* Infrastructure errors (a database down, a worker lost) retry with exponential backoff
  (``retry_delay`` doubling up to ``max_retry_delay``).
* Data failures — a critical expectation, a late partition, a gate that cannot decide — are not
  flakes: :func:`data_failures` turns them into ``AirflowFailException`` (no retry), with the
  summary as the message and without the chained traceback of the original error.
* Every task has an ``execution_timeout``.
* :func:`record_failure` (``on_failure_callback``) writes each failed task to the catalog's
  ``task_failures`` for the steward pages; it never raises.

Cheap to import (standard library only): DAG files call :func:`default_args` at parse time.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

#: First retry after this; each next one waits twice as long ...
RETRY_DELAY = dt.timedelta(seconds=30)
#: ... up to this.
MAX_RETRY_DELAY = dt.timedelta(minutes=10)
#: Multiplier of the delay between retries.
BACKOFF = 2.0


def default_args(
    owner: str, *, retries: int = 2, timeout: dt.timedelta = dt.timedelta(hours=1), **extra: Any
) -> dict[str, Any]:
    """``default_args`` of an assay DAG: owner, retries with backoff, a time-out, the failure callback."""
    return {
        "owner": owner,
        "retries": retries,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": BACKOFF,
        "max_retry_delay": MAX_RETRY_DELAY,
        "execution_timeout": timeout,
        "on_failure_callback": record_failure,
        **extra,
    }


@contextmanager
def data_failures(*kinds: type[BaseException]) -> Iterator[None]:
    """Raise ``AirflowFailException(message)`` for errors of ``kinds`` (default: quality and gate errors).

    ``from None`` drops the chained traceback: the log shows the summary, not a crash.
    """
    from assay.errors import GateError, QualityError

    caught = kinds or (QualityError, GateError)
    try:
        yield
    except caught as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from None


def fail_on_refusal(result: Mapping[str, Any]) -> None:
    """Raise ``AirflowFailException`` when the gate refused a candidate (``promote``'s result).

    Called after every decision was recorded (decision rows, version tags, ``challenger``): the
    evidence is kept, then the run turns red, once, with each refusal and its reason.
    """
    refused = [d for d in result.get("decisions", []) if d.get("decision") == "fail"]
    if refused:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException("gate refused " + "; ".join(
            f"{d.get('model_name')} v{d.get('version')} (decision #{d.get('decision_id')}): {d.get('reason')}"
            for d in refused))


def record_failure(context: Mapping[str, Any]) -> None:
    """``on_failure_callback``: record the failed task in the catalog; never raises.

    A callback that raised would hide the task's own error behind its own; a catalog that is down
    is logged and the failure stays in Airflow's own records.
    """
    try:
        from assay.config import get_settings
        from assay.orchestration.failures import failure_from_context, record

        record(get_settings().catalog_url(), failure_from_context(context))
    except Exception:  # noqa: BLE001 - see the docstring: the callback must never raise
        log.warning("could not record the task failure in the catalog", exc_info=True)
