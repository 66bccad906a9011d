"""Decoding: statement rows to figures on a new plan, and a plan with its result rows to metric values.

Pure: each step takes a frozen :class:`~assay.profiling.sql.plan.Plan` (or its columns) and a
result row (a mapping) and returns a new value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from assay.classify.pii_scan import decode as decode_pii
from assay.profiling.metrics import (
    TOP_K,
    Kind,
    base_metrics,
    boolean_metrics,
    clamp_distinct,
    empty_metrics,
    exact_key,
    histogram_from_counts,
    is_finite_number,
    json_number,
    json_scalar,
    quantile_dict,
    sampled_top_values,
    set_key_flag,
    top_values,
)
from assay.profiling.sql.fragments import merged_fields, stats_fields
from assay.profiling.sql.generate import as_float
from assay.profiling.sql.plan import GROUPED, HASHED, WHOLE, ColumnPlan, Plan, kmv2


@dataclass
class PartitionProfile:
    """Metrics of every column of one partition, plus how they were obtained."""

    row_count: int
    columns: dict[str, dict[str, Any]]
    stats: dict[str, Any] = field(default_factory=dict)
    data_types: dict[str, str] = field(default_factory=dict)


def with_lengths(c: ColumnPlan) -> ColumnPlan:
    """Text lengths from byte lengths when every character is one byte.

    ``char_length <= octet_length`` value by value, so equal sums mean equal lengths in every
    row, and the byte min/max are the character min/max. Otherwise a later statement computes
    the character min/max (``chars_pending``).
    """
    f = c.first
    if "omin" not in f:
        return c
    if f.get("lsum") == f.get("osum"):
        return replace(c, first={**f, "lmin": f.get("omin"), "lmax": f.get("omax")})
    return replace(c, chars_pending=True)


def statement1(columns: tuple[ColumnPlan, ...], row: Mapping[str, Any]) -> tuple[int, tuple[ColumnPlan, ...]]:
    """The row count and each column's figures and distinct estimate from statement 1's row."""
    out = []
    for c in columns:
        names = [name for name, _ in stats_fields(c, chars=False)]
        first = dict(zip(names, row[f"c{c.idx}"], strict=True))
        non_null = int(first["nn"])
        c = with_lengths(replace(c, first=first, non_null=non_null))
        out.append(replace(c, d_est=min(kmv2(first.get("hmin"), first.get("hmax")), float(non_null))))
    return int(row["n"]), tuple(out)


def one_statement(plan: Plan, shape: Mapping[str, Any]) -> Plan:
    """The row count and each column's statement-1 figures from the one statement's row."""
    columns = []
    for c in plan.columns:
        first = dict(zip(merged_fields(plan, c), shape[f"f{c.idx}"], strict=True))
        # A counted key's non-null count comes from the second statement.
        columns.append(with_lengths(replace(c, first=first, non_null=int(first.get("nn") or 0))))
    return replace(plan, n=int(shape["n"] or 0), columns=tuple(columns))


def proven_checks(plan: Plan) -> Plan:
    """Zeros and negatives the exact min proves (``min > 0``: none of either; ``min = 0``: no
    negatives), for the checks the scan left out (``c.skip``); a column whose min proves them
    keeps no ``skip``, the others still need :func:`counted_checks`."""
    columns = []
    for c in plan.columns:
        if c.skip:
            low = c.first.get("min")
            proven: dict[str, int] = {}
            if c.non_null == 0:
                proven = {"zero": 0, "neg": 0}
            elif low is not None:  # NaN proves nothing
                x = float(low)
                proven = {"zero": 0, "neg": 0} if x > 0 else ({"neg": 0} if x == 0 else {})
            if c.skip <= proven.keys():
                c = replace(c, first={**c.first, **{k: proven[k] for k in c.skip}}, skip=frozenset())
        columns.append(c)
    return replace(plan, columns=tuple(columns))


def counted_checks(plan: Plan, row: Mapping[str, Any]) -> Plan:
    """Zeros and negatives of the columns :func:`proven_checks` left, from the checks statement (``v<i>``)."""
    columns = []
    for c in plan.columns:
        if c.skip:
            zero, neg = row[f"v{c.idx}"]
            c = replace(c, first={**c.first, "zero": zero, "neg": neg}, skip=frozenset())
        columns.append(c)
    return replace(plan, columns=tuple(columns))


def pending_lengths(plan: Plan, row: Mapping[str, Any]) -> Plan:
    """Character length min/max of multi-byte text, from a later statement's ``lc<i>``."""
    columns = []
    for c in plan.columns:
        if c.chars_pending:
            lmin, lmax = row.get(f"lc{c.idx}") or (None, None)
            c = replace(c, first={**c.first, "lmin": lmin, "lmax": lmax})
        columns.append(c)
    return replace(plan, columns=tuple(columns))


