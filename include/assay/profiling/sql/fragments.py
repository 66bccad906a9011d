"""Per-column SQL fragments: hashes, GROUP BY keys, statement 1's aggregates, the partition predicate.

Pure functions of a column (and a plan): no connection. Identifiers arrive quoted (a column's
``ref`` is ``t."name"``, built with :func:`~assay.profiling.sql.plan.quote_identifier`); the only literals
written here are numbers.
"""

# SQL text on purpose; identifiers come quoted and values are bound parameters.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.types import (
    CHAR,
    JSON,
    REAL,
    BigInteger,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    Numeric,
    SmallInteger,
    String,
    TypeEngine,
    Uuid,
)

from assay.classify.pii_scan import candidate_agg_sql, merge_agg_sql
from assay.profiling.metrics import WHITESPACE, Kind
from assay.profiling.sql.plan import GROUPED, ColumnPlan, Plan, SqlColumn

#: The whitespace trimmed, as bytes (every whitespace character is one ASCII byte).
_BLANKS = "decode('" + WHITESPACE.encode("ascii").hex() + "', 'hex')"
#: Value checks counted in the scan (after statement 1's other fields): name -> condition on the
#: value ``v`` (text checks on ``v::text``).
_NUMBER_CHECKS = {"zero": "{v} = 0", "neg": "{v} < 0"}
# Whitespace trimmed as bytes: in every server encoding an ASCII byte is a whole character
# (multi-byte characters use bytes >= 0x80), so a byte trim is the character trim, without the
# per-character walk and arrays of the multi-byte btrim(text): on 5M rows, two columns of
# 300-700 character text 5.6 -> 2.3 s over the scan, md5 ids and queries 2.3 -> 1.6 s (load 10).
# convert_to(v, 'SQL_ASCII') hands over the stored bytes, whatever the server encoding.
_TEXT_CHECKS = {
    "empty": "{v} = ''",
    "ws": "octet_length(btrim(convert_to({v}, 'SQL_ASCII'), " + _BLANKS + ")) <> octet_length({v})",
}
#: Check fields merged over groups by summing (``pii`` records are joined instead).
CHECK_COUNTS = frozenset({*_NUMBER_CHECKS, *_TEXT_CHECKS})


def check_fields(c: ColumnPlan, ref: str, weight: str | None = None) -> list[tuple[str, str]]:
    """``(name, aggregate)`` of the value checks of one column: zeros and negatives of numbers,
    empty strings, leading/trailing whitespace and the PII candidates of text.

    ``ref`` is the value (a row's column, or a group's key); with ``weight`` each value counts
    that many rows (a group's ``n``).
    """
    kind = c.col.kind
    if kind.numeric:
        checks = _NUMBER_CHECKS
        v = ref
    elif kind is Kind.TEXT:
        checks = _TEXT_CHECKS
        v = f"{ref}::text"
    else:
        return []
    if c.path != GROUPED:  # checks the exact min is expected to prove (a key's are cheap: per value)
        checks = {name: cond for name, cond in checks.items() if name not in c.skip}
    if weight is None:
        fields = [(name, f"count(*) FILTER (WHERE {cond.format(v=v)})") for name, cond in checks.items()]
    else:
        fields = [
            (name, f"coalesce(sum({weight}) FILTER (WHERE {cond.format(v=v)}), 0)")
            for name, cond in checks.items()
        ]
    if kind is Kind.TEXT and c.col.scan_pii:
        fields.append(("pii", candidate_agg_sql(v, weight)))
    return fields


def partition_predicate(ref: str, col_type: TypeEngine[Any], value: Any) -> tuple[str, dict[str, Any]]:
    """`` WHERE`` clause selecting the partition ``ref = value`` and its bound parameters.

    A ``date`` against a timestamp column selects that whole day (UTC for ``timestamptz``); a
    ``date`` against a text column compares with its ISO form.
    """
    if isinstance(col_type, DateTime) and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        start = dt.datetime.combine(value, dt.time())
        if col_type.timezone:
            start = start.replace(tzinfo=dt.UTC)
        return f" WHERE {ref} >= :part_lo AND {ref} < :part_hi", {
            "part_lo": start,
            "part_hi": start + dt.timedelta(days=1),
        }
    if isinstance(col_type, String) and isinstance(value, dt.date):
        value = value.isoformat()
    return f" WHERE {ref} = :part", {"part": value}


