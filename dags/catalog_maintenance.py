"""
### catalog_maintenance

Brings the assay catalog database to the newest schema (Alembic `upgrade head`) and reports the
revision. Trigger it after deploying a new assay version; it is safe to run any number of times.

Owner: data platform. Reads `ASSAY_DATABASE_URL` (or the embedded PostgreSQL) through `assay.config`.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import dag, task

from assay.orchestration.tasks import default_args


@dag(
    dag_id="catalog_maintenance",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["assay", "catalog"],
    default_args=default_args("data-platform", retries=1, timeout=dt.timedelta(minutes=15)),
)
def catalog_maintenance():
    @task
    def migrate_catalog() -> str:
        from assay.catalog import migrate
        from assay.config import get_settings

        url = get_settings().catalog_url()
        migrate.check_reachable(url)
        migrate.upgrade(url, "head")
        return str(migrate.current(url))

    migrate_catalog()


catalog_maintenance()
