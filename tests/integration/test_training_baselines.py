"""BM25 and untuned MiniLM cosine baselines with the real rank_bm25 and the real MiniLM weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.training.baselines import bm25_scores, embed_texts, minilm_cosine_scores
from assay.training.evaluation import evaluate

pytestmark = pytest.mark.integration

CATALOGUE = {
    "P1": "Nordhaven Oslo sofa | brand: Nordhaven | category: Home > Furniture > Sofas | colour: grey",
    "P2": "Voltra Aero kettle | brand: Voltra | category: Home > Kitchen > Kettles | colour: white",
    "P3": "Kaito Zen 55 inch tv | brand: Kaito | category: Electronics > TV & Video > Televisions",
    "P4": "Corevita yoga mat | brand: Corevita | category: Sports > Fitness > Yoga Mats | colour: green",
    "P5": "Oakridge coffee table | brand: Oakridge | category: Home > Furniture > Coffee Tables",
    # more catalogue than candidates: IDF must come from here too
    "P6": "Nordhaven Bergen sofa | brand: Nordhaven | category: Home > Furniture > Sofas | colour: navy",
    "P7": "Nordhaven Malmo armchair | brand: Nordhaven | category: Home > Furniture > Armchairs",
}


def candidates(query: str, products: list[str], qid: str = "q1") -> pd.DataFrame:
    return pd.DataFrame({
        "query_id": qid, "query": query, "product_id": products,
        "product_text": [CATALOGUE[p] for p in products], "label": 0,
        "slice_traffic": "tail", "slice_category": "furniture",
    })


def test_bm25_puts_the_exact_title_first():
    df = candidates("voltra aero kettle", ["P1", "P2", "P3", "P4", "P5"])
    scores = bm25_scores(df, CATALOGUE)
    assert scores.shape == (len(df),)
    assert df["product_id"][int(np.argmax(scores))] == "P2"
    assert np.array_equal(scores, bm25_scores(df, CATALOGUE))  # deterministic


def test_bm25_idf_comes_from_the_whole_catalogue():
    df = candidates("nordhaven sofa", ["P1", "P2"])
    small = bm25_scores(df, {p: CATALOGUE[p] for p in ("P1", "P2")})
    full = bm25_scores(df, CATALOGUE)
    # "nordhaven" and "sofa" are common in the full catalogue, so they weigh less there
    assert full[0] != pytest.approx(small[0])
    # a plain list of texts works too; products missing from the corpus are added from product_text
    assert bm25_scores(df, list(CATALOGUE.values())) == pytest.approx(full)
    assert bm25_scores(df, {"P7": CATALOGUE["P7"]}).shape == (2,)


def test_bm25_tokenises_like_the_query_normaliser():
    df = candidates("KAITO   Zen!", ["P3", "P4"])
    scores = bm25_scores(df, CATALOGUE)
    assert scores[0] > 0 and scores[1] == 0


def test_minilm_ranks_a_paraphrase_above_an_unrelated_product():
    df = pd.concat([candidates("comfy couch for the living room", ["P2", "P1", "P3"], "q1"),
                    candidates("television", ["P4", "P3", "P2"], "q2")], ignore_index=True)
    scores = minilm_cosine_scores(df)
    assert scores.shape == (len(df),)
    assert np.all(np.abs(scores) <= 1.0 + 1e-6)
    q1, q2 = scores[:3], scores[3:]
    assert q1[1] > q1[0] and q1[1] > q1[2]   # sofa above kettle and tv, with no shared word
    assert q2[1] > q2[0] and q2[1] > q2[2]
    assert np.array_equal(scores, minilm_cosine_scores(df))  # deterministic
    df["label"] = [0, 3, 0, 0, 3, 0]
    assert evaluate(df, scores).overall["ndcg_at_10"] == pytest.approx(1.0)


def test_minilm_embeddings_are_normalised_and_batch_independent():
    texts = ["grey sofa", "kettle", "yoga mat", "tv"]
    one = embed_texts(texts, batch_size=1)
    all_ = embed_texts(texts, batch_size=64)
    assert one.shape == (4, 384)
    assert np.allclose(np.linalg.norm(all_, axis=1), 1.0, atol=1e-5)
    assert np.allclose(one, all_, atol=1e-5)  # padding does not leak into the mean pooling


def test_empty_input():
    empty = candidates("x", []).iloc[0:0]
    assert bm25_scores(empty, CATALOGUE).shape == (0,)
    assert minilm_cosine_scores(empty).shape == (0,)


def test_teacher_targets_are_the_minilm_order_scaled_per_query():
    from assay.training.baselines import teacher_targets

    df = pd.concat([candidates("comfy couch for the living room", ["P2", "P1", "P3"], "q1"),
                    candidates("television", ["P4", "P3", "P2"], "q2"),
                    candidates("kettle", ["P1"], "q3")], ignore_index=True)
    got = teacher_targets(df)
    cos = minilm_cosine_scores(df)
    assert got.shape == (len(df),) and ((got >= 0) & (got <= 1)).all()
    for rows in ([0, 1, 2], [3, 4, 5]):  # per query: the same order as the cosine, best 1, worst 0
        assert list(np.argsort(got[rows])) == list(np.argsort(cos[rows]))
        assert got[rows].max() == pytest.approx(1.0) and got[rows].min() == pytest.approx(0.0)
    assert got[1] == pytest.approx(1.0)  # the sofa is the couch query's best pair
    assert got[6] == 0.5  # a query with one pair has no order to teach
