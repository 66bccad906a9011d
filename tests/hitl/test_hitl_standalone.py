"""#15.3 and the #15 acceptance path without a person: one `airflow standalone`, every answer through REST.

A shop seeded with the demo's data shape (``duplicated_events`` on each of its three days: duplicate
``interactions.event_id``, a critical failure) is served by a standalone running ``quality`` and
``promote``; the test answers their human-in-the-loop tasks with
``PATCH /api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}/-1/hitlDetails`` as the admin user.

1. **fail**: ``review`` answered *Fail* → the run fails, no waiver.
2. **timeout**: nobody answers within ``review_hours`` → the default option (*Fail*) applies.
3. **waive**: *Waive* (reason, expiry, comment) → waivers recorded with the responding user and an
   audit row, the failed suite validated again (failures marked waived), the ``validated`` event names
   who waived, ``enforce`` passes.
4. **approve**: a candidate trained on that window (a registered stand-in; its training set is what
   ``train`` records: :func:`assay.training.evidence.window_evidence` of the window) is judged by
   ``promote`` under the project's policy (``require_approval: when_waived``): held, ``champion``
   unmoved until ``approve`` is answered *Approve* through REST; the decision (catalog row and the
   version's MLflow tags) shows the waivers, who granted them, and who approved with what comment.
5. **reject**: a second such candidate answered *Reject*: ``champion`` stays, the rejection is a
   decision of its own, and the version is no rollback option.

The deployment serves only these two DAG files (a project folder of the test's with copies of them;
the code is the repository's), so the DAG processor parses two files, not the whole folder.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.db import rows
from support.gate_world import GOOD, World
from support.standalone import _readable_log, wait_for

from assay import names
from assay.ops import airflow

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800)]

#: One defect day per quality run (a DAG has one run per logical date): Fail, no answer, Waive.
FAIL_DAY, TIMEOUT_DAY, DAY = dt.date(2026, 11, 2), dt.date(2026, 11, 3), dt.date(2026, 11, 4)
PORT = 18102
ROOT = Path(__file__).resolve().parents[2]
#: Tables the training set reads (config/search_log.yaml): what the waive run validates.
TRAINING_TABLES = ["search_sessions", "impressions", "interactions", "products"]
#: Upper bounds per wait (a loaded 2-core box); each wait polls and fails with the run's task states and logs.
UP_S, PHASE_S = 600, 600
TIMINGS: dict[str, float] = {}


@dataclass
class Standalone:
    """The running deployment: REST calls, waits that poll, and a failure report."""

    settings: Any
    token: str
    logfile: Path

    def rest(self, method: str, path: str, payload: dict | None = None) -> Any:
        return airflow.rest(self.settings, method, path, self.token, payload)

    def trigger(self, dag: str, run_id: str, logical: dt.datetime, conf: dict) -> str:
        self.rest("POST", f"/api/v2/dags/{dag}/dagRuns",
                  {"dag_run_id": run_id, "logical_date": logical.isoformat().replace("+00:00", "Z"), "conf": conf})
        return run_id

    def tis(self, dag: str, run: str) -> dict[str, str | None]:
        found = self.rest("GET", f"/api/v2/dags/{dag}/dagRuns/{run}/taskInstances")["task_instances"]
        return {t["task_id"]: t["state"] for t in found}

    def run_state(self, dag: str, run: str) -> str | None:
        state = self.rest("GET", f"/api/v2/dags/{dag}/dagRuns/{run}")["state"]
        return state if state in ("success", "failed") else None

    def hitl(self, dag: str, run: str, task: str) -> dict:
        return self.rest("GET", f"/api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}/-1/hitlDetails")

    def answer(self, dag: str, run: str, task: str, option: str, params: dict) -> dict:
        return self.rest("PATCH", f"/api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}/-1/hitlDetails",
                         {"chosen_options": [option], "params_input": params})

    def report(self, dag: str, run: str) -> str:
        """Each task's state, and the log tail of those not successful (what a failure message needs)."""
        try:
            states = self.tis(dag, run)
        except Exception as exc:  # the report must not hide the original failure
            return f"(task states unavailable: {exc})"
        lines = [f"{dag} / {run}: {json.dumps(states)}"]
        for task, state in states.items():
            if state not in ("success", "skipped", None):
                lines.append(f"--- {task} ({state}):\n{self.log_tail(dag, run, task)}")
        return "\n".join(lines)

    def log_tail(self, dag: str, run: str, task: str, chars: int = 3000) -> str:
        folder = self.settings.airflow_home / "logs" / f"dag_id={dag}" / f"run_id={run}" / f"task_id={task}"
        tries = sorted(folder.glob("attempt=*.log"), key=lambda p: p.stat().st_mtime)
        return _readable_log(tries[-1].read_text(errors="replace"))[-chars:] if tries else f"(no log under {folder})"

    def wait(self, what: str, check: Callable[[], Any], dag: str, run: str, timeout: float = PHASE_S) -> Any:
        """Poll ``check`` every 2 s; after ``timeout`` fail naming ``what`` with the run's report."""
        return wait_for(what, check, timeout, interval=2, report=lambda: self.report(dag, run))

    def ended(self, dag: str, run: str, timeout: float = PHASE_S) -> str:
        return self.wait(f"{dag} run {run} ends", lambda: self.run_state(dag, run), dag, run, timeout)

    def awaiting(self, dag: str, run: str, task: str) -> dict:
        """Wait until ``task`` parked for input; its HITL detail. Fails at once (with the report) if the run ended."""
        state = self.wait(f"{dag}/{run}: {task} awaiting input",
                          lambda: ("awaiting" if self.tis(dag, run).get(task) == "awaiting_input"
                                   else self.run_state(dag, run)), dag, run)
        assert state == "awaiting", f"{task} never asked: run {state}\n{self.report(dag, run)}"
        self.settled(dag, run, task)
        return self.hitl(dag, run, task)

    def settled(self, dag: str, run: str, task: str) -> None:
        """Wait until the scheduler has processed the exit of the task's process that parked it.

        Airflow race (3.3.2, scheduler ``_process_executor_events``): when the answer resumes the task
        before the scheduler handled the executor's "success" of the process that parked it, that late
        event meets the resumed try (same try number, state queued/running), is taken for a task killed
        externally, and the task is retried: it asks again. A person never answers within seconds; a
        test does, so it answers only once the scheduler logged that exit.
        """
        line = f"TaskInstance Finished: dag_id={dag}, task_id={task}, run_id={run}, "
        attempt = f"try_number={self.rest('GET', f'/api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}')['try_number']},"

        def seen() -> bool:
            with open(self.logfile, errors="replace") as fh:
                return any(line in x and "state=awaiting_input" in x and attempt in x for x in fh)

        self.wait(f"{dag}/{run}: the scheduler handles the exit of {task}'s parked process ({line!r} in "
                  f"{self.logfile})", seen, dag, run, timeout=300)


