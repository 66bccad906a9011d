"""Protected aliases: `assay.gate.reconcile` compares the MLflow registry with the decision ledger.

Someone with registry access (the MLflow UI, the REST API) sets ``champion`` or deletes the gate's
tags; the check reports it, and with ``alias_protection: restore`` moves the alias back (or removes
it) and records the repair in ``gate_decisions`` + ``alias_events`` (actor ``reconcile``). Real
stores: the catalog and an MLflow tracking/registry store on the embedded PostgreSQL (gate_world).
"""

from __future__ import annotations

import datetime as dt

import pytest
from support.db import records, rows
from support.gate_world import GOOD, World

from assay import names
from assay.gate.policy import AliasProtection, PolicyError, parse
from assay.gate.reconcile import (
    AliasDriftError,
    Kind,
    Ledger,
    LedgerDecision,
    RegistryState,
    compare,
    reconcile,
    reconcile_for_airflow,
)

MODEL = names.MODEL_NAME
NOW = dt.datetime(2026, 11, 9, 6, 0, tzinfo=dt.UTC)  # newest training partition (11-05) ended 78 h before
POLICY = {
    "on_no_champion": "promote",
    "data": {"max_warning_failures": 1, "max_partition_age_hours": 96},
    "metrics": [{"metric": "ndcg_at_10", "threshold": 0.3}],
}
BAD = {**GOOD, "ndcg_at_10": 0.1}  # fails the threshold: a refused candidate


def policy(mode: str = "report"):
    return parse({**POLICY, "alias_protection": mode}, "test-policy")


def gate(w: World, version: str) -> str:
    from assay.gate.run import run_gate

    d = run_gate(w.settings, MODEL, version, actor="tester", run_key="test/gate", now=NOW, policy=policy())
    return d.decision


def check(w: World, mode: str = "report"):
    return reconcile(w.settings, policy=policy(mode), models=[MODEL], run_key="test/reconcile")


@pytest.fixture
def world(gate_world: World) -> World:
    return gate_world


@pytest.fixture
def promoted(world: World) -> tuple[World, str, str]:
    """v1 passed the gate (champion), v2 was refused (challenger)."""
    v1, v2 = world.candidate(GOOD), world.candidate(BAD)
    assert (gate(world, v1), gate(world, v2)) == ("pass", "fail")
    assert world.aliases() == {names.CHAMPION: v1, names.CHALLENGER: v2}
    return world, v1, v2


# ---- on real stores ------------------------------------------------------------------------------
@pytest.mark.integration
def test_legitimate_promotion_is_not_reported(promoted):
    w, _v1, _v2 = promoted
    report = check(w)
    assert report.ok and report.findings == [], report.summary()
    assert reconcile_for_airflow(w.settings, {"model_name": None, "mode": None}, "test/run")["ok"] is True


@pytest.mark.integration
def test_champion_set_through_the_mlflow_client_is_reported(promoted):
    w, v1, v2 = promoted
    w.client.set_registered_model_alias(MODEL, names.CHAMPION, v2)  # what the UI's alias editor does
    report = check(w)
    assert not report.ok
    (f,) = report.unresolved
    assert (f.kind, f.alias, f.version, f.expected, f.action) == (Kind.MOVED, names.CHAMPION, v2, v1, "reported")
    assert f"v{v2} has no recorded passing decision" in f.detail and "set outside the gate" in f.detail
    assert w.aliases()[names.CHAMPION] == v2  # report mode moves nothing
    with pytest.raises(AliasDriftError, match=f"champion -> v{v2}"):
        reconcile_for_airflow(w.settings, {"model_name": MODEL, "mode": "report"}, "test/run")


@pytest.mark.integration
def test_champion_on_a_never_judged_version_is_reported(promoted):
    w, _v1, _v2 = promoted
    v3 = w.candidate(GOOD)  # registered, never gated
    w.client.set_registered_model_alias(MODEL, names.CHAMPION, v3)
    (f,) = check(w).unresolved
    assert (f.kind, f.version) == (Kind.MOVED, v3) and "no recorded passing decision" in f.detail


