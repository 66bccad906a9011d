"""The steward service (#15 item 2) on a real catalog: each action changes the catalog and writes its
audit row in the same transaction; resolve's reason rules; resolve "expected" + waiver atomically;
waive / revoke / list with covered results; classification overrides; every kind of review item.

World: ``support.gate_world`` (a fresh catalog with the shop's search_sessions and interactions,
quality runs with a critical failure on one day, a fresh MLflow store); review items are opened by
the writers that open them in production where that is cheap (anomalies, PII findings, suggested
suites), and by the quality stage's shape for a failed expectation.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
from pathlib import Path

import pytest
from support.db import execute, rows
from support.gate_world import GOOD, TRAIN, World

from assay import names
from assay.steward import service
from assay.steward.service import StewardError, WaiverRequest

pytestmark = pytest.mark.integration

DAY = TRAIN[1]
EXPIRY = DAY + dt.timedelta(days=30)


def failure_item(w: World, day: dt.date = DAY) -> int:
    """A quality_failure review item for query_not_null on search_sessions ``day``, as the quality stage opens it."""
    w.dataset(critical_fail_on=("search_sessions", day))
    ((key_id, run_id),) = rows(w.catalog, "SELECT qc.id, qc.quality_run_id FROM quality_current qc "
                                          "WHERE qc.asset_id = :a AND qc.logical_date = :d",
                               a=w.asset_ids["search_sessions"], d=day)
    details = {"suite": "search_sessions", "expectation_id": "query_not_null", "severity": "critical",
               "partition_key": day.isoformat(), "logical_date": day.isoformat()}
    ((item_id,),) = execute(
        w.catalog, "INSERT INTO review_items (kind, ref, asset_id, quality_run_id, summary, details) "
                   "VALUES ('quality_failure', :ref, :a, :r, :s, CAST(:d AS jsonb)) RETURNING id",
        ref=f"{key_id}/query_not_null", a=w.asset_ids["search_sessions"], r=run_id,
        s=f"shop:public/search_sessions {day}: query_not_null failed", d=json.dumps(details))
    return int(item_id)


def audit_rows(w: World, kind: str | None = None, target: object = None) -> list[tuple]:
    q = "SELECT actor, action, target_kind, target_id, before, after, comment FROM steward_audit"
    if kind is not None:
        q += f" WHERE target_kind = '{kind}' AND target_id = '{target}'"
    return rows(w.catalog, q + " ORDER BY id")


def item_row(w: World, item_id: int) -> dict:
    (r,) = rows(w.catalog, "SELECT status, acknowledged_by, assigned_to, resolution_reason, resolution, closed_by "
                           "FROM review_items WHERE id = :i", i=item_id)
    return dict(zip(["status", "acknowledged_by", "assigned_to", "reason", "comment", "closed_by"], r, strict=True))


def test_acknowledge_assign_resolve_each_change_the_item_and_write_one_audit_row(gate_world):
    w, item = gate_world, failure_item(gate_world)
    s = w.settings

    v = service.acknowledge(s, "ana", item, comment="looking")
    assert v.state == "acknowledged" and v.acknowledged_by == "ana" and v.asset == "public.search_sessions"
    again = service.acknowledge(s, "bob", item)  # idempotent: one state, one audit row
    assert again.acknowledged_by == "ana"
    assert [(a[0], a[1]) for a in audit_rows(w, "review_item", item)] == [("ana", "acknowledge")]

    v = service.assign(s, "ana", item, "bob")
    assert v.state == "assigned" and item_row(w, item)["assigned_to"] == "bob"
    assert service.list_items(s, assignee="bob").total == 1
    assert service.list_items(s, status="assigned").items[0].id == item

    v = service.resolve(s, "bob", item, "fixed", "backfilled upstream")
    assert v.state == "resolved" and v.status == "closed"
    assert item_row(w, item) == {"status": "closed", "acknowledged_by": "ana", "assigned_to": "bob",
                                 "reason": "fixed", "comment": "backfilled upstream", "closed_by": "bob"}
    log = audit_rows(w, "review_item", item)
    assert [(a[0], a[1]) for a in log] == [("ana", "acknowledge"), ("ana", "assign"), ("bob", "resolve")]
    before, after = log[-1][4], log[-1][5]
    assert before["status"] == "open" and after["status"] == "closed" and after["resolution_reason"] == "fixed"
    assert service.list_items(s).total == 0 and service.list_items(s, status="closed").total == 1

    with pytest.raises(StewardError, match=rf"review item {item} \(quality_failure on public.search_sessions\) "
                                           "is already resolved"):
        service.acknowledge(s, "ana", item)
    with pytest.raises(StewardError, match="no review item with id 999999"):
        service.assign(s, "ana", 999999, "bob")


def test_resolve_other_needs_a_comment_and_an_unknown_reason_is_refused(gate_world):
    w, item = gate_world, failure_item(gate_world)
    with pytest.raises(StewardError, match=f"review item {item}: resolving with reason 'other' needs a comment"):
        service.resolve(w.settings, "ana", item, "other", "  ")
    with pytest.raises(StewardError, match="unknown reason 'wontfix'"):
        service.resolve(w.settings, "ana", item, "wontfix", "x")
    with pytest.raises(StewardError, match="only reason 'expected' can come with a waiver"):
        service.resolve(w.settings, "ana", item, "fixed", "x", WaiverRequest(None, None, None, None, None, EXPIRY))
    assert item_row(w, item)["status"] == "open" and audit_rows(w) == []
    assert service.resolve(w.settings, "ana", item, "other", "seasonal dip, agreed with sales").resolution_reason == "other"


def test_resolve_expected_with_a_waiver_is_atomic(gate_world):
    w = gate_world
    item = failure_item(w)
    # The waiver is refused inside the transaction (no such expectation): the item stays open, no audit row.
    bad = WaiverRequest(None, None, "no_such_expectation", None, None, EXPIRY)
    with pytest.raises(StewardError, match="waiver of no_such_expectation on .* refused: suite search_sessions "
                                           "has no expectation 'no_such_expectation'"):
        service.resolve(w.settings, "ana", item, "expected", "known gap", bad)
    with pytest.raises(StewardError, match="an expiry date is required"):
        service.resolve(w.settings, "ana", item, "expected", "known gap", WaiverRequest(None, None, None, None, None, None))
    assert item_row(w, item)["status"] == "open"
    assert audit_rows(w) == [] and rows(w.catalog, "SELECT count(*) FROM waivers") == [(0,)]

    v = service.resolve(w.settings, "ana", item, "expected", "supplier outage INC-7",
                        WaiverRequest(None, None, None, None, None, EXPIRY))
    assert v.status == "closed" and v.resolution_reason == "expected" and v.waiver_id is not None
    ((asset_id, suite, expectation, start, end, by, reason),) = rows(
        w.catalog, "SELECT asset_id, suite_name, expectation_id, valid_from, valid_until, created_by, reason FROM waivers")
    assert (asset_id, suite, expectation, by, reason) == (
        w.asset_ids["search_sessions"], "search_sessions", "query_not_null", "ana", "supplier outage INC-7")
    assert (start.date(), end.date()) == (DAY, EXPIRY)  # from the item's partition until the expiry
    assert [(a[1], a[2]) for a in audit_rows(w)] == [("waive", "waiver"), ("resolve", "review_item")]
    assert audit_rows(w)[1][5]["waiver_id"] == v.waiver_id


def test_waive_revoke_and_list_with_the_results_covered(gate_world):
    w = gate_world
    w.dataset(critical_fail_on=("search_sessions", DAY))
    req = WaiverRequest("search_sessions", "search_sessions", "query_not_null", DAY, DAY, EXPIRY,
                        "upstream bug INC-123, mail ops@example.com")
    wv = service.waive(w.settings, "lead", req)
    assert (wv.valid_from.date(), wv.valid_until.date()) == (DAY, DAY + dt.timedelta(days=1))  # --to caps the window
    assert wv.covered_count == 0
    # The quality run marks the failure it covers (assay.quality.run); list_waivers shows it.
    ((result_id,),) = rows(w.catalog, "SELECT e.id FROM expectation_results e JOIN quality_runs r ON r.id = "
                                      "e.quality_run_id WHERE NOT e.success AND r.logical_date = :d", d=DAY)
    execute(w.catalog, "UPDATE expectation_results SET waived = true, waiver_id = :w WHERE id = :i", w=wv.id, i=result_id)
    (listed,) = service.list_waivers(w.settings)
    assert (listed.id, listed.covered_count, listed.covered_result_ids) == (wv.id, 1, [result_id])
    assert listed.asset == "public.search_sessions" and listed.created_by == "lead"

    ((_, action, kind, target, before, after, comment),) = audit_rows(w)
    assert (action, kind, target, before) == ("waive", "waiver", str(wv.id), None)
    assert "ops@example.com" not in json.dumps(after) + (comment or "")  # PII masked in the audit

    with pytest.raises(StewardError, match="it expires .* before its first partition"):
        service.waive(w.settings, "lead", WaiverRequest("search_sessions", "search_sessions", "query_not_null",
                                                        DAY, None, DAY, "x"))
    with pytest.raises(StewardError, match="suite search_sessions validates public.search_sessions, not 'products'"):
        service.waive(w.settings, "lead", WaiverRequest("products", "search_sessions", "query_not_null", DAY, None,
                                                        EXPIRY, "x"))

    rv = service.revoke_waiver(w.settings, "boss", wv.id, comment="fixed upstream")
    assert rv.revoked_by == "boss" and rv.revoked_at is not None
    assert service.list_waivers(w.settings) == []
    assert [x.id for x in service.list_waivers(w.settings, include_revoked=True)] == [wv.id]
    with pytest.raises(StewardError, match=f"waiver {wv.id} was already revoked by boss"):
        service.revoke_waiver(w.settings, "boss", wv.id)
    last = audit_rows(w, "waiver", wv.id)[-1]
    assert last[1] == "revoke_waiver" and last[4]["revoked_at"] is None and last[5]["revoked_by"] == "boss"
    assert [a.action for a in service.audit_log(w.settings, target_kind="waiver", target_id=wv.id)] == [
        "revoke_waiver", "waive"]


def test_concurrent_resolves_of_one_item_close_it_once(gate_world):
    w, item = gate_world, failure_item(gate_world)
    outcomes: list[str] = []

    def act(who: str) -> None:
        try:
            service.resolve(w.settings, who, item, "fixed", f"by {who}")
            outcomes.append("ok")
        except StewardError:
            outcomes.append("refused")

    threads = [threading.Thread(target=act, args=(f"s{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "refused", "refused", "refused"]
    assert [a[1] for a in audit_rows(w, "review_item", item)] == ["resolve"]


def test_classification_override_and_clear(gate_world):
    from assay.catalog.db import session
    from assay.quality.store import pii_columns

    w = gate_world
    aid = w.asset_ids["search_sessions"]
    ((col,),) = execute(w.catalog, "INSERT INTO asset_columns (asset_id, name, ordinal, data_type, nullable) "
                                   "VALUES (:a, 'query', 1, 'text', true) RETURNING id", a=aid)
    execute(w.catalog, "INSERT INTO classifications (column_id, kind, label, score, method, evidence) "
                       "VALUES (:c, 'pii', 'person_name', 0.7, 'embedding', '{}')", c=col)

    o = service.override_classification(w.settings, "ana", "public.search_sessions", "query", "pii", "none",
                                        reason="search terms, not names")
    assert (o.label, o.effective_label) == ("none", None)
    ((label, method, source, by, evidence),) = rows(
        w.catalog, "SELECT label, method, source, decided_by, evidence FROM classifications WHERE source = 'steward'")
    assert (label, method, source, by) == ("none", "override", "steward", "ana")
    assert evidence["auto_label"] == "person_name" and evidence["reason"] == "search terms, not names"
    with session(w.catalog) as s:
        assert pii_columns(s, aid) == {}  # the steward's row wins
    ((_, action, kind, target, before, after, _),) = audit_rows(w)
    assert (action, kind, target, before, after["label"]) == ("override_classification", "classification",
                                                              f"{col}/pii", None, "none")

    o = service.override_classification(w.settings, "ana", aid, "query", "pii", None)
    assert (o.label, o.effective_label) == (None, "person_name")
    assert rows(w.catalog, "SELECT count(*) FROM classifications WHERE source = 'steward'") == [(0,)]
    assert audit_rows(w)[-1][4]["label"] == "none"
    with pytest.raises(StewardError, match="asset search_sessions has no column 'nope'"):
        service.override_classification(w.settings, "ana", "search_sessions", "nope", "pii", "email")
    with pytest.raises(StewardError, match="unknown pii label 'banana'"):
        service.override_classification(w.settings, "ana", aid, "query", "pii", "banana")


def test_anomalies_pii_findings_and_suggested_suites_are_review_items(gate_world, tmp_path):
    """Each writer that opens items in production opens one here; `list_items` shows them by kind and asset."""
    from assay.catalog.db import session
    from assay.catalog.models import ProfileRun
    from assay.profiling import pii_review
    from assay.profiling.anomalies import Finding
    from assay.profiling.store import replace_anomalies
    from assay.profiling.targets import Profile, Target
    from assay.quality.proposals import open_review_item

    w = gate_world
    aid = w.asset_ids["interactions"]
    target = Target(asset_id=aid, source_id=1, source="shop", source_kind="sql", kind="table", namespace="public",
                    name="interactions", location="public.interactions", partition_column="day",
                    partition_key=DAY.isoformat())
    with session(w.catalog) as s:
        run = ProfileRun(asset_id=aid, partition_key=DAY.isoformat(), logical_date=DAY, run_key="test/p", status="success")
        s.add(run)
        s.flush()
        replace_anomalies(s, target, DAY, run.id, [Finding("row_count", "", 3.0, 900.0, 1100.0, "mad", {})])
        profile = Profile(row_count=10, data_types={"note": "text"}, stats={}, columns={"note": {
            "non_null_count": 10, "pii_values": {"email": {"count": 1, "examples_masked": ["j***@***.com"]}}}})
        assert pii_review.open_reviews(s, target, DAY, run.id, profile) == 1
    open_review_item(w.settings, aid, "shop.interactions", tmp_path / "p.json", {"added": ["x"], "changed": []})

    kinds = sorted(i.kind for i in service.list_items(w.settings, asset="public.interactions").items)
    assert kinds == ["anomaly", "pii_finding", "suggested_suite"]
    for kind in kinds:
        (only,) = service.list_items(w.settings, kind=kind).items
        assert only.asset == "public.interactions" and only.state == "new"
    assert "j***@***.com" in service.list_items(w.settings, kind="pii_finding").items[0].summary
    with pytest.raises(StewardError, match="unknown review item kind 'nope'"):
        service.list_items(w.settings, kind="nope")
    with pytest.raises(StewardError, match="no asset named 'public.nope'"):
        service.list_items(w.settings, asset="public.nope")


def _proposal_world(w: World, folder: Path) -> int:
    """A suites folder with the shop's live search_sessions suite and a proposal adding two expectations."""
    from assay.quality.proposals import open_review_item

    live = folder / "shop" / "search_sessions.json"
    live.parent.mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parents[2] / "expectations" / "shop" / "search_sessions.json", live)
    doc = json.loads(live.read_text())
    extra = [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": c},
              "meta": {"name": f"{c}_present", "dimension": "completeness", "severity": "warning"}}
             for c in ("device", "customer_id")]
    doc["expectations"] += extra
    doc["meta"]["proposal"] = {"added": ["device_present", "customer_id_present"], "changed": [],
                               "live": "shop/search_sessions.json"}
    path = folder / "shop" / "proposed" / "search_sessions.json"
    path.parent.mkdir()
    path.write_text(json.dumps(doc))
    return open_review_item(w.settings, w.asset_ids["search_sessions"], "shop.search_sessions", path,
                            doc["meta"]["proposal"])


