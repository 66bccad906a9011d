"""What one column's profile metrics say, read the same way by every suggestion rule.

The accessors tolerate profiles of every age: counts spelled ``zeros`` or ``zero_count``, an exact
distinct count or the profiler's ``looks_like_key``, ``length.{min,max}`` or ``min_length``. Key-likeness
(:func:`is_key_like`) is stricter than "unique and complete": a price that happens to be unique in
one partition is no key, so a key also needs a key name or a fixed-length text code. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assay.quality.shapes import RARE, Format

#: Fewest non-null values (over all runs) an exact rule (unique, format, sign, set) rests on.
MIN_VALUES = 20
#: Name parts that mark an identifier (a key) rather than a measurement.
KEY_HINTS = ("id", "key", "code", "uuid", "guid", "sku", "ean", "gtin", "isbn", "no", "nr", "num", "number")


@dataclass(frozen=True)
class ColumnEvidence:
    """One column: its metrics in each profiled partition (oldest first) and its newest value shapes.

    Attributes:
        kind: the profile's kind (integer, float, decimal, text, boolean, date, timestamp, other).
        runs: the ``column_metrics.metrics`` of each run that profiled the column.
        shapes: ``{shape: count}`` of the newest partition's non-null values (``None``: unknown).
        coarse_shapes: the same with letters and digits merged (``X``), for mixed codes.
        pii: the column's values must not appear in the suite (bounds and sets are skipped).
        format: a format already counted over the whole partition (large partitions: no shapes).
    """

    name: str
    kind: str
    runs: tuple[Mapping[str, Any], ...]
    shapes: Mapping[str, int] | None = None
    coarse_shapes: Mapping[str, int] | None = None
    pii: bool = False
    format: Format | None = None


def number(value: Any) -> float | None:
    """A finite number as float (``None`` for booleans, text, NaN and infinities)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def count(m: Mapping[str, Any], *keys: str) -> int | None:
    """The first of ``keys`` present as a number (profiles of different ages spell counts differently)."""
    for key in keys:
        value = number(m.get(key))
        if value is not None:
            return int(value)
    return None


def non_null(m: Mapping[str, Any]) -> int:
    """Non-null values of one run's metrics."""
    nn = count(m, "non_null_count")
    if nn is None:
        rows, nulls = count(m, "row_count"), count(m, "null_count")
        nn = (rows or 0) - (nulls or 0)
    return max(nn, 0)


def null_ratio(m: Mapping[str, Any]) -> float | None:
    ratio = number(m.get("null_ratio"))
    if ratio is None:
        rows, nulls = count(m, "row_count"), count(m, "null_count")
        ratio = nulls / rows if rows and nulls is not None else None
    return ratio


def name_hints_key(column: str) -> bool:
    """Whether the column's name reads like an identifier (``id``, ``order_id``, ``SkuCode``)."""
    parts = [p for p in re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", column).lower()) if p]
    return bool(parts) and (parts[-1] in KEY_HINTS or parts[0] in ("id", "uuid", "sku"))


def is_unique(runs: Sequence[Mapping[str, Any]]) -> bool:
    """Unique and complete in every run, counted exactly (or flagged ``looks_like_key`` by the profiler)."""
    for m in runs:
        if m.get("looks_like_key") is True:
            continue
        if m.get("looks_like_key") is False:
            return False
        nn, rows, distinct = non_null(m), count(m, "row_count"), count(m, "distinct_exact", "distinct")
        approx = m.get("distinct_is_approx") and count(m, "distinct_exact") is None
        if approx or not nn or rows != nn or distinct != nn:
            return False
    return bool(runs)


def is_key_like(col: ColumnEvidence) -> bool:
    """A column that identifies rows: unique, complete, of a key kind, with a key name or a code format."""
    if col.kind not in ("integer", "text", "other") or not is_unique(col.runs):
        return False
    if sum(non_null(m) for m in col.runs) < MIN_VALUES:
        return False
    return name_hints_key(col.name) or (col.kind != "integer" and fixed_length(col.runs) is not None)


def duplicates(col: ColumnEvidence) -> int | None:
    """Repeats in a key-named, complete column that is all but unique (at most :data:`RARE` repeats).

    ``None`` when the column is not such an almost-key (distinct counts must be exact).
    """
    if col.kind not in ("integer", "text", "other") or not name_hints_key(col.name):
        return None
    dupes = 0
    for m in col.runs:
        nn, rows = non_null(m), count(m, "row_count")
        distinct = count(m, "distinct_exact") if m.get("distinct_is_approx") else count(m, "distinct")
        if distinct is None or not nn or rows != nn:
            return None
        dupes += nn - distinct
    nn = sum(non_null(m) for m in col.runs)
    return dupes if 0 < dupes <= RARE * nn and nn >= MIN_VALUES else None


def fixed_length(runs: Sequence[Mapping[str, Any]]) -> int | None:
    """The one length every text value had in every run (``None``: lengths vary or are unknown)."""
    lengths = set()
    for m in runs:
        if not non_null(m):
            continue
        length = m.get("length") if isinstance(m.get("length"), dict) else {}
        lo = count(length, "min") if length else count(m, "min_length")
        hi = count(length, "max") if length else count(m, "max_length")
        if lo is None or hi is None or lo != hi:
            return None
        lengths.add(lo)
    return lengths.pop() if len(lengths) == 1 else None


# ---- building expectations ----------------------------------------------------------------------
