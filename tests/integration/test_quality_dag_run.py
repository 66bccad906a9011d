"""`airflow dags test quality <day>` end to end: validate, publish VALIDATED for the passing
partitions only, then fail the run naming the critical failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.airflow, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 11, 2)


def rows(url: str, statement: str) -> list[tuple]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(statement))]
    finally:
        engine.dispose()


def test_dag_publishes_passing_partitions_then_fails(fresh_db, tmp_path):
    from assay.catalog import migrate
    from assay.seed import DefectSchedule, SeedConfig, seed_shop

    shop, catalog, airflow_db = fresh_db("qdagshop"), fresh_db("qdagcat"), fresh_db("qdagaf")
    migrate.upgrade(catalog, "head")
    landing = tmp_path / "landing"
    seed_shop(shop, landing, SeedConfig(start_date=DAY, days=1, write_truth=False,
                                        defects=DefectSchedule.parse(f"{DAY}:wrong_delimiter")))
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_db,
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "ASSAY_HOME": str(tmp_path / "state"),
        "ASSAY_DATABASE_URL": catalog,
        "ASSAY_SHOP_URL": shop,
        "ASSAY_LANDING_DIR": str(landing),
    }
    migrated = subprocess.run([bin_dir / "airflow", "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    run = subprocess.run([bin_dir / "airflow", "dags", "test", "quality", DAY.isoformat()], env=env,
                         capture_output=True, text=True, timeout=600)
    log = run.stdout + run.stderr
    assert "QualityFailure" in log and "feeds/northwind:2026-11-02 [supplier_feeds] failed" in log, log[-3000:]

    states = dict(rows(airflow_db, "SELECT task_id, state FROM task_instance WHERE dag_id = 'quality'"))
    assert states == {"validate": "success", "publish": "success", "enforce": "failed"}
    ((extra,),) = rows(airflow_db, "SELECT e.extra::text FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                                   "WHERE a.uri = 'assay://catalog/validated'")
    extra = json.loads(extra)
    assert extra["logical_date"] == DAY.isoformat()
    assert "feeds/northwind:2026-11-02" not in extra["partitions"]
    assert "feeds/cascade:2026-11-02" in extra["partitions"] and len(extra["partitions"]) == 8
    assert rows(catalog, "SELECT count(*) FROM quality_runs WHERE logical_date = '2026-11-02'") == [(9,)]
