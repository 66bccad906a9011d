"""#14.7 The whole chain under a real scheduler: `airflow standalone` on the embedded PostgreSQL,
driven through the REST API with `apache-airflow-client` (a JWT from ``POST /auth/token``).

1. Unpause every DAG with no data in the shop: `inventory`'s run for yesterday waits (deferred);
   two minutes on, no run failed (`alias_watch`'s hourly check included), no task failure and no
   review item was recorded.
2. Seed the 3 days ending yesterday: the waiting run goes on by itself, and the asset events carry
   the day through inventory → profile → quality → train → promote; promote records a gate decision
   citing the quality attempts the training set cites (a refusal of the tiny model is a decision).
3. Backfill `quality` for the 3 days through ``POST /api/v2/backfills``: runs named for their days,
   one at a time; one current result per suite × partition × day; the re-run added attempts; the
   attempts the training set, the MLflow run's tags and the gate decision cite are unchanged, byte
   for byte, and still resolve.
4. Trigger `train` for the last day and then `promote` by hand, each with the conf its trigger form
   posts untouched (every Param's default, the "empty = default" ones ``null``): both run; train
   succeeds and promote records a decision (#14's acceptance).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
from support.db import records, rows
from support.standalone import CHAIN, Deployment, state_of, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.airflow, pytest.mark.slow, pytest.mark.timeout(2700)]

FINISHED = ("success", "failed")


def _day(value: dt.datetime | None) -> dt.date | None:
    return None if value is None else value.astimezone(dt.UTC).date()


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _runs(d: Deployment, dag_id: str, **filters: Any) -> list[Any]:
    return list(d.runs().get_dag_runs(dag_id, limit=100, order_by=["id"], **filters).dag_runs)


def _events(d: Deployment, run: Any) -> list[dict[str, Any]]:
    """The extras of the asset events that started ``run``."""
    return [e.extra or {} for e in d.runs().get_upstream_asset_events(run.dag_id, run.dag_run_id).asset_events]


def _states(d: Deployment) -> str:
    """Every run of the chain with its state, and the task states of runs not finished (timeouts)."""
    lines = []
    for dag_id in CHAIN:
        for r in _runs(d, dag_id):
            lines.append(f"{dag_id} {r.dag_run_id}: {state_of(r.state)}")
            if state_of(r.state) not in FINISHED:
                tis = d.task_instances().get_task_instances(dag_id, r.dag_run_id).task_instances
                lines += [f"    {ti.task_id}: {state_of(ti.state)}" for ti in tis]
    return "\n".join(lines) or "(no runs)"


def _ids_in(value: Any, key: str = "quality_run_ids") -> set[int]:
    """Every id listed under ``key`` anywhere in a JSON document (the gate's evidence nests them)."""
    found: set[int] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key and isinstance(v, list):
                found |= {int(i) for i in v}
            else:
                found |= _ids_in(v, key)
    elif isinstance(value, list):
        for v in value:
            found |= _ids_in(v, key)
    return found


def _evidence(catalog: str, ids: set[int]) -> str:
    """The cited attempts and their expectation results as one canonical JSON text."""
    runs = records(catalog, "SELECT * FROM quality_runs WHERE id = ANY(:ids) ORDER BY id", ids=sorted(ids))
    results = records(catalog, "SELECT * FROM expectation_results WHERE quality_run_id = ANY(:ids) ORDER BY id",
                      ids=sorted(ids))
    return json.dumps({"runs": runs, "results": results}, default=str, sort_keys=True)


def _lineage(d: Deployment, dataset_id: int, run_id: str, decision_id: int) -> dict[str, Any]:
    """What the model's lineage cites: the training set's, the MLflow run's and the decision's ids."""
    from mlflow.tracking import MlflowClient

    from assay import names

    ((ds_ids,),) = rows(d.catalog_url, "SELECT quality_run_ids FROM training_datasets WHERE id = :i", i=dataset_id)
    tags = MlflowClient(tracking_uri=d.mlflow_uri).get_run(run_id).data.tags
    ((evidence,),) = rows(d.catalog_url, "SELECT evidence FROM gate_decisions WHERE id = :i", i=decision_id)
    return {"dataset": sorted(int(i) for i in ds_ids),
            "mlflow": tags.get(names.TAG_QUALITY_RUN_IDS), "mlflow_dataset": tags.get(names.TAG_DATASET_ID),
            "decision": sorted(_ids_in(evidence))}


def _wait_chain(d: Deployment, timeout: float) -> Any:
    """Until promote finished; fails at once, with the failed task's log, when an earlier stage fails."""
    def check() -> Any:
        for dag_id in CHAIN[:-1]:
            for r in _runs(d, dag_id):
                if state_of(r.state) == "failed":
                    pytest.fail(f"the chain broke at {dag_id}:\n{d.failure_report(dag_id, r.dag_run_id)}")
        done = [r for r in _runs(d, "promote") if state_of(r.state) in FINISHED]
        return done[0] if done else None

    return wait_for("inventory → profile → quality → train → promote", check, timeout, report=lambda: _states(d))


def test_whole_chain_then_a_quality_backfill(chain_deployment: Deployment, last_day: dt.date) -> None:
    from airflow_client import client

    from assay.seed.runner import seed_window

    d, y = chain_deployment, last_day
    days = [y - dt.timedelta(days=2), y - dt.timedelta(days=1), y]
    timings: dict[str, float] = {}
    t = time.monotonic()
    wait_for("the DAGs parsed", lambda: all(_parsed(d, dag_id) for dag_id in (*CHAIN, "alias_watch")), 300)

    # ---- 1. Every DAG unpaused on a day without data: the run waits; nothing fails, nothing is opened.
    unpaused = time.monotonic()
    everything = [dag.dag_id for dag in d.dags().get_dags(limit=100).dags]
    assert set(CHAIN) | {"alias_watch"} <= set(everything), everything
    for dag_id in everything:
        d.dags().patch_dag(dag_id, client.DAGPatchBody(is_paused=False), update_mask=["is_paused"])
    waiting = wait_for("inventory's run for yesterday waiting (deferred)", lambda: _deferred(d), 240,
                       report=lambda: _states(d))
    time.sleep(max(0.0, 120 - (time.monotonic() - unpaused)))
    assert waiting.dag_run_id == f"scheduled__{y.isoformat()}T00:00:00+00:00", waiting.dag_run_id
    assert _day(waiting.logical_date) == y and waiting.data_interval_start == _midnight(y)
    assert waiting.data_interval_end == _midnight(y + dt.timedelta(days=1))
    failed = d.runs().get_dag_runs("~", state=["failed"], limit=100).dag_runs
    assert not failed, "a run failed on a day without data:\n" + "\n".join(
        d.failure_report(r.dag_id, r.dag_run_id) for r in failed)
    assert [len(_runs(d, dag_id)) for dag_id in CHAIN] == [1, 0, 0, 0, 0], _states(d)
    assert _deferred(d), f"yesterday's run stopped waiting without data:\n{_states(d)}"
    assert rows(d.catalog_url, "SELECT count(*) FROM review_items") == [(0,)]
    assert rows(d.catalog_url, "SELECT count(*) FROM task_failures") == [(0,)]
    timings["no-data wait"] = time.monotonic() - unpaused
    print(f"chain test: no-data wait phase {timings['no-data wait']:.0f} s", flush=True)

    # ---- 2. The data arrives: the waiting run goes on, the assets carry the day to promote.
    seeded = time.monotonic()
    seed_window(d.settings, y, 3)
    promote = _wait_chain(d, 1800)
    timings["chain"] = time.monotonic() - seeded
    print(f"chain test: chain phase {timings['chain']:.0f} s", flush=True)
    runs = {dag_id: _runs(d, dag_id) for dag_id in CHAIN}
    assert {k: len(v) for k, v in runs.items()} == dict.fromkeys(CHAIN, 1), _states(d)
    for dag_id in CHAIN[1:]:
        (run,) = runs[dag_id]
        days_named = {e.get("logical_date") for e in _events(d, run)}
        assert days_named == {y.isoformat()}, (dag_id, run.dag_run_id, days_named)
    assert rows(d.catalog_url, "SELECT DISTINCT logical_date FROM inventory_runs") == [(y,)]
    assert rows(d.catalog_url, "SELECT DISTINCT logical_date FROM quality_runs") == [(y,)]
    (quality_run,) = runs["quality"]
    assert {k for (k,) in rows(d.catalog_url, "SELECT DISTINCT run_key FROM quality_runs")} == {
        f"quality/{quality_run.dag_run_id}"}

    (candidate,) = _events(d, promote)
    decisions = records(d.catalog_url, "SELECT id, model_name, version, decision, reason, evidence FROM gate_decisions "
                                       "WHERE run_key LIKE :k ORDER BY id", k=f"promote/{promote.dag_run_id}%")
    judged = [x for x in decisions if x["version"] == str(candidate["version"]) and _ids_in(x["evidence"])]
    assert judged, f"promote recorded no gate decision citing quality attempts: {decisions}\n" + d.failure_report(
        "promote", promote.dag_run_id)
    decision = judged[-1]
    print(f"chain test: promote {state_of(promote.state)}, decision #{decision['id']} {decision['decision']}: "
          f"{decision['reason'][:300]}", flush=True)
    # A refusal of the tiny model is a decision too: recorded, then the run is red (AirflowFailException).
    expected = {"success": "pass", "failed": "fail"}[state_of(promote.state) or ""]
    assert decision["decision"] == expected, (decision, d.failure_report("promote", promote.dag_run_id))

    ((dataset_id, run_id),) = rows(d.catalog_url, "SELECT dataset_id, mlflow_run_id FROM training_runs")
    assert run_id == candidate["run_id"]
    before = _lineage(d, dataset_id, run_id, decision["id"])
    cited = set(before["dataset"])
    assert cited and before["mlflow"] == ",".join(str(i) for i in before["dataset"]), before
    assert before["mlflow_dataset"] == str(dataset_id) and cited <= set(before["decision"]), before
    evidence_before = _evidence(d.catalog_url, set(before["decision"]))
    attempts_before = rows(d.catalog_url, "SELECT count(*) FROM quality_runs")[0][0]
    current_before = {tuple(r[:4]): r[4] for r in rows(
        d.catalog_url, "SELECT suite_name, asset_id, partition_key, logical_date, quality_run_id FROM quality_current")}

    # ---- 3. Backfill quality for the 3 days (train and promote paused: no new model is the point).
    for dag_id in ("train", "promote"):
        d.dags().patch_dag(dag_id, client.DAGPatchBody(is_paused=True), update_mask=["is_paused"])
    started = time.monotonic()
    backfill = d.backfills().create_backfill(client.BackfillPostBody(
        dag_id="quality", from_date=_midnight(days[0]), to_date=_midnight(days[-1]), max_active_runs=1,
        reprocess_behavior=client.ReprocessBehavior.COMPLETED, dag_run_conf={}))

    def backfilled() -> list[Any] | None:
        done = _runs(d, "quality", run_type=["backfill"])
        for r in done:
            if state_of(r.state) == "failed":
                pytest.fail(f"backfill {backfill.id} failed:\n{d.failure_report('quality', r.dag_run_id)}")
        return done if len(done) == 3 and all(state_of(r.state) == "success" for r in done) else None

    filled = wait_for(f"backfill {backfill.id} of quality {days[0]}..{days[-1]}", backfilled, 1200,
                      report=lambda: _states(d))
    timings["backfill"] = time.monotonic() - started
    print(f"chain test: backfill phase {timings['backfill']:.0f} s", flush=True)
    filled.sort(key=lambda r: r.logical_date)
    listing = [(r.dag_run_id, r.logical_date, r.data_interval_start, r.data_interval_end) for r in filled]
    assert [(_day(r.logical_date), r.data_interval_start, r.data_interval_end) for r in filled] == [
        (day, _midnight(day), _midnight(day + dt.timedelta(days=1))) for day in days], listing
    # Run ids name their day too (the timetable gives backfill runs run_after = D).
    assert [r.dag_run_id for r in filled] == [f"backfill__{day.isoformat()}T00:00:00+00:00" for day in days], listing
    run_of_day = {_day(r.logical_date): r.dag_run_id for r in filled}
    for a, b in zip(filled, filled[1:], strict=False):
        assert b.start_date >= a.end_date, f"backfill runs overlapped: {a.dag_run_id} and {b.dag_run_id}"

    # One current result per suite × partition × day, each the backfill attempt of its own day.
    current = records(d.catalog_url, "SELECT c.suite_name, c.asset_id, c.partition_key, c.logical_date, "
                                     "r.run_key, r.logical_date AS run_day FROM quality_current c "
                                     "JOIN quality_runs r ON r.id = c.quality_run_id")
    keys = [(c["suite_name"], c["asset_id"], c["partition_key"], c["logical_date"]) for c in current]
    assert len(keys) == len(set(keys)), "duplicate current rows"
    assert {c["logical_date"] for c in current} == set(days)
    for c in current:
        assert c["run_day"] == c["logical_date"] and c["run_key"].startswith(
            f"quality/{run_of_day[c['logical_date']]}"), c
    assert set(current_before) <= set(keys), "a key of the first run has no current result any more"
    assert not set(current_before.values()) & {
        r for (r,) in rows(d.catalog_url, "SELECT quality_run_id FROM quality_current")}, "current pointer not moved"
    # The re-run added attempts (never rewrote one): yesterday's keys now have two each.
    attempts = rows(d.catalog_url, "SELECT count(*) FROM quality_runs")[0][0]
    assert attempts >= attempts_before + len(current_before), (attempts_before, attempts)
    per_key = rows(d.catalog_url, "SELECT count(*) FROM quality_runs WHERE logical_date = :y "
                                  "GROUP BY suite_name, asset_id, partition_key", y=y)
    assert {n for (n,) in per_key} == {2}, per_key
    gx_ids = rows(d.catalog_url, "SELECT gx_run_id FROM quality_runs WHERE gx_run_id IS NOT NULL")
    assert len(gx_ids) == len(set(gx_ids)), "two attempts share a GX run id (a result file overwritten)"

    # Lineage: the same ids, resolving to the same rows, byte for byte.
    assert _lineage(d, dataset_id, run_id, decision["id"]) == before
    assert _evidence(d.catalog_url, set(before["decision"])) == evidence_before

    # ---- 4. train and promote triggered by hand with their trigger forms' defaults (#14 acceptance).
    started = time.monotonic()
    _triggered_from_the_form(d, y)
    timings["form triggers"] = time.monotonic() - started
    print(f"chain test: form-default triggers {timings['form triggers']:.0f} s", flush=True)
    timings["total"] = time.monotonic() - t
    print("chain test timings (s):", {k: round(v) for k, v in timings.items()})


def _form_defaults(d: Deployment, dag_id: str) -> dict[str, Any]:
    """The conf the UI's trigger form posts when nobody touches it: every Param's default value."""
    params = d.dags().get_dag_details(dag_id).params or {}
    return {name: (p or {}).get("value") for name, p in params.items()}


def _triggered_from_the_form(d: Deployment, day: dt.date) -> None:
    """Manual ``train`` for ``day`` and then ``promote``, each with its form's defaults: both run."""
    from airflow_client import client

    for dag_id in ("train", "promote"):
        d.dags().patch_dag(dag_id, client.DAGPatchBody(is_paused=False), update_mask=["is_paused"])
    for dag_id in ("train", "promote"):
        conf = _form_defaults(d, dag_id)
        assert conf and any(v is None for v in conf.values()), (dag_id, conf)  # "empty = default" fields
        run = d.runs().trigger_dag_run(dag_id, client.TriggerDAGRunPostBody(
            logical_date=_midnight(day), conf=conf, dag_run_id=f"manual__form_defaults_{dag_id}"))

        def finished(dag_id: str = dag_id, run_id: str = run.dag_run_id) -> Any:
            r = d.runs().get_dag_run(dag_id, run_id)
            return r if state_of(r.state) in FINISHED else None

        done = wait_for(f"{dag_id} triggered with its form's defaults", finished, 900, report=lambda: _states(d))
        if dag_id == "train":
            assert state_of(done.state) == "success", d.failure_report(dag_id, done.dag_run_id)
            continue
        # promote judged the newest candidate: a decision is recorded whatever it says (a refusal is red).
        decided = rows(d.catalog_url, "SELECT decision FROM gate_decisions WHERE run_key LIKE :k",
                       k=f"promote/{done.dag_run_id}%")
        assert decided, "promote from the form's defaults recorded no decision:\n" + d.failure_report(
            dag_id, done.dag_run_id)
        expected = {"success": "pass", "failed": "fail"}[state_of(done.state) or ""]
        assert decided[-1][0] == expected, (decided, d.failure_report(dag_id, done.dag_run_id))


def _parsed(d: Deployment, dag_id: str) -> bool:
    from airflow_client.client.exceptions import ApiException

    try:
        d.dags().get_dag(dag_id)
    except ApiException:
        return False
    return True


def _deferred(d: Deployment) -> Any:
    """Inventory's one run when its ``wait_for_data`` is deferred (waiting in the triggerer)."""
    for r in _runs(d, "inventory"):
        tis = d.task_instances().get_task_instances("inventory", r.dag_run_id, task_id="wait_for_data")
        if any(state_of(ti.state) == "deferred" for ti in tis.task_instances):
            return r
    return None
