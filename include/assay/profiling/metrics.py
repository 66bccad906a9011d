"""The metric set every profile carries, shared by the SQL and the Arrow profilers.

One column's metrics are a JSON object (stored in ``column_metrics.metrics``)::

    kind                 integer | float | decimal | text | boolean | date | timestamp | other
    row_count            rows in the partition
    non_null_count, null_count, null_ratio   (null_ratio is None for an empty partition)
    distinct             distinct non-null values
    distinct_is_approx   False when counted exactly
    distinct_error       relative standard error of ``distinct`` (0.0 when exact)
    distinct_method      exact | group_by | hash | hash_threshold  (see docs/profiling.md)
    min, max             numbers as JSON numbers, dates/timestamps as ISO text, text as text
    mean, stddev         numbers and booleans (share of true); stddev is the sample one (n - 1)
    quantiles            {p01, p05, p25, p50, p75, p95, p99}: linear interpolation (percentile_cont)
    quantiles_is_approx  True when computed on a row sample
    length               {min, mean, max} in characters, text only
    top_values           up to 10 [{value, count}], most frequent first, ties by value (text order)
    top_values_is_approx True when counted on a row sample (counts scaled to the partition)
    histogram            {edges: 21 numbers, counts: 20 ints, is_approx}; numbers only
    true_count           booleans only
    pii, masked          set on PII columns: their raw values never leave this module unmasked
    zeros, negatives     numbers: values equal to 0, values below 0 (exact)
    empty, whitespace    text: empty strings, values with leading or trailing whitespace (exact)
    looks_like_key       True: unique and never null, proven (exact distinct count, or a unique
                         index); False: proven not (a null, or a value seen twice); None: unproven
    top_values_method    exact | group_by | hash_counts | row_sample; row_sample values had at least
                         MIN_SAMPLE_HITS sample hits, ``top_values_error`` is the worst relative error
    max_repeats          {value, is_approx, method[, error, lower_bound]}: the most any value repeats
    top_values_note      why fewer than TOP_K values are listed ("no value repeats more than ~N
                         times (estimated)")
    pii_values           text: {kind: {count, examples_masked}} from the value-level PII scan

Everything here is pure Python so both profilers, the anomaly detector and the tests agree on
definitions (the histogram's bucket rule, the quantile labels, what masking removes).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

#: Quantiles reported for numeric columns, by label.
QUANTILES: tuple[tuple[str, float], ...] = (
    ("p01", 0.01),
    ("p05", 0.05),
    ("p25", 0.25),
    ("p50", 0.50),
    ("p75", 0.75),
    ("p95", 0.95),
    ("p99", 0.99),
)
#: Buckets of the equal-width histogram of numeric columns.
HISTOGRAM_BUCKETS = 20
#: Most frequent values kept per column.
TOP_K = 10
#: Sample hits a value needs before a row sample may report its count: the count's relative
#: standard error is then at most ``sqrt(1 / 30)`` (18 %).
MIN_SAMPLE_HITS = 30
#: Whitespace counted at either end of a text (the ASCII blanks: space, tab, LF, VT, FF, CR).
WHITESPACE = " \t\n\x0b\x0c\r"


class Kind(StrEnum):
    """How a column is profiled; decided from its SQL or Arrow type."""

    INTEGER = "integer"
    FLOAT = "float"
    DECIMAL = "decimal"
    TEXT = "text"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"
    OTHER = "other"

    @property
    def numeric(self) -> bool:
        return self in (Kind.INTEGER, Kind.FLOAT, Kind.DECIMAL)

    @property
    def ordered(self) -> bool:
        """Whether min/max are meaningful (and cheap) for this kind."""
        return self is not Kind.OTHER


def bucket_of(value: float, lo: float, hi: float, buckets: int = HISTOGRAM_BUCKETS) -> int:
    """0-based bucket of ``value`` in ``buckets`` equal-width buckets over ``[lo, hi]``.

    The same arithmetic as PostgreSQL's ``width_bucket(value, lo, hi, buckets)`` (minus one), with
    ``hi`` itself in the last bucket, so the SQL and the Arrow histograms agree to the last value.
    """
    if value >= hi:
        return buckets - 1
    index = int(buckets * ((value - lo) / (hi - lo)))
    return min(max(index, 0), buckets - 1)


def histogram_edges(lo: float, hi: float, buckets: int = HISTOGRAM_BUCKETS) -> list[float]:
    width = (hi - lo) / buckets
    return [lo + i * width for i in range(buckets)] + [hi]


def histogram_from_counts(
    lo: float, hi: float, counts: Mapping[int, int], *, is_approx: bool
) -> dict[str, Any]:
    """The stored histogram from 0-based bucket counts (a single bucket when ``lo == hi``)."""
    if lo == hi:
        return {"edges": [lo, hi], "counts": [sum(counts.values())], "is_approx": is_approx}
    return {
        "edges": histogram_edges(lo, hi),
        "counts": [int(counts.get(i, 0)) for i in range(HISTOGRAM_BUCKETS)],
        "is_approx": is_approx,
    }


def top_values(counts: Iterable[tuple[str, int]], k: int = TOP_K) -> list[dict[str, Any]]:
    """The ``k`` most frequent values, ties broken by the value's text (byte order)."""
    ranked = sorted(counts, key=lambda vc: (-vc[1], vc[0].encode()))
    return [{"value": v, "count": int(c)} for v, c in ranked[:k]]


