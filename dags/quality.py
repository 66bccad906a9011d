"""
### quality

Validates every asset partition of the logical date against its Great Expectations suite in
`expectations/` (one per shop table, one for the supplier feeds): SQL pushed down to PostgreSQL
for tables (one `day` partition; dimension tables whole), pandas for feed files (one file per
partition). Every expectation result is stored in the catalog with its dimension and severity,
PII masked; warnings open review items for stewards; waivers exempt named expectations for a
time window. Data Docs (masked) are rebuilt and daily scorecards recomputed.

Three tasks: `validate` records everything and returns a small summary; `publish` emits the
`validated` asset with `{"logical_date", "partitions": [...]}` for the partitions with no
unwaived critical failure (skipped when there are none); `enforce` then fails the run with a
summary naming each critical failure or error.

Runs when `profile` publishes its asset, and daily at 04:00 UTC for the previous day at the latest
(so it is backfillable: `airflow backfill create --dag-id quality --from-date … --to-date …`).
Params: `assets` (tables such as `interactions`, file targets such as `feeds/northwind`, or
suite names; empty = all) and `result_format` (GX's `SUMMARY` by default).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronDataIntervalTimetable, Param, TriggerRule, dag, task

from assay.assets import PROFILES, VALIDATED


@dag(
    dag_id="quality",
    schedule=AssetOrTimeSchedule(
        timetable=CronDataIntervalTimetable("0 4 * * *", timezone="UTC"), assets=[PROFILES]
    ),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["assay", "quality"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": pendulum.duration(minutes=2)},
    params={
        "assets": Param([], type="array", items={"type": "string"}, description="empty = all assets"),
        "result_format": Param(
            "SUMMARY",
            type="string",
            enum=["BOOLEAN_ONLY", "BASIC", "SUMMARY", "COMPLETE"],
            description="how much GX keeps of failing values (always PII-masked)",
        ),
    },
)
def quality():
    @task
    def validate(params: dict, **context) -> dict:
        from assay.config import get_settings
        from assay.orchestration import partition_date, run_key
        from assay.quality import run_quality

        report = run_quality(
            get_settings(),
            partition_date(context),
            run_key(context),
            assets=params["assets"] or None,
            result_format=params["result_format"],
            raise_on_failure=False,
        )
        return report.summary()

    @task(outlets=[VALIDATED])
    def publish(summary: dict, **context) -> list:
        from airflow.sdk.exceptions import AirflowSkipException

        partitions = summary["validated_partitions"]
        if not partitions:
            raise AirflowSkipException("no partition passed its critical expectations")
        context["outlet_events"][VALIDATED].extra = {
            "logical_date": summary["logical_date"],
            "partitions": partitions,
        }
        return partitions

    # Runs after a skipped publish too. A data failure is a decision, not a flake: the one retry
    # the house rules ask for comes quickly; a steward fixes or waives, then clears `validate`.
    @task(trigger_rule=TriggerRule.NONE_FAILED, retries=1, retry_delay=pendulum.duration(seconds=10))
    def enforce(summary: dict) -> None:
        from assay.quality import enforce as enforce_summary

        enforce_summary(summary)

    summary = validate()
    publish(summary) >> enforce(summary)


quality()
