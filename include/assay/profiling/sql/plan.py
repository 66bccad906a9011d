"""Planning: the partition's figures (probe count, planner estimate, ``pg_stats`` or statement 1) to a frozen plan.

No connection and no SQL here. A :class:`Plan` says which statement shape reads the partition,
which path each column takes (collected whole, hashed, grouped: exact or approximate), the row
sample and, for a fallback, why. The figures a plan is made from are per column on its
:class:`ColumnPlan`; steps that learn more (a statement's result) return a new plan.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.types import Boolean, Date, DateTime, Float, Integer, Numeric, String, TypeEngine

from assay.profiling.metrics import Kind
from assay.profiling.sql.tuning import SqlTuning

HASH_SPACE = 2**64
HASH_MIN = -(2**63)

#: Path of a column: not read | collected whole (exact) | hashed | GROUP BY key (exact).
NONE, WHOLE, HASHED, GROUPED = "none", "whole", "hashed", "grouped"
#: Statement shapes (``stats["plan"]``).
EMPTY, ONE_STATEMENT, TWO_STATEMENTS = "empty", "one_statement", "two_statements"
GROUP_COUNTS = "one_statement_and_group_counts"


@dataclass(frozen=True)
class SqlColumn:
    """A column to profile: its name, the profiling kind, the reflected type; ``scan_pii``: screen its text values."""

    name: str
    kind: Kind
    sql_type: TypeEngine[Any]
    data_type: str
    scan_pii: bool = True


def kind_of(sql_type: TypeEngine[Any]) -> Kind:
    """The profiling kind of a reflected SQLAlchemy type."""
    if isinstance(sql_type, Boolean):
        return Kind.BOOLEAN
    if isinstance(sql_type, Integer):
        return Kind.INTEGER
    if isinstance(sql_type, Float):  # before Numeric: Float is a Numeric subclass
        return Kind.FLOAT
    if isinstance(sql_type, Numeric):
        return Kind.DECIMAL
    if isinstance(sql_type, String):  # Text, VARCHAR, CHAR, Enum
        return Kind.TEXT
    if isinstance(sql_type, DateTime):
        return Kind.TIMESTAMP
    if isinstance(sql_type, Date):
        return Kind.DATE
    return Kind.OTHER


@dataclass(frozen=True)
class Table:
    """The relation a partition is read from, as the statements name it (identifiers already quoted).

    Attributes:
        qualified: ``"schema"."table"``.
        columns: the columns to profile, in order.
        refs: each column as ``t."name"``.
        where: the partition predicate (`` WHERE ...``, or empty for the whole table).
        params: the predicate's bound parameters.
        has_ctid: the relation is a table (views have no ``ctid``).
        tid_unique: a ``ctid`` names one row (no partitions, no inheritance children).
        unique_columns: columns a unique index covers alone (their values are proven distinct).
    """

    qualified: str
    columns: tuple[SqlColumn, ...]
    refs: tuple[str, ...]
    where: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    has_ctid: bool = False
    tid_unique: bool = False
    unique_columns: frozenset[str] = frozenset()

    @property
    def source(self) -> str:
        """The FROM item of every statement."""
        return self.qualified + " AS t"

    @property
    def has_predicate(self) -> bool:
        """Whether a partition (not the whole table) is read."""
        return self.where != ""


def quote_identifier(name: str) -> str:
    """``name`` as a PostgreSQL identifier: always double-quoted, embedded quotes doubled.

    The one quoting path of the profiler. Not the dialect's ``quote_identifier``: for pyformat
    drivers (psycopg2) that also doubles ``%``, and SQLAlchemy's ``text()`` doubles it again when
    the statement is compiled, so ``pct%`` reached PostgreSQL as ``pct%%``. The statements are
    ``text()`` and the qualified name is also bound as a value (``to_regclass(:name)``), where no
    ``%`` is ever formatted: the name is written once, as PostgreSQL reads it.
    """
    return '"' + name.replace('"', '""') + '"'


def table_of(
    quote: Callable[[str], str],
    name: str,
    schema: str | None,
    columns: Sequence[SqlColumn],
    *,
    where: str = "",
    params: Mapping[str, Any] | None = None,
    has_ctid: bool = False,
    tid_unique: bool = False,
    unique_columns: frozenset[str] = frozenset(),
) -> Table:
    """A :class:`Table`, every identifier quoted by ``quote`` (:func:`quote_identifier`)."""
    return Table(
        qualified=f"{quote(schema)}.{quote(name)}" if schema else quote(name),
        columns=tuple(columns),
        refs=tuple(f"t.{quote(c.name)}" for c in columns),
        where=where,
        params=dict(params or {}),
        has_ctid=has_ctid,
        tid_unique=tid_unique,
        unique_columns=unique_columns,
    )


@dataclass(frozen=True)
class ColumnPlan:
    """One column in a plan: the figures known about it and the path that reads it.

    ``first`` holds statement 1's figures (``nn``, ``min``, ``max``, ``mean``, ``sd``, lengths,
    ``true``) once a statement returned them; ``chars_pending``: the character length min/max
    are still to be computed (multi-byte text seen through byte lengths)."""

    idx: int
    col: SqlColumn
    ref: str
    non_null: int = 0
    first: Mapping[str, Any] = field(default_factory=dict)
    d_est: float = 0.0
    path: str = NONE
    p: float = 1.0
    threshold: int | None = None
    key_set: int = -1
    sample_pos: int = 0  # 1-based position in the sample row, 0 = not sampled
    chars_pending: bool = False
    chars: bool = False  # count characters, not bytes (pg_stats showed multi-byte text)
    skip: frozenset[str] = frozenset()  # value checks left to the exact min (decode.proven_checks)
    guard: int | None = None  # fewest distinct hashes the guard accepts (None: distinct_min_sample)

    @property
    def approximate(self) -> bool:
        """Whether the distinct count is an estimate (hashed below a threshold)."""
        return self.path == HASHED and self.threshold is not None


@dataclass(frozen=True)
class Plan:
    """How one partition is read: the statement shape, each column's path, the row sample.

    Attributes:
        shape: ``empty``, ``one_statement``, ``one_statement_and_group_counts`` or
            ``two_statements``.
        n: the partition's rows (estimated until a statement counted them).
        columns: one :class:`ColumnPlan` per column, in column order.
        key_sets: GROUP BY key sets, as column indexes.
        sampled: the sampled columns' indexes, in sample order.
        sample_fraction: the row sample's share of the partition (1: every row, exact).
        sample_threshold: the largest ``ctid`` hash in the sample, ``None`` for every row.
        chars: the one statement computes text lengths with ``char_length`` (else byte lengths).
        split: the key columns' values are counted by a second statement.
        fallback: why the partition takes two statements, when it was meant to take one.
        figures: the planning figures reported in ``stats`` (sample target, budgets, key sets).
    """

    shape: str
    n: int
    columns: tuple[ColumnPlan, ...]
    key_sets: tuple[tuple[int, ...], ...] = ()
    sampled: tuple[int, ...] = ()
    sample_fraction: float = 1.0
    sample_threshold: int | None = None
    chars: bool = True
    split: bool = False
    fallback: str | None = None
    figures: Mapping[str, Any] = field(default_factory=dict)

    def sets(self, keyed: bool = True) -> list[list[ColumnPlan]]:
        """The key sets as columns (none when ``keyed`` is false)."""
        return [[self.columns[i] for i in members] for members in self.key_sets] if keyed else []

    def sampled_columns(self) -> list[ColumnPlan]:
        """The sampled columns, in sample order."""
        return [self.columns[i] for i in self.sampled]

    @property
    def exact(self) -> bool:
        """Whether the row sample is the whole partition."""
        return self.sample_fraction >= 1.0


def initial(table: Table) -> tuple[ColumnPlan, ...]:
    """Every column with nothing known and no path yet."""
    return tuple(
        ColumnPlan(i, c, ref) for i, (c, ref) in enumerate(zip(table.columns, table.refs, strict=True))
    )


# ---- the hash space -----------------------------------------------------------------------------
def threshold(p: float) -> int:
    """Largest signed 64-bit hash kept when keeping the fraction ``p`` of the hash space."""
    return min(HASH_MIN + math.floor(p * HASH_SPACE) - 1, 2**63 - 1)


def kept_fraction(threshold: int) -> float:
    """The hash-space fraction at or below ``threshold``."""
    return (threshold - HASH_MIN + 1) / HASH_SPACE


def kmv2(hmin: int | None, hmax: int | None) -> float:
    """Distinct estimate from the smallest and largest hash (two order statistics; crude, for planning)."""
    if hmin is None or hmax is None:
        return 0.0
    gap = (hmin - HASH_MIN + HASH_SPACE - 1 - (hmax - HASH_MIN)) / HASH_SPACE
    return max(1.0, 2.0 / max(gap, 1e-18) - 1.0)


# ---- plans --------------------------------------------------------------------------------------
def probe_cap(columns: Sequence[SqlColumn], tuning: SqlTuning) -> int:
    """Rows the bounded probe counts up to: a partition this small is collected whole."""
    nonbool = sum(c.kind is not Kind.BOOLEAN for c in columns)
    return max(1, min(tuning.sample_rows, tuning.sample_values_max // max(1, nonbool)))


def empty_plan(table: Table) -> Plan:
    """The probe found no rows: nothing to read."""
    columns = tuple(replace(c, first={"nn": 0}, non_null=0) for c in initial(table))
    return Plan(EMPTY, 0, columns)


def whole_plan(table: Table, cap: int, tuning: SqlTuning) -> Plan:
    """Every non-boolean column collected whole (the probe counted at most ``cap`` rows)."""
    columns = list(initial(table))
    sampled = [c.idx for c in columns if c.col.kind is not Kind.BOOLEAN]
    for pos, i in enumerate(sampled, start=1):
        columns[i] = replace(columns[i], path=WHOLE, sample_pos=pos)
    budget = max(1, min(tuning.hashes_per_column, tuning.hashes_total // max(1, len(sampled))))
    figures = {
        "sample_rows_target": cap,
        "sample_fraction": 1.0,
        "hash_budget_per_column": budget,
        "key_sets": [],
        "expected_groups": [],
    }
    return Plan(ONE_STATEMENT, 0, tuple(columns), sampled=tuple(sampled), figures=figures)


def estimated_plan(table: Table, stats: Mapping[str, tuple[float, float]], n: int, tuning: SqlTuning,
                   multibyte: frozenset[str] = frozenset(), lower: Mapping[str, float] | None = None) -> Plan:
    """A plan from ``pg_stats`` (``{column: (null_frac, n_distinct)}``) and the planner's row estimate ``n``.

    Each column's non-null count and distinct estimate come from ``pg_stats``: ``n_distinct``
    negative is a fraction of the rows; positive is the table's count, of which a partition of
    ``m`` values is expected to hold ``d (1 - exp(-m / d))`` (values drawn uniformly); 0
    (unknown) counts as all distinct.

    Statement 1's per-column aggregates computed per group cost a cache miss per aggregate and
    row once the groups are many (measured on 5M rows: 12 groups +0.4 s, 588 groups +1.3 s,
    12,936 groups +4.5 s over a 1.7 s count/min/max scan). Past a few groups, the one statement
    runs without GROUP BY (a plain, parallel aggregate) and a second one counts the key columns'
    values: GROUP BY the keys, ``count(*)`` only (1.1 s on those 5M rows, less than the
    count/min/max scan).
    ``multibyte``: text columns whose ``pg_stats`` values hold multi-byte characters (see the end).
    ``lower``: the least number ``pg_stats`` holds per numeric column (0 when near 0); from 1 the
    zeros, from 0 the negatives are left to the exact min (a checks statement if it disagrees).
    """
    columns = list(initial(table))
    for c in columns:
        if c.col.kind is Kind.BOOLEAN:
            continue
        null_frac, nd = stats[c.col.name]
        nn = max(1.0, n * (1.0 - null_frac))
        if nd < 0:
            d = -nd * n
        elif nd > 0:
            d = nd * -math.expm1(-nn / nd) if table.has_predicate else nd
        else:
            d = nn
        chars, low = c.col.name in multibyte, (lower or {}).get(c.col.name, math.nan)
        skip = frozenset(k for k, ok in (("zero", low >= 1), ("neg", low >= 0)) if ok and c.col.kind.numeric)
        columns[c.idx] = replace(c, non_null=max(1, round(nn)), d_est=max(1.0, min(d, nn)), chars=chars, skip=skip)
    plan = assign(tuple(columns), n, tuning, estimated=True)
    groups = plan.figures["expected_groups"]
    # Every hash kept (exact distinct counts) makes the arrays large; per group they would be
    # merged once more after the scan (measured on 1M rows with 10 such columns: 3.7 s of a
    # 24 s statement), so the key columns are then counted by the second statement.
    kept = sum(c.non_null for c in plan.columns if c.path == HASHED and c.threshold is None)
    split = bool(groups) and (
        len(groups) > 1 or groups[0] > tuning.single_groups_max or kept > tuning.sample_values_max
    )
    # Byte lengths (one char_length per value, not three: 5M rows of 300-700 character bodies,
    # 13.9 s against 5.1 s for 3 text columns at load 10), but characters for the multi-byte
    # columns pg_stats shows; multi-byte text ANALYZE missed: the second or a lengths statement.
    return replace(plan, shape=GROUP_COUNTS if split else ONE_STATEMENT, chars=False, split=split)


def measured_plan(columns: tuple[ColumnPlan, ...], n: int, tuning: SqlTuning, fallback: str | None) -> Plan:
    """The two-statement plan from statement 1's figures (``columns`` carry them)."""
    return replace(assign(columns, n, tuning), shape=TWO_STATEMENTS, fallback=fallback)


