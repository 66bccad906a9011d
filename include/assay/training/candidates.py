"""Candidate generation: BM25 top-k over the product catalogue for each query (the first stage).

A cross-encoder re-ranks a short list; something has to produce that list. For a log that has no
impressions yet (offers to match against canonical products, a new shop's queries) or to re-rank
beyond what the logged ranker showed, :func:`bm25_top_k` returns, per query, the ``k`` products
whose text scores highest under Okapi BM25 — the scoring of the ``bm25`` baseline
(:mod:`assay.training.baselines`: ``rank_bm25``'s IDF, k1 = 1.5, b = 0.75, the same tokeniser
:func:`assay.training.text.tokens`), computed through an inverted index so a query costs the
postings of its terms, not a pass over the catalogue. Rules:

* only products sharing at least one token with the query are candidates, so a query may get
  fewer than ``k`` (a term in half the catalogue or more has an IDF of about 0 under Okapi BM25,
  so such products can score 0 and still be listed, last);
* ties are broken by ``product_id``, so the lists are deterministic;
* the catalogue is :func:`assay.training.source.read_products` of the search-log contract (the
  product texts the trainer reads), or any ``product_id -> text`` mapping.

``assay candidates QUERIES --k 30 --out candidates.parquet`` runs it from the command line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from assay.errors import TrainingError
from assay.training.text import tokens

if TYPE_CHECKING:
    import pandas as pd

    from assay.config import Settings
    from assay.training.contract import SearchLogContract

#: Columns of a candidate frame.
COLUMNS: tuple[str, ...] = ("query", "product_id", "rank", "score", "product_text")


@dataclass(frozen=True)
class Bm25Index:
    """An inverted BM25 index over a catalogue: per term, the documents holding it and their weights."""

    product_ids: tuple[str, ...]
    texts: tuple[str, ...]
    postings: dict[str, tuple[np.ndarray, np.ndarray]]

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for ``query`` (equal to ``rank_bm25``'s ``get_scores``)."""
        return self.match(query)[0]

    def match(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """(BM25 scores, indices of the documents sharing a token with ``query``)."""
        out = np.zeros(len(self.product_ids), dtype=float)
        matched: list[np.ndarray] = []
        for term in tokens(query):
            hit = self.postings.get(term)
            if hit is not None:
                docs, weights = hit
                out[docs] += weights
                matched.append(docs)
        return out, (np.unique(np.concatenate(matched)) if matched else np.zeros(0, dtype=np.int64))


def build_index(catalogue: Mapping[str, str]) -> Bm25Index:
    """Index ``product_id -> text`` (sorted by id) with ``rank_bm25.BM25Okapi``'s IDF and parameters.

    Raises:
        TrainingError: the catalogue is empty, or every text is empty after tokenising.
    """
    from rank_bm25 import BM25Okapi

    ids = sorted(str(p) for p in catalogue)
    if not ids:
        raise TrainingError("candidate generation: the product catalogue is empty")
    texts = [str(catalogue[p]) for p in ids]
    tokenised = [tokens(t) for t in texts]
    if not any(tokenised):
        raise TrainingError("candidate generation: every product text is empty after tokenising")
    bm25 = BM25Okapi(tokenised)
    lengths = np.asarray(bm25.doc_len, dtype=float)
    norm = bm25.k1 * (1 - bm25.b + bm25.b * lengths / bm25.avgdl)
    by_term: dict[str, tuple[list[int], list[float]]] = {}
    for d, freqs in enumerate(bm25.doc_freqs):
        for term, tf in freqs.items():
            docs, tfs = by_term.setdefault(term, ([], []))
            docs.append(d)
            tfs.append(float(tf))
    postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for term, (docs, tfs) in by_term.items():
        doc_ids = np.asarray(docs, dtype=np.int64)
        tf = np.asarray(tfs, dtype=float)
        postings[term] = (doc_ids, float(bm25.idf.get(term, 0.0)) * tf * (bm25.k1 + 1) / (tf + norm[doc_ids]))
    return Bm25Index(tuple(ids), tuple(texts), postings)


def bm25_top_k(queries: Sequence[str], catalogue: Mapping[str, str] | Bm25Index, k: int = 30) -> pd.DataFrame:
    """The ``k`` best products per distinct query (see the module rules), as a frame of :data:`COLUMNS`.

    ``rank`` starts at 1; queries keep their first-seen order.

    Raises:
        TrainingError: ``k`` < 1, or an unusable catalogue.
    """
    import pandas as pd

    if k < 1:
        raise TrainingError(f"candidate generation: k must be >= 1 (got {k})")
    index = catalogue if isinstance(catalogue, Bm25Index) else build_index(catalogue)
    ids = np.asarray(index.product_ids)
    rows: list[tuple[str, str, int, float, str]] = []
    for query in dict.fromkeys(str(q) for q in queries):
        scores, hits = index.match(query)
        if hits.size == 0:
            continue
        # Highest score first, ties by product id (ids are sorted, so by index).
        order = hits[np.lexsort((hits, -scores[hits]))][:k]
        rows += [(query, str(ids[d]), rank, float(scores[d]), index.texts[d]) for rank, d in enumerate(order, 1)]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def recall_at_k(candidates: pd.DataFrame, truth: Mapping[str, str]) -> float:
    """Share of ``truth`` queries (query -> the one right product) whose product is in their candidates."""
    if not truth:
        return float("nan")
    found = set(zip(candidates["query"], candidates["product_id"], strict=True))
    return sum((q, p) in found for q, p in truth.items()) / len(truth)


def catalogue_of(settings: Settings, contract: SearchLogContract | None = None) -> dict[str, str]:
    """``product_id -> product text`` of the contract's products table (the texts the trainer reads)."""
    from assay.training.contract import load_default, source_url
    from assay.training.source import read_products

    contract = contract or load_default(settings)
    frame = read_products(source_url(settings, contract), contract)
    return dict(zip(frame["product_id"], frame["product_text"], strict=True))


def read_queries(path: Any) -> list[str]:
    """Queries from a file: ``.csv`` / ``.parquet`` with a ``query`` column, else one query per line.

    Raises:
        TrainingError: the file cannot be read or has no ``query`` column.
    """
    from pathlib import Path

    import pandas as pd

    p = Path(path)
    try:
        if p.suffix in (".csv", ".parquet"):
            frame = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p, dtype=str, keep_default_na=False)
            if "query" not in frame.columns:
                raise TrainingError(f"{p}: no 'query' column (columns: {', '.join(map(str, frame.columns))})")
            values = frame["query"].astype(str).tolist()
        else:
            values = p.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as exc:
        raise TrainingError(f"{p}: cannot read queries: {exc}") from None
    return [q.strip() for q in values if q.strip()]
