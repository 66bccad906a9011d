"""
### quality

Validates every asset partition of one day against its Great Expectations suite in
`expectations/` (one per table or feed series): SQL pushed down to PostgreSQL for tables (one
`day` partition; dimension tables whole), pandas for feed files (one file per partition). Every
expectation result is stored in the catalog with its dimension and severity, PII masked; warnings
open review items for stewards; waivers exempt named expectations for a time window. Data Docs
(masked) are rebuilt and daily scorecards recomputed.

Five tasks: `wait_for_data` returns at once when the day's partitions are there (a late day is
one freshness failure, and nothing is validated); `validate` records everything and returns a
small summary; `publish` emits the `validated` asset with `{"logical_date", "partitions": [...]}`
for the partitions with no unwaived critical failure — only when at least one *day* partition
passed (dimension tables alone are not a day's data; skipped otherwise, with the reason);
`review` (human-in-the-loop, `assay.orchestration.hitl`) asks a steward — Browse → Required
Actions, or `PATCH …/taskInstances/review/-1/hitlDetails` — to **Waive** the unwaived critical
failures (reason, expiry, comment: the waivers are recorded with the responding user, the failed
suites are validated again and the day is published as `validated`) or **Fail**; no answer within
`review_hours` is a Fail. It is skipped when nothing is reviewable or nobody is asked (manual runs
such as `airflow dags test` / `make demo`, and backfills, unless `review_hours` is set).
`enforce` then fails the run, without retry, with a summary naming each critical failure or error
that is still unwaived.

**Runs when `profile` emits its asset**, never on a clock of its own. Manual run or backfill for
day D: logical date D (data interval D 00:00 → D+1 00:00 UTC); `airflow backfill create --dag-id
quality --from-date D1 --to-date D2 --max-active-runs 1` (or `POST /api/v2/backfills`) covers
D1..D2 inclusive. Params: `assets` (tables such as `interactions`, file targets such as
`feeds/northwind`, or suite names; empty = all), `result_format` (GX's `SUMMARY` by default),
`arrival_deadline_hours` (empty = 24), `review_hours` (empty = 24 for scheduled and
asset-triggered runs, 0 = do not ask for manual runs and backfills).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import AssetOrTimeSchedule, Param, TriggerRule, dag, task

from assay.assets import PROFILES, VALIDATED
from assay.orchestration import params as P
from assay.orchestration.arrival import PartitionArrivalSensor
from assay.orchestration.hitl import QualityReview, review_hours_param
from assay.orchestration.tasks import default_args
from assay.orchestration.timetable import DailyPartitions


@dag(
    dag_id="quality",
    schedule=AssetOrTimeSchedule(timetable=DailyPartitions(scheduled=False), assets=[PROFILES]),
    start_date=P.EARLIEST_DAY,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["assay", "quality"],
    default_args=default_args("data-platform", timeout=dt.timedelta(hours=2)),
    params={
        "assets": P.names("tables, file targets or suite names; empty = all assets"),
        "result_format": Param(
            "SUMMARY",
            type="string",
            enum=["BOOLEAN_ONLY", "BASIC", "SUMMARY", "COMPLETE"],
            description="how much GX keeps of failing values (always PII-masked)",
        ),
        "arrival_deadline_hours": P.deadline_hours(),
        "review_hours": review_hours_param(),
    },
)
def quality():
    wait = PartitionArrivalSensor(task_id="wait_for_data", execution_timeout=dt.timedelta(minutes=10))

    @task(max_active_tis_per_dag=1)
    def validate(params: dict, **context) -> dict:
        from assay.config import get_settings
        from assay.orchestration import partition_date, run_key
        from assay.quality import run_quality

        report = run_quality(
            get_settings(),
            partition_date(context),
            run_key(context, params),
            assets=params["assets"] or None,
            result_format=params["result_format"],
            raise_on_failure=False,
        )
        return report.summary()

    @task(outlets=[VALIDATED], execution_timeout=dt.timedelta(minutes=5))
    def publish(summary: dict, **context) -> list:
        from airflow.sdk.exceptions import AirflowSkipException

        from assay.orchestration import day_partitions

        partitions = summary["validated_partitions"]
        if not day_partitions(partitions):
            raise AirflowSkipException(
                f"no partition of {summary['logical_date']} passed its critical expectations "
                f"({len(partitions)} undated table(s) passed; they alone are not a day's data)"
            )
        context["outlet_events"][VALIDATED].extra = {
            "logical_date": summary["logical_date"],
            "partitions": partitions,
        }
        return partitions

    # A steward may waive the day's critical failures (recorded with their name) or fail the run;
    # skipped when nothing is reviewable or nobody is asked. Its data outcomes are AirflowFailException
    # (no retry); an infrastructure error retries, which asks again.
    review = QualityReview(task_id="review", outlets=[VALIDATED],
                           trigger_rule=TriggerRule.NONE_FAILED, execution_timeout=dt.timedelta(minutes=30))

    # Runs after a skipped publish or review too. A data failure is a decision, not a flake: it fails at
    # once, without retry; after a Waive it judges the re-validated summary the review returned.
    @task(trigger_rule=TriggerRule.NONE_FAILED, execution_timeout=dt.timedelta(minutes=5))
    def enforce(summary: dict, **context) -> None:
        from assay.orchestration.tasks import data_failures
        from assay.quality import enforce as enforce_summary

        reviewed = context["ti"].xcom_pull(task_ids="review")
        with data_failures():
            enforce_summary(reviewed or summary)

    summary = validate()
    wait >> summary
    publish(summary) >> review >> enforce(summary)


quality()
