"""Ranking metrics: hand-computed examples, scikit-learn as an independent implementation, slices."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import ndcg_score, roc_auc_score

from assay import names
from assay.training.evaluation import (
    Evaluation,
    auc,
    dcg_at_k,
    evaluate,
    mrr,
    ndcg_at_k,
    query_auc,
    reciprocal_rank,
    tie_breaker,
)


# ---- hand-computed examples -------------------------------------------------------------------
def test_ndcg_hand_computed():
    # ranked labels 3, 2, 3, 0, 1, 2 ; gains 7, 3, 7, 0, 1, 3 ; discounts log2(2..7)
    ranked = [3, 2, 3, 0, 1, 2]
    dcg = 7 / 1 + 3 / math.log2(3) + 7 / 2 + 0 + 1 / math.log2(6) + 3 / math.log2(7)
    ideal = 7 / 1 + 7 / math.log2(3) + 3 / 2 + 3 / math.log2(5) + 1 / math.log2(6) + 0
    assert dcg_at_k(ranked, 10) == pytest.approx(dcg)
    assert ndcg_at_k(ranked, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(ranked, 10) == pytest.approx(13.8483 / 14.5954, abs=1e-4)  # = 0.9488
    # cut-off: only the first 2 ranks count, both in the actual and the ideal list
    assert ndcg_at_k(ranked, 2) == pytest.approx((7 + 3 / math.log2(3)) / (7 + 7 / math.log2(3)))


def test_ndcg_perfect_worst_and_undefined():
    assert ndcg_at_k([3, 2, 1, 0]) == pytest.approx(1.0)
    assert ndcg_at_k([0, 0, 0, 1]) == pytest.approx(1 / math.log2(5))
    assert math.isnan(ndcg_at_k([0, 0, 0]))   # no positive: undefined, not 0 and not 1
    assert math.isnan(ndcg_at_k([]))


def test_ndcg_positive_beyond_cutoff_scores_zero():
    ranked = [0] * 10 + [2]
    assert ndcg_at_k(ranked, 10) == 0.0


def test_reciprocal_rank_and_mrr_hand_computed():
    assert reciprocal_rank([0, 0, 2, 1]) == pytest.approx(1 / 3)
    assert reciprocal_rank([1, 0]) == 1.0
    assert math.isnan(reciprocal_rank([0, 0]))
    # lists without a positive are left out of the mean
    assert mrr([[0, 1], [3], [0, 0, 0], [0, 0, 0, 1]]) == pytest.approx((1 / 2 + 1 + 1 / 4) / 3)
    assert math.isnan(mrr([[0], [0, 0]]))


def test_query_auc_hand_computed_with_ties():
    labels = [1, 0, 2, 0, 0]
    scores = [0.9, 0.8, 0.3, 0.3, 0.1]
    # pairs (pos, neg): (0.9 vs .8 .3 .1) = 3 ; (0.3 vs .8)=0 (0.3 vs 0.3)=0.5 (0.3 vs 0.1)=1 -> 4.5 / 6
    assert query_auc(labels, scores) == pytest.approx(4.5 / 6)
    assert math.isnan(query_auc([0, 0], [1, 2]))
    assert math.isnan(query_auc([1, 3], [1, 2]))
    assert auc([(labels, scores), ([1, 0], [0.0, 1.0]), ([0, 0], [1, 2])]) == pytest.approx((4.5 / 6 + 0) / 2)


# ---- against scikit-learn on random data ----------------------------------------------------
def test_ndcg_matches_sklearn_on_random_lists():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(2, 25))
        labels = rng.integers(0, 4, n)
        if labels.max() == 0:
            labels[0] = 1
        scores = rng.normal(size=n)
        ranked = labels[np.argsort(-scores, kind="mergesort")]
        gains = (2.0 ** labels - 1)[None, :]
        expected = ndcg_score(gains, scores[None, :], k=10)
        assert ndcg_at_k(ranked, 10) == pytest.approx(expected, abs=1e-12)


def test_auc_matches_sklearn_on_random_lists_with_ties():
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(200):
        n = int(rng.integers(2, 30))
        labels = rng.integers(0, 4, n)
        scores = rng.integers(0, 5, n).astype(float)  # many ties
        if len(set(labels >= 1)) < 2:
            assert math.isnan(query_auc(labels, scores))
            continue
        assert query_auc(labels, scores) == pytest.approx(roc_auc_score(labels >= 1, scores), abs=1e-12)
        checked += 1
    assert checked > 100


def test_mrr_matches_an_independent_loop():
    rng = np.random.default_rng(2)
    lists = [rng.integers(0, 4, int(rng.integers(1, 12))) * (rng.random() < 0.8) for _ in range(300)]

    def first_hit(lst):
        for i, v in enumerate(lst):
            if v >= 1:
                return 1.0 / (i + 1)
        return None

    values = [v for v in map(first_hit, lists) if v is not None]
    assert mrr(lists) == pytest.approx(sum(values) / len(values))


# ---- evaluate(): grouping, ties, slices, MLflow keys ------------------------------------------
def frame() -> pd.DataFrame:
    rows = [
        # query a (head, furniture): perfect order by scores below
        ("a", "P1", 3, "head", "furniture"), ("a", "P2", 1, "head", "furniture"), ("a", "P3", 0, "head", "furniture"),
        # query b (tail, books): positive ranked second
        ("b", "P4", 0, "tail", "books"), ("b", "P5", 2, "tail", "books"),
        # query c (tail, books): no positive -> excluded from nDCG/MRR, counted
        ("c", "P6", 0, "tail", "books"), ("c", "P7", 0, "tail", "books"),
    ]
    df = pd.DataFrame(rows, columns=["query_id", "product_id", "label", "slice_traffic", "slice_category"])
    return df.sample(frac=1.0, random_state=3).reset_index(drop=True)  # evaluate must not rely on row order


SCORES = {"P1": 0.9, "P2": 0.5, "P3": 0.1, "P4": 0.8, "P5": 0.2, "P6": 0.3, "P7": 0.3}


def test_evaluate_overall_and_slices():
    df = frame()
    ev = evaluate(df, df["product_id"].map(SCORES).to_numpy())
    b_ndcg = (3 / math.log2(3)) / 3
    assert ev.overall["ndcg_at_10"] == pytest.approx((1 + b_ndcg) / 2)
    assert ev.overall["mrr"] == pytest.approx((1 + 0.5) / 2)
    assert ev.overall["auc"] == pytest.approx((1 + 0) / 2)
    assert ev.n_queries == 2 and ev.n_queries_no_positive == 1 and ev.n_rows == 7
    assert set(ev.slices) == {"head", "tail", "category.furniture", "category.books"}
    assert ev.slices["head"]["ndcg_at_10"] == pytest.approx(1.0)
    assert ev.slices["tail"]["ndcg_at_10"] == pytest.approx(b_ndcg)
    assert ev.slices["category.books"]["n_queries"] == 1
    assert ev.slices["tail"]["mrr"] == pytest.approx(0.5)


def test_evaluate_is_independent_of_row_order_and_ties_are_deterministic():
    df = frame()
    constant = np.zeros(len(df))
    first = evaluate(df, constant)
    shuffled = df.sample(frac=1.0, random_state=11).reset_index(drop=True)
    second = evaluate(shuffled, np.zeros(len(df)))
    assert first.overall == second.overall
    assert first.overall["auc"] == 0.5  # every pair tied
    # the tie-breaker is a fixed function of the ids, not of the labels
    assert list(tie_breaker(["a", "a"], ["P1", "P2"])) == list(tie_breaker(["a", "a"], ["P1", "P2"]))


def test_evaluate_rejects_bad_scores():
    df = frame()
    with pytest.raises(ValueError, match="one score per test row"):
        evaluate(df, np.zeros(len(df) - 1))
    with pytest.raises(ValueError, match="NaN"):
        evaluate(df, np.full(len(df), np.nan))


def test_evaluate_against_sklearn_on_random_test_split():
    rng = np.random.default_rng(5)
    rows = []
    for q in range(60):
        for p in range(10):
            rows.append((f"q{q}", f"P{q}_{p}", int(rng.choice(4, p=[0.7, 0.15, 0.1, 0.05])),
                         "head" if q < 20 else "tail", "toys"))
    df = pd.DataFrame(rows, columns=["query_id", "product_id", "label", "slice_traffic", "slice_category"])
    scores = rng.normal(size=len(df))
    ev = evaluate(df, scores)
    ndcgs, aucs = [], []
    for _, g in df.assign(s=scores).groupby("query_id"):
        if g["label"].max() > 0:
            ndcgs.append(ndcg_score([2.0 ** g["label"].to_numpy() - 1], [g["s"].to_numpy()], k=10))
        if 0 < (g["label"] >= 1).sum() < len(g):
            aucs.append(roc_auc_score(g["label"] >= 1, g["s"]))
    assert ev.overall["ndcg_at_10"] == pytest.approx(np.mean(ndcgs), abs=1e-12)
    assert ev.overall["auc"] == pytest.approx(np.mean(aucs), abs=1e-12)
    assert ev.n_queries == len(ndcgs)


def test_mlflow_keys_use_the_shared_names():
    ev = Evaluation(
        overall={"ndcg_at_10": 0.5, "mrr": 0.4, "auc": float("nan"), "n_queries": 3},
        slices={"head": {"ndcg_at_10": 0.7, "mrr": 0.6, "auc": 0.8, "n_queries": 2}},
        n_queries=3, n_queries_no_positive=0, n_rows=10,
    )
    candidate = ev.as_mlflow_metrics()
    assert candidate == {
        names.metric_key("ndcg_at_10"): 0.5, names.metric_key("mrr"): 0.4,
        names.metric_key("ndcg_at_10", "head"): 0.7, names.metric_key("mrr", "head"): 0.6,
        names.metric_key("auc", "head"): 0.8,
    }  # nan (undefined) is left out
    baseline = ev.as_mlflow_metrics("bm25")
    assert baseline[names.baseline_key("bm25", "ndcg_at_10", "head")] == 0.7
    assert "bm25.ndcg_at_10" in baseline and "ndcg_at_10" not in baseline
    counts = ev.as_mlflow_metrics(include_counts=True)
    assert counts["n_queries.head"] == 2