def group_counts(plan: Plan, counts: Mapping[str, Any]) -> Plan:
    """Key columns' figures from the counts statement (their values counted, not scanned)."""
    plan = pending_lengths(plan, counts)
    columns = []
    for c in plan.columns:
        if c.path == GROUPED:
            names = [name for name, _ in stats_fields(c, sketch=False)]
            first = dict(zip(names, counts[f"f{c.idx}"], strict=True))
            c = replace(c, first=first, non_null=int(first["nn"] or 0))
        columns.append(c)
    return replace(plan, columns=tuple(columns))


def short_of_hashes(plan: Plan, shape: Mapping[str, Any], minimum: int) -> list[str]:
    """Columns hashed below a threshold that kept fewer than ``minimum`` hashes (estimate too high).

    A column whose share the plan capped at its hash budget (values repeated more than rows /
    budget times) asks for its own, smaller ``guard``: its error is stated from what it kept.
    """
    return [
        c.col.name
        for c in plan.columns
        if c.path == HASHED
        and c.threshold is not None
        and int((shape.get(f"c{c.idx}") or [0])[0] or 0) < (minimum if c.guard is None else min(minimum, c.guard))
    ]


def profile(
    plan: Plan, shape: Mapping[str, Any], stats: dict[str, Any], unique: frozenset[str] = frozenset()
) -> PartitionProfile:
    """The partition's metrics, column by column, with ``stats`` saying how they were obtained.

    ``unique``: columns a unique index covers alone (proven keys when never null).
    """
    columns = {c.col.name: metrics(plan, c, shape, c.col.name in unique) for c in plan.columns}
    return PartitionProfile(
        row_count=plan.n,
        columns=columns,
        stats={"engine": "postgresql", "row_count": plan.n, **stats},
        data_types={c.col.name: c.col.data_type for c in plan.columns},
    )


def metrics(
    plan: Plan, c: ColumnPlan, shape: Mapping[str, Any], unique_index: bool = False
) -> dict[str, Any]:
    """One column's metrics (see :mod:`assay.profiling.metrics`) from its figures and ``c<i>``."""
    n, kind = plan.n, c.col.kind
    if kind is Kind.BOOLEAN:
        return boolean_metrics(n, c.non_null, int(c.first.get("true") or 0))
    if c.non_null == 0:
        return _checks(empty_metrics(kind, n), c)
    m = base_metrics(kind, n, c.non_null)
    f = c.first
    if kind.ordered:
        m["min"], m["max"] = json_scalar(f.get("min"), kind), json_scalar(f.get("max"), kind)
    if kind.numeric:
        m["mean"], m["stddev"] = json_number(f.get("mean")), json_number(f.get("sd"))
    if kind is Kind.TEXT:
        m["length"] = {"min": f.get("lmin"), "mean": int(f["lsum"]) / c.non_null, "max": f.get("lmax")}
    _checks(m, c)
    k, sampled_n, quants, tops, hist, kept = [*(shape.get(f"c{c.idx}") or []), *[None] * 6][:6]
    sampled_n = int(sampled_n or 0)
    exact = plan.exact
    scale = c.non_null / sampled_n if sampled_n else 0.0
    if c.path == GROUPED:
        rows = [r for r in shape.get("grouped") or [] if r[0] == c.idx]
        m["top_values"] = top_values((v, n_) for _, v, n_, _ in rows)
        m["distinct"] = int(rows[0][3]) if rows else 0
        m.update(distinct_is_approx=False, distinct_error=0.0, distinct_method="group_by")
        m["top_values_method"] = "group_by"
        exact_key(m)
    elif c.path == WHOLE:
        distinct, ranked = tops or (0, None)
        m["top_values"] = top_values((v, n_) for v, n_ in ranked or [])
        m.update(
            distinct=int(distinct), distinct_is_approx=False, distinct_error=0.0, distinct_method="exact"
        )
        exact_key(m)
    elif c.path == HASHED:
        _hashed(m, c, int(k or 0), kept, tops, exact, sampled_n, scale)
    if unique_index and not m["null_count"] and m["row_count"]:
        set_key_flag(m, proven_unique=True, method="unique_index")
    if kind.numeric:
        m["quantiles"] = quantile_dict(quants)
        m["quantiles_is_approx"] = not exact
        m["histogram"] = histogram(c, hist, exact, scale)
    if not exact and c.sample_pos:
        m["sample_rows"] = sampled_n
    return m