def _project(tmp: Path) -> Path:
    """A project folder whose dags/ holds only quality.py and promote.py (the rest: the repository's)."""
    project = tmp / "project"
    (project / "dags").mkdir(parents=True)
    for dag in ("quality", "promote"):
        shutil.copy(ROOT / "dags" / f"{dag}.py", project / "dags" / f"{dag}.py")
    for shared in ("plugins", "config", "expectations"):  # the repository's: one policy, contract, suites
        (project / shared).symlink_to(ROOT / shared, target_is_directory=True)
    return project


@pytest.fixture
def deployment(seeded_world: Any, fresh_db: Callable[[str], str], mlflow_uri: str, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Standalone, Any]]:
    """A standalone on a world with a critical failure on each day (duplicate interaction event ids)."""
    from assay.seed import DefectSchedule, SeedConfig

    t0 = time.monotonic()
    defects = ";".join(f"{d}:duplicated_events" for d in (FAIL_DAY, TIMEOUT_DAY, DAY))
    world = seeded_world("hitl", SeedConfig(start_date=FAIL_DAY, days=3, write_truth=False,
                                            defects=DefectSchedule.parse(defects)))
    s = world.settings.model_copy(update={"home": tmp_path / "af", "mlflow_tracking_uri": mlflow_uri,
                                          "airflow_sql_alchemy_conn": fresh_db("hitlaf"), "airflow_port": PORT,
                                          "project_root": _project(tmp_path)})
    # Airflow's processes find the files under <state>/landing (airflow_env passes the state folder only).
    s.state_dir.mkdir(parents=True, exist_ok=True)
    (s.state_dir / "landing").symlink_to(world.landing, target_is_directory=True)
    # Two files that never change: parse them once, not every 30 s (a deployment setting, not the DAGs').
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL", "600")
    TIMINGS["seed_s"] = time.monotonic() - t0
    t0 = time.monotonic()
    info = airflow.standalone_up(s, timeout=UP_S)
    try:
        af = Standalone(s, airflow.rest_token(s), info.logfile)
        for dag in ("quality", "promote"):
            af.wait(f"DAG {dag} parsed", lambda d=dag: af.rest("GET", f"/api/v2/dags?dag_id_pattern={d}")[
                "total_entries"], dag, "-", UP_S)
            af.rest("PATCH", f"/api/v2/dags/{dag}", {"is_paused": False})
        TIMINGS["standalone_up_s"] = time.monotonic() - t0
        yield af, world
    finally:
        airflow.standalone_down(s)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