def assign(columns: tuple[ColumnPlan, ...], n: int, tuning: SqlTuning, *, estimated: bool = False) -> Plan:
    """Choose each column's path from the row count and each column's ``non_null`` and ``d_est``.

    ``estimated``: the figures come from the table's statistics, not from statement 1: the
    partition is known to be larger than the sample (the probe counted past it), only columns
    whose estimate is small become GROUP BY keys, and the expected groups are padded less
    (``pg_stats`` counts every value of a low-cardinality column; the sketch is cruder).
    """
    cols = list(columns)
    active = [c for c in cols if c.col.kind is not Kind.BOOLEAN and c.non_null > 0]
    budget = max(1, min(tuning.hashes_per_column, tuning.hashes_total // max(1, len(active))))
    grouped: list[ColumnPlan] = []
    # A partition the sample covers whole is profiled exactly from its values: no grouping.
    whole = not estimated and n <= max(
        1, min(tuning.sample_rows, tuning.sample_values_max // max(1, len(active)))
    )
    # Every hash of a column costs the server 8 bytes while the scan runs (more while parallel
    # workers' arrays are combined): the exact columns share one budget, in column order
    # (measured: 60 numeric columns x 1M rows kept every hash in a 2.3 GB backend).
    exact_left = tuning.exact_hashes_total
    # Columns whose values repeat too often for any hash share within the budget: counted by
    # GROUP BY (see below), each in its own key set.
    repeated: list[ColumnPlan] = []
    for c in active:
        frac = min(1.0, tuning.distinct_sample / c.d_est, budget / c.non_null)
        exact = c.non_null <= min(tuning.exact_distinct_rows, exact_left)
        if exact:
            frac = 1.0  # every hash: an exact distinct count and exact value counts
        elif estimated and c.d_est > tuning.estimate_group_max:
            share = _estimated_share(c, frac, tuning)
            if share is None:
                cols[c.idx] = replace(c, path=GROUPED)
                repeated.append(c)
                continue
            c, frac = share
        if whole:
            cols[c.idx] = replace(c, path=WHOLE)  # distinct and top values from its sampled (= all) values
        elif c.d_est * frac >= tuning.distinct_min_sample or (
            estimated and c.d_est > tuning.estimate_group_max
        ):
            cols[c.idx] = _hashed(c, frac)
            exact_left -= c.non_null if exact else 0
        else:
            cols[c.idx] = replace(c, path=GROUPED)
            grouped.append(c)
    sets, sizes, unset = _key_sets(grouped, repeated, n, tuning, estimated)
    # Past a few sets, the remaining key columns are estimated from hashes instead.
    for c in unset:
        cols[c.idx] = _hashed(c, min(1.0, tuning.distinct_sample / c.d_est, budget / c.non_null))
    for s, members in enumerate(sets):
        for c in members:
            cols[c.idx] = replace(cols[c.idx], key_set=s)
    sampled = [c.idx for c in active if cols[c.idx].path in (HASHED, WHOLE) or c.col.kind.numeric]
    rows_target = max(1, min(tuning.sample_rows, tuning.sample_values_max // max(1, len(sampled))))
    sample_fraction = 1.0 if n <= rows_target else rows_target / n
    for pos, i in enumerate(sampled, start=1):
        cols[i] = replace(cols[i], sample_pos=pos)
    figures = {
        "sample_rows_target": rows_target,
        "sample_fraction": sample_fraction,
        "hash_budget_per_column": budget,
        "key_sets": [[c.col.name for c in members] for members in sets],
        "expected_groups": [round(size) for size in sizes],
    }
    key_sets = tuple(tuple(c.idx for c in members) for members in sets)
    t = None if sample_fraction >= 1.0 else threshold(sample_fraction)
    return Plan(TWO_STATEMENTS, n, tuple(cols), key_sets, tuple(sampled), sample_fraction, t, figures=figures)


def _key_sets(
    grouped: list[ColumnPlan], repeated: list[ColumnPlan], n: int, tuning: SqlTuning, estimated: bool
) -> tuple[list[list[ColumnPlan]], list[float], list[ColumnPlan]]:
    """The GROUP BY key sets of ``grouped`` and ``repeated``, their expected groups, and the columns left out.

    Fewest key sets: one joint GROUP BY keeps the aggregate parallel. A set never has more
    groups than rows, so a small partition groups every key column jointly. Every set repeats
    the per-group arrays (PostgreSQL computes each aggregate per set): the columns of the sets
    past ``key_sets_max`` are left out (hashed by the caller). The ``repeated`` columns (see
    :func:`_estimated_share`) get a set each on top: the plan then splits (their groups are
    many), and the statement that counts the keys carries no arrays, only a count per group.
    """
    slack = 1.1 if estimated else 2.0
    sets: list[list[ColumnPlan]] = []
    sizes: list[float] = []
    for c in sorted(grouped, key=lambda c: (c.d_est, c.idx)):
        expected = expected_groups(c, n, slack)
        for s, size in enumerate(sizes):
            if min(size * expected, n) <= tuning.joint_groups_max:
                sets[s].append(c)
                sizes[s] *= expected
                break
        else:
            sets.append([c])
            sizes.append(expected)
    unset = [c for members in sets[tuning.key_sets_max :] for c in members]
    kept = sets[: tuning.key_sets_max] + [[c] for c in repeated]
    return kept, sizes[: tuning.key_sets_max] + [expected_groups(c, n, slack) for c in repeated], unset


def _estimated_share(c: ColumnPlan, frac: float, tuning: SqlTuning) -> tuple[ColumnPlan, float] | None:
    """The hash share of a column a plan from statistics hashes whatever its share of the budget.

    Keep twice the hashes the guard after the statement asks for, or a wide table's share
    (hashes_total / 60 columns) left a 10,000-value column 1,330 hashes, the guard discarded the
    statement and the partition was read three more times (measured: 60 columns x 5M rows, 40x
    floor A). Every row of a kept value is kept (50,000 values: 6.4 %, 3.2M of 50M rows): the
    share stops at hashes_per_column rows, and the guard accepts the fewer hashes left.

    ``None`` when each value repeats more than hashes_per_column / (2 x distinct_floor) times
    (10,000 values in 50M rows: 5,000 times): the capped share would keep fewer distinct hashes
    than the guard accepts, the statement would be discarded and the partition read three more
    times (measured: wide60 at 50M rows, 2.4x the time per 5M rows of its 5M reading). Few
    values with many rows each are counted exactly by GROUP BY instead, in the statement that
    counts the key columns.
    """
    want, cap = 2 * tuning.distinct_min_sample / c.d_est, tuning.hashes_per_column / c.non_null
    frac = max(frac, min(1.0, want, cap))
    if c.d_est * frac < 2 * tuning.distinct_floor:
        return None
    if want > cap:
        c = replace(c, guard=max(tuning.distinct_floor, math.floor(c.d_est * frac / 2)))
    return c, frac


def _hashed(c: ColumnPlan, frac: float) -> ColumnPlan:
    if frac >= 1.0:
        return replace(c, path=HASHED, p=1.0, threshold=None)
    t = threshold(frac)
    return replace(c, path=HASHED, p=kept_fraction(t), threshold=t)


def expected_groups(c: ColumnPlan, n: int, slack: float = 2.0) -> float:
    """Groups a key column may add: ``slack`` x the estimate, or the value range when smaller, plus NULL."""
    expected = max(2.0, slack * c.d_est)
    lo, hi = c.first.get("min"), c.first.get("max")
    if c.col.kind is Kind.INTEGER and lo is not None and hi is not None:
        expected = min(expected, float(hi - lo + 1))
    elif c.col.kind is Kind.DATE and isinstance(lo, str) and isinstance(hi, str):
        try:
            days = (dt.date.fromisoformat(hi) - dt.date.fromisoformat(lo)).days
        except ValueError:  # 'infinity' dates: no range bound
            days = None
        if days is not None:
            expected = min(expected, float(days + 1))
    return expected + (1.0 if c.non_null < n else 0.0)


def missing_statistics(columns: Sequence[SqlColumn], stats: Mapping[str, tuple[float, float]]) -> str | None:
    """Why ``pg_stats`` cannot plan the partition (a non-boolean column never analyzed), or ``None``."""
    missing = [c.name for c in columns if c.kind is not Kind.BOOLEAN and c.name not in stats]
    if not missing:
        return None
    more = " ..." if len(missing) > 3 else ""
    return f"no statistics for {', '.join(missing[:3])}{more} (never analyzed?)"
