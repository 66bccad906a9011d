"""decide(): the pure gate. Every check is made to pass and to fail from hand-built evidence."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from assay.gate.decide import decide, required_value
from assay.gate.drift import DriftResult
from assay.gate.evidence import Evidence, FailedExpectation, OpenAnomaly, parse_partition
from assay.gate.policy import MetricRule, OnNoChampion, parse

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 9, 6, tzinfo=dt.UTC)
METRICS = {"ndcg_at_10": 0.6, "mrr": 0.5, "auc": 0.8, "ndcg_at_10.tail": 0.4, "bm25.ndcg_at_10": 0.45}
POLICY = parse(
    {
        "on_no_champion": "promote",
        "data": {"max_warning_failures": 1, "max_partition_age_hours": 96},
        "drift": {"features": [{"name": "price", "psi_max": 0.2, "js_max": 0.1}]},
        "metrics": [
            {"metric": "ndcg_at_10", "threshold": 0.3},
            {"metric": "ndcg_at_10", "against": "champion", "min_absolute_change": -0.01},
            {"metric": "ndcg_at_10.tail", "against": "champion", "min_relative_change": 0.0},
            {"metric": "ndcg_at_10", "against": "bm25", "min_absolute_change": 0.05},
        ],
    },
    "test",
)


def evidence(**kw) -> Evidence:
    base = dict(
        model_name="m", version="2", now=NOW, run_id="r", metrics=dict(METRICS), champion_version="1",
        champion_metrics=dict(METRICS), dataset_id=1, partitions=["interactions:2026-11-05"],
        newest_partition=dt.date(2026, 11, 5), quality_run_ids=[1],
        drift={"price": DriftResult("price", 0.05, 0.02, 100, 100, ("a", "b"), ("c", "d"))},
    )
    base.update(kw)
    return Evidence(**base)


def failure(severity="critical", waiver=None, eid="query_not_null") -> FailedExpectation:
    return FailedExpectation("search_sessions", "search_sessions", "search_sessions:2026-11-05", eid,
                             "expect_column_values_to_not_be_null", "query", severity, 3, waiver)


def verdict(d, name):
    (c,) = [c for c in d.checks if c.name == name]
    return c.verdict


def test_clean_evidence_passes():
    d = decide(evidence(), POLICY)
    assert d.decision == "pass", d.reason
    assert {c.verdict for c in d.checks} == {"pass"}
    names = [c.name for c in d.checks]
    assert names[:5] == ["quality.critical", "quality.warnings", "quality.coverage", "freshness", "anomalies"]
    assert "drift.price.psi" in names and "metric.ndcg_at_10.vs_bm25" in names
    coverage = next(c for c in d.checks if c.name == "quality.coverage")
    assert coverage.observed.endswith("with a quality run")  # coverage, not "validated": that is quality.critical


@pytest.mark.parametrize(
    ("change", "check", "reason_part"),
    [
        ({"failures": [failure()]}, "quality.critical", "query_not_null"),
        ({"failures": [failure("warning", eid="w1"), failure("warning", eid="w2")]}, "quality.warnings", "w2"),
        ({"unvalidated_partitions": ["interactions:2026-11-05"]}, "quality.coverage", "has no quality run"),
        ({"broken_quality_runs": ["quality run #4 (x on y:z) has status error"]}, "quality.coverage", "status error"),
        ({"newest_partition": dt.date(2026, 11, 1)}, "freshness", "2026-11-01"),
        ({"anomalies": [OpenAnomaly(9, "interactions", "2026-11-05", "", "row_count", 1.0, 5.0, 9.0)]},
         "anomalies", "anomaly #9"),
        ({"drift": {"price": DriftResult("price", 0.5, 0.02, 10, 10, ("a", "b"), ("c", "d"))}}, "drift.price.psi",
         "price psi 0.5"),
        ({"drift": {"price": DriftResult("price", 0.05, 0.3, 10, 10, ("a", "b"), ("c", "d"))}}, "drift.price.js",
         "price js 0.3"),
        ({"metrics": {**METRICS, "ndcg_at_10": 0.2, "bm25.ndcg_at_10": 0.1},
          "champion_metrics": {**METRICS, "ndcg_at_10": 0.2}}, "metric.ndcg_at_10", "threshold 0.3"),
        ({"metrics": {**METRICS, "ndcg_at_10": 0.58}}, "metric.ndcg_at_10.vs_champion", "regresses against champion v1"),
        ({"metrics": {**METRICS, "ndcg_at_10.tail": 0.39}}, "metric.ndcg_at_10.tail.vs_champion", "0.39"),
        ({"metrics": {**METRICS, "bm25.ndcg_at_10": 0.58}}, "metric.ndcg_at_10.vs_bm25", "baseline bm25.ndcg_at_10"),
    ],
)
def test_each_check_can_fail(change, check, reason_part):
    d = decide(evidence(**change), POLICY)
    assert d.decision == "fail"
    assert verdict(d, check) == "fail"
    assert reason_part in d.reason, d.reason
    assert [c.name for c in d.checks if c.verdict == "fail"] == [check]


def test_waived_critical_failure_passes_and_names_the_waiver():
    d = decide(evidence(failures=[failure(waiver=17)]), POLICY)
    assert d.decision == "pass"
    (c,) = [c for c in d.checks if c.name == "quality.critical"]
    assert c.observed == 0 and "waived by waiver #17" in c.detail


@pytest.mark.parametrize(
    ("change", "reason_part"),
    [
        ({"metrics": {k: v for k, v in METRICS.items() if k != "ndcg_at_10.tail"}}, "candidate run has no metric ndcg_at_10.tail"),
        ({"metrics": {k: v for k, v in METRICS.items() if k != "bm25.ndcg_at_10"}}, "no baseline metric bm25.ndcg_at_10"),
        ({"champion_metrics": {"ndcg_at_10": 0.5}}, "champion v1 has no metric ndcg_at_10.tail"),
        ({"drift": {}}, "price: drift not measured"),
        ({"drift": {"price": DriftResult("price", None, None, 0, 5, ("a", "b"), ("c", "d"), "no shop data")}},
         "no shop data"),
        ({"newest_partition": None}, "no training partitions"),
        ({"errors": ["MLflow unreachable"]}, "MLflow unreachable"),
    ],
)
def test_missing_evidence_is_an_error_naming_it(change, reason_part):
    d = decide(evidence(**change), POLICY)
    assert d.decision == "error"
    assert reason_part in d.reason, d.reason


def test_no_champion_follows_policy():
    promote = decide(evidence(champion_version=None, champion_metrics={}), POLICY)
    assert promote.decision == "pass" and "no champion yet" in promote.reason
    assert not any(c.name.endswith("vs_champion") for c in promote.checks)
    refuse_policy = POLICY.model_copy(update={"on_no_champion": OnNoChampion.REFUSE})
    refuse = decide(evidence(champion_version=None, champion_metrics={}), refuse_policy)
    assert refuse.decision == "fail" and "on_no_champion=refuse" in refuse.reason


def test_candidate_that_already_is_champion_is_not_compared_with_itself():
    d = decide(evidence(champion_version="2"), POLICY)
    assert d.decision == "pass"
    assert not any(c.name.endswith("vs_champion") for c in d.checks)


def test_freshness_boundary():
    # newest 11-05 ends 11-06 00:00; 96 h later is exactly the bound
    at_bound = evidence(now=dt.datetime(2026, 11, 10, tzinfo=dt.UTC))
    assert verdict(decide(at_bound, POLICY), "freshness") == "pass"
    late = evidence(now=dt.datetime(2026, 11, 10, 0, 1, tzinfo=dt.UTC))
    assert verdict(decide(late, POLICY), "freshness") == "fail"


# ---- MetricThreshold semantics -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "reference", "required"),
    [
        ({"min_absolute_change": 0.05}, 0.5, 0.55),
        ({"min_relative_change": 0.1}, 0.5, 0.55),
        ({"min_relative_change": 0.1}, -0.5, -0.45),  # |baseline|: still points up for a negative baseline
        ({"min_absolute_change": 0.05, "min_relative_change": 0.2}, 0.5, 0.6),  # both must hold
        ({"min_relative_change": 0.1}, 0.0, 1e-10),  # zero baseline fallback
        ({"min_absolute_change": -0.01}, 0.5, 0.49),  # tolerated regression (assay extension)
        ({"min_absolute_change": 0.05, "greater_is_better": False}, 0.5, 0.45),
        ({"min_relative_change": 0.1, "greater_is_better": False}, 0.5, 0.45),
        ({}, 0.5, 0.5),
    ],
)
def test_required_value_mirrors_mlflow_metric_threshold(rule, reference, required):
    r = MetricRule(metric="ndcg_at_10", against="champion", **rule)
    assert required_value(r, reference) == pytest.approx(required)


def test_lower_is_better_threshold():
    pol = parse({"on_no_champion": "promote", "data": {"max_partition_age_hours": 96},
                 "metrics": [{"metric": "mrr", "threshold": 0.6, "greater_is_better": False}]}, "p")
    assert decide(evidence(), pol).decision == "pass"  # mrr 0.5 <= 0.6
    assert decide(evidence(metrics={**METRICS, "mrr": 0.7}), pol).decision == "fail"


def test_decide_is_pure_and_json_able():
    import json

    ev = evidence(failures=[failure(waiver=3)])
    a, b = decide(ev, POLICY), decide(ev, POLICY)
    assert a.checks == b.checks and a.reason == b.reason
    json.dumps(a.checks_json())
    json.dumps(ev.as_json())
    assert ev.as_json()["waiver_ids"] == [3]


def test_parse_partition():
    assert parse_partition("interactions:2026-11-05") == ("interactions", dt.date(2026, 11, 5))
    assert parse_partition({"table": "t", "day": "2026-11-05"}) == ("t", dt.date(2026, 11, 5))
    with pytest.raises(ValueError):
        parse_partition("2026-11-05")


# ---- one path to champion ------------------------------------------------------------------------------
_CALL = re.compile(r"set_registered_model_alias\s*\((?P<args>[^)]*)\)", re.S)


def champion_alias_calls(folders: list[Path]) -> list[tuple[str, str]]:
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            for m in _CALL.finditer(path.read_text()):
                args = m.group("args")
                parts = [a.strip() for a in args.split(",")]
                alias = parts[1] if len(parts) > 1 else ""
                if "CHAMPION" in alias or "champion" in alias.lower() or alias.isidentifier() and alias != "names":
                    found.append((str(path.relative_to(folder.parent)), alias))
    return found


def test_only_registry_promote_champion_sets_the_champion_alias():
    """Any call whose alias argument is the champion constant, a "champion" literal or a variable."""
    calls = champion_alias_calls([ROOT / "include", ROOT / "dags", ROOT / "plugins"])
    assert calls == [("include/assay/gate/registry.py", "names.CHAMPION")], calls
    text = (ROOT / "include/assay/gate/registry.py").read_text()
    body = text[text.index("def promote_champion"):]
    assert "set_registered_model_alias(model_name, names.CHAMPION" in body


def test_champion_grep_catches_a_stray_call(tmp_path):
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "bad.py").write_text('c.set_registered_model_alias(\n    "m", "champion", v)\n'
                                              "c.set_registered_model_alias(m, alias, v)\n")
    assert champion_alias_calls([tmp_path / "dags"]) == [("dags/bad.py", '"champion"'), ("dags/bad.py", "alias")]
