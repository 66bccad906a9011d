"""SQL generation: a table and a plan to statements. Pure: no connection, testable without PostgreSQL.

* :func:`probe_sql`: count the partition's rows up to a cap (reads at most cap + 1 rows);
* :func:`explain_sql` and :func:`column_stats_sql`: the planner's row estimate and ``pg_stats``;
* :func:`stats_sql`: statement 1 (count/min/max/mean/stddev/lengths and the hash sketch);
* :func:`shape_sql`: statement 2 of a two-statement plan (its histogram edges as parameters);
* :func:`one_statement_sql`: statement 1's figures and statement 2's reductions in one scan;
* :func:`group_counts_sql`: the key columns' value counts (GROUP BY the keys, ``count(*)`` only);
* :func:`lengths_sql`: character lengths of multi-byte text the one statement measured in bytes;
* :func:`checks_sql`: zeros and negatives the exact min did not prove;
* :func:`result_columns`: how wide the one statement's target lists are (PostgreSQL: 1,664).
"""

# SQL text on purpose; identifiers come quoted and values are bound parameters or numbers.
# ruff: noqa: S608

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from assay.profiling.metrics import HISTOGRAM_BUCKETS, QUANTILES, TOP_K, Kind
from assay.profiling.sql.fragments import (
    hash_expr,
    key_expr,
    key_stats,
    merged_stats_ctes,
    single_fields,
    stats_fields,
)
from assay.profiling.sql.plan import HASHED, NONE, WHOLE, ColumnPlan, Plan, Table

#: PostgreSQL allows 1,664 entries in a target list; keep a margin.
MAX_COLUMNS = 1600
#: Most frequent hashes of an every-hash column matched to the row sample's values for its top values.
HASH_TOPS = 256

#: ``pg_stats`` of a relation (inherited rows first: a partitioned table's own statistics).
COLUMN_STATS_SQL = (
    "SELECT s.attname, s.null_frac, s.n_distinct, "
    # the least number ANALYZE saw (histogram bounds, common values) of a numeric column, or 0
    # when that is no further from 0 than the first histogram bucket is wide (values below it
    # are then likely: ids from 1, prices from 0.01)
    "CASE WHEN a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'float4'::regtype, "
    "'float8'::regtype, 'numeric'::regtype) THEN (SELECT CASE WHEN x.lo > coalesce(x.hb[2] - x.hb[1], 0) "
    "THEN x.lo ELSE least(x.lo, 0) END FROM (SELECT (SELECT min(v) FROM unnest(coalesce(y.hb, '{}') "
    "|| coalesce(y.mcv, '{}')) AS v) AS lo, y.hb FROM (SELECT s.histogram_bounds::text::float8[] AS hb, "
    "s.most_common_vals::text::float8[] AS mcv) AS y) AS x) END, "
    # whether ANALYZE's values (common values, histogram bounds) hold a multi-byte character
    "octet_length(coalesce(s.most_common_vals::text, '') || coalesce(s.histogram_bounds::text, '')) "
    "<> char_length(coalesce(s.most_common_vals::text, '') || coalesce(s.histogram_bounds::text, '')) "
    "FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace "
    "JOIN pg_catalog.pg_stats s ON s.schemaname = ns.nspname AND s.tablename = c.relname "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = s.attname "
    "WHERE c.oid = to_regclass(:rel) ORDER BY s.inherited DESC"
)


def probe_sql(table: Table, cap: int) -> str:
    """Count the partition's rows, reading at most ``cap + 1`` of them."""
    return f"SELECT count(*) FROM (SELECT 1 FROM {table.source}{table.where} LIMIT {cap + 1}) AS s"


def explain_sql(table: Table) -> str:
    """The planner's estimate of the partition's rows (``EXPLAIN (FORMAT JSON)``)."""
    return f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {table.source}{table.where}"


def column_stats_sql() -> str:
    """``pg_stats`` rows of the relation bound as ``:rel``."""
    return COLUMN_STATS_SQL