def test_accept_and_reject_suggestions_per_expectation(gate_world, tmp_path):
    w = gate_world
    settings = w.settings.model_copy(update={"expectations_dir": tmp_path / "suites"})
    item = _proposal_world(w, tmp_path / "suites")

    d = service.reject_suggestion(settings, "ana", "shop.search_sessions", ["customer_id_present"])
    assert (d.names, d.pending) == (["customer_id_present"], ["device_present"])
    assert item_row(w, item)["status"] == "open"
    d = service.accept_suggestion(settings, "ana", "shop.search_sessions")
    assert (d.names, d.pending) == (["device_present"], [])
    live = json.loads((tmp_path / "suites" / "shop" / "search_sessions.json").read_text())
    names_now = [e["meta"]["name"] for e in live["expectations"]]
    assert "device_present" in names_now and "customer_id_present" not in names_now
    assert item_row(w, item)["status"] == "closed" and item_row(w, item)["closed_by"] == "ana"
    assert [(a[1], a[3]) for a in audit_rows(w)] == [("reject_suggestion", "shop.search_sessions"),
                                                     ("accept_suggestion", "shop.search_sessions")]
    with pytest.raises(StewardError, match="proposal shop.search_sessions: no proposal"):
        service.accept_suggestion(settings, "ana", "shop.search_sessions")


