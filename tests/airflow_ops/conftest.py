"""Fixtures of the Airflow-operations tests: serialized DAGs (with the assay plugin of tests/support)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture(scope="module")
def serialized(assay_plugin: None) -> Callable[[Any], Any]:
    """``serialized(dag)``: the DAG as the scheduler and the API server see it (serialised, read back)."""
    from airflow.serialization.serialized_objects import DagSerialization

    return lambda dag: DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