NO_PARAMS = {"reason": None, "expires_on": None, "comment": None}


def test_review_and_approval_answered_through_rest(deployment: tuple[Standalone, Any]) -> None:
    af, world = deployment
    catalog = world.catalog_url
    try:
        _fail_phase(af, catalog)
        _timeout_phase(af, catalog)
        waiver_ids = _waive_phase(af, catalog)
        _approval_phases(af, world, waiver_ids)
    finally:
        print(f"\nTIMINGS {json.dumps({k: round(v, 1) for k, v in TIMINGS.items()})}")


def _fail_phase(af: Standalone, catalog: str) -> None:
    t0 = time.monotonic()
    run = af.trigger("quality", "hitl_fail", _midnight(FAIL_DAY), {"review_hours": 1, "assets": ["interactions"]})
    detail = af.awaiting("quality", run, "review")
    TIMINGS["fail.to_review_s"] = time.monotonic() - t0
    assert detail["options"] == ["Waive", "Fail"] and detail["defaults"] == ["Fail"], detail
    body = detail["body"]
    assert "interactions" in body and "critical expectation" in body and "/assay/quality/runs/" in body, body
    assert set(detail["params"]) == {"reason", "expires_on", "comment"}
    af.answer("quality", run, "review", "Fail", NO_PARAMS)
    assert af.ended("quality", run) == "failed"
    states = af.tis("quality", run)
    assert states["review"] == "failed" and states["enforce"] == "upstream_failed", af.report("quality", run)
    assert "failed by admin" in af.log_tail("quality", run, "review")
    assert rows(catalog, "SELECT count(*) FROM waivers") == [(0,)]
    TIMINGS["fail_s"] = time.monotonic() - t0


def _timeout_phase(af: Standalone, catalog: str) -> None:
    t0 = time.monotonic()
    # 0.008 h = 29 s (long enough for the scheduler to handle the parked process's exit first: see
    # Standalone.settled); a poll may miss the waiting state, so only the outcome is asserted.
    run = af.trigger("quality", "hitl_timeout", _midnight(TIMEOUT_DAY), {"review_hours": 0.008,
                                                                          "assets": ["interactions"]})
    assert af.ended("quality", run) == "failed"
    detail = af.hitl("quality", run, "review")
    assert detail["chosen_options"] == ["Fail"] and detail["responded_by_user"] is None, detail
    assert af.tis("quality", run)["review"] == "failed", af.report("quality", run)
    assert "no steward answered in time" in af.log_tail("quality", run, "review")
    assert rows(catalog, "SELECT count(*) FROM waivers") == [(0,)]
    TIMINGS["timeout_s"] = time.monotonic() - t0


