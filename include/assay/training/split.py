"""The pure steps from shop rows to a split training set: examples, slices and the split by query group.

* Rows are re-aggregated to (normalised query, product).
* ``slice_traffic``: ``head`` for the most frequent queries that together cover the first half of
  the window's sessions (``HEAD_SHARE``), ``tail`` otherwise. ``slice_category``: the shop category
  of the query's most-interacted product, or of the majority of its impressions.
* Near-duplicate queries (:func:`assay.training.text.near_duplicate_groups`) form one group, and a
  group is wholly in train or wholly in test; groups are ordered by ``sha256(seed:group)`` and taken
  into test while they fit in ``test_fraction`` of the rows (first fit, never above it).

No I/O, no clock: the same input and seed give the same split on any machine.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from assay.training import text as txt

if TYPE_CHECKING:
    import pandas as pd

#: ``head`` = the most frequent queries that together cover this share of the window's sessions.
HEAD_SHARE = 0.5


def examples_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Re-aggregate (raw query, product) rows to (normalised query, product): max label, summed
    sessions (a session has one query, so sums of distinct sessions stay exact)."""
    frame = rows.assign(query=rows["query"].map(txt.normalise_query))
    frame = frame[frame["query"] != ""]
    out = (
        frame.groupby(["query", "product_id"], sort=True, as_index=False)
        .agg(label=("label", "max"), n_sessions=("n_sessions", "sum"), n_interacted=("n_interacted", "sum"))
    )
    return out


def head_queries(frequency: dict[str, int], share: float = HEAD_SHARE) -> set[str]:
    """The most frequent queries that together cover ``share`` of the sessions (the query that
    crosses the line is included); ties in frequency are broken by the query text."""
    total = sum(frequency.values())
    head: set[str] = set()
    covered = 0
    for q, n in sorted(frequency.items(), key=lambda kv: (-kv[1], kv[0])):
        if covered >= share * total:
            break
        head.add(q)
        covered += n
    return head


def query_categories(examples: pd.DataFrame, categories: dict[str, str]) -> dict[str, str]:
    """Category slug per query: its most-interacted product's (sessions with an event, then best
    label, then product id), else the category of the majority of its impressions (ties by slug)."""
    frame = examples.assign(category=examples["product_id"].map(categories).fillna("unknown"))
    touched = (
        frame[frame["n_interacted"] > 0]
        .sort_values(["query", "n_interacted", "label", "product_id"], ascending=[True, False, False, True])
        .drop_duplicates("query")
    )
    majority = (
        frame.groupby(["query", "category"], as_index=False)["n_sessions"].sum()
        .sort_values(["query", "n_sessions", "category"], ascending=[True, False, True])
        .drop_duplicates("query")
    )
    out = dict(zip(majority["query"].astype(str), majority["category"].astype(str), strict=True))
    out.update(zip(touched["query"].astype(str), touched["category"].astype(str), strict=True))
    return out


def split_groups(group_rows: dict[str, int], test_fraction: float, seed: int) -> set[str]:
    """The groups (by key) that go to test.

    Groups are ordered by ``sha256("<seed>:<key>")`` and each is taken if it still fits in
    ``test_fraction`` of the rows (first fit: a big group is passed over, later small ones can
    still fill up). Deterministic and independent of input order; the test share never exceeds
    ``test_fraction`` (it can be empty when every group is bigger than the target).
    """
    target = test_fraction * sum(group_rows.values())
    order = sorted(group_rows, key=lambda k: (hashlib.sha256(f"{seed}:{k}".encode()).hexdigest(), k))
    test: set[str] = set()
    taken = 0
    for key in order:
        if taken + group_rows[key] <= target:
            test.add(key)
            taken += group_rows[key]
    return test


def limit_queries(examples: pd.DataFrame, max_queries: int, seed: int) -> pd.DataFrame:
    """A seeded sample of ``max_queries`` queries (by ``sha256(seed:q:query)``), all their rows."""
    queries = sorted(examples["query"].unique(), key=lambda q: hashlib.sha256(f"{seed}:q:{q}".encode()).hexdigest())
    return examples[examples["query"].isin(set(queries[:max_queries]))]


def group_keys(groups: dict[str, int]) -> dict[str, str]:
    """Query -> key of its group (the query id of the group's alphabetically first query)."""
    first: dict[int, str] = {}
    for q in sorted(groups):
        first.setdefault(groups[q], q)
    return {q: txt.query_id(first[gid]) for q, gid in groups.items()}
