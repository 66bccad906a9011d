"""
### inventory

Discovers every declared source (`config/sources.yaml`): SQL tables and views through
SQLAlchemy, and CSV/TSV/Parquet/JSONL files in the landing folder. Records columns and types, row
counts (exact, or a flagged estimate on large tables), size, freshness, owners and tags; diffs
each schema against its last version (column added/removed/type or nullability changed);
soft-deletes vanished assets and restores returning ones; classifies columns (PII and semantic
types, with evidence). A source that cannot be read is recorded and the others carry on; the run
then fails so someone looks.

Labels off the critical path: `discover` writes the rule labels and marks the columns only the
sentence embedding can label ("classifying" on the asset pages); it emits the `inventory` asset
at once, so profiling does not wait. `label` then writes those labels (`assay classify`); a
retry labels what is left.

**One run per day D** (logical date D, data interval D 00:00 → D+1 00:00 UTC, run id named for
D), scheduled after D ends. `wait_for_data` first waits (deferred, in the triggerer) until D's
declared partitions have arrived; past the deadline (`arrival_deadline_hours` after D ends) the
run fails once with a freshness failure naming each missing partition, and nothing downstream
runs. Emits the `inventory` asset with `{"logical_date": D}`, which starts `profile`.

Manual run for a day: trigger with logical date D. Backfill days D1..D2 (inclusive):
`airflow backfill create --dag-id inventory --from-date D1 --to-date D2 --max-active-runs 1`.
Params: `sources` — names to inventory (empty = all); `arrival_deadline_hours` (empty = 24).
See docs/operations.md.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task

from assay.assets import INVENTORY
from assay.orchestration import params as P
from assay.orchestration.arrival import PartitionArrivalSensor
from assay.orchestration.tasks import default_args
from assay.orchestration.timetable import DailyPartitions


@dag(
    dag_id="inventory",
    schedule=DailyPartitions(),
    start_date=P.EARLIEST_DAY,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["assay", "inventory"],
    default_args=default_args("data-platform", timeout=dt.timedelta(hours=1)),
    params={
        "sources": P.names("declared source names to inventory; empty = all sources"),
        "arrival_deadline_hours": P.deadline_hours(),
    },
)
def inventory():
    wait = PartitionArrivalSensor(task_id="wait_for_data", execution_timeout=dt.timedelta(minutes=10))

    # max_active_tis_per_dag: a backfill's own max_active_runs (default 10) overrides the DAG's;
    # this keeps one day at a time writing the catalog whatever the backfill says.
    @task(outlets=[INVENTORY], multiple_outputs=False, max_active_tis_per_dag=1)
    def discover(params: dict, **context) -> str:
        from assay.config import get_settings
        from assay.inventory import run_inventory
        from assay.orchestration import partition_date, run_key

        day = partition_date(context)
        report = run_inventory(
            get_settings(), day, run_key(context, params), sources=params["sources"] or None, labels="background"
        )
        context["outlet_events"][INVENTORY].extra = {"logical_date": day.isoformat()}
        return report.summary()

    # No outlet: the asset event is discover's; the labels complete beside the downstream DAGs.
    @task(max_active_tis_per_dag=1)
    def label(params: dict) -> str:
        from assay.config import get_settings
        from assay.inventory.labelling import complete_labels

        return complete_labels(get_settings(), params["sources"] or None).summary()

    wait >> discover() >> label()


inventory()
