"""Profiling an Arrow table (a landing file) with pyarrow.compute: the same metrics as SQL, exact.

A file is one partition and is already in memory once read (files are supplier feeds of at most
a few million rows), so every metric is computed exactly: distinct with ``count_distinct``,
quantiles with ``quantile(interpolation="linear")`` (PostgreSQL's ``percentile_cont``), top
values with ``value_counts``. Values are never converted to Python objects column-wide; only the
handful of results are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.classify.pii_scan import (
    DIGITS_CANDIDATE,
    EMAIL_CANDIDATE,
    IPV6_CANDIDATE,
    MAX_CANDIDATE_CHARS,
    PLAIN_VALUE,
    count_values,
)
from assay.profiling.metrics import (
    HISTOGRAM_BUCKETS,
    QUANTILES,
    WHITESPACE,
    Kind,
    as_text,
    base_metrics,
    boolean_metrics,
    empty_metrics,
    exact_key,
    histogram_from_counts,
    json_number,
    json_scalar,
    mask_metrics,
    quantile_dict,
    top_values,
)


def arrow_kind(data_type: pa.DataType) -> Kind:
    """The profiling kind of an Arrow type (dictionary columns by their value type)."""
    if pa.types.is_dictionary(data_type):
        return arrow_kind(data_type.value_type)
    if pa.types.is_boolean(data_type):
        return Kind.BOOLEAN
    if pa.types.is_integer(data_type):
        return Kind.INTEGER
    if pa.types.is_floating(data_type):
        return Kind.FLOAT
    if pa.types.is_decimal(data_type):
        return Kind.DECIMAL
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return Kind.TEXT
    if pa.types.is_timestamp(data_type):
        return Kind.TIMESTAMP
    if pa.types.is_date(data_type):
        return Kind.DATE
    return Kind.OTHER


def profile_arrow(
    table: pa.Table, *, pii: Mapping[str, str] | None = None, pii_values: bool = True
) -> dict[str, dict[str, Any]]:
    """Metrics of every column of ``table`` (see :mod:`assay.profiling.metrics`), exact.

    Args:
        table: the partition (one landing file).
        pii: ``{column: pii label}``; those columns' values are masked before they are returned.
        pii_values: screen every text value of the other columns for PII (counts and masked
            examples in ``pii_values``; see :mod:`assay.classify.pii_scan`).

    Returns:
        ``{column name: metrics}`` in column order.
    """
    out: dict[str, dict[str, Any]] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        label = (pii or {}).get(name)
        metrics = _column(column, table.num_rows, scan_pii=pii_values and not label)
        out[name] = mask_metrics(metrics, label) if label else metrics
    return out


def _column(column: pa.ChunkedArray, rows: int, scan_pii: bool = True) -> dict[str, Any]:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    kind = arrow_kind(column.type)
    non_null = rows - column.null_count
    if kind is Kind.BOOLEAN:
        trues = int(pc.sum(column.cast(pa.int64())).as_py() or 0)
        return boolean_metrics(rows, non_null, trues)
    if non_null == 0:
        return empty_metrics(kind, rows)
    m = base_metrics(kind, rows, non_null)
    valid = column.drop_null()
    if kind is Kind.TEXT:
        _text_checks(m, valid, scan_pii)
    if kind is Kind.OTHER:
        # Lists, structs, binary: compared by their text form, as the SQL profiler does.
        valid = pa.chunked_array([pa.array([as_text(v) for v in valid.to_pylist()], pa.string())])
    m["distinct"] = int(pc.count_distinct(valid, mode="only_valid").as_py())
    m["distinct_method"] = "exact"
    exact_key(m)
    counts = pc.value_counts(valid)
    m["top_values"] = top_values(
        (as_text(v), int(c))
        for v, c in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    )
    if kind.ordered:
        mm = pc.min_max(valid)
        m["min"], m["max"] = json_scalar(mm["min"].as_py(), kind), json_scalar(mm["max"].as_py(), kind)
    if kind is Kind.TEXT:
        lengths = pc.utf8_length(valid)
        lmm = pc.min_max(lengths)
        m["length"] = {
            "min": lmm["min"].as_py(),
            "mean": pc.mean(lengths).as_py(),
            "max": lmm["max"].as_py(),
        }
    if kind.numeric:
        _numeric(m, valid)
    return m


def _numeric(m: dict[str, Any], valid: pa.ChunkedArray) -> None:
    if pa.types.is_decimal(valid.type):
        # Through text: Arrow's decimal-to-float cast is not correctly rounded, PostgreSQL's is.
        valid = valid.cast(pa.string())
    values = valid.cast(pa.float64())
    m["zeros"] = int(pc.sum(pc.equal(values, 0.0)).as_py() or 0)
    m["negatives"] = int(pc.sum(pc.less(values, 0.0)).as_py() or 0)
    m["mean"] = json_number(pc.mean(values).as_py())
    m["stddev"] = json_number(pc.stddev(values, ddof=1).as_py()) if len(values) > 1 else None
    qs = pc.quantile(values, q=[q for _, q in QUANTILES], interpolation="linear").to_pylist()
    m["quantiles"] = quantile_dict(qs)
    lo, hi = m["min"], m["max"]
    if not (isinstance(lo, int | float) and isinstance(hi, int | float)):
        m["histogram"] = None  # NaN or infinite bounds: no equal-width buckets
        return
    lo, hi = float(lo), float(hi)
    if lo == hi:
        m["histogram"] = histogram_from_counts(lo, hi, {0: len(values)}, is_approx=False)
        return
    arr = values.to_numpy()
    # PostgreSQL's width_bucket arithmetic (see metrics.bucket_of), vectorised.
    idx = np.floor(HISTOGRAM_BUCKETS * ((arr - lo) / (hi - lo))).astype(np.int64)
    idx = np.clip(np.where(arr >= hi, HISTOGRAM_BUCKETS - 1, idx), 0, HISTOGRAM_BUCKETS - 1)
    counts = np.bincount(idx, minlength=HISTOGRAM_BUCKETS)
    m["histogram"] = histogram_from_counts(lo, hi, dict(enumerate(counts.tolist())), is_approx=False)


_BLANK = "[" + "".join(f"\\x{ord(ch):02x}" for ch in WHITESPACE) + "]"


def _matches(values: pa.ChunkedArray, pattern: str) -> pa.ChunkedArray:
    return pc.match_substring_regex(values, pattern=pattern)


def pii_candidates(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Which non-null text ``values`` are PII candidates: SQL's :func:`~assay.classify.pii_scan.candidate_sql` in RE2."""
    email = pc.and_(_matches(values, "@"), _matches(values, EMAIL_CANDIDATE))
    ipv6 = pc.and_(_matches(values, ":"), _matches(values, IPV6_CANDIDATE))
    digits = pc.and_(_matches(values, DIGITS_CANDIDATE), pc.invert(_matches(values, PLAIN_VALUE)))
    return pc.or_(pc.or_(email, ipv6), digits)


def _text_checks(m: dict[str, Any], valid: pa.ChunkedArray, scan_pii: bool) -> None:
    """Empty strings, leading/trailing whitespace and the value-level PII scan, as SQL computes them.

    The PII candidates are found with the SQL profiler's patterns (RE2 here) and judged in Python
    (:func:`assay.classify.pii_scan.count_values`), once per distinct candidate.
    """
    m["empty"] = int(pc.sum(pc.equal(valid, "")).as_py() or 0)
    m["whitespace"] = int(pc.sum(_matches(valid, f"^{_BLANK}|{_BLANK}$")).as_py() or 0)
    if not scan_pii:
        return
    candidates = valid.filter(pii_candidates(valid))
    counts = pc.value_counts(pc.utf8_slice_codeunits(candidates, 0, MAX_CANDIDATE_CHARS))
    pairs = zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    m["pii_values"] = count_values((str(v), int(n)) for v, n in pairs)
