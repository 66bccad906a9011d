"""The run id a real backfill gives day D, through the code path Airflow's backfill takes.

`POST /api/v2/backfills` names its runs with ``DagRun.generate_run_id(run_after=...)``
(airflow/models/backfill.py, ``_create_backfill_dag_run_non_partitioned``), not with the
timetable's ``generate_run_id``; ``DailyPartitions`` gives a day's run ``run_after`` = D+1 00:00,
so the timetable gives a backfill's run ``run_after`` = D (D is past, nothing waits) and the
backfill run of 2026-11-17 is ``backfill__2026-11-17T00:00:00+00:00``, as test_chain_under_scheduler
sees under `airflow standalone`.
"""

from __future__ import annotations

import pendulum
import pytest
from support.airflow import load_dag

pytestmark = pytest.mark.airflow

D1, D3 = pendulum.datetime(2026, 11, 15, tz="UTC"), pendulum.datetime(2026, 11, 17, tz="UTC")


@pytest.mark.parametrize("dag_id", ["inventory", "profile", "quality"])
def test_backfill_run_ids_name_their_day(assay_plugin: None, dag_id: str) -> None:
    from airflow.models.backfill import _get_info_list
    from airflow.models.dagrun import DagRun
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.types import DagRunType

    dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(load_dag(dag_id)))
    infos = _get_info_list(from_date=D1, to_date=D3, reverse=False, dag=dag)
    assert [i.logical_date.date().isoformat() for i in infos] == ["2026-11-15", "2026-11-16", "2026-11-17"]
    ids = [DagRun.generate_run_id(run_type=DagRunType.BACKFILL_JOB, logical_date=i.logical_date,
                                  run_after=i.run_after) for i in infos]
    assert ids == [f"backfill__2026-11-{d}T00:00:00+00:00" for d in (15, 16, 17)]