def _checks(m: dict[str, Any], c: ColumnPlan) -> dict[str, Any]:
    """The value checks' counts (zeros, negatives, empty, whitespace) and the PII scan's verdict."""
    f = c.first
    if c.col.kind.numeric:
        m["zeros"], m["negatives"] = int(f.get("zero") or 0), int(f.get("neg") or 0)
    elif c.col.kind is Kind.TEXT:
        m["empty"], m["whitespace"] = int(f.get("empty") or 0), int(f.get("ws") or 0)
        if c.col.scan_pii:
            m["pii_values"] = decode_pii(f.get("pii"))
    return m


def _hashed(
    m: dict[str, Any],
    c: ColumnPlan,
    k: int,
    kept: Any,
    tops: Any,
    exact: bool,
    sampled_n: int,
    scale: float,
) -> None:
    """Distinct count, top values and the key flag of a hashed column.

    Every hash kept (``threshold`` None): the distinct count is exact and the top values are
    counted from the hashes. Hashes kept below a threshold: the distinct count is estimated
    and bounded by what is possible, and the top values come from the row sample only when
    each has enough hits (:func:`~assay.profiling.metrics.sampled_top_values`).
    """
    most, total = (kept or [None, 0])[:2]
    most, total = int(most or 0), int(total or 0)
    if c.threshold is None:
        m.update(distinct=k, distinct_is_approx=False, distinct_error=0.0, distinct_method="hash")
        listed = []
        for v, n_ in tops or []:
            if v is None:  # a hash the row sample never saw: what follows may not be next
                break
            listed.append((v, int(n_)))
        m["top_values"] = top_values(listed)
        m["top_values_is_approx"] = False
        m["top_values_method"] = "hash_counts"
        m["max_repeats"] = {"value": most, "is_approx": False, "method": "hash_counts"}
        if len(listed) < min(TOP_K, k):
            m["top_values_note"] = (
                f"values counted from every hash; only the ones the row sample saw are listed "
                f"(the most frequent occurs {most:,} times)"
            )
        exact_key(m)
        return
    m.update(
        distinct_is_approx=True,
        distinct_error=math.sqrt((1 - c.p) / max(k, 1)),
        distinct_method="hash_threshold",
        distinct_sample={"hashes": k, "fraction": c.p, "most_repeated": most, "kept_rows": total},
    )
    clamp_distinct(m, c.col.kind, k / c.p, k)
    if exact:
        m["top_values"] = top_values((v, int(n_)) for v, n_ in tops or [])
        m["top_values_is_approx"] = False
        m["top_values_method"] = "exact"
    else:
        sampled_top_values(m, tops, sampled_n / c.non_null if c.non_null else 0.0, scale)
        if "max_repeats" in m and most:
            m["max_repeats"]["lower_bound"] = most  # kept values' exact counts
    if total > k or any(int(n_) > 1 for _, n_ in tops or []):
        # A kept hash seen twice is a value seen twice (every occurrence is kept); a value hit
        # twice by the row sample repeats too.
        set_key_flag(m, proven_unique=False, method="hash_duplicates" if total > k else "sample_duplicates")
    else:
        set_key_flag(m, proven_unique=None, method="unproven")


def histogram(c: ColumnPlan, buckets: Any, exact: bool, scale: float) -> dict[str, Any] | None:
    """The histogram from ``[[bucket, count], ...]`` (edges: the column's min and max)."""
    lo, hi = as_float(c.first.get("min")), as_float(c.first.get("max"))
    if not (is_finite_number(lo) and is_finite_number(hi)):
        return None
    assert lo is not None and hi is not None
    if lo == hi:
        return histogram_from_counts(lo, hi, {0: c.non_null}, is_approx=False)
    counts = {int(b) - 1: (int(n) if exact else round(int(n) * scale)) for b, n in buckets or []}
    return histogram_from_counts(lo, hi, counts, is_approx=not exact)
