"""`airflow dags test` of `inventory` and `profile` for a day D: the run is D's, its run key carries
its scope, the asset event names D (what starts the next DAG), nothing waits when the data is there."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from support.db import rows

pytestmark = [pytest.mark.integration, pytest.mark.airflow, pytest.mark.slow]

DAY = dt.date(2026, 11, 2)


@pytest.fixture(scope="module")
def world(scratch_db, tmp_path_factory):
    from support.worlds import shop_world

    from assay.seed import SeedConfig

    with shop_world(scratch_db, tmp_path_factory.mktemp("days"), "days",
                    SeedConfig(start_date=DAY - dt.timedelta(days=1), days=2, write_truth=False)) as w:
        yield w


def _event(airflow_db: str, uri: str) -> dict:
    ((extra,),) = rows(airflow_db, "SELECT e.extra::text FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                                   f"WHERE a.uri = '{uri}'")
    return json.loads(extra)


def test_inventory_then_profile_for_one_day(world, mlflow_uri, dags_test):
    from assay import names

    settings = world.settings.model_copy(update={"mlflow_tracking_uri": mlflow_uri})
    airflow_db, log = dags_test(settings, "inventory", DAY.isoformat(), {"sources": ["shop"]})
    states = dict(rows(airflow_db, "SELECT task_id, state FROM task_instance WHERE dag_id = 'inventory'"))
    assert states == {"wait_for_data": "success", "discover": "success", "label": "success"}, log[-3000:]
    # The asset event (what starts profile) is discover's, before the labelling task began; by the
    # end of the run every column has its semantic label and nothing is left "classifying".
    ((emitted, labelling),) = rows(airflow_db, "SELECT (SELECT max(timestamp) FROM asset_event), start_date "
                                               "FROM task_instance WHERE dag_id = 'inventory' AND task_id = 'label'")
    assert emitted <= labelling
    assert rows(world.catalog_url, "SELECT count(*) FROM pending_labels") == [(0,)]
    assert rows(world.catalog_url, "SELECT count(*) FROM asset_columns c WHERE c.is_present AND NOT EXISTS "
                                   "(SELECT 1 FROM classifications k WHERE k.column_id = c.id AND k.kind = 'semantic')"
                ) == [(0,)]
    ((start, end),) = rows(airflow_db, "SELECT data_interval_start::date, data_interval_end::date FROM dag_run")
    assert (start, end) == (DAY, DAY + dt.timedelta(days=1))
    assert _event(airflow_db, names.INVENTORY_URI) == {"logical_date": DAY.isoformat()}
    ((key, day),) = rows(world.catalog_url, "SELECT run_key, logical_date FROM inventory_runs")
    assert key.startswith("inventory/manual__") and key.endswith("?sources=shop") and day == DAY

    airflow_db, log = dags_test(settings, "profile", DAY.isoformat())
    states = dict(rows(airflow_db, "SELECT task_id, state FROM task_instance WHERE dag_id = 'profile'"))
    assert states == {"wait_for_data": "success", "profile_partition": "success"}, log[-3000:]
    assert _event(airflow_db, names.PROFILES_URI) == {"logical_date": DAY.isoformat()}
    assert rows(world.catalog_url, "SELECT DISTINCT logical_date FROM profile_runs") == [(DAY,)]