def hash_expr(col: SqlColumn, ref: str) -> str:
    """A 64-bit hash of the value, consistent with SQL equality (PostgreSQL's own hash functions).

    Seed 1, not 0: with seed 0 the upper 32 bits of the integer hashes are weakly mixed, and the
    thresholds compare the upper bits (measured on 2M sequential integers: 1.4 % too few hashes
    below the 3 % threshold, 3.5 standard errors; with seed 1 every type stays within 2).
    """
    t = col.sql_type
    if isinstance(t, SmallInteger):
        return f"hashint2extended({ref}, 1)"
    if isinstance(t, BigInteger):
        return f"hashint8extended({ref}, 1)"
    if isinstance(t, Integer):
        return f"hashint4extended({ref}, 1)"
    if isinstance(t, REAL):
        return f"hashfloat4extended({ref}, 1)"
    if isinstance(t, Float):
        return f"hashfloat8extended({ref}::float8, 1)"
    if isinstance(t, Numeric):
        return f"hash_numeric_extended({ref}, 1)"
    if isinstance(t, Enum):
        return f"hashenumextended({ref}, 1)"
    if isinstance(t, CHAR):
        return f"hashbpcharextended({ref}, 1)"
    if isinstance(t, String):
        return f"hashtextextended({ref}, 1)"
    if isinstance(t, DateTime):
        utc = f"({ref} AT TIME ZONE 'UTC')" if t.timezone else ref
        return f"timestamp_hash_extended({utc}, 1)"
    if isinstance(t, Date):
        return f"timestamp_hash_extended({ref}::timestamp, 1)"
    if isinstance(t, Uuid):
        return f"uuid_hash_extended({ref}, 1)"
    if isinstance(t, JSON) and getattr(t, "__visit_name__", "") == "JSONB":
        return f"jsonb_hash_extended({ref}, 1)"
    return f"hashtextextended({ref}::text, 1)"


def key_expr(col: SqlColumn, ref: str) -> str:
    """The value as a GROUP BY key (text for types that may lack equality, such as json)."""
    return f"{ref}::text" if col.kind is Kind.OTHER else ref


def stats_fields(
    c: ColumnPlan, sketch: bool = True, chars: bool = True, checks: bool = True
) -> list[tuple[str, str]]:
    """``(name, aggregate)`` pairs statement 1 computes for one column.

    Args:
        c: the column.
        sketch: add the min/max of the value's hash (the crude distinct estimate).
        chars: text lengths as min/sum/max of ``char_length``; otherwise the sum of
            ``char_length`` and min/sum/max of ``octet_length`` (see
            :func:`~assay.profiling.sql.decode.with_lengths`).
        checks: add the value checks (:func:`check_fields`), after the other figures.
    """
    ref, kind = c.ref, c.col.kind
    fields = [("nn", f"count({ref})")]
    if kind is Kind.BOOLEAN:
        return [*fields, ("true", f"count(NULLIF({ref}, false))")]
    if kind.ordered:
        fields += [("min", f"min({ref})"), ("max", f"max({ref})")]
    if kind.numeric:
        # Integers and reals as float8: avg and stddev_samp then share one transition state.
        # numeric keeps its own (exact) aggregates: casting it costs more.
        arg = ref if kind is Kind.DECIMAL else f"{ref}::float8"
        fields += [("mean", f"avg({arg})"), ("sd", f"stddev_samp({arg})")]
    if kind is Kind.TEXT:
        length = f"char_length({ref}::text)"
        # sum is cheaper than avg; the mean is sum / non-null count.
        if chars:
            fields += [("lmin", f"min({length})"), ("lsum", f"sum({length})"), ("lmax", f"max({length})")]
        else:
            # char_length walks every byte of the value (UTF-8), octet_length reads the
            # length word: three char_length calls per text value cost as much as the
            # count/min/max floor on 5M rows, one plus three octet_length about half that.
            octets = f"octet_length({ref}::text)"
            fields += [
                ("lsum", f"sum({length})"),
                ("omin", f"min({octets})"),
                ("osum", f"sum({octets})"),
                ("omax", f"max({octets})"),
            ]
    if checks:
        fields += check_fields(c, ref)
    if not sketch:
        return fields
    h = hash_expr(c.col, ref)
    return [*fields, ("hmin", f"min({h})"), ("hmax", f"max({h})")]


def single_fields(plan: Plan, c: ColumnPlan) -> list[tuple[str, str]]:
    """Statement 1's aggregates the one statement computes for a column.

    A key column whose values a second statement counts gets its figures from those counts
    (see :func:`key_stats`); the one statement keeps only the min/max a numeric key's
    histogram needs for its edges.
    """
    if plan.split and c.path == GROUPED:
        return [("min", f"min({c.ref})"), ("max", f"max({c.ref})")] if c.col.kind.numeric else []
    # A key column's value checks are computed once per group from its key (merged_stats_ctes).
    chars = plan.chars or c.chars
    return stats_fields(c, sketch=False, chars=chars, checks=not (plan.key_sets and c.path == GROUPED))


def merged_fields(plan: Plan, c: ColumnPlan) -> list[str]:
    """The names of the figures the one statement returns for a column (``f<i>``), in order."""
    if plan.key_sets and not plan.split:
        return [name for name, _ in stats_fields(c, sketch=False, chars=plan.chars or c.chars)]
    return [name for name, _ in single_fields(plan, c)]


