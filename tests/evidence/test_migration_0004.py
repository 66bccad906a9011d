"""Migration 0004 on a catalog holding 0003 rows: every run becomes the current attempt of its key,
review items keep their refs, a kept failure becomes an attempt of its own; the downgrade keeps the
current attempts and the schema of 0003, and upgrades again."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from assay.catalog import migrate
from assay.catalog.db import engine

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 11, 20)


def sql(url: str, statement: str, **params: object) -> list[tuple]:
    with engine(url).begin() as conn:
        result = conn.execute(text(statement), params)
        return [tuple(r) for r in result] if result.returns_rows else []


def seed_0003(url: str) -> dict[str, int]:
    """Rows as version 0003 wrote them: two quality keys (one with a kept failure), a profile run."""
    sql(url, "INSERT INTO sources (name, kind, url_or_conn_id) VALUES ('shop', 'sql', 'shop_postgres')")
    sql(url, "INSERT INTO assets (source_id, namespace, name, kind) SELECT id, 'public', 'orders', 'table' FROM sources")
    ((aid,),) = sql(url, "SELECT id FROM assets")
    ids: dict[str, int] = {"asset": aid}
    for suite, attempt_error in (("orders", None), ("orders_fresh", "interrupted: reaped by run cli/x")):
        ((rid,),) = sql(url, """
            INSERT INTO quality_runs (suite_name, asset_id, partition_key, logical_date, run_key, status, success,
                                      finished_at, attempt_error)
            VALUES (:s, :a, :p, :d, 'quality/r1', 'failed', false, now(), :e) RETURNING id""",
                        s=suite, a=aid, p=DAY.isoformat(), d=DAY, e=attempt_error)
        ids[suite] = rid
        sql(url, """INSERT INTO expectation_results (quality_run_id, expectation_id, expectation_type, dimension,
                                                     severity, success) VALUES (:r, 'e1', 't', 'validity', 'critical', false)""",
            r=rid)
        sql(url, """INSERT INTO review_items (kind, ref, asset_id, quality_run_id, summary)
                    VALUES ('quality_failure', :ref, :a, :r, 'failed')""", ref=f"{rid}/e1", a=aid, r=rid)
    ((pid,),) = sql(url, """
        INSERT INTO profile_runs (asset_id, partition_key, logical_date, run_key, status, row_count, finished_at)
        VALUES (:a, :p, :d, 'profile/r1', 'success', 10, now()) RETURNING id""", a=aid, p=DAY.isoformat(), d=DAY)
    ids["profile"] = pid
    sql(url, "INSERT INTO column_metrics (profile_run_id, column_name, metrics) VALUES (:p, 'amount', '{}')", p=pid)
    sql(url, """INSERT INTO anomalies (asset_id, profile_run_id, partition_key, logical_date, column_name, metric,
                                       method, status) VALUES (:a, :p, :k, :d, '', 'row_count', 'mad', 'acknowledged')""",
        a=aid, p=pid, k=DAY.isoformat(), d=DAY)
    return ids


def columns(url: str, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine(url)).get_columns(table)}


def test_0004_makes_every_run_a_current_attempt_and_downgrades_to_the_current_ones(fresh_db):
    from assay.catalog import runs
    from assay.catalog.db import session
    from assay.quality import store

    url = fresh_db("m0004")
    migrate.upgrade(url, "0003")
    ids = seed_0003(url)

    migrate.upgrade(url, "0004")
    assert sql(url, "SELECT id, quality_run_id FROM quality_current ORDER BY id") == [
        (ids["orders"], ids["orders"]), (ids["orders_fresh"], ids["orders_fresh"])]
    assert sql(url, "SELECT profile_run_id FROM profile_current") == [(ids["profile"],)]
    # the failure 0003 kept in attempt_error is an attempt of its own now, not current
    assert sql(url, "SELECT suite_name, status, error, run_key FROM quality_runs WHERE id > :m",
               m=ids["orders_fresh"]) == [("orders_fresh", "error", "interrupted: reaped by run cli/x", "migration/0004")]
    assert "attempt_error" not in columns(url, "quality_runs") and "attempt_started_at" not in columns(url, "profile_runs")
    with pytest.raises(IntegrityError, match="finished attempt"):
        sql(url, "UPDATE quality_runs SET run_key = 'x' WHERE id = :r", r=ids["orders"])

    # a rerun at 0004: a new current attempt; the review item keeps its ref (the key's id)
    migrate.upgrade(url, "head")
    key = ("orders", ids["asset"], DAY.isoformat(), DAY)
    now = dt.datetime.now(dt.UTC)
    with session(url) as s:
        new = runs.start_attempt(s, runs.QUALITY, dict(zip(runs.QUALITY.key, key, strict=True)) | {"run_key": "q/r2"}, now)
        s.execute(text("""INSERT INTO expectation_results (quality_run_id, expectation_id, expectation_type, dimension,
                          severity, success) VALUES (:r, 'e1', 't', 'validity', 'critical', false)"""), {"r": new})
        runs.finish_attempt(s, runs.QUALITY, new, {"status": "failed"}, now)
        assert store.current_run_id(s, *key) == new
    sql(url, "UPDATE review_items SET quality_run_id = :n WHERE ref = :ref", n=new, ref=f"{ids['orders']}/e1")

    migrate.downgrade(url, "0003")
    assert "quality_current" not in inspect(engine(url)).get_table_names()
    assert {"attempt_error", "attempt_started_at"} <= columns(url, "quality_runs")
    # only the current attempt of each key is left; the review item names it as 0003 expects
    assert sql(url, "SELECT id, suite_name FROM quality_runs ORDER BY id") == [
        (ids["orders_fresh"], "orders_fresh"), (new, "orders")]
    assert sql(url, "SELECT ref, quality_run_id FROM review_items ORDER BY ref") == sorted(
        [(f"{ids['orders_fresh']}/e1", ids["orders_fresh"]), (f"{new}/e1", new)])
    assert sql(url, "SELECT count(*) FROM expectation_results") == [(2,)]
    assert sql(url, "SELECT status, profile_run_id FROM anomalies") == [("acknowledged", ids["profile"])]
    with pytest.raises(IntegrityError, match="uq_quality_runs_suite_name_asset_id_partition_key_logical_date"):
        sql(url, """INSERT INTO quality_runs (suite_name, asset_id, partition_key, logical_date, run_key)
                    VALUES ('orders', :a, :p, :d, 'dup')""", a=ids["asset"], p=DAY.isoformat(), d=DAY)

    migrate.upgrade(url, "head")
    assert sql(url, "SELECT count(*) FROM quality_current") == [(2,)]
