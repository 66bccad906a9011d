"""Small text helpers shared by the PII and semantic rules: name tokens, type families, value views."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from assay.classify.base import MAX_VALUES, ColumnSample

TypeFamily = Literal[
    "text", "integer", "decimal", "float", "timestamp", "date", "boolean", "json", "binary", "other"
]

#: Families whose values are numbers.
NUMERIC_FAMILIES: frozenset[str] = frozenset({"integer", "decimal", "float"})

_CAMEL_1 = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL_2 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_SEPARATORS = re.compile(r"[\W_]+")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d+)?|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?$")


def split_name(name: str) -> tuple[str, ...]:
    """Lower-case word tokens of a column or table name: snake, kebab, camel and Pascal case.

    ``"customerEmailAddress"`` -> ``("customer", "email", "address")``;
    ``"IPAddress"`` -> ``("ip", "address")``; ``"address_line1"`` -> ``("address", "line1")``.
    """
    spaced = _CAMEL_2.sub(r"\1 \2", _CAMEL_1.sub(r"\1 \2", name))
    return tuple(t.lower() for t in _SEPARATORS.split(spaced) if t)


def type_family(data_type: str) -> TypeFamily:
    """Map a SQL or Arrow type name to a coarse family; unknown names are ``other``."""
    t = data_type.strip().lower()
    if not t:
        return "other"
    if "interval" in t:
        return "other"
    if "timestamp" in t or "datetime" in t or t == "timestamptz":
        return "timestamp"
    if t.startswith("date"):
        return "date"
    if t.startswith("bool"):
        return "boolean"
    if "json" in t:
        return "json"
    if "int" in t or "serial" in t:
        return "integer"
    if t.startswith(("numeric", "decimal", "money")):
        return "decimal"
    if t.startswith(("float", "double", "real", "halffloat")):
        return "float"
    if t.startswith(("bytea", "binary", "blob", "large_binary", "varbinary")):
        return "binary"
    if t.startswith(
        (
            "text",
            "char",
            "varchar",
            "character",
            "string",
            "large_string",
            "utf8",
            "uuid",
            "citext",
            "str",
            "object",
            "enum",
            "dictionary",
        )
    ):
        return "text"
    return "other"


def is_number(value: str) -> bool:
    """True for plain decimal numbers as text (``"12"``, ``"-3.5"``, ``"1,299.99"``, ``"1e-3"``)."""
    return bool(_NUMBER.match(value))


@dataclass(frozen=True)
class ColumnView:
    """A column sample prepared once for every rule: tokens, type family and the non-empty values."""

    sample: ColumnSample

    @cached_property
    def tokens(self) -> tuple[str, ...]:
        """Tokens of the column name."""
        return split_name(self.sample.name)

    @cached_property
    def joined(self) -> str:
        """The column name's tokens joined without separators (``e_mail`` -> ``email``)."""
        return "".join(self.tokens)

    @cached_property
    def table_tokens(self) -> tuple[str, ...]:
        """Tokens of the table name (empty when unknown)."""
        return split_name(self.sample.table) if self.sample.table else ()

    @cached_property
    def family(self) -> TypeFamily:
        """The declared type's family."""
        return type_family(self.sample.data_type)

    @cached_property
    def values(self) -> tuple[str, ...]:
        """Non-null, non-blank sampled values, stripped (at most :data:`MAX_VALUES`)."""
        out: list[str] = []
        for v in self.sample.values[:MAX_VALUES]:
            if v is None:
                continue
            s = str(v).strip()  # str(): tolerate callers that pass numbers despite the type hint
            if s:
                out.append(s)
        return tuple(out)

    @cached_property
    def distinct_ratio(self) -> float:
        """Distinct values / non-empty values (1.0 for an empty sample)."""
        return len(set(self.values)) / len(self.values) if self.values else 1.0

    @cached_property
    def numeric_ratio(self) -> float:
        """Share of non-empty values that parse as numbers."""
        return ratio(self.values, is_number)

    @cached_property
    def numeric(self) -> bool:
        """Declared numeric, or text whose values are (almost) all numbers (CSV feeds)."""
        return self.family in NUMERIC_FAMILIES or (
            self.family in ("text", "other") and bool(self.values) and self.numeric_ratio >= 0.95
        )

    @cached_property
    def mean_words(self) -> float:
        """Mean number of whitespace-separated words per value."""
        return sum(len(v.split()) for v in self.values) / len(self.values) if self.values else 0.0

    @cached_property
    def mean_length(self) -> float:
        """Mean value length in characters."""
        return sum(len(v) for v in self.values) / len(self.values) if self.values else 0.0

    def has_any(self, *words: str) -> bool:
        """True when any of ``words`` is a token of the column name or the joined name itself."""
        return any(w in self.tokens or w == self.joined for w in words)


def ratio(values: Sequence[str], predicate: Callable[[str], object]) -> float:
    """Share of ``values`` for which ``predicate(value)`` is truthy (0.0 for no values)."""
    if not values:
        return 0.0
    return sum(1 for v in values if predicate(v)) / len(values)


def words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text`` as a set (for the fixed word lists)."""
    return frozenset(text.split())