def _waive_phase(af: Standalone, catalog: str) -> list[int]:
    t0 = time.monotonic()
    run = af.trigger("quality", "hitl_waive", _midnight(DAY), {"review_hours": 1, "assets": TRAINING_TABLES})
    detail = af.awaiting("quality", run, "review")
    TIMINGS["waive.to_review_s"] = time.monotonic() - t0
    assert f"### interactions:{DAY}".replace("-", "\\-") in detail["body"], detail["body"]
    assert "### search\\_sessions" not in detail["body"], detail["body"]  # only the failing partitions
    expires = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=14)).isoformat()
    t1 = time.monotonic()
    answer = af.answer("quality", run, "review", "Waive", {"reason": "replayed events, INC-7", "expires_on": expires,
                                                           "comment": "dedup fixed upstream"})
    assert answer["responded_by"]["name"] == "admin", answer
    assert af.ended("quality", run) == "success", af.report("quality", run)
    TIMINGS["waive.answer_to_success_s"] = time.monotonic() - t1
    states = af.tis("quality", run)
    assert {t: states[t] for t in ("validate", "publish", "review", "enforce")} == dict.fromkeys(
        ("validate", "publish", "review", "enforce"), "success"), af.report("quality", run)

    waivers = rows(catalog, "SELECT w.id, w.created_by, w.reason, w.suite_name, w.valid_from, w.valid_until, "
                            "w.expectation_id FROM waivers w ORDER BY w.id")
    assert waivers and all(w[1] == "admin" and w[3] == "interactions" for w in waivers), waivers
    assert all("INC-7" in w[2] and "dedup fixed upstream" in w[2] for w in waivers), waivers
    assert all(w[4] == _midnight(DAY) and w[5] == _midnight(DAY + dt.timedelta(days=1)) for w in waivers), waivers
    ids = [int(w[0]) for w in waivers]
    # The failed suite ran again under the same run key: its current attempt has the failures waived.
    current = rows(catalog, "SELECT r.id, r.status, r.critical_failures, "
                            "(SELECT count(*) FROM expectation_results e WHERE e.quality_run_id = r.id AND e.waived) "
                            "FROM quality_current c JOIN quality_runs r ON r.id = c.quality_run_id "
                            f"WHERE c.suite_name = 'interactions' AND c.logical_date = '{DAY}'")
    assert len(current) == 1 and current[0][1:3] == ("ok", 0) and current[0][3] >= 1, current
    audit = rows(catalog, "SELECT actor, action, target_id FROM steward_audit WHERE target_kind = 'waiver' ORDER BY id")
    assert [(a, act) for a, act, _ in audit] == [("admin", "waive")] * len(ids), audit
    assert sorted(int(t) for _, _, t in audit) == ids, audit
    events = af.rest("GET", f"/api/v2/assets/events?source_dag_id=quality&source_run_id={run}")["asset_events"]
    reviewed = [e["extra"] for e in events if (e["extra"] or {}).get("waived_by") == "admin"]
    assert reviewed and f"interactions:{DAY}" in reviewed[0]["partitions"], events
    assert sorted(reviewed[0]["waivers"]) == ids, reviewed
    TIMINGS["waive_s"] = time.monotonic() - t0
    return ids


def _training_set(settings: Any) -> tuple[int, list[int]]:
    """The training set ``train`` records for the window [DAY, DAY]: its quality evidence, read the way train reads it."""
    import hashlib

    from assay.catalog.db import session
    from assay.catalog.models import TrainingDataset
    from assay.training import contract as search_log
    from assay.training.evidence import window_evidence

    ev = window_evidence(settings, search_log.load_default(settings), [DAY], DAY, allow_unvalidated=False,
                         window=f"{DAY}..{DAY}")
    assert ev.usable == (DAY,) and not ev.unvalidated, ev
    with session(settings.catalog_url()) as s:
        ds = TrainingDataset(digest=hashlib.sha256(repr(ev).encode()).hexdigest(), window_start=DAY, window_end=DAY,
                             partitions=list(ev.partitions), quality_run_ids=list(ev.quality_run_ids),
                             waiver_ids=list(ev.waiver_ids), n_train=100, n_test=20, stats={})
        s.add(ds)
        s.flush()
        return int(ds.id), list(ev.waiver_ids)


