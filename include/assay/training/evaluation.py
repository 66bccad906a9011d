"""Ranking metrics on held-out queries, overall and per slice.

Definitions (each unit-tested against a hand-computed example and against scikit-learn):

* **nDCG@k** — graded gain ``2^rel − 1``, discount ``1 / log2(rank + 1)`` (rank 1-based), divided by
  the DCG of the same candidates in ideal order. A query with no positive label (IDCG = 0) has no
  nDCG: it is left out of the mean and counted in ``n_queries_no_positive``.
* **MRR** — ``1 / rank`` of the first candidate with label ≥ 1, no cut-off; queries without a
  positive are left out (the same queries as for nDCG).
* **AUC** — binary relevance (label ≥ 1 vs 0), computed **per query** over its (positive, negative)
  pairs (a tie counts ½) and averaged over the queries that have both classes. Scores of different
  queries are never compared, so a model is not rewarded for calibrating scores across queries.

Ranking ties are broken deterministically and independently of the labels: by score descending, then
by a CRC32 of ``"<query_id>|<product_id>"`` (:func:`tie_breaker`), so a constant scorer gives a
fixed pseudo-random order, i.e. a random-ranking baseline.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from assay import names

if TYPE_CHECKING:
    import pandas as pd

#: Cut-off of the nDCG in names.METRICS (``ndcg_at_10``).
K = 10
#: Extra per-slice keys besides the metrics.
N_QUERIES = "n_queries"


def dcg_at_k(labels_in_rank_order: Sequence[float] | np.ndarray, k: int = K) -> float:
    """Discounted cumulative gain of the first ``k`` labels (gain ``2^rel − 1``, discount ``log2(rank+1)``)."""
    rel = np.asarray(labels_in_rank_order, dtype=float)[:k]
    if rel.size == 0:
        return 0.0
    discounts = np.log2(np.arange(2, rel.size + 2))
    return float(np.sum((np.power(2.0, rel) - 1.0) / discounts))


def ndcg_at_k(labels_in_rank_order: Sequence[float] | np.ndarray, k: int = K) -> float:
    """nDCG@k of one ranked list; ``nan`` when the list has no positive label (undefined)."""
    rel = np.asarray(labels_in_rank_order, dtype=float)
    ideal = dcg_at_k(np.sort(rel)[::-1], k)
    if ideal <= 0.0:
        return math.nan
    return dcg_at_k(rel, k) / ideal


def reciprocal_rank(labels_in_rank_order: Sequence[float] | np.ndarray) -> float:
    """``1 / rank`` of the first label ≥ 1; ``nan`` when there is none."""
    rel = np.asarray(labels_in_rank_order, dtype=float)
    hits = np.flatnonzero(rel >= 1)
    return math.nan if hits.size == 0 else 1.0 / (int(hits[0]) + 1)


def mrr(ranked_lists: Sequence[Sequence[float] | np.ndarray]) -> float:
    """Mean reciprocal rank over lists that have a positive; ``nan`` if none has."""
    values = [v for v in (reciprocal_rank(r) for r in ranked_lists) if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def query_auc(labels: Sequence[float] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """AUC of one query (label ≥ 1 positive): share of (pos, neg) pairs ranked right, ties ½; ``nan``
    without both classes."""
    y = np.asarray(labels, dtype=float) >= 1
    s = np.asarray(scores, dtype=float)
    pos, neg = s[y], s[~y]
    if pos.size == 0 or neg.size == 0:
        return math.nan
    # Rank-sum (Mann-Whitney U) with average ranks for ties: O(n log n) instead of all pairs.
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(s.size, dtype=float)
    sorted_s = s[order]
    i = 0
    while i < s.size:
        j = i
        while j + 1 < s.size and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    u = ranks[y].sum() - pos.size * (pos.size + 1) / 2.0
    return float(u / (pos.size * neg.size))


def auc(groups: Sequence[tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray]]) -> float:
    """Mean per-query AUC over ``(labels, scores)`` pairs with both classes; ``nan`` if none."""
    values = [v for v in (query_auc(lab, sc) for lab, sc in groups) if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def tie_breaker(query_ids: Sequence[str], product_ids: Sequence[str]) -> np.ndarray:
    """A label-independent, deterministic secondary sort key per row."""
    return np.array([zlib.crc32(f"{q}|{p}".encode()) for q, p in zip(query_ids, product_ids, strict=True)],
                    dtype=np.int64)


@dataclass(frozen=True)
class Evaluation:
    """Metrics of one scorer on one test split.

    ``overall`` and each ``slices[name]`` map every metric of :data:`assay.names.METRICS` to its
    value (``nan`` when undefined) plus ``n_queries`` (queries with a positive label, the ones nDCG
    and MRR average over).
    """

    overall: dict[str, float]
    slices: dict[str, dict[str, float]]
    n_queries: int
    n_queries_no_positive: int
    n_rows: int
    per_query: dict[str, dict[str, float]] = field(default_factory=dict, repr=False, compare=False)

    def as_mlflow_metrics(self, prefix_baseline: str | None = None, *, include_counts: bool = False) -> dict[str, float]:
        """Flat MLflow metrics: ``ndcg_at_10``, ``ndcg_at_10.head`` … or, with ``prefix_baseline``,
        ``bm25.ndcg_at_10`` …. Undefined (``nan``) values are left out; ``include_counts`` adds
        ``n_queries`` / ``n_queries.<slice>``."""
        def key(metric: str, slice_name: str | None) -> str:
            if prefix_baseline is None:
                return names.metric_key(metric, slice_name)
            return names.baseline_key(prefix_baseline, metric, slice_name)

        wanted = list(names.METRICS) + ([N_QUERIES] if include_counts else [])
        out: dict[str, float] = {}
        for slice_name, values in [(None, self.overall), *sorted(self.slices.items())]:
            for metric in wanted:
                value = values.get(metric, math.nan)
                if not math.isnan(value):
                    out[key(metric, slice_name)] = float(value)
        return out


def _summarise(per_query: list[tuple[float, float, float]]) -> dict[str, float]:
    ndcgs = [n for n, _, _ in per_query if not math.isnan(n)]
    rrs = [r for _, r, _ in per_query if not math.isnan(r)]
    aucs = [a for _, _, a in per_query if not math.isnan(a)]
    return {
        "ndcg_at_10": float(np.mean(ndcgs)) if ndcgs else math.nan,
        "mrr": float(np.mean(rrs)) if rrs else math.nan,
        "auc": float(np.mean(aucs)) if aucs else math.nan,
        N_QUERIES: float(len(ndcgs)),
    }


def evaluate(
    test_df: pd.DataFrame,
    scores: Sequence[float] | np.ndarray,
    *,
    label_column: str = "label",
    k: int = K,
) -> Evaluation:
    """Rank each query's candidates by ``scores`` and compute the metrics overall and per slice.

    Args:
        test_df: rows of the test split (``query_id``, ``product_id``, ``label``, ``slice_traffic``,
            ``slice_category``); one candidate per row.
        scores: one score per row of ``test_df`` (higher is more relevant).
        label_column: the graded label to judge by (``label``, or e.g. hidden truth grades for research).
        k: nDCG cut-off.

    Slices: ``head`` / ``tail`` (``slice_traffic``) and ``category.<slug>`` (``slice_category``).
    """
    s = np.asarray(scores, dtype=float)
    if s.shape != (len(test_df),):
        raise ValueError(f"scores has shape {s.shape}, expected one score per test row ({len(test_df)})")
    if np.isnan(s).any():
        raise ValueError(f"scores contain {int(np.isnan(s).sum())} NaN value(s)")
    qids = test_df["query_id"].astype(str).to_numpy()
    labels = test_df[label_column].to_numpy(dtype=float)
    tie = tie_breaker(list(qids), list(test_df["product_id"].astype(str)))
    # One global sort: query, then score descending, then the tie-breaker.
    order = np.lexsort((tie, -s, qids))
    q_sorted = qids[order]
    bounds = np.flatnonzero(np.r_[True, q_sorted[1:] != q_sorted[:-1], True])
    traffic = test_df["slice_traffic"].astype(str).to_numpy() if "slice_traffic" in test_df else None
    category = test_df["slice_category"].astype(str).to_numpy() if "slice_category" in test_df else None

    per_query: dict[str, dict[str, float]] = {}
    by_slice: dict[str, list[tuple[float, float, float]]] = {}
    everything: list[tuple[float, float, float]] = []
    no_positive = 0
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        idx = order[start:end]
        ranked = labels[idx]
        result = (ndcg_at_k(ranked, k), reciprocal_rank(ranked), query_auc(ranked, s[idx]))
        if math.isnan(result[0]):
            no_positive += 1
        everything.append(result)
        per_query[str(q_sorted[start])] = dict(zip(names.METRICS, result, strict=True))
        first = idx[0]
        slice_names = []
        if traffic is not None:
            slice_names.append(traffic[first])
        if category is not None:
            slice_names.append(f"category.{category[first]}")
        for name in slice_names:
            by_slice.setdefault(name, []).append(result)
    overall = _summarise(everything)
    slices = {name: _summarise(values) for name, values in sorted(by_slice.items())}
    return Evaluation(
        overall={m: overall[m] for m in names.METRICS} | {N_QUERIES: overall[N_QUERIES]},
        slices=slices,
        n_queries=int(overall[N_QUERIES]),
        n_queries_no_positive=no_positive,
        n_rows=len(test_df),
        per_query=per_query,
    )
