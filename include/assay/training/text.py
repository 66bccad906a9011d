"""Text helpers shared by the training-set builder and the baselines.

* :func:`normalise_query` is the one query normalisation: Unicode NFKD with accents dropped, case
  folded, every run of characters that are not letters or digits turned into one space. So
  ``"Maison Léa  SOFA!"`` and ``"maison lea sofa"`` are the same query; ``55"`` becomes ``55``.
* :func:`tokens` splits a normalised text on spaces; BM25 uses it for queries and documents alike.
* :func:`product_text` is what a model reads about a product: title, brand, category path, colour,
  size and material (the description is left out: it is templated boilerplate in the demo shop and
  would dominate a 64-token input).
* :func:`near_duplicate_groups` clusters queries that must land on the same side of a split.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_NON_WORD = re.compile(r"[^0-9a-z]+")

#: Character 3-gram Jaccard at or above which two queries are near duplicates.
JACCARD_MIN = 0.8
#: Levenshtein distance at or below which two queries are near duplicates (typos) ...
EDIT_MAX = 2
#: ... provided the shorter one has at least this many characters ("tv" vs "pc" are not typos of each other).
EDIT_MIN_LEN = 6

#: Product columns that make up :func:`product_text`, in order.
PRODUCT_TEXT_COLUMNS: tuple[str, ...] = ("title", "brand", "category_path", "colour", "size", "material")


def fold(text: str) -> str:
    """NFKD, accents (combining marks) dropped, case folded."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def normalise_query(text: str) -> str:
    """The canonical form of a query: folded, punctuation as spaces, single spaces, stripped."""
    return _NON_WORD.sub(" ", fold(text)).strip()


def tokens(text: str) -> list[str]:
    """Tokens of a text (normalised first): the tokeniser of BM25 and of the query-length statistics."""
    return normalise_query(text).split()


def query_id(normalised: str) -> str:
    """A stable id of a normalised query: the first 16 hex digits of its sha256."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:16]


def slug(text: str) -> str:
    """``"TV & Video"`` -> ``"tv_video"``: lower-case, accents dropped, non-alphanumerics as ``_``."""
    return _NON_WORD.sub("_", fold(text)).strip("_") or "unknown"


def category_slug(category_path: str | None) -> str:
    """Slug of the shop category (the first two levels of the path, named by the second one).

    ``"Home > Furniture > Sofas"`` -> ``"furniture"``. The shop's top level ("Home", "Electronics")
    is too coarse to be useful as a slice; its two-level categories are the ones queries target.
    """
    if not category_path:
        return "unknown"
    parts = [p.strip() for p in category_path.split(">") if p.strip()]
    if not parts:
        return "unknown"
    return slug(parts[1] if len(parts) > 1 else parts[0])


def product_text(row: Mapping[str, Any]) -> str:
    """The text a ranker reads for a product row (missing or empty fields are skipped).

    Format: ``"<title> | brand: <brand> | category: <path> | colour: … | size: … | material: …"``.
    """
    parts: list[str] = []
    title = row.get("title")
    if title:
        parts.append(str(title).strip())
    for column, label in (
        ("brand", "brand"),
        ("category_path", "category"),
        ("colour", "colour"),
        ("size", "size"),
        ("material", "material"),
    ):
        value = row.get(column)
        if value is not None and str(value).strip() and str(value) != "nan":
            parts.append(f"{label}: {str(value).strip()}")
    return " | ".join(parts)


# ---- near duplicates ------------------------------------------------------------------------
def trigrams(text: str) -> frozenset[str]:
    """Character 3-grams of ``" <text> "`` (padded, so short words still have grams)."""
    padded = f" {text} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def edit_distance(a: str, b: str, limit: int = EDIT_MAX) -> int:
    """Levenshtein distance, stopping early once every cell of a row exceeds ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            # The smaller index is the root: group ids do not depend on the order of unions.
            self.parent[max(ri, rj)] = min(ri, rj)


def near_duplicates(a: str, b: str) -> bool:
    """True when two *normalised* queries are the same query up to word order, typos or punctuation."""
    if a == b or sorted(a.split()) == sorted(b.split()):
        return True
    if jaccard(trigrams(a), trigrams(b)) >= JACCARD_MIN:
        return True
    return min(len(a), len(b)) >= EDIT_MIN_LEN and edit_distance(a, b) <= EDIT_MAX


def near_duplicate_groups(queries: Sequence[str]) -> list[int]:
    """Group id (index of the group's first query in sorted order) of every normalised query.

    Two queries share a group when they are connected by a chain of near-duplicate pairs
    (:func:`near_duplicates`): same token set (word order), character-3-gram Jaccard
    >= ``JACCARD_MIN``, or edit distance <= ``EDIT_MAX`` when both have >= ``EDIT_MIN_LEN``
    characters. Candidate pairs are found through an inverted index of 3-grams (a pair within
    edit distance 2 shares at least one 3-gram unless the strings are tiny), so the cost is far
    below all pairs. The result depends only on the set of queries, not on their order.
    """
    order = sorted(set(queries))
    index = {q: i for i, q in enumerate(order)}
    uf = _UnionFind(len(order))
    grams = [trigrams(q) for q in order]
    by_tokens: dict[tuple[str, ...], int] = {}
    postings: dict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(order):
        key = tuple(sorted(q.split()))
        if key in by_tokens:
            uf.union(by_tokens[key], i)
        else:
            by_tokens[key] = i
        for g in grams[i]:
            postings[g].append(i)
    sizes = [len(g) for g in grams]
    for i, q in enumerate(order):
        shared: dict[int, int] = defaultdict(int)
        for g in grams[i]:
            for j in postings[g]:
                if j > i:
                    shared[j] += 1
        for j in sorted(shared):
            common = shared[j]
            # Cheap bounds first: Jaccard >= JACCARD_MIN needs common / union >= JACCARD_MIN, and
            # one edit changes at most 3 of a string's 3-grams.
            union = sizes[i] + sizes[j] - common
            maybe_jaccard = common >= JACCARD_MIN * union
            maybe_typo = common >= max(sizes[i], sizes[j]) - 3 * EDIT_MAX
            if not (maybe_jaccard or maybe_typo) or uf.find(i) == uf.find(j):
                continue
            if near_duplicates(q, order[j]):
                uf.union(i, j)
    roots = [uf.find(index[q]) for q in queries]
    return roots


def groups_of(queries: Iterable[str]) -> dict[str, int]:
    """Normalised query -> group id (see :func:`near_duplicate_groups`)."""
    qs = sorted(set(queries))
    return dict(zip(qs, near_duplicate_groups(qs), strict=True))
