"""The candidate against the baselines on the held-out queries, under the keys of :mod:`assay.names`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from assay import names
from assay.errors import TrainingError
from assay.training.model import score

if TYPE_CHECKING:
    import pandas as pd

    from assay.training.device import DevicePlan


def evaluate_all(
    model: Any,
    tokenizer: Any,
    test_df: pd.DataFrame,
    corpus: Any,
    plan: DevicePlan,
    max_length: int,
    *,
    max_query_length: int | None = None,
) -> tuple[dict[str, float], str]:
    """Candidate and baseline metrics on the test split, under :mod:`assay.names` keys.

    With judgments (the split's ``judged_label``), the main keys (``ndcg_at_10``,
    ``bm25.ndcg_at_10`` …) are computed on the judged rows and grades, and the same metrics on the
    click labels of every test row are kept under ``clicks.`` (``clicks.ndcg_at_10``,
    ``clicks.bm25.ndcg_at_10`` …). Without judgments the main keys use the click labels. Returns
    the metrics and which labels the main keys used (:data:`names.EVAL_JUDGMENTS` or
    :data:`names.EVAL_INTERACTIONS`).
    """
    import numpy as np

    from assay.training.baselines import bm25_scores, minilm_cosine_scores
    from assay.training.evaluation import evaluate
    from assay.training.judgments import JUDGED_COLUMN

    baselines: dict[str, Callable[[], Any]] = {
        "bm25": lambda: bm25_scores(test_df, corpus),
        "minilm_cosine": lambda: minilm_cosine_scores(test_df),
    }
    missing = set(names.BASELINES) - set(baselines)
    if missing:
        raise TrainingError(f"no scorer for baseline(s) {sorted(missing)} named in assay.names.BASELINES")
    scored: dict[str | None, Any] = {
        None: np.asarray(
            score(
                model, tokenizer, test_df["query"].tolist(), test_df["product_text"].tolist(), plan, max_length,
                max_query_length=max_query_length,
            ),
            dtype=float,
        )
    }
    scored.update({name: np.asarray(baselines[name](), dtype=float) for name in names.BASELINES})

    def metrics_on(frame: pd.DataFrame, mask: np.ndarray, label_column: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, scores in scored.items():
            out.update(evaluate(frame, scores[mask], label_column=label_column).as_mlflow_metrics(prefix_baseline=name))
        return out

    everything = np.ones(len(test_df), dtype=bool)
    judged = (
        test_df[JUDGED_COLUMN].to_numpy() >= 0 if JUDGED_COLUMN in test_df.columns else ~everything
    )
    if not judged.any():
        return metrics_on(test_df, everything, "label"), names.EVAL_INTERACTIONS
    metrics = metrics_on(test_df[judged].reset_index(drop=True), judged, JUDGED_COLUMN)
    clicks = metrics_on(test_df, everything, "label")
    metrics.update({f"{names.CLICK_LABELS}.{k}": v for k, v in clicks.items()})
    return metrics, names.EVAL_JUDGMENTS
