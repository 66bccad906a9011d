"""
### profile

Profiles every column of every active asset for one day's partition, by SQL pushdown in
a few scans per table (files through pyarrow): row count, nulls, distinct count, min/max,
mean/stddev/quantiles, text lengths, top-10 values, 20-bucket histograms. PII columns keep only
masked values. History is kept per (asset, partition, logical date). Anomalies (row count, null
ratio, distinct count, mean) are flagged against the rolling history with the bounds that were used.

**Runs when `inventory` emits its asset** (the event's `logical_date` is the day), never on a
clock of its own. Manual run or backfill for day D: logical date D (data interval D 00:00 →
D+1 00:00 UTC); `airflow backfill create --dag-id profile --from-date D1 --to-date D2
--max-active-runs 1` covers D1..D2 inclusive. `wait_for_data` returns at once when D's
partitions are there and fails once (freshness) when they are late: no anomalies on empty days.

Params: `assets` (names, empty = all), `force` (re-profile partitions already profiled for that
date), `arrival_deadline_hours` (empty = 24). Emits `profiles` with `{"logical_date": D}`.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import AssetOrTimeSchedule, Param, dag, task

from assay.assets import INVENTORY, PROFILES
from assay.orchestration import params as P
from assay.orchestration.arrival import PartitionArrivalSensor
from assay.orchestration.tasks import default_args
from assay.orchestration.timetable import DailyPartitions


@dag(
    dag_id="profile",
    # The asset starts it; the day timetable (which schedules nothing) gives manual runs and
    # backfills the day semantics of the other daily DAGs.
    schedule=AssetOrTimeSchedule(timetable=DailyPartitions(scheduled=False), assets=[INVENTORY]),
    start_date=P.EARLIEST_DAY,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["assay", "profiling"],
    default_args=default_args("data-platform", timeout=dt.timedelta(hours=2)),
    params={
        "assets": P.names("asset names to profile; empty = all assets"),
        "force": Param(False, type="boolean", description="re-profile partitions already done"),
        "arrival_deadline_hours": P.deadline_hours(),
    },
)
def profile():
    wait = PartitionArrivalSensor(task_id="wait_for_data", execution_timeout=dt.timedelta(minutes=10))

    @task(outlets=[PROFILES], multiple_outputs=False, max_active_tis_per_dag=1)
    def profile_partition(params: dict, **context) -> str:
        from assay.config import get_settings
        from assay.orchestration import partition_date, run_key
        from assay.profiling import run_profile

        day = partition_date(context)
        report = run_profile(
            get_settings(), day, run_key(context, params), assets=params["assets"] or None, force=params["force"]
        )
        context["outlet_events"][PROFILES].extra = {"logical_date": day.isoformat()}
        return report.summary()

    wait >> profile_partition()


profile()