def _approval_phases(af: Standalone, world: Any, waiver_ids: list[int]) -> None:
    from mlflow import MlflowClient

    from assay.steward.service import rollback_options

    t0 = time.monotonic()
    s, catalog = af.settings, world.catalog_url
    dataset_id, relied = _training_set(s)
    assert relied == waiver_ids  # the training set relies on exactly the steward's waivers
    client = MlflowClient(tracking_uri=s.mlflow_uri(), registry_uri=s.mlflow_uri())
    w = World(s, client, s.state_dir / "mlruns")
    decided_at = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(6), tzinfo=dt.UTC)

    # ---- approve -------------------------------------------------------------------------------------
    v1 = w.candidate(GOOD, dataset_id)
    run = af.trigger("promote", "promote_v1", decided_at, {"version": int(v1), "approval_hours": 1})
    detail = af.awaiting("promote", run, "approve")
    TIMINGS["approve.to_approval_s"] = time.monotonic() - t0
    assert detail["options"] == ["Approve", "Reject"], detail
    assert "granted by **admin**" in detail["body"] and "INC\\-7" in detail["body"], detail["body"]
    assert names.CHAMPION not in w.aliases(), "champion moved before the approval"
    assert w.aliases().get(names.CHALLENGER) == v1
    ((held_id, held_ev),) = rows(catalog, f"SELECT id, evidence FROM gate_decisions WHERE version = '{v1}'")
    assert held_ev["approval"]["status"] == "pending" and "when_waived" in held_ev["approval"]["why"], held_ev
    assert v1 not in rollback_options(s, names.MODEL_NAME)  # a held pass is no rollback target
    t1 = time.monotonic()
    af.answer("promote", run, "approve", "Approve", {"comment": "INC-7 dedup verified"})
    assert af.ended("promote", run) == "success", af.report("promote", run)
    TIMINGS["approve.answer_to_success_s"] = time.monotonic() - t1
    assert w.aliases()[names.CHAMPION] == v1
    ((dec_id, actor, reason, ev),) = rows(catalog, "SELECT id, actor, reason, evidence FROM gate_decisions "
                                                   f"WHERE version = '{v1}' AND id > {held_id}")
    assert actor == "admin" and "approved by admin" in reason and "INC-7 dedup verified" in reason, reason
    assert ev["approval"] == {**ev["approval"], "by": "admin", "comment": "INC-7 dedup verified",
                              "of_decision_id": held_id, "approved": True}, ev["approval"]
    assert sorted(g["id"] for g in ev["waivers"]) == waiver_ids, ev["waivers"]
    assert {g["created_by"] for g in ev["waivers"]} == {"admin"} and all("INC-7" in g["reason"] for g in ev["waivers"])
    tags = client.get_model_version(names.MODEL_NAME, v1).tags
    assert tags[names.TAG_GATE_DECISION] == "pass" and tags[names.TAG_GATE_DECISION_ID] == str(dec_id), tags
    assert "approved by admin" in tags[names.TAG_GATE_REASON] and "INC-7 dedup verified" in tags[names.TAG_GATE_REASON]
    assert all(f"waiver #{i} granted by admin" in tags[names.TAG_GATE_REASON] for i in waiver_ids), tags
    ((moved_by, moved_decision),) = rows(catalog, "SELECT actor, decision_id FROM alias_events WHERE alias = 'champion'")
    assert (moved_by, moved_decision) == ("admin", dec_id)
    assert v1 in rollback_options(s, names.MODEL_NAME)
    TIMINGS["approve_s"] = time.monotonic() - t0

    # ---- reject --------------------------------------------------------------------------------------
    t0 = time.monotonic()
    v2 = w.candidate(GOOD, dataset_id)
    run = af.trigger("promote", "promote_v2", decided_at + dt.timedelta(minutes=1), {"version": int(v2),
                                                                                     "approval_hours": 1})
    af.awaiting("promote", run, "approve")
    assert w.aliases()[names.CHAMPION] == v1
    af.answer("promote", run, "approve", "Reject", {"comment": "not on a defect day"})
    assert af.ended("promote", run) == "failed"
    assert af.tis("promote", run) == {"gate": "success", "approve": "failed"}, af.report("promote", run)
    assert w.aliases() == {names.CHAMPION: v1, names.CHALLENGER: v2}
    decisions = rows(catalog, f"SELECT decision, actor, reason FROM gate_decisions WHERE version = '{v2}' ORDER BY id")
    assert [(d, a) for d, a, _ in decisions] == [("pass", "airflow:promote"), ("fail", "admin")], decisions
    assert "approval rejected by admin" in decisions[1][2] and "not on a defect day" in decisions[1][2]
    assert client.get_model_version(names.MODEL_NAME, v2).tags[names.TAG_GATE_DECISION] == "fail"
    assert v2 not in rollback_options(s, names.MODEL_NAME)
    TIMINGS["reject_s"] = time.monotonic() - t0
