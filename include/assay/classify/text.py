"""Small text helpers shared by the PII and semantic rules: name tokens, type families, value views."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Generic, Literal, TypeVar, overload

from assay.classify.base import MAX_VALUES, ColumnSample

T = TypeVar("T")

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


class _lazy(Generic[T]):
    """A computed-once attribute, like ``functools.cached_property`` without its per-call lock.

    On Python 3.11 ``cached_property`` takes a lock on every first access, a visible share of
    rule-based classification's time in profiles. The value is stored in the instance dict, so
    later reads never reach this descriptor.
    """

    def __init__(self, fn: Callable[[Any], T]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _lazy[T]: ...

    @overload
    def __get__(self, obj: object, owner: type[Any]) -> T: ...

    def __get__(self, obj: object | None, owner: type[Any]) -> T | _lazy[T]:
        if obj is None:
            return self
        value = self.fn(obj)
        obj.__dict__[self.name] = value
        return value


@lru_cache(maxsize=4096)
def _name_parts(name: str) -> tuple[tuple[str, ...], str, frozenset[str]]:
    tokens = split_name(name)
    joined = "".join(tokens)
    return tokens, joined, frozenset((*tokens, joined))


_type_family = lru_cache(maxsize=1024)(type_family)


class ColumnView:
    """A column sample prepared once for every rule: tokens, type family and the non-empty values.

    Attributes are computed on first use and kept: a timestamp column never looks at its values.
    """

    sample: ColumnSample
    tokens: tuple[str, ...]
    joined: str

    def __init__(self, sample: ColumnSample) -> None:
        self.sample = sample
        # Column names repeat across tables: split each spelling once per process.
        self.tokens, self.joined, self._name_words = _name_parts(sample.name)

    @_lazy
    def table_tokens(self) -> tuple[str, ...]:
        """Tokens of the table name (empty when unknown)."""
        return _name_parts(self.sample.table)[0] if self.sample.table else ()

    @_lazy
    def family(self) -> TypeFamily:
        """The declared type's family."""
        return _type_family(self.sample.data_type)

    @_lazy
    def values(self) -> tuple[str, ...]:
        """Non-null, non-blank sampled values, stripped (at most :data:`MAX_VALUES`)."""
        # str(): tolerate callers that pass numbers despite the type hint
        stripped = [str(v).strip() for v in self.sample.values[:MAX_VALUES] if v is not None]
        return tuple(s for s in stripped if s)

    @_lazy
    def blob(self) -> str:
        """The values joined by NUL: one regex search over it tells whether *any* value could match."""
        return "\x00".join(self.values)

    @_lazy
    def max_length(self) -> int:
        """Length of the longest value (0 for an empty sample)."""
        return max(map(len, self.values), default=0)

    @_lazy
    def distinct_ratio(self) -> float:
        """Distinct values / non-empty values (1.0 for an empty sample)."""
        return len(set(self.values)) / len(self.values) if self.values else 1.0

    @_lazy
    def numeric_ratio(self) -> float:
        """Share of non-empty values that parse as numbers."""
        return ratio(self.values, is_number)

    @_lazy
    def numeric(self) -> bool:
        """Declared numeric, or text whose values are (almost) all numbers (CSV feeds)."""
        return self.family in NUMERIC_FAMILIES or (
            self.family in ("text", "other") and bool(self.values) and self.numeric_ratio >= 0.95
        )

    @_lazy
    def mean_words(self) -> float:
        """Mean number of whitespace-separated words per value."""
        return sum(len(v.split()) for v in self.values) / len(self.values) if self.values else 0.0

    @_lazy
    def mean_length(self) -> float:
        """Mean value length in characters."""
        return sum(len(v) for v in self.values) / len(self.values) if self.values else 0.0

    def has_any(self, *words: str) -> bool:
        """True when any of ``words`` is a token of the column name or the joined name itself."""
        return not self._name_words.isdisjoint(words)

    def has_word_in(self, words: frozenset[str]) -> bool:
        """:meth:`has_any` for a prepared set of words."""
        return not self._name_words.isdisjoint(words)


def ratio(values: Sequence[str], predicate: Callable[[str], object]) -> float:
    """Share of ``values`` for which ``predicate(value)`` is truthy (0.0 for no values)."""
    if not values:
        return 0.0
    return sum(1 for v in values if predicate(v)) / len(values)


def share_at_least(values: Sequence[str], predicate: Callable[[str], object], threshold: float) -> bool:
    """``ratio(values, predicate) >= threshold``, stopping as soon as the answer is known.

    The final comparison is the same division as :func:`ratio`'s, and the early answers are
    bounds on it (more matches can only raise the share), so the result never differs.
    """
    n = len(values)
    if not n:
        return threshold <= 0.0
    hits = 0
    for seen, v in enumerate(values, 1):
        if predicate(v):
            hits += 1
            if hits / n >= threshold:
                return True
        elif (hits + n - seen) / n < threshold:
            return False
    return hits / n >= threshold


def words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text`` as a set (for the fixed word lists)."""
    return frozenset(text.split())