def key_stats(c: ColumnPlan, own: str) -> str:
    """Statement 1's figures of a key column, from its value counts (the rows of ``g`` in ``own``).

    Exact like the per-row aggregates: counts and length sums weighted by each value's
    count, the mean as the weighted sum over the count, the variance from each value's
    squared offset to that mean; computed once per distinct value instead of once per row.
    """
    k, rows = f"g.k{c.idx}", f"FROM g WHERE g.k{c.idx} IS NOT NULL{own}"
    kind = c.col.kind
    exprs = []
    for name, _ in stats_fields(c, sketch=False):
        if name == "nn":
            exprs.append(f"(SELECT coalesce(sum(g.n), 0)::bigint {rows})")
        elif name in ("min", "max"):
            exprs.append(f"(SELECT {name}({k}) {rows})")
        elif name == "mean":
            x = k if kind is Kind.DECIMAL else f"{k}::float8"
            exprs.append(f"(SELECT sum(g.n * {x}) / sum(g.n) {rows})")
        elif name == "sd":
            x = k if kind is Kind.DECIMAL else f"{k}::float8"
            cast = "numeric" if kind is Kind.DECIMAL else "float8"
            exprs.append(
                f"(SELECT sqrt(sum(g.n * ({x} - mu.v) * ({x} - mu.v)) / nullif(sum(g.n) - 1, 0)::{cast}) "
                f"FROM g, (SELECT sum(g.n * {x}) / sum(g.n) AS v {rows}) AS mu "
                f"WHERE g.k{c.idx} IS NOT NULL{own})"
            )
        elif name in ("lmin", "lmax"):
            exprs.append(f"(SELECT {name[1:]}(char_length({k}::text)) {rows})")
        elif name == "lsum":
            exprs.append(f"(SELECT sum(g.n * char_length({k}::text)) {rows})")
    # Value checks once per distinct value, weighted by its count.
    exprs += [f"(SELECT {agg} {rows})" for _, agg in check_fields(c, k, weight="g.n")]
    return f"json_build_array({', '.join(exprs)}) AS f{c.idx}"


def merged_stats_ctes(plan: Plan) -> list[str]:
    """``s0`` (row count, exact means) and ``st`` (every column's statement-1 figures) over the groups.

    Counts and sums add up, min/max are the groups' min/max, and the sample variance is
    combined exactly from the groups' counts, means and variances (the parallel form of
    Welford's update: within-group sums of squares plus each group's mean offset squared).
    """
    own = " WHERE g.gs0 = 0" if len(plan.key_sets) > 1 else ""
    means = ["sum(g.n) AS n"]
    merged = ["min(s0.n) AS n"]
    for c in plan.columns:
        names = [name for name, _ in stats_fields(c, sketch=False, chars=plan.chars or c.chars)]
        col = {name: f"g.a{c.idx}_{j}" for j, (name, _) in enumerate(single_fields(plan, c))}
        if c.path == GROUPED:
            # A key's value checks from the key, once per group of its own set.
            mine = f" AND g.gs{c.key_set} = 0" if len(plan.key_sets) > 1 else ""
            for name, agg in check_fields(c, f"g.k{c.idx}", weight="g.n"):
                col[name] = f"(SELECT {agg} FROM g WHERE g.k{c.idx} IS NOT NULL{mine})"
        cast = "numeric" if c.col.kind is Kind.DECIMAL else "float8"
        if "mean" in col:
            means.append(
                f"sum({col['nn']} * {col['mean']}) / nullif(sum({col['nn']}), 0)::{cast} AS m{c.idx}"
            )
        exprs = []
        for name in names:
            a = col[name]
            if name in ("nn", "true"):
                exprs.append(f"sum({a})::bigint")
            elif name in ("min", "lmin", "omin"):
                exprs.append(f"min({a})")
            elif name in ("max", "lmax", "omax"):
                exprs.append(f"max({a})")
            elif name in ("lsum", "osum"):
                exprs.append(f"sum({a})")
            elif a.startswith("(SELECT"):
                exprs.append(f"min({a})")  # a key's check, one value over the groups
            elif name in CHECK_COUNTS:
                exprs.append(f"sum({a})::bigint")
            elif name == "pii":
                exprs.append(merge_agg_sql(a))
            elif name == "mean":
                exprs.append(f"min(s0.m{c.idx})")
            elif name == "sd":
                nn, mean, mu = col["nn"], col["mean"], f"s0.m{c.idx}"
                within = f"sum(({nn} - 1) * coalesce({a} * {a}, 0))"
                between = f"sum({nn} * ({mean} - {mu}) * ({mean} - {mu}))"
                exprs.append(f"sqrt(greatest(0, ({within} + {between}) / nullif(sum({nn}) - 1, 0)::{cast}))")
        merged.append(f"json_build_array({', '.join(exprs)}) AS f{c.idx}")
    return [
        f"s0 AS (SELECT {', '.join(means)} FROM g{own})",
        f"st AS (SELECT {', '.join(merged)} FROM g CROSS JOIN s0{own})",
    ]
