"""`airflow dags test quality <day>` end to end: validate, publish VALIDATED for the passing
partitions only, then fail the run naming the critical failure."""

from __future__ import annotations

import json
from datetime import date

import pytest
from support.db import rows

pytestmark = [pytest.mark.integration, pytest.mark.airflow, pytest.mark.slow]

DAY = date(2026, 11, 2)


def test_dag_publishes_passing_partitions_then_fails(seeded_world, mlflow_uri, dags_test):
    from assay.seed import DefectSchedule, SeedConfig

    world = seeded_world("qdag", SeedConfig(start_date=DAY, days=1, write_truth=False,
                                            defects=DefectSchedule.parse(f"{DAY}:wrong_delimiter")))
    catalog = world.catalog_url
    # The quality DAG never opens MLflow; airflow_env() names every store all the same.
    settings = world.settings.model_copy(update={"mlflow_tracking_uri": mlflow_uri})
    airflow_db, log = dags_test(settings, "quality", DAY.isoformat())
    # A data failure fails cleanly (#14.6): AirflowFailException with the summary, no retry.
    assert "AirflowFailException" in log and "feeds/northwind:2026-11-02 [supplier_feeds] failed" in log, log[-3000:]

    states = dict(rows(airflow_db, "SELECT task_id, state FROM task_instance WHERE dag_id = 'quality'"))
    # `review` (#15, human-in-the-loop) asks nobody in a manual `dags test` run: skipped, enforce fails as before.
    assert states == {"wait_for_data": "success", "validate": "success", "publish": "success", "review": "skipped",
                      "enforce": "failed"}
    # Failed at the first try, no retry, and no chained QualityFailure traceback in the task log.
    assert rows(airflow_db, "SELECT try_number FROM task_instance WHERE task_id = 'enforce'") == [(1,)]
    assert "During handling of the above exception" not in log
    ((extra,),) = rows(airflow_db, "SELECT e.extra::text FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                                   "WHERE a.uri = 'assay://catalog/validated'")
    extra = json.loads(extra)
    assert extra["logical_date"] == DAY.isoformat()
    assert "feeds/northwind:2026-11-02" not in extra["partitions"]
    assert "feeds/cascade:2026-11-02" in extra["partitions"] and len(extra["partitions"]) == 8
    assert rows(catalog, "SELECT count(*) FROM quality_runs WHERE logical_date = '2026-11-02'") == [(9,)]
