"""Lineage cites attempts that never change (issue #14 item 4), on a real catalog.

A training set cites quality attempt ids; reruns add attempts (one succeeds, one cannot run) and
the cited ids still resolve to exactly what they recorded. The gate reads the current attempts
plus the cited ones; a failed rerun neither hides the successful attempt nor counts as broken.
Profiling attempts behave the same; an anomaly keeps its steward's status across attempts.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from assay.catalog import runs
from assay.catalog.db import session
from assay.catalog.models import (
    Anomaly,
    Asset,
    ColumnMetrics,
    ExpectationResult,
    ProfileRun,
    QualityRun,
    Source,
    TrainingDataset,
)
from assay.catalog.upsert import upsert

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 21, 3, tzinfo=dt.UTC)


def _asset(url: str, name: str = "search_sessions") -> int:
    with session(url) as s:
        (sid,) = upsert(s, Source, [{"name": "shop", "kind": "sql", "url_or_conn_id": "shop_postgres"}], ["name"])
        (aid,) = upsert(s, Asset, [{"source_id": sid, "namespace": "public", "name": name, "kind": "table"}],
                        ["source_id", "namespace", "name"])
    return aid


def _validate(url: str, aid: int, run_key: str, status: str, failing: tuple[str, ...] = ()) -> int:
    """One quality attempt through the run-row lifecycle, with its results; returns its id."""
    key = {"suite_name": "search_sessions", "asset_id": aid, "partition_key": DAY.isoformat(), "logical_date": DAY}
    with session(url) as s:
        rid = runs.start_attempt(s, runs.QUALITY, {**key, "run_key": run_key}, NOW)
    with session(url) as s:
        if status != "error":
            for eid in ("session_id_unique", "query_not_null"):
                s.add(ExpectationResult(quality_run_id=rid, expectation_id=eid, expectation_type="t",
                                        dimension="validity", severity="critical", success=eid not in failing))
        runs.finish_attempt(s, runs.QUALITY, rid, {"status": status, "critical_failures": len(failing),
                                                   "error": "lost" if status == "error" else None}, NOW)
    return rid


def _snapshot(url: str, rid: int) -> tuple:
    with session(url) as s:
        row = s.execute(sa.text("SELECT row_to_json(r)::text FROM quality_runs r WHERE id = :r"), {"r": rid}).scalar()
        results = s.execute(sa.text("SELECT row_to_json(e)::text FROM expectation_results e "
                                    "WHERE quality_run_id = :r ORDER BY id"), {"r": rid}).scalars().all()
    return row, results


def test_a_training_sets_cited_attempts_resolve_after_reruns_and_the_gate_reads_the_current_ones(catalog_url):
    from assay import names
    from assay.gate.evidence import Evidence, _catalog_part
    from assay.quality import store

    aid = _asset(catalog_url)
    cited = _validate(catalog_url, aid, "quality/first", "failed", failing=("query_not_null",))
    with session(catalog_url) as s:
        ds = TrainingDataset(digest="b" * 64, window_start=DAY, window_end=DAY, partitions=[f"search_sessions:{DAY}"],
                             quality_run_ids=[cited], waiver_ids=[], n_train=10, n_test=2, stats={})
        s.add(ds)
        s.flush()
        ds_id = ds.id
    seen = _snapshot(catalog_url, cited)

    rerun = _validate(catalog_url, aid, "quality/backfill", "ok")  # the backfill re-validates the day
    failed = _validate(catalog_url, aid, "quality/retry", "error")  # a later attempt that could not run

    assert _snapshot(catalog_url, cited) == seen  # what the model saw, byte for byte
    with session(catalog_url) as s:
        resolved = store.attempts(s, [cited, rerun, failed])
        assert {i: current for i, (_, current) in resolved.items()} == {cited: False, rerun: True, failed: False}
        assert resolved[cited][0].run_key == "quality/first" and resolved[cited][0].status == "failed"
        assert store.current_run_id(s, "search_sessions", aid, DAY.isoformat(), DAY) == rerun
        current = s.execute(select(QualityRun.id).where(store.is_current())).scalars().all()
        assert current == [rerun]

        ev = Evidence(model_name="m", version="1", now=NOW)
        _catalog_part(s, ev, {names.TAG_DATASET_ID: str(ds_id), names.TAG_QUALITY_RUN_IDS: str(cited)})
    assert ev.errors == []
    assert ev.quality_run_ids == sorted([cited, rerun])  # the cited attempt and the current one
    assert ev.superseded_quality_run_ids == [cited]
    assert ev.broken_quality_runs == []  # the attempt that could not run is not the record
    assert [(f.quality_run_id, f.expectation_id) for f in ev.failures] == [(cited, "query_not_null")]


def test_profile_attempts_keep_their_metrics_and_anomalies_keep_the_steward_status(catalog_url):
    from assay.profiling import store

    aid = _asset(catalog_url, "orders")
    key = {"asset_id": aid, "partition_key": DAY.isoformat(), "logical_date": DAY}
    ids = []
    for i, (status, rows) in enumerate([("success", 10), ("success", 12), ("failed", None)]):
        with session(catalog_url) as s:
            rid = runs.start_attempt(s, runs.PROFILE, {**key, "run_key": f"profile/{i}"}, NOW)
        with session(catalog_url) as s:
            if status == "success":
                s.add(ColumnMetrics(profile_run_id=rid, column_name="amount", metrics={"max": rows}))
                upsert(s, Anomaly, [{**key, "profile_run_id": rid, "column_name": "", "metric": "row_count",
                                     "observed": float(rows), "method": "mad", "details": {}}],
                       ["asset_id", "partition_key", "logical_date", "column_name", "metric"],
                       update=["profile_run_id", "observed"])
            kept = store.finish_profile(s, rid, {"status": status, "row_count": rows, "error": None}, NOW)
            assert kept == (status == "failed")  # a failed rerun keeps the successful attempt current
        if i == 0:
            with session(catalog_url) as s:
                s.execute(sa.update(Anomaly).values(status="acknowledged", status_changed_by="jane"))
        ids.append(rid)
    with session(catalog_url) as s:
        assert s.execute(select(ProfileRun.id).where(store.is_current())).scalars().all() == [ids[1]]
        metrics = dict(s.execute(select(ColumnMetrics.profile_run_id, ColumnMetrics.metrics)).all())
        assert metrics == {ids[0]: {"max": 10}, ids[1]: {"max": 12}}  # each attempt's own
        assert s.execute(select(Anomaly.status, Anomaly.status_changed_by, Anomaly.profile_run_id)).all() == [
            ("acknowledged", "jane", ids[1])
        ]
        assert s.execute(select(ProfileRun.status, ProfileRun.error).where(ProfileRun.id == ids[2])).one() == (
            "failed", None)


def test_a_finished_attempt_refuses_changes(catalog_url):
    from sqlalchemy.exc import IntegrityError

    aid = _asset(catalog_url)
    rid = _validate(catalog_url, aid, "quality/first", "ok")
    with pytest.raises(IntegrityError, match="finished attempt"), session(catalog_url) as s:
        s.execute(sa.update(QualityRun).where(QualityRun.id == rid).values(run_key="quality/backfill"))
    with pytest.raises(RuntimeError, match="ended by another process"), session(catalog_url) as s:
        runs.finish_attempt(s, runs.QUALITY, rid, {"status": "ok"}, NOW)


def test_concurrent_first_attempts_of_one_key_leave_one_current(catalog_url):
    aid = _asset(catalog_url)
    key = {"suite_name": "s", "asset_id": aid, "partition_key": "__all__", "logical_date": DAY}
    with session(catalog_url) as s:
        a = runs.start_attempt(s, runs.QUALITY, {**key, "run_key": "w1"}, NOW)
        b = runs.start_attempt(s, runs.QUALITY, {**key, "run_key": "w2"}, NOW)
        assert runs.current_of(s, runs.QUALITY, ("s", aid, "__all__", DAY)) == a  # the first shows as running
        runs.finish_attempt(s, runs.QUALITY, b, {"status": "ok"}, NOW)
        runs.finish_attempt(s, runs.QUALITY, a, {"status": "error", "error": "x"}, NOW)  # kept: b is a success
        assert runs.current_of(s, runs.QUALITY, ("s", aid, "__all__", DAY)) == b
        count = s.execute(sa.text("SELECT count(*) FROM quality_current")).scalar()
    assert count == 1