def stats_sql(table: Table, columns: tuple[ColumnPlan, ...], sketch: bool = True) -> str:
    """Statement 1: one plain, parallel-safe aggregate; one JSON array per column ``c<i>``.

    One JSON array per column: PostgreSQL allows 1664 result columns, a 500-column table needs
    ~3000 aggregates.
    """
    items = ["count(*) AS n"]
    for c in columns:
        exprs = ", ".join(expr for _, expr in stats_fields(c, sketch=sketch, chars=False))
        items.append(f"json_build_array({exprs}) AS c{c.idx}")
    return f"SELECT {', '.join(items)} FROM {table.source}{table.where}"


def result_columns(plan: Plan, keyed: bool = True) -> int:
    """Most result columns of one target list of the one statement (PostgreSQL allows 1,664).

    The aggregate CTE: keys, set indicators, the count, the arrays, the statistics (one JSON
    array per column without groups, one column per aggregate with them). The final list:
    the count, then per column its statistics and its reductions (two JSON arrays).
    """
    key_sets = plan.sets(keyed)
    keys = sum(len(m) for m in key_sets)
    indicators = len(key_sets) if len(key_sets) > 1 else 0
    arrays = sum(c.path == HASHED for c in plan.columns) + len(plan.sampled)
    stats = sum(len(single_fields(plan, c)) for c in plan.columns) if keys else len(plan.columns)
    final = 2 + len(plan.columns) + sum(c.path != NONE for c in plan.columns)
    return max(keys + indicators + 1 + arrays + stats, final)


def one_statement_sql(table: Table, plan: Plan) -> str:
    """The one statement: statement 1's figures (``f<i>``) and the reductions (``c<i>``) in one scan.

    Without GROUP BY when the plan counts its key columns in a second statement (``split``).
    """
    return _shape(table, plan, single=True, keyed=not plan.split, arrays=True)[0]


def lengths_sql(table: Table, plan: Plan) -> str:
    """Character length min/max (``lc<i>``) of the text columns whose byte lengths were not enough.

    Only when the one statement saw multi-byte characters in a column and no second statement
    reads the partition: one plain aggregate over those columns.
    """
    parts = [
        f"json_build_array(min(char_length({c.ref}::text)), max(char_length({c.ref}::text))) AS lc{c.idx}"
        for c in plan.columns
        if c.chars_pending
    ]
    return f"SELECT {', '.join(parts)} FROM {table.source}{table.where}"


def checks_sql(table: Table, plan: Plan) -> str:
    """``v<i>``: zeros and negatives of the columns whose exact min did not prove them (``c.skip``)."""
    parts = [
        f"json_build_array(count(*) FILTER (WHERE {c.ref} = 0), count(*) FILTER (WHERE {c.ref} < 0)) AS v{c.idx}"
        for c in plan.columns
        if c.skip
    ]
    return f"SELECT {', '.join(parts)} FROM {table.source}{table.where}"


def group_counts_sql(table: Table, plan: Plan) -> str:
    """The key columns' value counts and their statement-1 figures, plus pending text lengths."""
    return _shape(table, plan, single=False, keyed=True, arrays=False)[0]


def shape_sql(table: Table, plan: Plan) -> tuple[str, dict[str, Any]]:
    """Statement 2 of the two-statement plan, and its parameters (the histograms' edges)."""
    return _shape(table, plan, single=False, keyed=True, arrays=True)


@dataclass(frozen=True)
class _Sources:
    """Where the reductions read their arrays: ``g`` (the aggregate), ``m`` (merged groups), ``sm``."""

    arrays: str
    sample: str


