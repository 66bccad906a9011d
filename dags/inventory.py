"""
### inventory

Discovers every declared source (`config/sources.yaml`): SQL tables and views through
SQLAlchemy, and CSV/TSV/Parquet/JSONL files in the landing folder. Records columns and types, row
counts (exact, or a flagged estimate on large tables), size, freshness, owners and tags; diffs
each schema against its last version (column added/removed/type or nullability changed);
soft-deletes vanished assets and restores returning ones; classifies columns (PII and semantic
types, with evidence). A source that cannot be read is recorded and the others carry on; the run
then fails so someone looks.

Daily for the previous day (backfillable: `airflow dags backfill inventory -s … -e …`).
Params: `sources` — names to inventory (empty = all).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from assay.assets import INVENTORY


@dag(
    dag_id="inventory",
    schedule=CronDataIntervalTimetable("0 1 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["assay", "inventory"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": pendulum.duration(minutes=2)},
    params={"sources": Param([], type="array", items={"type": "string"}, description="empty = all sources")},
)
def inventory():
    @task(outlets=[INVENTORY], multiple_outputs=False)
    def discover(params: dict, **context) -> str:
        from assay.config import get_settings
        from assay.inventory import run_inventory
        from assay.orchestration import partition_date, run_key

        day = partition_date(context)
        report = run_inventory(get_settings(), day, run_key(context), sources=params["sources"] or None)
        context["outlet_events"][INVENTORY].extra = {"logical_date": day.isoformat()}
        return report.summary()

    discover()


inventory()