@pytest.mark.integration
def test_restore_moves_champion_back_and_records_the_event(promoted):
    w, v1, v2 = promoted
    w.client.set_registered_model_alias(MODEL, names.CHAMPION, v2)
    report = check(w, "restore")
    assert report.ok, report.summary()
    (f,) = report.findings
    assert (f.kind, f.action) == (Kind.MOVED, "restored") and f.decision_id
    assert w.aliases() == {names.CHAMPION: v1, names.CHALLENGER: v2}
    last = records(w.catalog, "SELECT alias, from_version, to_version, decision_id, actor, reason FROM alias_events "
                              "ORDER BY id DESC LIMIT 1")[0]
    assert (last["alias"], last["from_version"], last["to_version"], last["actor"]) == (names.CHAMPION, v2, v1,
                                                                                         "reconcile")
    assert last["decision_id"] == f.decision_id and f"restored to v{v1}" in last["reason"]
    ((decision, version, actor, relied),) = rows(
        w.catalog, "SELECT decision, version, actor, evidence->'reconcile'->>'relies_on_decision_id' "
                   f"FROM gate_decisions WHERE id = {f.decision_id}")
    first_pass = rows(w.catalog, f"SELECT min(id) FROM gate_decisions WHERE version = '{v1}'")[0][0]
    assert (decision, version, actor, int(relied)) == ("pass", v1, "reconcile", first_pass)
    # The repair is itself consistent: tags follow the new decision, a second pass finds nothing.
    tags = w.client.get_model_version(MODEL, v1).tags
    assert tags[names.TAG_GATE_DECISION_ID] == str(f.decision_id)
    again = check(w, "restore")
    assert again.ok and again.findings == [], again.summary()


@pytest.mark.integration
def test_restore_removes_an_alias_the_ledger_never_placed(world):
    v1 = world.candidate(GOOD)  # no gate run: the ledger never moved any alias
    world.client.set_registered_model_alias(MODEL, names.CHAMPION, v1)
    report = check(world, "restore")
    assert report.ok, report.summary()
    (f,) = report.findings
    assert (f.kind, f.action, f.expected) == (Kind.MOVED, "removed", None)
    assert world.aliases() == {}
    assert rows(world.catalog, "SELECT decision, version, actor FROM gate_decisions") == [("fail", v1, "reconcile")]
    assert rows(world.catalog, "SELECT count(*) FROM alias_events") == [(0,)]


@pytest.mark.integration
def test_deleted_champion_is_reported_and_restored(promoted):
    w, v1, _v2 = promoted
    w.client.delete_registered_model_alias(MODEL, names.CHAMPION)
    (f,) = check(w).unresolved
    assert (f.kind, f.version, f.expected) == (Kind.MISSING, None, v1)
    assert check(w, "restore").ok
    assert w.aliases()[names.CHAMPION] == v1


@pytest.mark.integration
def test_deleting_or_editing_a_gate_tag_is_reported_and_retagged(promoted):
    w, v1, v2 = promoted
    w.client.delete_model_version_tag(MODEL, v1, names.TAG_GATE_DECISION_ID)
    w.client.set_model_version_tag(MODEL, v2, names.TAG_GATE_DECISION, "pass")  # a refused version dressed up
    found = {f.version: f for f in check(w).unresolved}
    assert set(found) == {v1, v2} and {f.kind for f in found.values()} == {Kind.TAGS}
    assert found[v1].alias == names.CHAMPION and f"removed: {names.TAG_GATE_DECISION_ID}" in found[v1].detail
    assert f"changed: {names.TAG_GATE_DECISION}" in found[v2].detail
    report = check(w, "restore")
    assert report.ok and {f.action for f in report.findings} == {"retagged"}, report.summary()
    assert w.client.get_model_version(MODEL, v2).tags[names.TAG_GATE_DECISION] == "fail"
    assert w.aliases() == {names.CHAMPION: v1, names.CHALLENGER: v2}  # tags repaired, aliases untouched