def _shape(
    table: Table, plan: Plan, *, single: bool, keyed: bool, arrays: bool
) -> tuple[str, dict[str, Any]]:
    """Statement 2, or with ``single`` the one statement that also computes statement 1's figures.

    In the one-statement form each column's count/min/max/avg/stddev/lengths come back as
    ``f<i>`` (one JSON array, statement 1's field order without the sketch), computed in the
    same scan: per group when there are GROUP BY keys, merged over the groups in SQL (sums,
    min/max, and the groups' means and variances combined exactly), and the histograms take
    their edges from those merged min/max instead of bound parameters.
    """
    hashed = [c for c in plan.columns if c.path == HASHED] if arrays else []
    sampled_cols = plan.sampled_columns() if arrays else []
    key_sets = plan.sets(keyed)
    ctes, sources, keys = _aggregate_ctes(table, plan, single, key_sets, hashed, sampled_cols)
    stats_from = "g"
    if single and keys:
        ctes += merged_stats_ctes(plan)
        stats_from = "st"
    parts: list[str] = []
    own_rows = " WHERE g.gs0 = 0" if len(key_sets) > 1 else ""
    parts += [
        f"(SELECT json_build_array(min(g.cl{c.idx}), max(g.ch{c.idx})) FROM g{own_rows}) AS lc{c.idx}"
        for c in plan.columns
        if c.chars_pending
    ]
    if plan.split and not arrays:
        for s_idx, members in enumerate(key_sets):
            mine = f" AND g.gs{s_idx} = 0" if len(key_sets) > 1 else ""
            parts += [key_stats(c, mine) for c in members]
    if single:
        parts += ["r.n AS n", *(f"r.f{c.idx} AS f{c.idx}" for c in plan.columns)]
    params: dict[str, Any] = {}
    # The one-row CTEs holding the arrays are read once, in the outer FROM, and each reduction
    # refers to their columns from there (a correlated reference passes the array by pointer).
    # Each ``FROM m`` inside a reduction copied the whole row, every column's arrays: measured
    # on 1M rows with every hash kept, 37 such reads took 5.2 s of a 23 s statement.
    outer = {stats_from: "r"} if single else {}
    from_items = [f"{stats_from} AS r"] if single else []
    if arrays and (hashed or sampled_cols):
        for name in (sources.arrays, sources.sample):
            if name not in outer:
                outer[name] = name
                from_items.append(name)
    refs = _Sources(outer.get(sources.arrays, sources.arrays), outer.get(sources.sample, sources.sample))
    for c in plan.columns:
        if c.path == NONE or not arrays:
            continue
        parts.append(_reductions(plan, c, refs, single, params))
    if keys:
        parts.append(_value_counts(key_sets))
    tail = f" FROM {' CROSS JOIN '.join(from_items)}" if from_items else ""
    return f"WITH {', '.join(ctes)} SELECT {', '.join(parts)}{tail}", params


