"""Promotion policy: the shipped file loads; malformed files and unknown names fail with file + field path."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.gate.policy import FEATURES, OnNoChampion, PolicyError, load, parse

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "promotion_policy.yaml"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "promotion_policy.yaml"
    p.write_text(text)
    return p


def test_shipped_policy_loads():
    pol = load(SHIPPED)
    assert pol.on_no_champion == OnNoChampion.PROMOTE
    assert {f.name for f in pol.drift.features} == set(FEATURES)
    assert any(r.against == "champion" and r.metric == "ndcg_at_10.tail" for r in pol.metrics)
    assert len(pol.digest()) == 64


def test_digest_is_about_meaning_not_formatting(tmp_path):
    a = parse({"metrics": [{"metric": "mrr", "threshold": 0.5}]}, "a")
    b = load(write(tmp_path, "metrics:\n  - metric: mrr\n    threshold: 0.50   # comment\n"))
    assert a.digest() == b.digest()
    assert a.digest() != parse({"metrics": [{"metric": "mrr", "threshold": 0.6}]}, "c").digest()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics:\n  - {metric: ndcg_at_10, threshold: 0.3}\n  - {metric: ndcg_at_10, against: champion, "
         "min_relative_change: 1.5}\n", "promotion_policy.yaml: metrics[1].min_relative_change: "),
        ("metrics:\n  - {metric: ndcg_at_20, threshold: 0.3}\n", "metrics[0].metric: unknown metric 'ndcg_at_20'"),
        ("metrics:\n  - {metric: ndcg_at_10.Head, threshold: 0.3}\n", "metrics[0].metric: slice of"),
        ("metrics:\n  - {metric: mrr, against: bm26, min_absolute_change: 0}\n", "metrics[0].against: "),
        ("metrics:\n  - {metric: mrr}\n", "metrics[0]: no threshold was specified"),
        ("metrics:\n  - {metric: mrr, min_absolute_change: 0.1}\n", "metrics[0]: min_absolute_change"),
        ("metrics:\n  - {metric: mrr, threshold: 0.1, greater_is_better: maybe}\n", "metrics[0].greater_is_better"),
        ("drift:\n  features:\n    - {name: basket_size, psi_max: 0.2}\n", "drift.features[0].name: unknown feature"),
        ("drift:\n  features:\n    - {name: price}\n", "drift.features[0]: feature price: give psi_max"),
        ("drift:\n  features:\n    - {name: price, psi_max: 0.1}\n    - {name: price, js_max: 0.1}\n",
         "drift.features: feature listed twice: price"),
        ("drift:\n  features:\n    - {name: price, js_max: 2}\n", "drift.features[0].js_max"),
        ("on_no_champion: maybe\n", "on_no_champion: "),
        ("data:\n  max_partition_age_hours: -1\n", "data.max_partition_age_hours"),
        ("data:\n  max_warnings: 3\n", "data.max_warnings: Extra inputs are not permitted"),
        ("version: 2\n", "version: "),
        ("- just\n- a list\n", "the policy must be a mapping"),
        ("metrics: [\n", "not valid YAML"),
        ("metrics: []\n", "no metric check (metrics is empty)"),
        ("on_no_champion: promote\ndrift:\n  features: []\n", "no metric check"),
        ("metrics: []\nallow_no_metric_checks: maybe\n", "allow_no_metric_checks"),
    ],
)
def test_bad_policies_name_file_and_field(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as err:
        load(path)
    assert str(err.value).startswith(str(path)), str(err.value)
    assert expected in str(err.value), str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(PolicyError, match="promotion policy not found"):
        load(tmp_path / "nope.yaml")


def test_rule_reference_keys():
    pol = parse({"metrics": [{"metric": "ndcg_at_10.tail", "against": "bm25", "min_absolute_change": 0}]}, "p")
    assert pol.metrics[0].reference_key == "bm25.ndcg_at_10.tail"


def test_no_metric_checks_only_when_the_policy_says_so(tmp_path):
    pol = load(write(tmp_path, "metrics: []\nallow_no_metric_checks: true\n"))
    assert pol.metrics == [] and pol.allow_no_metric_checks