def test_rollback_offers_only_versions_with_a_passing_decision(gate_world):
    from assay.gate.policy import parse
    from assay.gate.run import run_gate

    w = gate_world
    policy = parse({"on_no_champion": "promote", "data": {"max_partition_age_hours": 96},
                    "drift": {"recent_days": 3, "features": [{"name": "price", "psi_max": 0.25}]},
                    "metrics": [{"metric": "ndcg_at_10", "threshold": 0.3}]}, "t")
    now = dt.datetime(2026, 11, 9, 6, 0, tzinfo=dt.UTC)
    v1, v2, v3 = w.candidate(GOOD), w.candidate({**GOOD, "ndcg_at_10": 0.7}), w.candidate({**GOOD, "ndcg_at_10": 0.1})
    decided = [run_gate(w.settings, names.MODEL_NAME, v, actor="t", run_key="test", policy=policy, now=now)
               for v in (v1, v2, v3)]
    assert [d.decision for d in decided] == ["pass", "pass", "fail"], [d.reason for d in decided]
    assert w.aliases()[names.CHAMPION] == v2
    assert set(service.rollback_options(w.settings, names.MODEL_NAME)) == {v1, v2}

    with pytest.raises(StewardError, match=f"v{v3} has no passing gate decision; rollback offers only"):
        service.rollback_model(w.settings, "oncall", names.MODEL_NAME, v3)
    r = service.rollback_model(w.settings, "oncall", names.MODEL_NAME, v1, reason="latency")
    assert w.aliases()[names.CHAMPION] == v1 and r.decision_id is not None
    ((actor, action, kind, target, _, after, comment),) = audit_rows(w)
    assert (actor, action, kind, target, comment) == ("oncall", "rollback_model", "model", names.MODEL_NAME, "latency")
    assert after["champion"] == v1 and after["decision_id"] == r.decision_id


def test_the_audit_trail_is_append_only(gate_world):
    from sqlalchemy.exc import IntegrityError

    w, item = gate_world, failure_item(gate_world)
    service.acknowledge(w.settings, "ana", item)
    for statement in ("UPDATE steward_audit SET actor = 'mallory'", "DELETE FROM steward_audit",
                      "TRUNCATE steward_audit"):
        with pytest.raises(IntegrityError, match="steward_audit is append-only"):
            execute(w.catalog, statement)
    assert [a[0] for a in audit_rows(w)] == ["ana"]