@pytest.mark.integration
def test_other_aliases_must_point_at_a_passing_version(promoted):
    w, v1, v2 = promoted
    w.client.set_registered_model_alias(MODEL, "prod", v1)  # passed the gate: fine
    assert check(w).ok
    w.client.set_registered_model_alias(MODEL, "prod", v2)  # refused: reported, restore removes it
    (f,) = check(w).unresolved
    assert (f.kind, f.alias, f.version) == (Kind.UNBACKED, "prod", v2)
    assert check(w, "restore").ok
    assert "prod" not in w.aliases()


@pytest.mark.integration
def test_default_models_are_the_managed_ones(promoted):
    """Without ``models``: assay's model plus every model the ledger names (here the same one)."""
    w, _v1, v2 = promoted
    w.client.set_registered_model_alias(MODEL, names.CHAMPION, v2)
    report = reconcile(w.settings, policy=policy("report"))
    assert report.models == [MODEL] and len(report.unresolved) == 1


# ---- the pure comparison and the policy option --------------------------------------------------
def _tags(did: int, decision: str, reason: str) -> dict[str, str]:
    return {names.TAG_GATE_DECISION: decision, names.TAG_GATE_DECISION_ID: str(did), names.TAG_GATE_REASON: reason}


def test_compare_agrees_when_registry_matches_the_ledger():
    ledger = Ledger(moves={names.CHAMPION: ("1", 1), names.CHALLENGER: ("2", 2)},
                    latest={"1": LedgerDecision(1, "1", "pass", "ok"), "2": LedgerDecision(2, "2", "fail", "no")},
                    passing=frozenset({"1"}))
    reg = RegistryState({names.CHAMPION: "1", names.CHALLENGER: "2"},
                        {"1": _tags(1, "pass", "ok"), "2": _tags(2, "fail", "no"), "3": {}})
    assert compare("m", reg, ledger) == []
    moved = RegistryState({**reg.aliases, names.CHAMPION: "2"}, reg.tags)
    (f,) = compare("m", moved, ledger)
    assert (f.kind, f.version, f.expected) == (Kind.MOVED, "2", "1")
    forged = RegistryState(reg.aliases, {**reg.tags, "3": _tags(9, "pass", "forged")})
    (f,) = compare("m", forged, ledger)
    assert f.kind is Kind.TAGS and "ledger has no decision" in f.detail


def test_policy_alias_protection_option():
    assert parse(POLICY, "p").alias_protection is AliasProtection.REPORT  # the safe default
    assert policy("restore").alias_protection is AliasProtection.RESTORE
    with pytest.raises(PolicyError, match="test-policy: alias_protection"):
        parse({**POLICY, "alias_protection": "revert"}, "test-policy")


def test_versions_are_found_whatever_quotes_the_model_name_holds(tmp_path):
    """MLflow's filter grammar has no escape: a doubled quote would silently match nothing."""
    from mlflow import MlflowClient

    from assay.gate.registry import versions

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    c = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = c.create_run(c.create_experiment("q", artifact_location=(tmp_path / "a").as_uri()))
    for name in ("plain", "o'brien", 'say "hi"', """both ' and \""""):
        c.create_registered_model(name)
        c.create_model_version(name, source=f"{run.info.artifact_uri}/m", run_id=run.info.run_id)
        c.create_model_version(name, source=f"{run.info.artifact_uri}/m", run_id=run.info.run_id)
    for name in ("plain", "o'brien", 'say "hi"', """both ' and \""""):
        assert sorted(int(v.version) for v in versions(c, name)) == [1, 2], name