def _aggregate_ctes(
    table: Table,
    plan: Plan,
    single: bool,
    key_sets: list[list[ColumnPlan]],
    hashed: list[ColumnPlan],
    sampled_cols: list[ColumnPlan],
) -> tuple[list[str], _Sources, list[tuple[ColumnPlan, str]]]:
    """The CTE that scans the partition (``g``), and those that fetch (``sm``) or merge (``m``) arrays."""
    keys = [(c, key_expr(c.col, c.ref)) for members in key_sets for c in members]
    select: list[str] = [f"{expr} AS k{c.idx}" for c, expr in keys]
    if len(key_sets) > 1:
        # One indicator per set (its first key): GROUPING(x) is 0 on the rows of x's set.
        select += [f"GROUPING({key_expr(m[0].col, m[0].ref)}) AS gs{s}" for s, m in enumerate(key_sets)]
    select.append("count(*) AS n")
    if single:
        for c in plan.columns:
            fields = single_fields(plan, c)
            if keys:
                select += [f"{expr} AS a{c.idx}_{j}" for j, (_, expr) in enumerate(fields)]
            else:
                select.append(f"json_build_array({', '.join(expr for _, expr in fields)}) AS f{c.idx}")
    for c in plan.columns:
        if c.chars_pending:  # multi-byte characters seen by statement 1: exact min/max here
            length = f"char_length({c.ref}::text)"
            select += [f"min({length}) AS cl{c.idx}", f"max({length}) AS ch{c.idx}"]
    for c in hashed:
        h = hash_expr(c.col, c.ref)
        keep = f"{c.ref} IS NOT NULL" if c.threshold is None else f"{h} <= {c.threshold}"
        select.append(f"array_agg({h}) FILTER (WHERE {keep}) AS d{c.idx}")
    if plan.sample_threshold is None:
        sampled = ""
    else:
        rowhash = "hashtidextended(t.ctid, 1)" if table.has_ctid else "hashtextextended(t::text, 1)"
        sampled = f"{rowhash} <= {plan.sample_threshold} AND "
    # A table's sample is collected as row ids (ctid) and its values fetched afterwards by a TID
    # scan of those ~20,000 rows: the row hash is then computed once per row instead of once per
    # sampled column and row (13 times: 0.7 s of 5M rows without GROUP BY; with GROUP BY keys,
    # 9 sampled columns of 5M rows cost 3.5 floors A, and 60 columns far more). With keys, each
    # group holds a slice of the row ids, merged below. Only where a ctid names one row: in a
    # partitioned table or an inheritance parent it names one per child.
    by_tid = bool(sampled_cols) and sampled != "" and table.tid_unique
    per_column = [
        # One typed array per column: the reductions below then sort and group native values.
        f"array_agg({key_expr(c.col, c.ref)}) FILTER (WHERE {'' if by_tid else sampled}{c.ref} IS NOT NULL) "
        f"AS s{c.idx}"
        for c in sampled_cols
    ]
    if by_tid:
        select.append(f"array_agg(t.ctid) FILTER (WHERE {sampled.removesuffix(' AND ')}) AS tids")
    else:
        select += per_column
    ctes = [f"g AS (SELECT {', '.join(select)} FROM {table.source}{table.where}{_group_by(key_sets)})"]
    array_names = [f"d{c.idx}" for c in hashed] + ([] if by_tid else [f"s{c.idx}" for c in sampled_cols])
    source = sample_source = "g"
    if by_tid:
        ctes.append(_sample_by_tid(table, per_column, grouped=bool(keys), sets=len(key_sets)))
    if keys and array_names:
        # Each group holds a slice of every array. Merge the slices once, in one pass (ROWS
        # FROM zips the arrays), so each reduction below unnests one array, not one per group.
        # The arrays are read from the rows of the first set only (every set repeats them).
        own = " WHERE g.gs0 = 0" if len(key_sets) > 1 else ""
        merged = ", ".join(f"array_agg(u.{a}) FILTER (WHERE u.{a} IS NOT NULL) AS {a}" for a in array_names)
        zipped = ", ".join(f"unnest(g.{a})" for a in array_names)
        ctes.append(
            f"m AS (SELECT {merged} FROM g CROSS JOIN LATERAL ROWS FROM ({zipped}) AS u({', '.join(array_names)}){own})"
        )
        source = sample_source = "m"
    if by_tid:
        sample_source = "sm"
        if keys and not array_names:
            source = "sm"  # no hash arrays to merge: the grouped g has a row per group
    return ctes, _Sources(source, sample_source), keys


def _group_by(key_sets: list[list[ColumnPlan]]) -> str:
    """`` GROUP BY`` of the scan: the keys of one set by position, several sets as GROUPING SETS."""
    if len(key_sets) == 1:
        return " GROUP BY " + ", ".join(str(i) for i in range(1, len(key_sets[0]) + 1))
    if len(key_sets) > 1:
        sets = ", ".join(
            "(" + ", ".join(key_expr(c.col, c.ref) for c in members) + ")" for members in key_sets
        )
        return f" GROUP BY GROUPING SETS ({sets})"
    return ""


def _sample_by_tid(table: Table, per_column: list[str], *, grouped: bool, sets: int) -> str:
    """``sm``: the sampled rows' values, fetched by a TID scan of the row ids ``g`` collected.

    With groups, the row ids of every group (of the first set only: every set repeats them).
    """
    own = " WHERE g.gs0 = 0" if sets > 1 else ""
    tids = (
        f"(SELECT array_agg(u.x) FROM g CROSS JOIN LATERAL unnest(g.tids) AS u(x){own})"
        if grouped
        else "(SELECT g.tids FROM g)"
    )
    return (
        f"sm AS (SELECT {', '.join(per_column)} FROM {table.source} "
        f"WHERE t.ctid = ANY ({tids}::tid[]){table.where.replace(' WHERE ', ' AND ', 1)})"
    )


