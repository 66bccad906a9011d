"""Semantic rules without a model: decisive rules that settle a label, and soft signals that weigh in.

A decisive rule (declared type, a value shape almost every value has, a numeric column named like a
price or a position) decides the label alone; soft signals (name keywords, the table's name for
generic column names, value shapes) are added to the embedding similarities, or stand alone when
embeddings are off. See :mod:`assay.classify.semantic` for how they combine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from assay.classify.base import Method
from assay.classify.semantic_labels import GENERIC_NAMES, ISO_3166, ISO_4217, LABELS, TABLE_HINTS
from assay.classify.text import ColumnView, share_at_least

#: Added to a label's similarity when a token of the column name is one of its keywords.
NAME_BOOST = 0.15
#: An exact match of the whole column name with a keyword adds this on top, and then no other
#: label gets a boost from single words of the name (``event_type`` is an event type, not a ``type``).
EXACT_NAME_BOOST = 0.05

_BY_NAME = {label.name: label for label in LABELS}

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$"
)
_URL = re.compile(r"^(?:https?|ftp)://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_CATEGORY_PATH = re.compile(r"^[^>|/]+(?:\s(?:>|/|\|)\s[^>|/]+)+$")
_BOOLEAN_WORDS = frozenset({"true", "false", "t", "f", "yes", "no", "y", "n", "0", "1"})
_SENTENCE_END = re.compile(r"\w[.!?](?:\s|$)")
_IDENTIFIER_VALUE = re.compile(r"^(?=.*\d)[A-Za-z0-9][A-Za-z0-9_\-:.]{2,63}$")

#: Share of values a value-shape rule needs before it decides.
RULE_MIN_RATIO = 0.9

_RANK_KEYWORDS = frozenset(_BY_NAME["rank"].keywords)
_PRICE_KEYWORDS = frozenset(_BY_NAME["price"].keywords)
_VALUE_RULES: tuple[tuple[str, str, Callable[[str], object]], ...] = (
    ("timestamp", "values:iso_timestamp", _ISO_TIMESTAMP.match),
    ("date", "values:iso_date", _ISO_DATE.match),
    ("url", "values:url", _URL.match),
    ("currency", "values:iso_4217", ISO_4217.__contains__),
    ("country", "values:iso_3166", ISO_3166.__contains__),
    ("category", "values:category_path", _CATEGORY_PATH.match),
)


def _share_if_at_least(
    values: Sequence[str], check: Callable[[str], object], threshold: float
) -> float | None:
    """``ratio(values, check)`` when it reaches ``threshold``, else ``None`` (known early, mostly).

    Gives up once the values left could no longer lift the share to the threshold.
    """
    n = len(values)
    hits = 0
    for seen, v in enumerate(values, 1):
        if check(v):
            hits += 1
        elif (hits + n - seen) / n < threshold:
            return None
    share = hits / n
    return share if share >= threshold else None


@dataclass(frozen=True)
class Decision:
    """A label chosen by a decisive rule."""

    label: str
    score: float
    rule: str
    method: Method


def decisive_rule(col: ColumnView) -> Decision | None:
    """The label a cheap, near-certain rule assigns, or ``None`` when the column needs weighing."""
    family = col.family
    if family == "timestamp":
        return Decision("timestamp", 1.0, "dtype:timestamp", "pattern")
    if family == "date":
        return Decision("date", 1.0, "dtype:date", "pattern")
    if family == "boolean":
        return Decision("boolean", 1.0, "dtype:boolean", "pattern")
    if family == "json":
        return Decision("json", 1.0, "dtype:json", "pattern")
    values = col.values
    if col.numeric:
        if col.has_word_in(_RANK_KEYWORDS) and col.family != "float":
            return Decision("rank", 0.9, "name:rank+numeric", "name")
        if col.has_word_in(_PRICE_KEYWORDS):
            return Decision("price", 0.9, "name:price+numeric", "name")
        return None
    if not values:
        return None
    for label, rule, check in _VALUE_RULES:
        share = _share_if_at_least(values, check, RULE_MIN_RATIO)
        if share is not None:
            return Decision(label, round(share, 4), rule, "pattern")
    # At most two distinct yes/no words (compared lower-cased), every value one of them.
    lowered = {v.lower() for v in values}
    if len(lowered) <= 2 and lowered <= _BOOLEAN_WORDS:
        return Decision("boolean", 1.0, "values:boolean_words", "pattern")
    return None


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _has_digit(value: str) -> bool:
    return any(ch.isdigit() for ch in value)


@lru_cache(maxsize=4096)
def _name_signals(
    tokens: tuple[str, ...], joined: str, table_tokens: tuple[str, ...]
) -> tuple[tuple[str, str, float], ...]:
    """The ``(label, signal, weight)`` boosts a column and table name give, in the order added.

    Names repeat across tables and runs, so this is computed once per spelling.
    """
    out: list[tuple[str, str, float]] = []
    # A generic column name says little; the table's name says what its rows are (brands.name).
    if set(tokens) <= GENERIC_NAMES:
        for token in table_tokens:
            label_name = TABLE_HINTS.get(_singular(token))
            if label_name is not None:
                out.append((label_name, f"table:{_singular(token)}", NAME_BOOST))
    exact = [label for label in LABELS if joined in label.keywords]
    for label in exact:
        out.append((label.name, f"name:{joined}", NAME_BOOST + EXACT_NAME_BOOST))
    # A whole name that is a known compound is not read word by word: event_type is no "type".
    for label in LABELS if not exact else ():
        hit = next((k for k in label.keywords if k in tokens), None)
        if hit is not None:
            out.append((label.name, f"name:{hit}", NAME_BOOST))
    return tuple(out)


def _is_lower(v: str) -> bool:
    return v == v.lower()


def _title_phrase(v: str) -> bool:
    return v[:1].isupper() and " " in v


def soft_signals(col: ColumnView) -> dict[str, dict[str, float]]:
    """Boosts per label from the column name and value shapes: ``{label: {signal: weight}}``."""
    out: dict[str, dict[str, float]] = {}

    def add(label: str, signal: str, weight: float) -> None:
        out.setdefault(label, {})[signal] = weight

    generic = set(col.tokens) <= GENERIC_NAMES
    for label, signal, weight in _name_signals(col.tokens, col.joined, col.table_tokens if generic else ()):
        add(label, signal, weight)
    values = col.values
    if not values:
        return out
    many = len(values) >= 10
    if col.distinct_ratio >= 0.95 and share_at_least(values, _IDENTIFIER_VALUE.match, RULE_MIN_RATIO):
        add("identifier", "values:unique_codes", 0.1)
    elif many and col.distinct_ratio < 0.5 and not share_at_least(values, _has_digit, 0.2):
        # Repeated words without digits name kinds of things (brands, colours), not records.
        add("identifier", "values:repeated_words", -0.2)
    if many and col.distinct_ratio <= 0.5 and col.mean_length <= 30 and not col.numeric:
        add("category", "values:low_cardinality", 0.1)
    if col.mean_words >= 8:
        add("free_text", "values:long_text", 0.1)
    if col.mean_words >= 6 and share_at_least(values, _SENTENCE_END.search, 0.6):
        add("free_text", "values:sentences", 0.2)
    if not col.numeric and 1.5 <= col.mean_words <= 6:
        if share_at_least(values, _is_lower, 0.8):
            add("search_query", "values:lowercase_phrases", 0.1)
        elif col.mean_words >= 3 and share_at_least(values, _title_phrase, 0.8):
            add("product_title", "values:title_case_phrases", 0.05)
    return out
