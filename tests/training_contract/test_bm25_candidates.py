"""Candidate generation (BM25 top-k over a catalogue) on a generated catalogue unlike the demo shop."""

from __future__ import annotations

import random

import numpy as np
import pytest

from assay.errors import TrainingError
from assay.training.candidates import bm25_top_k, build_index, read_queries, recall_at_k
from assay.training.text import tokens

BRANDS = ["Bosch", "Brembo", "Valeo", "Mahle", "Febi", "Sachs", "Denso", "NGK", "Hella", "Lemforder"]
PARTS = ["brake pad set", "brake disc", "oil filter", "air filter", "spark plug", "shock absorber",
         "wiper blade", "headlight bulb", "timing belt", "water pump", "control arm", "fuel pump"]
FITS = ["Golf VII", "Corolla E210", "Focus MK4", "Clio V", "Octavia III", "Civic X", "Astra K", "Polo VI"]
SIDES = ["front", "rear", "left", "right", ""]


def catalogue(n: int = 300, seed: int = 5) -> dict[str, str]:
    rng = random.Random(seed)
    out = {}
    for i in range(n):
        title = f"{rng.choice(BRANDS)} {rng.choice(PARTS)} {rng.choice(SIDES)} for {rng.choice(FITS)} {rng.randint(100, 999)}-{i:04d}"
        out[f"AP{i:05d}"] = " ".join(title.split())
    return out


def offers(cat: dict[str, str], n: int = 80, seed: int = 6) -> dict[str, str]:
    """Offer titles written by sellers for a planted product each: words dropped and shuffled, noise added."""
    rng = random.Random(seed)
    out = {}
    for pid in rng.sample(sorted(cat), n):
        words = cat[pid].split()
        keep = [w for w in words if w != "for" and rng.random() > 0.2] or words[:2]
        rng.shuffle(keep)
        noise = rng.sample(["NEW", "OEM quality", "fast shipping", "genuine", "1 pc", "best price"], 2)
        out[" ".join(keep + noise)] = pid
    return out


def test_a_planted_match_is_recalled_in_the_top_k():
    cat = catalogue()
    truth = offers(cat)
    top30 = bm25_top_k(list(truth), cat, k=30)
    top10 = top30[top30["rank"] <= 10]
    assert recall_at_k(top30, truth) >= 0.95
    assert recall_at_k(top10, truth) >= 0.9
    assert recall_at_k(top10, truth) <= recall_at_k(top30, truth)
    # Far above chance (30 of 300 products: 10 %).
    shuffled = dict(zip(truth, random.Random(1).sample(list(truth.values()), len(truth)), strict=True))
    assert recall_at_k(top30, shuffled) < 0.5
    assert top30.groupby("query").size().max() == 30 and list(top30.columns) == [
        "query", "product_id", "rank", "score", "product_text"]


def test_scores_equal_rank_bm25_and_ties_break_by_product_id():
    from rank_bm25 import BM25Okapi

    cat = catalogue(60)
    index = build_index(cat)
    reference = BM25Okapi([tokens(cat[p]) for p in sorted(cat)])
    for q in ["Bosch brake disc front", "oil filter Civic", "nothing matches zzz"]:
        assert np.allclose(index.scores(q), reference.get_scores(tokens(q)))
    twins = {"B": "red pump", "A": "red pump", "C": "blue hose"}
    got = bm25_top_k(["red pump", "red pump"], twins, k=5)
    assert got["product_id"].tolist() == ["A", "B"] and got["rank"].tolist() == [1, 2]  # one list per distinct query
    assert bm25_top_k(["zzz"], twins, k=5).empty


def test_bad_inputs_are_refused():
    with pytest.raises(TrainingError, match="k must be >= 1"):
        bm25_top_k(["a"], {"p": "a"}, k=0)
    with pytest.raises(TrainingError, match="catalogue is empty"):
        bm25_top_k(["a"], {}, k=3)
    with pytest.raises(TrainingError, match="every product text is empty"):
        bm25_top_k(["a"], {"p": "  -- "}, k=3)


def test_queries_are_read_from_text_csv_or_parquet(tmp_path):
    import pandas as pd

    (tmp_path / "q.txt").write_text("brake pad\n\n oil filter \n")
    assert read_queries(tmp_path / "q.txt") == ["brake pad", "oil filter"]
    pd.DataFrame({"query": ["a b", "c"], "other": [1, 2]}).to_parquet(tmp_path / "q.parquet")
    assert read_queries(tmp_path / "q.parquet") == ["a b", "c"]
    (tmp_path / "q.csv").write_text("title\nx\n")
    with pytest.raises(TrainingError, match="no 'query' column"):
        read_queries(tmp_path / "q.csv")