def _reductions(plan: Plan, c: ColumnPlan, sources: _Sources, single: bool, params: dict[str, Any]) -> str:
    """``c<i>``: distinct count, sampled count, quantiles, top values, histogram of one column.

    A two-statement plan's histogram edges are statement 1's min/max, added to ``params``.
    """
    source, sample_source = sources.arrays, sources.sample
    # distinct, sampled, quantiles, tops, histogram, [most repeats, hashes] of the kept hashes
    slots = ["NULL", "NULL", "NULL", "NULL", "NULL", "NULL"]
    if c.path == HASHED:
        # The kept hashes grouped once: their count is the distinct count (below the
        # threshold), their sizes the exact counts of the values they stand for (every
        # occurrence of a kept value is kept).
        slots[0] = "count(*)"
        slots[5] = "json_build_array(max(hc.n), coalesce(sum(hc.n), 0))"
    if c.sample_pos:
        values = f"FROM unnest({sample_source}.s{c.idx}) AS x"
        # The arrays hold non-null values only: their length is the count (no unnest).
        slots[1] = f"coalesce(cardinality({sample_source}.s{c.idx}), 0)"
        if c.col.kind.numeric:
            qs = ", ".join(str(q) for _, q in QUANTILES)
            slots[2] = (
                f"(SELECT percentile_cont(ARRAY[{qs}]::float8[]) WITHIN GROUP (ORDER BY x::float8) {values})"
            )
        if c.path == WHOLE:
            # Every value is in the array: its groups give the exact distinct count too.
            # The groups once (a CTE read twice is materialised): their count, and the
            # top k by a bounded heap sort instead of ranking every group (a window over
            # all groups sorted ~13,000 groups per near-unique column of a day's partition).
            slots[3] = (
                f"(WITH z AS (SELECT x::text AS v, count(*) AS n {values} GROUP BY x) "
                "SELECT json_build_array((SELECT count(*) FROM z), "
                "(SELECT json_agg(json_build_array(t.v, t.n)) FROM "
                f'(SELECT z.v, z.n FROM z ORDER BY z.n DESC, z.v COLLATE "C" LIMIT {TOP_K}) AS t)))'
            )
        if c.path == HASHED and c.threshold is None:
            slots[3] = _hash_counted_tops(c, values)
        elif c.path == HASHED:
            # In a true sample a value seen once says nothing about its frequency: only
            # values seen at least twice are ranked (this also spares sorting unique ids).
            repeated = "" if plan.sample_threshold is None else " HAVING count(*) > 1"
            slots[3] = (
                "(SELECT json_agg(json_build_array(z.v, z.n)) FROM (SELECT x::text AS v, count(*) AS n "
                f'{values} GROUP BY x{repeated} ORDER BY count(*) DESC, x::text COLLATE "C" '
                f"LIMIT {TOP_K}) AS z)"
            )
        slots[4] = _histogram(plan, c, values, single, params)
    if c.path != HASHED:
        return f"json_build_array({', '.join(slots)}) AS c{c.idx}"
    # Sorted, then counted in order: the planner's hash aggregate over up to a million distinct
    # hashes misses the cache on every one (measured on 1M hashes: 0.6 s hashed, 0.3 s sorted).
    hc = (
        f"SELECT s.x AS h, count(*) AS n FROM (SELECT u.x FROM unnest({source}.d{c.idx}) AS u(x) "
        "ORDER BY 1) AS s GROUP BY s.x"
    )
    return f"(WITH hc AS ({hc}) SELECT json_build_array({', '.join(slots)}) FROM hc) AS c{c.idx}"


def _hash_counted_tops(c: ColumnPlan, values: str) -> str:
    """Top values of a column whose every hash is kept: exact counts from the hashes (``hc``).

    The value each hash stands for comes from the row sample; within equal counts the values
    the sample knows come first. A NULL value is a hash the sample did not see (the decoder
    stops there: the values after it may not be the next most frequent).
    """
    if c.col.kind is Kind.OTHER:  # sampled as text, hashed by type: no join
        known = "SELECT NULL::bigint AS h, NULL::text AS v WHERE false"
    else:
        h = hash_expr(c.col, "x")
        known = f'SELECT DISTINCT ON (1) {h} AS h, x::text AS v {values} ORDER BY 1, x::text COLLATE "C"'
    # Only the most frequent hashes are joined (a bounded heap sort, not a sort of every hash);
    # within them, equal counts put the values the sample knows first.
    top = f"(SELECT hc.h, hc.n FROM hc ORDER BY hc.n DESC LIMIT {HASH_TOPS})"
    return (
        "(SELECT json_agg(json_build_array(t.v, t.n)) FROM (SELECT sv.v, ht.n FROM "
        f"{top} AS ht LEFT JOIN ({known}) AS sv ON sv.h = ht.h "
        f'ORDER BY ht.n DESC, sv.v IS NULL, sv.v COLLATE "C" LIMIT {TOP_K}) AS t)'
    )