def as_text(value: Any) -> str:
    """A value as the profiles write it in ``top_values`` (PostgreSQL's text form where it matters)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _float_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def json_number(value: Any) -> Any:
    """A number fit for JSONB: NaN and infinities become text, decimals become floats."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return "NaN" if value.is_nan() else ("Infinity" if value > 0 else "-Infinity")
        value = float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else _float_text(value)
    return value


def json_scalar(value: Any, kind: Kind) -> Any:
    """A min/max value in the form stored for ``kind``."""
    if value is None:
        return None
    if kind.numeric:
        return json_number(value)
    if kind is Kind.BOOLEAN:
        return bool(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def empty_metrics(kind: Kind, row_count: int) -> dict[str, Any]:
    """The metrics of a column with no non-null value (or of an empty partition)."""
    metrics: dict[str, Any] = {
        "kind": kind.value,
        "row_count": row_count,
        "non_null_count": 0,
        "null_count": row_count,
        "null_ratio": 1.0 if row_count else None,
        "distinct": 0,
        "distinct_is_approx": False,
        "distinct_error": 0.0,
        "distinct_method": "exact",
        "min": None,
        "max": None,
        "top_values": [],
        "top_values_is_approx": False,
        "top_values_method": "exact",
        "looks_like_key": False,
        "looks_like_key_method": "exact",
    }
    if kind.numeric or kind is Kind.BOOLEAN:
        metrics.update(mean=None, stddev=None)
    if kind.numeric:
        metrics.update(quantiles=None, quantiles_is_approx=False, histogram=None, zeros=0, negatives=0)
    if kind is Kind.TEXT:
        metrics.update(length=None, empty=0, whitespace=0)
    if kind is Kind.BOOLEAN:
        metrics["true_count"] = 0
    return metrics


def base_metrics(kind: Kind, row_count: int, non_null: int) -> dict[str, Any]:
    """Counts every column has; the profilers fill in the rest."""
    metrics = empty_metrics(kind, row_count)
    metrics.update(
        non_null_count=non_null,
        null_count=row_count - non_null,
        null_ratio=(row_count - non_null) / row_count if row_count else None,
    )
    return metrics


def boolean_metrics(row_count: int, non_null: int, true_count: int) -> dict[str, Any]:
    """All metrics of a boolean column follow from three counts, so they are always exact."""
    metrics = base_metrics(Kind.BOOLEAN, row_count, non_null)
    false_count = non_null - true_count
    present = [(v, c) for v, c in (("true", true_count), ("false", false_count)) if c]
    metrics.update(
        distinct=len(present),
        true_count=true_count,
        min=None if not non_null else false_count == 0,
        max=None if not non_null else true_count > 0,
        mean=true_count / non_null if non_null else None,
        stddev=_bool_stddev(non_null, true_count),
        top_values=top_values(present),
    )
    exact_key(metrics)
    return metrics


def _bool_stddev(n: int, trues: int) -> float | None:
    if n < 2:
        return None
    p = trues / n
    return math.sqrt(p * (1 - p) * n / (n - 1))


def set_key_flag(m: dict[str, Any], *, proven_unique: bool | None, method: str) -> None:
    """``looks_like_key``: unique and never null, only when proven.

    Args:
        m: the column's metrics (``row_count``, ``null_count``, ``distinct`` set).
        proven_unique: True when the values are proven distinct, False when a value is proven to
            repeat, None when neither is known (an estimated distinct count proves nothing).
        method: how it was decided (``exact``, ``group_by``, ``hash``, ``unique_index``,
            ``hash_duplicates``, ``sample_duplicates``, ``unproven``).
    """
    if not m.get("row_count"):
        m.update(looks_like_key=False, looks_like_key_method="exact")
    elif m.get("null_count"):
        m.update(looks_like_key=False, looks_like_key_method="exact")  # a null is no key
    else:
        m.update(looks_like_key=proven_unique, looks_like_key_method=method)


def exact_key(m: dict[str, Any]) -> None:
    """``looks_like_key`` from an exact distinct count."""
    unique = m.get("distinct") == m.get("non_null_count")
    set_key_flag(m, proven_unique=unique, method=str(m.get("distinct_method") or "exact"))


def value_range(kind: Kind, lo: Any, hi: Any) -> int | None:
    """How many distinct values fit between ``lo`` and ``hi`` (integers and dates), else None."""
    if kind is Kind.INTEGER and isinstance(lo, int) and isinstance(hi, int):
        return hi - lo + 1
    if kind is Kind.DATE and isinstance(lo, str) and isinstance(hi, str):
        try:
            return (dt.date.fromisoformat(hi) - dt.date.fromisoformat(lo)).days + 1
        except ValueError:  # 'infinity'
            return None
    return None


def clamp_distinct(m: dict[str, Any], kind: Kind, estimate: float, floor: int) -> None:
    """An estimated ``distinct`` bounded by what is possible: at least ``floor`` (values seen),
    at most the non-null count and, for integers and dates, ``max - min + 1``; the bound that
    applied is named in ``distinct_bound``."""
    bounds = [("non_null_count", int(m.get("non_null_count") or 0))]
    span = value_range(kind, m.get("min"), m.get("max"))
    if span is not None:
        bounds.append(("value_range", span))
    value = round(estimate)
    for name, bound in bounds:
        if value > bound:
            value = bound
            m["distinct_bound"] = name
    if value < floor:
        value, m["distinct_bound"] = floor, "values_seen"
    m["distinct"] = value


def repeat_bound(max_hits: int, fraction: float) -> int:
    """Most times a value can repeat when none was seen more than ``max_hits`` times in a row sample.

    A value occurring ``c`` times is hit about Poisson(``c f``) times; ``c f = h + 1 + 3 sqrt(h + 1)``
    gives at most ``h`` hits with a probability below 0.5 %.
    """
    if fraction <= 0:
        return 0
    h = max(0, max_hits)
    return math.ceil((h + 1 + 3 * math.sqrt(h + 1)) / fraction)


def sampled_top_values(
    m: dict[str, Any], rows: Sequence[Sequence[Any]] | None, fraction: float, scale: float
) -> None:
    """Top values from a row sample: only values with at least :data:`MIN_SAMPLE_HITS` hits.

    ``rows``: ``[value, hits]`` of the most hit values, most hits first (up to :data:`TOP_K`). Counts are hits scaled to the partition; ``top_values_error`` is the largest relative
    standard error among them (``sqrt((1 - f) / hits)``). When fewer than :data:`TOP_K` values
    qualify, ``max_repeats`` bounds every other value and ``top_values_note`` says so.
    """
    kept = [(str(v), int(n)) for v, n in rows or [] if int(n) >= MIN_SAMPLE_HITS][:TOP_K]
    m["top_values"] = [{"value": v, "count": round(n * scale)} for v, n in kept]
    m["top_values_is_approx"] = True
    m["top_values_method"] = "row_sample"
    m["top_values_min_hits"] = MIN_SAMPLE_HITS
    m["top_values_error"] = max((math.sqrt(max(0.0, 1 - fraction) / n) for _, n in kept), default=0.0)
    if len(kept) < TOP_K:
        # Values hit once are not listed (the statement ranks values hit twice or more).
        below = max((int(n) for _, n in rows or [] if int(n) < MIN_SAMPLE_HITS), default=1)
        bound = repeat_bound(below, fraction)
        m["max_repeats"] = {
            "value": round(kept[0][1] * scale) if kept else bound,
            "is_approx": True,
            "method": "row_sample" if kept else "row_sample_bound",
            "error": m["top_values_error"] if kept else None,
        }
        others = "other values repeat" if kept else "no value repeats"
        m["top_values_note"] = f"{others} more than ~{bound:,} times (estimated)"


def quantile_dict(values: Sequence[float] | None) -> dict[str, float] | None:
    if values is None:
        return None
    return {label: json_number(v) for (label, _), v in zip(QUANTILES, values, strict=True)}


def mask_metrics(metrics: dict[str, Any], label: str) -> dict[str, Any]:
    """The metrics of a PII column as they may be stored: no raw value survives.

    ``min``, ``max`` and every top value are masked with :func:`assay.classify.mask_value`;
    quantiles and histogram edges are values too, so they are dropped. Counts, null ratio,
    distinct count and text lengths stay: they describe the column without revealing a value.
    """
    masked = dict(metrics)
    masked["pii"] = label
    masked["masked"] = True
    for key in ("min", "max"):
        if masked.get(key) is not None:
            masked[key] = mask(label, masked[key])
    masked["top_values"] = [
        {"value": mask(label, tv["value"]), "count": tv["count"]} for tv in masked.get("top_values") or []
    ]
    for key in ("quantiles", "histogram", "mean", "stddev"):
        if key in masked:
            masked[key] = None
    return masked


def mask(label: str, value: Any) -> str:
    """One value masked for its PII label."""
    from assay.classify.mask import mask_value

    return mask_value(label, as_text(value))
