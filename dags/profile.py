"""
### profile

Profiles every column of every active asset for one logical-date partition, by SQL pushdown in
a few scans per table (files through pyarrow): row count, nulls, distinct count, min/max,
mean/stddev/quantiles, text lengths, top-10 values, 20-bucket histograms. PII columns keep only
masked values. History is kept per (asset, partition, logical date); re-running a date replaces
it. Anomalies (row count, null ratio, distinct count, mean) are flagged against the rolling
history with the bounds that were used.

Daily after `inventory` (backfillable). Params: `assets` (names, empty = all), `force`
(re-profile partitions already profiled for that date).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from assay.assets import PROFILES


@dag(
    dag_id="profile",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["assay", "profiling"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": pendulum.duration(minutes=2)},
    params={
        "assets": Param([], type="array", items={"type": "string"}, description="empty = all assets"),
        "force": Param(False, type="boolean", description="re-profile partitions already done"),
    },
)
def profile():
    @task(outlets=[PROFILES], multiple_outputs=False)
    def profile_partition(params: dict, **context) -> str:
        from assay.config import get_settings
        from assay.orchestration import partition_date, run_key
        from assay.profiling import run_profile

        day = partition_date(context)
        report = run_profile(
            get_settings(), day, run_key(context), assets=params["assets"] or None, force=params["force"]
        )
        context["outlet_events"][PROFILES].extra = {"logical_date": day.isoformat()}
        return report.summary()

    profile_partition()


profile()