def _histogram(plan: Plan, c: ColumnPlan, values: str, single: bool, params: dict[str, Any]) -> str:
    """The histogram slot: 20 equal-width buckets between the column's min and max, or NULL."""
    if not c.col.kind.numeric:
        return "NULL"
    if single:
        # Edges from this statement's own min/max (the merged stats row r); no
        # histogram when they are equal or not finite (width_bucket rejects those).
        # OFFSET 0 keeps the subquery from being inlined: the JSON is read once,
        # not once per value (inlined, the 5 histograms of a day cost 40 ms more).
        names = [name for name, _ in single_fields(plan, c)]
        bounds = (
            f"(SELECT (r.f{c.idx}->>{names.index('min')})::float8 AS lo, "
            f"(r.f{c.idx}->>{names.index('max')})::float8 AS hi OFFSET 0) AS bd"
        )
        bucket = f"least(width_bucket(x::float8, bd.lo, bd.hi, {HISTOGRAM_BUCKETS}), {HISTOGRAM_BUCKETS})"
        return (
            "(SELECT json_agg(json_build_array(z.b, z.n)) FROM "
            f"(SELECT {bucket} AS b, count(*) AS n {values}, {bounds} "
            "WHERE bd.lo < bd.hi AND bd.lo > '-infinity'::float8 AND bd.hi < 'infinity'::float8 "
            "GROUP BY 1) AS z)"
        )
    lo, hi = as_float(c.first.get("min")), as_float(c.first.get("max"))
    if lo is None or hi is None or not finite_range(lo, hi):
        return "NULL"
    params[f"lo{c.idx}"], params[f"hi{c.idx}"] = lo, hi
    bucket = (
        f"least(width_bucket(x::float8, :lo{c.idx}, :hi{c.idx}, {HISTOGRAM_BUCKETS}), {HISTOGRAM_BUCKETS})"
    )
    return (
        "(SELECT json_agg(json_build_array(z.b, z.n)) FROM "
        f"(SELECT {bucket} AS b, count(*) AS n {values} GROUP BY 1) AS z)"
    )


def _value_counts(key_sets: list[list[ColumnPlan]]) -> str:
    """``grouped``: the top values, their counts and the distinct count of every key column.

    Each key column's counts are read from the rows of its own set.
    """
    branches = []
    for s, members in enumerate(key_sets):
        pairs = ", ".join(f"({c.idx}, g.k{c.idx}::text)" for c in members)
        mine = f" AND g.gs{s} = 0" if len(key_sets) > 1 else ""
        branches.append(
            f"SELECT a.col, a.v, g.n FROM g CROSS JOIN LATERAL (VALUES {pairs}) AS a(col, v) WHERE a.v IS NOT NULL{mine}"
        )
    return (
        "(SELECT json_agg(json_build_array(z.col, z.v, z.cnt, z.nd)) FROM (SELECT a.col, a.v, "
        "sum(a.n) AS cnt, "
        'row_number() OVER (PARTITION BY a.col ORDER BY sum(a.n) DESC, a.v COLLATE "C") AS rn, '
        "count(*) OVER (PARTITION BY a.col) AS nd "
        f"FROM ({' UNION ALL '.join(branches)}) AS a GROUP BY a.col, a.v) z WHERE z.rn <= {TOP_K}) AS grouped"
    )


def finite_range(lo: float, hi: float) -> bool:
    """Whether ``lo < hi`` and both are finite (``width_bucket`` rejects anything else)."""
    return math.isfinite(lo) and math.isfinite(hi) and lo < hi


def as_float(value: Any) -> float | None:
    """A JSON figure as a float, ``None`` when it is not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
