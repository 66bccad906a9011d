"""require_approval in the gate on real stores: a held pass, the approval or rejection recorded as a decision
with the responding user, champion moved only on approval, the waivers and who granted them in the evidence."""

from __future__ import annotations

import datetime as dt

import pytest
from support.db import rows
from support.gate_world import GOOD, TRAIN, World

from assay import names
from assay.errors import GateError
from assay.gate.policy import parse

pytestmark = pytest.mark.integration

MODEL = names.MODEL_NAME
NOW = dt.datetime(2026, 11, 9, 6, 0, tzinfo=dt.UTC)
POLICY = {"on_no_champion": "promote", "data": {"max_warning_failures": 1, "max_partition_age_hours": 96},
          "metrics": [{"metric": "ndcg_at_10", "threshold": 0.3}]}
BAD_DAY = TRAIN[1]
#: Days of a clean candidate that leave BAD_DAY's partitions to the waived one (quality runs are shared).
CLEAN_DAYS = [TRAIN[0], TRAIN[2]]


def gate(w: World, version: str, require: str):
    from assay.gate.run import run_gate

    return run_gate(w.settings, MODEL, version, actor="airflow:promote", run_key="test/gate", now=NOW,
                    policy=parse({**POLICY, "require_approval": require}, "test-policy"))


def waived_candidate(w: World) -> tuple[str, int]:
    ds = w.dataset(critical_fail_on=("search_sessions", BAD_DAY))
    waiver = w.waive("search_sessions", "query_not_null", BAD_DAY)
    return w.candidate(GOOD, ds), waiver


def evidence(w: World, decision_id: int) -> dict:
    ((ev,),) = rows(w.catalog, f"SELECT evidence FROM gate_decisions WHERE id = {int(decision_id)}")
    return ev


def test_when_waived_holds_champion_until_approved_and_records_who(gate_world: World) -> None:
    from assay.gate.approval import pending, record_answer
    from assay.gate.reconcile import reconcile

    w = gate_world
    v, waiver = waived_candidate(w)
    d = gate(w, v, "when_waived")
    assert d.decision == "pass", d.reason
    assert w.aliases() == {names.CHALLENGER: v}  # champion held
    ev = evidence(w, d.decision_id)
    assert ev["approval"]["status"] == "pending" and f"waiver(s) {waiver}" in ev["approval"]["why"]
    assert [(g["id"], g["created_by"], g["expectation"]) for g in ev["waivers"]] == [(waiver, "steward", "query_not_null")]
    [held] = pending(w.settings, [d.decision_id])
    assert held.waivers[0]["created_by"] == "steward"

    out = record_answer(w.settings, d.decision_id, approved=True, user="ops-lead", comment="checked INC-1",
                        run_key="test/approve")
    assert out["decision"] == "pass" and out["champion_version"] == v
    assert w.aliases() == {names.CHALLENGER: v, names.CHAMPION: v}
    ((actor, reason, ev2),) = rows(w.catalog, f"SELECT actor, reason, evidence FROM gate_decisions WHERE id = {out['decision_id']}")
    assert actor == "ops-lead" and "approved by ops-lead" in reason and "checked INC-1" in reason
    assert ev2["approval"]["by"] == "ops-lead" and ev2["approval"]["of_decision_id"] == d.decision_id
    assert ev2["approval"]["comment"] == "checked INC-1" and ev2["approval"]["at"]
    assert ev2["waivers"][0]["created_by"] == "steward"
    ((decision_id, actor2),) = rows(w.catalog, "SELECT decision_id, actor FROM alias_events WHERE alias = 'champion'")
    assert (decision_id, actor2) == (out["decision_id"], "ops-lead")
    assert pending(w.settings, [d.decision_id]) == []
    with pytest.raises(GateError, match="answered already"):
        record_answer(w.settings, d.decision_id, approved=True, user="someone-else")
    tags = w.client.get_model_version(MODEL, v).tags
    assert tags[names.TAG_GATE_DECISION_ID] == str(out["decision_id"])
    # The version's reason tag names the waiver relied on and who granted it, as the decision row does.
    assert f"relies on waiver #{waiver} granted by steward" in reason and "approved by ops-lead" in reason
    assert f"waiver #{waiver} granted by steward" in tags[names.TAG_GATE_REASON], tags
    report = reconcile(w.settings, mode="report", models=[MODEL], policy=parse(POLICY, "p"))
    assert report.ok, report.summary()


def test_rejection_leaves_champion_and_is_a_recorded_decision(gate_world: World) -> None:
    from assay.gate.approval import record_answer
    from assay.gate.run import rollback

    w = gate_world
    v1 = w.candidate(GOOD, w.dataset(CLEAN_DAYS))
    assert gate(w, v1, "when_waived").decision == "pass"  # no waiver: no approval needed
    assert w.aliases()[names.CHAMPION] == v1
    v2, _ = waived_candidate(w)
    d = gate(w, v2, "when_waived")
    assert d.decision == "pass" and w.aliases() == {names.CHAMPION: v1, names.CHALLENGER: v2}
    out = record_answer(w.settings, d.decision_id, approved=False, user="ops-lead", comment="not on a defect day")
    assert out["decision"] == "fail" and out["champion_version"] == v1
    assert w.aliases()[names.CHAMPION] == v1
    ((actor, decision, reason),) = rows(w.catalog, f"SELECT actor, decision, reason FROM gate_decisions "
                                                   f"WHERE id = {out['decision_id']}")
    assert (actor, decision) == ("ops-lead", "fail") and "rejected by ops-lead" in reason
    assert w.client.get_model_version(MODEL, v2).tags[names.TAG_GATE_DECISION] == "fail"
    with pytest.raises(GateError, match="was not approved"):
        rollback(w.settings, MODEL, v2, actor="someone")


def test_always_holds_even_without_waivers_and_never_does_not(gate_world: World) -> None:
    from assay.gate.approval import record_answer

    w = gate_world
    v = w.candidate(GOOD, w.dataset(CLEAN_DAYS))
    d = gate(w, v, "always")
    assert d.decision == "pass" and names.CHAMPION not in w.aliases()
    out = record_answer(w.settings, d.decision_id, approved=False, user=None)  # nobody answered in time
    ((actor,),) = rows(w.catalog, f"SELECT actor FROM gate_decisions WHERE id = {out['decision_id']}")
    assert actor == "airflow:promote" and "no approval given" in out["reason"]
    v2, _ = waived_candidate(w)
    d2 = gate(w, v2, "never")
    assert d2.decision == "pass" and w.aliases()[names.CHAMPION] == v2
    ev = evidence(w, d2.decision_id)
    assert "approval" not in ev and ev["waivers"][0]["created_by"] == "steward"  # who granted it, always shown
