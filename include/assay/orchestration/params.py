"""Trigger-form Params the DAGs share: nullable where "empty = default", validated where typed.

Airflow's UI treats a field whose type does not admit ``null`` as required, so
``Param("", type="string")`` cannot be triggered with its "empty" default; every optional field
here is ``type=["null", ...]`` with a ``None`` default. Values are validated by JSON Schema
(``pattern``, ``format``, ``minimum``) when the run is created — in the UI form, through the REST
API and in ``airflow dags test --conf`` alike — so a bad date or version is refused before a
task starts. ``tests/airflow_ops/test_params.py`` renders each DAG's schema and validates the
defaults, a filled form and bad values.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Param

#: Start date of the daily DAGs: any day can be run or backfilled (a date "before the start date"
#: is otherwise a green run that did nothing).
EARLIEST_DAY = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
#: Declared source and asset names, file targets (``feeds/northwind``) and suite names.
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_./:-]*$"
#: MLflow registered model names as assay writes them.
MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
#: A model version: digits (an integer is accepted as well).
VERSION_PATTERN = r"^[1-9][0-9]*$"


def names(description: str) -> Param:
    """An optional list of names (empty or null = all)."""
    return Param(
        None,
        type=["null", "array"],
        items={"type": "string", "pattern": NAME_PATTERN},
        uniqueItems=True,
        description=description,
    )


def day(description: str) -> Param:
    """An optional day ``YYYY-MM-DD`` (null = the run's partition date)."""
    return Param(None, type=["null", "string"], format="date", pattern=DATE_PATTERN, description=description)


def deadline_hours() -> Param:
    """Hours after the day ends (UTC) that its data may still arrive before it is a freshness failure."""
    from assay.orchestration.arrival import DEFAULT_DEADLINE_HOURS

    return Param(
        None,
        type=["null", "number"],
        minimum=0,
        maximum=24 * 30,
        description=f"hours after the day ends (UTC) that its data may still arrive; empty = {DEFAULT_DEADLINE_HOURS}",
    )


def model_name(default: str) -> Param:
    """A registered model name."""
    return Param(default, type="string", minLength=1, maxLength=256, pattern=MODEL_NAME_PATTERN,
                 description="registered model name")


def version(description: str) -> Param:
    """An optional model version: a positive integer (or its digits); null = from the asset event."""
    return Param(None, type=["null", "integer", "string"], minimum=1, pattern=VERSION_PATTERN,
                 description=description)


def optional(kind: str, description: str, **schema: Any) -> Param:
    """An optional value of JSON type ``kind`` (null = the default named in ``description``)."""
    return Param(None, type=["null", kind], description=description, **schema)
