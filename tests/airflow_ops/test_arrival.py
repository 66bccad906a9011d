"""#14.2 Data that has not arrived waits; past the deadline it is one named freshness failure.

Before #14, unpausing ran yesterday by the wall clock: `quality` failed every partition of a day
with no data (`partition_arrived`, …), `profile` recorded anomalies on 0-row partitions and
`publish` still emitted `validated` for the dimension tables.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace

import pytest
from support.db import rows

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

DAY1, DAY2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)


@pytest.fixture(scope="module")
def late_world(scratch_db, tmp_path_factory):
    """Two seeded days; the second never arrived (no event rows, no feed files)."""
    from support.worlds import shop_world

    from assay.seed import DefectSchedule, SeedConfig

    config = SeedConfig(start_date=DAY1, days=2, write_truth=False,
                        defects=DefectSchedule.parse(f"{DAY2}:missing_partition"))
    with shop_world(scratch_db, tmp_path_factory.mktemp("late"), "late", config) as world:
        yield world


@pytest.fixture
def world_env(late_world, monkeypatch):
    """The process's settings are the world's (the sensor and the trigger read them, as in Airflow)."""
    from assay.config import get_settings

    for name, value in {"ASSAY_HOME": late_world.settings.state_dir, "ASSAY_DATABASE_URL": late_world.catalog_url,
                        "ASSAY_SHOP_URL": late_world.shop_url, "ASSAY_LANDING_DIR": late_world.landing}.items():
        monkeypatch.setenv(name, str(value))
    get_settings.cache_clear()
    yield late_world
    get_settings.cache_clear()


def test_missing_partitions_names_each_late_partition(late_world):
    from assay.orchestration.arrival import missing_partitions

    assert missing_partitions(DAY1, settings=late_world.settings) == []
    missing = missing_partitions(DAY2, settings=late_world.settings)
    assert any(m.startswith("shop:public/interactions (no rows with day = 2026-11-02)") for m in missing), missing
    assert any(m.startswith("supplier_feeds:feeds/") and "(no file for 2026-11-02)" in m for m in missing), missing
    assert missing_partitions(DAY2, sources=["shop"], assets=["impressions"], settings=late_world.settings) == [
        "shop:public/impressions (no rows with day = 2026-11-02)"]


def _context(day: dt.date, **params: object) -> dict:
    logical = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    run = SimpleNamespace(dag_id="quality", run_id="r", partition_key=None, run_after=logical)
    return {"dag_run": run, "logical_date": logical, "params": {"sources": None, "assets": None, **params}}


def test_present_data_returns_at_once_late_data_waits_then_fails_once(world_env):
    from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

    from assay.orchestration.arrival import PartitionArrivalSensor, PartitionArrivalTrigger

    sensor = PartitionArrivalSensor(task_id="wait_for_data", poll_seconds=0.2)
    assert sensor.execute(_context(DAY1)) == DAY1.isoformat()  # no deferral: `dags test` never waits
    # Before the deadline a missing day waits, deferred to the triggerer (no worker slot held).
    today = dt.datetime.now(dt.UTC).date()
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(_context(today))
    trigger = deferred.value.trigger
    assert isinstance(trigger, PartitionArrivalTrigger) and deferred.value.method_name == "execute_complete"
    path, kwargs = trigger.serialize()
    assert path == "assay.orchestration.arrival.PartitionArrivalTrigger" and kwargs["day"] == today.isoformat()

    async def first_event(t: PartitionArrivalTrigger) -> dict:
        async for event in t.run():
            return event.payload
        raise AssertionError("no event")

    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).isoformat()
    late = asyncio.run(first_event(PartitionArrivalTrigger(DAY2.isoformat(), soon, poll_seconds=0.2)))
    assert late["status"] == "late" and late["missing"]
    arrived = asyncio.run(first_event(PartitionArrivalTrigger(DAY1.isoformat(), soon, poll_seconds=0.2)))
    assert arrived["status"] == "arrived"
    with pytest.raises(AirflowFailException, match=r"^freshness: \d+ partition\(s\) of 2026-11-02 had not arrived"):
        sensor.execute_complete(_context(DAY2), late)
    # Past the deadline, without waiting at all.
    with pytest.raises(AirflowFailException, match="shop:public/interactions"):
        sensor.execute(_context(DAY2, arrival_deadline_hours=1))


@pytest.mark.slow
def test_a_late_day_is_one_freshness_failure_and_nothing_else(late_world, mlflow_uri, dags_test):
    """`airflow dags test quality <late day>`: one failed task, no validation, no `validated` event."""
    settings = late_world.settings.model_copy(update={"mlflow_tracking_uri": mlflow_uri})
    airflow_db, log = dags_test(settings, "quality", DAY2.isoformat())
    states = dict(rows(airflow_db, "SELECT task_id, state FROM task_instance WHERE dag_id = 'quality'"))
    assert states == {"wait_for_data": "failed", "validate": "upstream_failed", "publish": "upstream_failed",
                      "review": "upstream_failed", "enforce": "upstream_failed"}, log[-3000:]
    assert "freshness:" in log and "shop:public/interactions (no rows with day = 2026-11-02)" in log
    assert rows(airflow_db, "SELECT try_number FROM task_instance WHERE task_id = 'wait_for_data'") == [(1,)]
    assert rows(airflow_db, "SELECT count(*) FROM asset_event") == [(0,)]
    assert rows(late_world.catalog_url, "SELECT count(*) FROM quality_runs") == [(0,)]
    assert rows(late_world.catalog_url, "SELECT count(*) FROM anomalies") == [(0,)]
    assert rows(late_world.catalog_url, "SELECT dag_id, task_id, try_number, logical_date, error_type "
                                        "FROM task_failures") == [("quality", "wait_for_data", 1, DAY2,
                                                                    "AirflowFailException")]


def test_a_source_that_cannot_be_read_is_retried_not_called_late(world_env, monkeypatch):
    """The trigger keeps polling through a source outage; still down at the deadline, the task gets an
    infrastructure error (it retries with backoff), never a freshness failure."""
    from assay.config import get_settings
    from assay.errors import SourceError
    from assay.orchestration.arrival import PartitionArrivalSensor, PartitionArrivalTrigger

    monkeypatch.setenv("ASSAY_SHOP_URL", "postgresql+psycopg2://nobody@localhost:1/none")
    get_settings.cache_clear()

    async def first_event(t: PartitionArrivalTrigger) -> dict:
        async for event in t.run():
            return event.payload
        raise AssertionError("no event")

    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).isoformat()
    event = asyncio.run(first_event(PartitionArrivalTrigger(DAY1.isoformat(), soon, sources=["shop"], poll_seconds=0.2)))
    assert event["status"] == "error" and "source shop" in event["error"]
    with pytest.raises(SourceError, match="could not check the arrival of 2026-11-01"):
        PartitionArrivalSensor(task_id="w").execute_complete(_context(DAY1), event)
