"""#14.1 Partitions as Airflow sees them: a run for day D processes D and is named for D, however it starts.

Each check goes through Airflow's own code paths on the serialised DAG (what the scheduler and the
API server hold): the REST trigger body (`TriggerDAGRunPostBody.validate_context`, also what the
UI form posts), `airflow dags test` (`infer_manual_data_interval` on the logical date), backfill
creation (`_get_info_list`, used by `POST /api/v2/backfills` and `airflow backfill create`) and the
scheduler's next run. Before #14 a manual run for 11-19 got the interval 11-17 → 11-18, a backfill
to 11-17 stopped at 11-16 and `profile` ran on its own cron.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pendulum
import pytest
from support.airflow import load_dag

from assay import names
from assay.orchestration import day_partitions, partition_date, run_key, run_scope

pytestmark = pytest.mark.airflow

DAILY = ("inventory", "profile", "quality")
D = pendulum.datetime(2026, 11, 19, tz="UTC")


@pytest.fixture(scope="module")
def dags(serialized):
    return {d: serialized(load_dag(d)) for d in (*DAILY, "train", "promote")}


@pytest.mark.parametrize("dag_id", DAILY)
def test_manual_run_for_day_d_gets_the_interval_and_run_id_of_d(dags, dag_id):
    from airflow.api_fastapi.core_api.datamodels.dag_run import TriggerDAGRunPostBody

    # The REST API and the UI's trigger form: logical date D, triggered days later.
    body = TriggerDAGRunPostBody(logical_date=D, run_after=D.add(days=16, hours=9), conf={})
    run = body.validate_context(dags[dag_id])
    assert run["logical_date"] == D
    assert (run["data_interval"].start, run["data_interval"].end) == (D, D.add(days=1))
    assert run["run_id"] == "manual__2026-11-19T00:00:00+00:00"
    # `airflow dags test DAG 2026-11-19` infers the interval from the logical date alone.
    interval = dags[dag_id].timetable.infer_manual_data_interval(run_after=D)
    assert (interval.start, interval.end) == (D, D.add(days=1))
    # A logical date inside the day (the UI's default is "now") still names that day.
    assert dags[dag_id].timetable.infer_manual_data_interval(run_after=D.add(hours=9)).start == D


@pytest.mark.parametrize("dag_id", DAILY)
def test_backfill_from_d1_to_d2_covers_both_named_days(dags, dag_id):
    from airflow.models.backfill import _get_info_list
    from airflow.utils.types import DagRunType

    infos = _get_info_list(from_date=D.subtract(days=2), to_date=D, reverse=False, dag=dags[dag_id])
    assert [i.logical_date.date().isoformat() for i in infos] == ["2026-11-17", "2026-11-18", "2026-11-19"]
    assert [(i.data_interval.end - i.data_interval.start) for i in infos] == [dt.timedelta(days=1)] * 3
    run_id = dags[dag_id].timetable.generate_run_id(
        run_type=DagRunType.BACKFILL_JOB, run_after=infos[-1].run_after, data_interval=infos[-1].data_interval
    )
    assert run_id == "backfill__2026-11-19T00:00:00+00:00"


def test_inventory_is_scheduled_for_the_day_that_ended(dags):
    from airflow.timetables.base import TimeRestriction
    from airflow.utils.types import DagRunType

    tt = dags["inventory"].timetable
    nxt = tt.next_dagrun_info(last_automated_data_interval=None,
                              restriction=TimeRestriction(pendulum.datetime(1970, 1, 1, tz="UTC"), None, False))
    assert nxt.run_after - nxt.data_interval.start == dt.timedelta(days=1)  # runs once day D has ended
    assert nxt.logical_date == nxt.data_interval.start
    run_id = tt.generate_run_id(run_type=DagRunType.SCHEDULED, run_after=nxt.run_after, data_interval=nxt.data_interval)
    assert run_id == f"scheduled__{nxt.data_interval.start.isoformat()}"  # named for D, not the day it ran


def test_the_chain_runs_on_asset_events_never_on_a_clock_of_its_own(dags):
    from airflow.timetables.base import TimeRestriction

    upstream = {"profile": names.INVENTORY_URI, "quality": names.PROFILES_URI, "train": names.VALIDATED_URI,
                "promote": names.CANDIDATE_URI}
    for dag_id, uri in upstream.items():
        tt = dags[dag_id].timetable
        assert uri in str(tt.asset_condition), dag_id
        never = tt.next_dagrun_info(last_automated_data_interval=None,
                                    restriction=TimeRestriction(pendulum.datetime(1970, 1, 1, tz="UTC"), None, False))
        assert never is None, f"{dag_id} is scheduled by a clock: {never}"
    # ... and profile and quality stay backfillable (POST /api/v2/backfills needs a periodic timetable).
    assert dags["profile"].timetable.periodic and dags["quality"].timetable.periodic


@pytest.mark.parametrize("dag_id", DAILY)
def test_one_day_at_a_time_even_in_a_backfill(dags, dag_id):
    """A backfill's own max_active_runs (default 10) overrides the DAG's; the writing task is capped too."""
    dag = dags[dag_id]
    assert dag.max_active_runs == 1
    writers = [t for t in dag.tasks if t.task_id != "wait_for_data" and t.max_active_tis_per_dag == 1]
    assert writers, f"{dag_id}: the task that writes the catalog must have max_active_tis_per_dag=1"


def _ctx(**kw):
    run = SimpleNamespace(dag_id=kw.pop("dag_id", "quality"), run_id=kw.pop("run_id", "r1"),
                          partition_key=kw.pop("partition_key", None), run_after=kw.pop("run_after", D.add(days=16)))
    return {"dag_run": run, **kw}


def test_partition_date_is_the_processed_day_in_every_case():
    day = dt.date(2026, 11, 19)
    assert partition_date(_ctx(logical_date=D)) == day  # scheduled, manual, dags test, backfill
    assert partition_date(_ctx(logical_date=None, partition_key="2026-11-19")) == day  # partitioned run
    ev = lambda d, ts: SimpleNamespace(extra={"logical_date": d}, timestamp=ts)  # noqa: E731
    assert partition_date(_ctx(logical_date=None, triggering_asset_events={"a": [ev("2026-11-19", "1")]})) == day
    newest = {"a": [ev("2026-11-19", "2"), ev("2026-11-18", "1")]}
    assert partition_date(_ctx(logical_date=None, triggering_asset_events=newest)) == day
    assert partition_date(_ctx(logical_date=None, run_after=D)) == day  # REST logical_date null


def test_run_keys_carry_their_scope():
    base = run_key(_ctx(params={"sources": None}))
    shop = run_key(_ctx(params={"sources": ["shop"]}))
    feeds = run_key(_ctx(params={"sources": ["supplier_feeds"]}))
    assert base == "quality/r1" and len({base, shop, feeds}) == 3
    assert run_key(_ctx(params={"assets": ["b", "a", "a"]})) == run_key(_ctx(params={"assets": ["a", "b"]}))
    assert run_scope({"sources": ["shop"], "assets": ["interactions"]}) == "sources=shop&assets=interactions"
    # A @task taking `params` as an argument no longer has them in **context: the DAGs pass them.
    assert run_key(_ctx(), {"sources": ["shop"]}) == shop


def test_a_day_is_published_only_when_a_dated_partition_passed():
    assert day_partitions(["products:__all__", "customers:__all__"]) == []
    assert day_partitions(["products:__all__", "interactions:2026-11-19"]) == ["interactions:2026-11-19"]


@pytest.mark.parametrize("dag_id", (*DAILY, "train", "promote", "seed_shop"))
def test_any_day_can_run_none_is_before_the_start_date(dag_id):
    """#13.3: a date before a DAG's start_date was a green run that did nothing."""
    assert load_dag(dag_id).start_date <= pendulum.datetime(1970, 1, 1, tz="UTC")
