"""Query normalisation, near-duplicate groups, the group split, slices and the digest (no database)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.training import dataset as ds
from assay.training import materialise, split
from assay.training import text as txt


# ---- normalisation and product text -----------------------------------------------------------
def test_normalise_query_folds_case_accents_and_punctuation():
    assert txt.normalise_query("  Maison Léa  SOFA!! ") == "maison lea sofa"
    assert txt.normalise_query('tv 55"') == "tv 55"
    assert txt.normalise_query("3-seater, grey") == "3 seater grey"
    assert txt.normalise_query("Brückner") == "bruckner"
    assert txt.normalise_query("!!!") == ""
    assert txt.tokens("Grey  Couch") == ["grey", "couch"]
    assert txt.query_id("grey couch") == txt.query_id(txt.normalise_query("GREY couch."))
    assert txt.query_id("grey couch") != txt.query_id("couch grey")


def test_product_text_and_category_slug():
    row = {"title": "Nordhaven Oslo sofa", "brand": "Nordhaven", "category_path": "Home > Furniture > Sofas",
           "colour": "grey", "size": "3-seater", "material": "linen", "description": "boilerplate"}
    text = txt.product_text(row)
    assert text == ("Nordhaven Oslo sofa | brand: Nordhaven | category: Home > Furniture > Sofas | colour: grey"
                    " | size: 3-seater | material: linen")
    assert "boilerplate" not in text
    assert txt.product_text({"title": "Kettle", "brand": None, "colour": ""}) == "Kettle"
    assert txt.category_slug("Home > Furniture > Sofas") == "furniture"
    assert txt.category_slug("Electronics > TV & Video > Televisions") == "tv_video"
    assert txt.category_slug(None) == "unknown"


# ---- near duplicates ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("grey sofa", "sofa grey", True),            # word order
        ("garden hose", "gadren hose", True),         # adjacent swap
        ("garden hose", "gardenn hose", True),        # doubled letter
        ("dumbbell black", "dumbell black", True),    # dropped letter
        ("grey sofa", "red kettle", False),
        ("tv", "pc", False),                          # too short to call an edit a typo
        ("laptop 13 inch", "laptop 16 inch", True),   # one edit: conservative on purpose (kept together)
        ("yoga mat", "yoga mat cork", False),
    ],
)
def test_near_duplicates(a, b, same):
    assert txt.near_duplicates(a, b) is same
    assert txt.near_duplicates(b, a) is same


def test_edit_distance():
    assert txt.edit_distance("kitten", "sitting", limit=5) == 3
    assert txt.edit_distance("abc", "abc") == 0
    assert txt.edit_distance("abcdef", "abcxyz") == 3  # over the limit: limit + 1
    assert txt.edit_distance("a", "abcd") == 3


def test_groups_chain_and_do_not_depend_on_order():
    queries = ["garden hose", "gadren hose", "hose garden", "gadren hoze", "red kettle", "kettle red", "yoga mat"]
    groups = txt.groups_of(queries)
    assert groups["garden hose"] == groups["gadren hose"] == groups["hose garden"] == groups["gadren hoze"]
    assert groups["red kettle"] == groups["kettle red"] != groups["garden hose"]
    assert len(set(groups.values())) == 3
    again = txt.groups_of(list(reversed(queries)))
    assert {q: sorted(k for k in again if again[k] == g) for q, g in again.items()} == \
        {q: sorted(k for k in groups if groups[k] == g) for q, g in groups.items()}


def test_groups_agree_with_all_pairs_union_find():
    """The 3-gram candidate filter must not miss a pair the plain all-pairs check finds."""
    rng = np.random.default_rng(4)
    words = ["grey", "gray", "sofa", "couch", "garden", "hose", "tv", "55", "inch", "kettle", "red", "yoga", "mat"]
    queries = set()
    for _ in range(150):
        q = list(rng.choice(words, size=int(rng.integers(1, 4)), replace=False))
        s = " ".join(q)
        if rng.random() < 0.4 and len(s) > 3:  # a typo: swap two adjacent characters
            i = int(rng.integers(1, len(s) - 1))
            s = s[:i] + s[i + 1] + s[i] + s[i + 2 :]
        queries.add(txt.normalise_query(s))
    qs = sorted(q for q in queries if q)
    fast = txt.groups_of(qs)
    parent = list(range(len(qs)))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(qs)):
        for j in range(i + 1, len(qs)):
            if txt.near_duplicates(qs[i], qs[j]):
                parent[find(j)] = find(i)
    slow = {q: find(i) for i, q in enumerate(qs)}
    partition = lambda g: sorted(sorted(q for q in g if g[q] == r) for r in set(g.values()))  # noqa: E731
    assert partition(fast) == partition(slow)


# ---- split ---------------------------------------------------------------------------------------
def test_split_groups_is_deterministic_and_reaches_the_fraction():
    groups = {f"g{i}": (i % 7) + 1 for i in range(200)}
    total = sum(groups.values())
    test = split.split_groups(groups, 0.2, seed=13)
    assert test == split.split_groups(dict(reversed(list(groups.items()))), 0.2, seed=13)
    rows = sum(groups[g] for g in test)
    assert 0.2 * total - 7 < rows <= 0.2 * total
    # every group bigger than the target: nothing fits, the builder reports an empty test split
    assert split.split_groups({"a": 10, "b": 12}, 0.2, seed=13) == set()
    other = split.split_groups(groups, 0.2, seed=14)
    assert other != test


def test_head_queries_cover_half_of_the_sessions():
    freq = {"a": 50, "b": 20, "c": 10, "d": 10, "e": 5, "f": 5}
    assert split.head_queries(freq) == {"a"}         # a alone covers 50 %
    assert split.head_queries({"a": 40, "b": 30, "c": 30}) == {"a", "b"}
    assert split.head_queries({"b": 10, "a": 10, "c": 10, "d": 10}) == {"a", "b"}  # ties: by text


def test_examples_aggregate_normalised_queries_with_max_label():
    rows = pd.DataFrame(
        [("Grey Sofa", "P1", 0, 2, 0), ("grey sofa!", "P1", 3, 1, 1), ("grey sofa", "P2", 1, 1, 1), ("!!", "P3", 2, 1, 1)],
        columns=["query", "product_id", "label", "n_sessions", "n_interacted"],
    )
    out = split.examples_from_rows(rows)
    assert out.to_dict("records") == [
        {"query": "grey sofa", "product_id": "P1", "label": 3, "n_sessions": 3, "n_interacted": 1},
        {"query": "grey sofa", "product_id": "P2", "label": 1, "n_sessions": 1, "n_interacted": 1},
    ]


def test_query_category_prefers_the_most_interacted_product():
    examples = pd.DataFrame(
        [("q1", "P1", 0, 9, 0), ("q1", "P2", 1, 1, 1), ("q1", "P3", 3, 1, 2),
         ("q2", "P1", 0, 5, 0), ("q2", "P2", 0, 2, 0), ("q2", "P4", 0, 2, 0)],
        columns=["query", "product_id", "label", "n_sessions", "n_interacted"],
    )
    cats = {"P1": "books", "P2": "toys", "P3": "furniture", "P4": "toys"}
    assert split.query_categories(examples, cats) == {"q1": "furniture", "q2": "books"}


def test_digest_is_canonical_and_sensitive():
    def split(labels):
        return pd.DataFrame({
            "query_id": ["a", "a"], "query": ["q", "q"], "group_id": ["g", "g"], "product_id": ["P1", "P2"],
            "product_text": ["t1", "t2"], "label": np.array(labels, dtype=np.int8),
            "slice_traffic": ["head", "head"], "slice_category": ["toys", "toys"],
            "n_sessions": np.array([1, 2], dtype=np.int32),
        })
    corpus = pd.DataFrame({"product_id": ["P1", "P2"], "product_text": ["t1", "t2"]})
    params = {"seed": 13, "window_end": "2026-11-14"}
    d1 = materialise.dataset_digest(split([1, 0]), split([0, 1]), corpus, params)
    assert d1 == materialise.dataset_digest(split([1, 0]), split([0, 1]), corpus, dict(reversed(params.items())))
    assert len(d1) == 64
    assert d1 != materialise.dataset_digest(split([1, 0]), split([0, 2]), corpus, params)      # a label
    assert d1 != materialise.dataset_digest(split([0, 1]), split([1, 0]), corpus, params)      # train/test swapped
    assert d1 != materialise.dataset_digest(split([1, 0]), split([0, 1]), corpus, {**params, "seed": 14})


def test_price_histogram():
    assert ds._histogram([10, 60, 60, 3000, 0], (0, 50, 100, 2500)) == {"0-50": 2, "50-100": 2, "100-2500": 0, "2500+": 1}
