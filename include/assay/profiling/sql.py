"""Profiling one partition of a SQL table by pushdown: one or two full scans, whatever the column count.

A bounded probe first counts the partition's rows up to the row-sample size. A partition that
fits the sample is read by **one statement** that collects every value and computes every figure
exactly. A larger partition of a table with statistics is planned from them (the planner's row
estimate and ``pg_stats``) and read by one statement too, plus a ``GROUP BY``-keys ``count(*)``
when its exact value counts need many groups. Otherwise (a view, a table never analyzed, an
estimate found wrong) the partition is read by the two statements below, the first of which
exists to plan the second; the one statement is statement 2 with statement 1's aggregates added.
See :meth:`_Builder.run` and docs/profiling.md.

Statement 1 (**stats**) is one plain aggregate over the partition, parallel-safe, so PostgreSQL
runs it with parallel workers like any ``count(*)``: per column ``count``, ``min``, ``max``,
``avg``/``stddev_samp`` (numbers), text lengths, the true count (booleans),
and ``min``/``max`` of a 64-bit hash of the value (a two-order-statistic KMV sketch, the crude
distinct estimate that plans statement 2).

Statement 2 (**shape**) reads the partition once more and answers everything that needs the
figures of statement 1 (the row count, the min/max, the crude distinct estimate):

* a partition no larger than the row sample target is collected whole, one typed array per
  column, and every figure is computed exactly from those values;
* otherwise each column whose values repeat a lot (distinct estimate small against its row count)
  becomes a grouping key; keys are packed into as few joint ``GROUP BY`` sets as the expected
  group count allows (usually one, which keeps the aggregate parallel), and give exact distinct
  counts and top values;
* every other column collects the hashes below a threshold ``t`` (``array_agg(h) FILTER (WHERE
  h <= t)``): the distinct hashes below ``t``, divided by the hash-space fraction ``p`` under it,
  estimate the distinct count with a relative standard error of ``sqrt((1 - p) / k)`` for ``k``
  hashes kept (the "threshold" or "adaptive" sampling estimator). ``p`` is chosen so that about
  16k distinct hashes are kept, and capped so that no column collects more than a fixed number
  of hashes; with ``p = 1`` the count is exact;
* a deterministic row sample (rows whose ``ctid`` hash is below a threshold: the same rows on
  every rerun of an unchanged table), one typed array per column, feeds the quantiles, the
  histogram (edges from the exact min/max of statement 1) and the top values of hashed columns.

The small result sets (top 10 per column, 7 quantiles, 20 buckets, distinct counts) are computed
in the same statement from the aggregated arrays, so only a few kilobytes cross the network.
Both statements run in one REPEATABLE READ, READ ONLY transaction: statement 2 sees the rows
statement 1 counted.

Why not the textbook plan (``percentile_cont`` and ``count(DISTINCT)`` over the partition,
``GROUPING SETS`` over every column for top values): each of those sorts or hashes every value of
every column, single-threaded; measured on 5M rows here, one ``count(DISTINCT)`` or one
``percentile_cont`` costs more than the whole ``count/min/max`` floor over 14 columns. See
docs/profiling.md for the measurements and the error bounds.

Identifiers reach SQL only through the dialect's ``quote_identifier`` (so ``a"b``, ``my col``,
``größe`` and ``x; DROP TABLE y--`` are ordinary names) and values only as bound parameters;
the literals written into the statements are numbers this module computes.
"""

# This module writes SQL text on purpose (generated per table); every identifier in it comes from
# quote_identifier() and every value is a bound parameter or a number computed here.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import NoSuchTableError
from sqlalchemy.types import (
    CHAR,
    JSON,
    REAL,
    BigInteger,
    Boolean,
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

from assay.errors import SourceError
from assay.profiling.metrics import (
    HISTOGRAM_BUCKETS,
    QUANTILES,
    TOP_K,
    Kind,
    base_metrics,
    boolean_metrics,
    empty_metrics,
    histogram_from_counts,
    is_finite_number,
    json_number,
    json_scalar,
    mask_metrics,
    quantile_dict,
    top_values,
)

log = logging.getLogger(__name__)

_HASH_SPACE = 2**64
_MAX_COLUMNS = 1600  # PostgreSQL allows 1,664 entries in a target list; keep a margin
_HASH_MIN = -(2**63)


@dataclass(frozen=True)
class SqlTuning:
    """Knobs of the SQL profiler. The defaults keep every column's error near 1 % and memory bounded.

    Attributes:
        sample_rows: rows in the row sample (quantiles, histograms, top values of hashed columns).
            A partition of at most this many rows is profiled exactly.
        sample_values_max: cap on rows x sampled columns, so wide tables sample fewer rows.
        distinct_sample: distinct hashes the threshold estimator aims to keep (error ~ 1/sqrt).
        distinct_min_sample: below this many expected hashes a column is grouped exactly instead.
        hashes_per_column: most hashes one column may collect (its share of the memory).
        hashes_total: most hashes all columns together may collect.
        joint_groups_max: largest expected group count of one joint GROUP BY key set.
        key_sets_max: most GROUP BY key sets (each set repeats the collected arrays).
        work_mem: PostgreSQL ``work_mem`` for the profiling transaction (``SET LOCAL``): the
            collected hashes and the sample must fit, or the aggregate spills to disk.
        hash_mem_multiplier: PostgreSQL ``hash_mem_multiplier`` for the transaction (see
            :func:`profile_sql`: the planner overestimates the per-group array states 100-fold,
            so the hash aggregate's limit is lifted; the budgets above bound the real memory).
        estimate_group_max: in a plan made from the table's statistics (no stats statement),
            the largest ``pg_stats`` distinct estimate for which a column may become a GROUP BY
            key; above it the column is hashed (a mid-cardinality estimate from ANALYZE's 30k-row
            sample can be several times too low, and a GROUP BY key that is really 50x larger
            multiplies the groups and their arrays).
        single_groups_max: a plan from statistics whose GROUP BY expects more groups than this
            runs its one statement without GROUP BY and counts the key columns' values in a
            second (see :meth:`_Builder.run`: per-group statistics cost a cache miss per
            aggregate and row once the groups are many).
        single_statement: plan from the bounded probe or the table's statistics and read the
            partition once; ``False`` forces the two-statement plan (stats, then shape).
    """

    sample_rows: int = 20_000
    sample_values_max: int = 2_000_000
    distinct_sample: int = 16_384
    distinct_min_sample: int = 1_600
    hashes_per_column: int = 262_144
    hashes_total: int = 8_000_000
    joint_groups_max: int = 65_536
    key_sets_max: int = 4
    work_mem: str = "64MB"
    hash_mem_multiplier: float = 1000.0
    estimate_group_max: int = 1_000
    single_groups_max: int = 256
    single_statement: bool = True


DEFAULT_TUNING = SqlTuning()


@dataclass(frozen=True)
class SqlColumn:
    """A column to profile: its name, the profiling kind and the reflected type."""

    name: str
    kind: Kind
    sql_type: TypeEngine[Any]
    data_type: str


@dataclass
class PartitionProfile:
    """Metrics of every column of one partition, plus how they were obtained."""

    row_count: int
    columns: dict[str, dict[str, Any]]
    stats: dict[str, Any] = field(default_factory=dict)
    data_types: dict[str, str] = field(default_factory=dict)


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


def profile_sql_partition(
    engine: Engine,
    table: str,
    schema: str | None,
    partition_column: str | None,
    partition_value: Any,
    columns: Sequence[str] | None = None,
    *,
    pii: Mapping[str, str] | None = None,
    tuning: SqlTuning = DEFAULT_TUNING,
) -> dict[str, dict[str, Any]]:
    """Metrics of every column of one partition of ``schema.table`` (see :mod:`assay.profiling.metrics`).

    Args:
        engine: an engine on the source database.
        table: the table (or view) name, unquoted.
        schema: its schema, or ``None`` for the connection's default.
        partition_column: the column that selects the partition (``WHERE col = :value``), or
            ``None`` to profile the whole table.
        partition_value: the partition's value. A ``date`` against a timestamp column selects
            that whole day.
        columns: the columns to profile, in order; all columns when ``None``.
        pii: ``{column: pii label}``; those columns' values are masked before they are returned.
        tuning: sample and sketch sizes.

    Returns:
        ``{column name: metrics}`` in column order.

    Raises:
        SourceError: the table or a requested column does not exist.
    """
    return profile_sql(
        engine, table, schema, partition_column, partition_value, columns, pii=pii, tuning=tuning
    ).columns


def profile_sql(
    engine: Engine,
    table: str,
    schema: str | None,
    partition_column: str | None,
    partition_value: Any,
    columns: Sequence[str] | None = None,
    *,
    pii: Mapping[str, str] | None = None,
    tuning: SqlTuning = DEFAULT_TUNING,
) -> PartitionProfile:
    """Like :func:`profile_sql_partition`, also returning the row count and the method figures."""
    if engine.dialect.name != "postgresql":
        raise SourceError(
            f"profiling {table}: SQL pushdown profiling is implemented for PostgreSQL only "
            f"(dialect {engine.dialect.name!r}); see docs/profiling.md"
        )
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            # Stable text forms for values (timestamps in UTC, ISO dates, shortest exact floats),
            # and room for the collected arrays. The planner budgets 8 kB per array state per
            # group (most stay empty), so with the default hash_mem it sorts the whole partition
            # to group it, or spills: measured 17 s instead of 6 s for statement 2 on 5M rows.
            # The arrays' real size is bounded by the hash and sample budgets of SqlTuning, and
            # the group count by joint_groups_max.
            conn.execute(
                text(
                    "SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO', true), "
                    "set_config('extra_float_digits', '1', true), set_config('work_mem', :work_mem, true), "
                    "set_config('hash_mem_multiplier', :hash_mem, true)"
                ),
                {"work_mem": tuning.work_mem, "hash_mem": str(tuning.hash_mem_multiplier)},
            )
            cols, has_ctid, tid_unique = _reflect(conn, table, schema, columns)
            builder = _Builder(conn, table, schema, cols, has_ctid, partition_column, partition_value)
            builder.tid_unique = tid_unique
            profile = builder.run(tuning)
    for name, label in (pii or {}).items():
        if name in profile.columns:
            profile.columns[name] = mask_metrics(profile.columns[name], label)
    return profile


def _reflect(
    conn: Connection, table: str, schema: str | None, wanted: Sequence[str] | None
) -> tuple[list[SqlColumn], bool, bool]:
    """The columns to profile, whether the relation has a ``ctid`` (tables do, views do not), and
    whether a ``ctid`` names one row of it (not in a partitioned table or an inheritance parent)."""
    from assay.sources.sql import type_name

    where = f"{schema}.{table}" if schema else table
    try:
        reflected = inspect(conn).get_columns(table, schema=schema)
    except NoSuchTableError:
        raise SourceError(f"{where}: table not found (dropped or renamed since the inventory?)") from None
    by_name = {c["name"]: c for c in reflected}
    names = list(wanted) if wanted is not None else [c["name"] for c in reflected]
    missing = [n for n in names if n not in by_name]
    if missing:
        raise SourceError(f"{where}: no column(s) {', '.join(map(repr, missing))}")
    cols = [
        SqlColumn(
            name=n,
            kind=kind_of(by_name[n]["type"]),
            sql_type=by_name[n]["type"],
            data_type=type_name(conn, by_name[n]["type"]),
        )
        for n in names
    ]
    prep = conn.dialect.identifier_preparer
    qualified = ".".join(prep.quote_identifier(p) for p in ((schema, table) if schema else (table,)))
    row = conn.execute(
        text(
            "SELECT c.relkind, c.relhassubclass FROM pg_catalog.pg_class c WHERE c.oid = to_regclass(:name)"
        ),
        {"name": qualified},
    ).one_or_none()
    relkind, children = row if row is not None else (None, False)
    # A ctid names one row only in a table without partitions or inheritance children.
    return cols, relkind in ("r", "p", "m"), relkind in ("r", "m") and not children


# ---- per-column SQL fragments ---------------------------------------------------------------------
def _hash_expr(col: SqlColumn, ref: str) -> str:
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


def _key_expr(col: SqlColumn, ref: str) -> str:
    """The value as a GROUP BY key (text for types that may lack equality, such as json)."""
    return f"{ref}::text" if col.kind is Kind.OTHER else ref


def _threshold(p: float) -> int:
    """Largest signed 64-bit hash kept when keeping the fraction ``p`` of the hash space."""
    return min(_HASH_MIN + math.floor(p * _HASH_SPACE) - 1, 2**63 - 1)


def _kept_fraction(threshold: int) -> float:
    return (threshold - _HASH_MIN + 1) / _HASH_SPACE


def _kmv2(hmin: int | None, hmax: int | None) -> float:
    """Distinct estimate from the smallest and largest hash (two order statistics; crude, for planning)."""
    if hmin is None or hmax is None:
        return 0.0
    gap = (hmin - _HASH_MIN + _HASH_SPACE - 1 - (hmax - _HASH_MIN)) / _HASH_SPACE
    return max(1.0, 2.0 / max(gap, 1e-18) - 1.0)


@dataclass
class _ColPlan:
    idx: int
    col: SqlColumn
    ref: str
    non_null: int = 0
    first: dict[str, Any] = field(default_factory=dict)
    d_est: float = 0.0
    path: str = "none"  # none | whole (sampled whole) | hashed | grouped
    p: float = 1.0
    threshold: int | None = None
    key_set: int = -1
    sample_pos: int = 0  # 1-based position in the sample row, 0 = not sampled
    chars_pending: bool = False  # statement 2 computes the character length min/max


class _Builder:
    """Builds and runs the two statements for one partition."""

    def __init__(
        self,
        conn: Connection,
        table: str,
        schema: str | None,
        cols: list[SqlColumn],
        has_ctid: bool,
        partition_column: str | None,
        partition_value: Any,
    ) -> None:
        self.conn = conn
        q = conn.dialect.identifier_preparer.quote_identifier
        self.q = q
        self.qualified = f"{q(schema)}.{q(table)}" if schema else q(table)
        self.source = self.qualified + " AS t"
        self.has_ctid = has_ctid
        self.plans = [_ColPlan(i, c, f"t.{q(c.name)}") for i, c in enumerate(cols)]
        self.params: dict[str, Any] = {}
        self.n = 0
        self.where = self._partition_predicate(conn, table, schema, partition_column, partition_value)
        self.has_predicate = partition_column is not None
        self.sample_fraction = 1.0
        self.sample_threshold: int | None = None
        self.key_sets: list[list[_ColPlan]] = []
        self.sampled: list[_ColPlan] = []
        self.chars = True  # text lengths of the one statement from char_length (else byte lengths)
        self.split = False  # the key columns' values are counted by a second statement
        self.tid_unique = False  # a ctid names one row (no partitions, no inheritance children)

    def _partition_predicate(
        self, conn: Connection, table: str, schema: str | None, column: str | None, value: Any
    ) -> str:
        if column is None:
            return ""
        ref = f"t.{self.q(column)}"
        col_type = next((p.col.sql_type for p in self.plans if p.col.name == column), None)
        if col_type is None:
            reflected = {c["name"]: c["type"] for c in inspect(conn).get_columns(table, schema=schema)}
            if column not in reflected:
                where = f"{schema}.{table}" if schema else table
                raise SourceError(f"{where}: no partition column {column!r}")
            col_type = reflected[column]
        if (
            isinstance(col_type, DateTime)
            and isinstance(value, dt.date)
            and not isinstance(value, dt.datetime)
        ):
            start = dt.datetime.combine(value, dt.time())
            if col_type.timezone:
                start = start.replace(tzinfo=dt.UTC)
            self.params.update(part_lo=start, part_hi=start + dt.timedelta(days=1))
            return f" WHERE {ref} >= :part_lo AND {ref} < :part_hi"
        if isinstance(col_type, String) and isinstance(value, dt.date):
            value = value.isoformat()
        self.params["part"] = value
        return f" WHERE {ref} = :part"

    # ---- statement 1 ------------------------------------------------------------------------------
    def _stats_fields(self, p: _ColPlan, sketch: bool = True, chars: bool = True) -> list[tuple[str, str]]:
        """``(name, aggregate)`` pairs statement 1 computes for one column.

        Args:
            p: the column.
            sketch: add the min/max of the value's hash (the crude distinct estimate).
            chars: text lengths as min/sum/max of ``char_length``; otherwise the sum of
                ``char_length`` and min/sum/max of ``octet_length`` (see :meth:`_lengths`).
        """
        ref, kind = p.ref, p.col.kind
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
        if not sketch:
            return fields
        h = _hash_expr(p.col, ref)
        return [*fields, ("hmin", f"min({h})"), ("hmax", f"max({h})")]

    def _stats_sql(self, sketch: bool = True) -> str:
        # One JSON array per column: PostgreSQL allows 1664 result columns, a 500-column table
        # needs ~3000 aggregates.
        items = ["count(*) AS n"]
        for p in self.plans:
            exprs = ", ".join(expr for _, expr in self._stats_fields(p, sketch=sketch, chars=False))
            items.append(f"json_build_array({exprs}) AS c{p.idx}")
        return f"SELECT {', '.join(items)} FROM {self.source}{self.where}"

    # ---- planning ---------------------------------------------------------------------------------
    def _plan(self, n: int, tuning: SqlTuning, *, estimated: bool = False) -> dict[str, Any]:
        """Choose each column's path from the row count and each column's ``non_null`` and ``d_est``.

        ``estimated``: the figures come from the table's statistics, not from statement 1: the
        partition is known to be larger than the sample (the probe counted past it), only columns
        whose estimate is small become GROUP BY keys, and the expected groups are padded less
        (``pg_stats`` counts every value of a low-cardinality column; the sketch is cruder).
        """
        active = [p for p in self.plans if p.col.kind is not Kind.BOOLEAN and p.non_null > 0]
        budget = max(1, min(tuning.hashes_per_column, tuning.hashes_total // max(1, len(active))))
        grouped: list[_ColPlan] = []
        # A partition the sample covers whole is profiled exactly from its values: no grouping.
        whole = not estimated and n <= max(
            1, min(tuning.sample_rows, tuning.sample_values_max // max(1, len(active)))
        )
        for p in active:
            frac = min(1.0, tuning.distinct_sample / p.d_est, budget / p.non_null)
            if whole:
                p.path = "whole"  # distinct and top values by grouping its sampled (= all) values
            elif p.d_est * frac >= tuning.distinct_min_sample or (
                estimated and p.d_est > tuning.estimate_group_max
            ):
                self._hash(p, frac)
            else:
                p.path = "grouped"
                grouped.append(p)
        # Fewest key sets: one joint GROUP BY keeps the aggregate parallel. A set never has more
        # groups than rows, so a small partition groups every key column jointly.
        sets: list[list[_ColPlan]] = []
        sizes: list[float] = []
        for p in sorted(grouped, key=lambda p: (p.d_est, p.idx)):
            expected = self._expected_groups(p, 1.1 if estimated else 2.0)
            for s, size in enumerate(sizes):
                if min(size * expected, n) <= tuning.joint_groups_max:
                    sets[s].append(p)
                    sizes[s] *= expected
                    break
            else:
                sets.append([p])
                sizes.append(expected)
        # Every set repeats the per-group arrays (PostgreSQL computes each aggregate per set): past
        # a few sets, the remaining key columns are estimated from hashes instead.
        for members in sets[tuning.key_sets_max :]:
            for p in members:
                self._hash(p, min(1.0, tuning.distinct_sample / p.d_est, budget / p.non_null))
        sets = sets[: tuning.key_sets_max]
        for s, members in enumerate(sets):
            for p in members:
                p.key_set = s
        self.key_sets = sets
        sampled = [p for p in active if p.path in ("hashed", "whole") or p.col.kind.numeric]
        rows_target = max(1, min(tuning.sample_rows, tuning.sample_values_max // max(1, len(sampled))))
        self.sample_fraction = 1.0 if n <= rows_target else rows_target / n
        self.sample_threshold = None if self.sample_fraction >= 1.0 else _threshold(self.sample_fraction)
        for pos, p in enumerate(sampled, start=1):
            p.sample_pos = pos
        self.sampled = sampled
        return {
            "sample_rows_target": rows_target,
            "sample_fraction": self.sample_fraction,
            "hash_budget_per_column": budget,
            "key_sets": [[p.col.name for p in members] for members in sets],
            "expected_groups": [round(size) for size in sizes[: tuning.key_sets_max]],
        }

    @staticmethod
    def _hash(p: _ColPlan, frac: float) -> None:
        p.path = "hashed"
        if frac >= 1.0:
            p.p, p.threshold = 1.0, None
        else:
            p.threshold = _threshold(frac)
            p.p = _kept_fraction(p.threshold)

    def _expected_groups(self, p: _ColPlan, slack: float = 2.0) -> float:
        """Groups a key column may add: ``slack`` x the estimate, or the value range when smaller, plus NULL."""
        expected = max(2.0, slack * p.d_est)
        lo, hi = p.first.get("min"), p.first.get("max")
        if p.col.kind is Kind.INTEGER and lo is not None and hi is not None:
            expected = min(expected, float(hi - lo + 1))
        elif p.col.kind is Kind.DATE and isinstance(lo, str) and isinstance(hi, str):
            try:
                days = (dt.date.fromisoformat(hi) - dt.date.fromisoformat(lo)).days
            except ValueError:  # 'infinity' dates: no range bound
                days = None
            if days is not None:
                expected = min(expected, float(days + 1))
        return expected + (1.0 if p.non_null < self.n else 0.0)

    # ---- statement 2 (or the one statement) -------------------------------------------------------
    def _single_columns(self, keyed: bool = True) -> int:
        """Most result columns of one target list of the one statement (PostgreSQL allows 1,664).

        The aggregate CTE: keys, set indicators, the count, the arrays, the statistics (one JSON
        array per column without groups, one column per aggregate with them). The final list:
        the count, then per column its statistics and its reductions (two JSON arrays).
        """
        key_sets = self.key_sets if keyed else []
        keys = sum(len(m) for m in key_sets)
        indicators = len(key_sets) if len(key_sets) > 1 else 0
        arrays = sum(p.path == "hashed" for p in self.plans) + len(self.sampled)
        stats = sum(len(self._single_fields(p)) for p in self.plans) if keys else len(self.plans)
        final = 2 + len(self.plans) + sum(p.path != "none" for p in self.plans)
        return max(keys + indicators + 1 + arrays + stats, final)

    def _shape_sql(self, single: bool = False, keyed: bool = True, arrays: bool = True) -> str:
        """Statement 2, or with ``single`` the one statement that also computes statement 1's figures.

        In the one-statement form each column's count/min/max/avg/stddev/lengths come back as
        ``f<i>`` (one JSON array, statement 1's field order without the sketch), computed in the
        same scan: per group when there are GROUP BY keys, merged over the groups in SQL (sums,
        min/max, and the groups' means and variances combined exactly), and the histograms take
        their edges from those merged min/max instead of bound parameters.
        """
        hashed = [p for p in self.plans if p.path == "hashed"] if arrays else []
        sampled_cols = self.sampled if arrays else []
        key_sets = self.key_sets if keyed else []
        keys = [(p, _key_expr(p.col, p.ref)) for members in key_sets for p in members]
        select: list[str] = [f"{expr} AS k{p.idx}" for p, expr in keys]
        if len(key_sets) > 1:
            # One indicator per set (its first key): GROUPING(x) is 0 on the rows of x's set.
            select += [f"GROUPING({_key_expr(m[0].col, m[0].ref)}) AS gs{s}" for s, m in enumerate(key_sets)]
        select.append("count(*) AS n")
        if single:
            for p in self.plans:
                fields = self._single_fields(p)
                if keys:
                    select += [f"{expr} AS a{p.idx}_{j}" for j, (_, expr) in enumerate(fields)]
                else:
                    select.append(f"json_build_array({', '.join(expr for _, expr in fields)}) AS f{p.idx}")
        for p in self.plans:
            if p.chars_pending:  # multi-byte characters seen by statement 1: exact min/max here
                length = f"char_length({p.ref}::text)"
                select += [f"min({length}) AS cl{p.idx}", f"max({length}) AS ch{p.idx}"]
        for p in hashed:
            h = _hash_expr(p.col, p.ref)
            keep = f"{p.ref} IS NOT NULL" if p.threshold is None else f"{h} <= {p.threshold}"
            select.append(f"array_agg({h}) FILTER (WHERE {keep}) AS d{p.idx}")
        if self.sample_threshold is None:
            sampled = ""
        else:
            rowhash = "hashtidextended(t.ctid, 1)" if self.has_ctid else "hashtextextended(t::text, 1)"
            sampled = f"{rowhash} <= {self.sample_threshold} AND "
        # Without GROUP BY, a table's sample is collected as row ids (ctid) and its values fetched
        # afterwards by a TID scan of those ~20,000 rows: the row hash is then computed once per
        # row instead of once per sampled column and row (13 times: 0.7 s of 5M rows).
        by_tid = bool(sampled_cols) and not keys and sampled != "" and self.tid_unique
        per_column = [
            # One typed array per column: the reductions below then sort and group native values.
            f"array_agg({_key_expr(p.col, p.ref)}) FILTER (WHERE {'' if by_tid else sampled}{p.ref} IS NOT NULL) "
            f"AS s{p.idx}"
            for p in sampled_cols
        ]
        if by_tid:
            select.append(f"array_agg(t.ctid) FILTER (WHERE {sampled.removesuffix(' AND ')}) AS tids")
        else:
            select += per_column
        group_by = ""
        if len(key_sets) == 1:
            group_by = " GROUP BY " + ", ".join(str(i) for i in range(1, len(keys) + 1))
        elif len(key_sets) > 1:
            sets = ", ".join(
                "(" + ", ".join(_key_expr(p.col, p.ref) for p in members) + ")" for members in key_sets
            )
            group_by = f" GROUP BY GROUPING SETS ({sets})"
        ctes = [f"g AS (SELECT {', '.join(select)} FROM {self.source}{self.where}{group_by})"]
        array_names = [f"d{p.idx}" for p in hashed] + [f"s{p.idx}" for p in sampled_cols]
        source = sample_source = "g"
        if by_tid:
            ctes.append(
                f"sm AS (SELECT {', '.join(per_column)} FROM {self.source} "
                "WHERE t.ctid = ANY ((SELECT g.tids FROM g)::tid[])"
                f"{self.where.replace(' WHERE ', ' AND ', 1)})"
            )
            sample_source = "sm"
        if keys and array_names:
            # Each group holds a slice of every array. Merge the slices once, in one pass (ROWS
            # FROM zips the arrays), so each reduction below unnests one array, not one per group.
            # The arrays are read from the rows of the first set only (every set repeats them).
            own = " WHERE g.gs0 = 0" if len(key_sets) > 1 else ""
            merged = ", ".join(
                f"array_agg(u.{a}) FILTER (WHERE u.{a} IS NOT NULL) AS {a}" for a in array_names
            )
            zipped = ", ".join(f"unnest(g.{a})" for a in array_names)
            ctes.append(
                f"m AS (SELECT {merged} FROM g CROSS JOIN LATERAL ROWS FROM ({zipped}) AS u({', '.join(array_names)}){own})"
            )
            source = sample_source = "m"
        stats_from = "g"
        if single and keys:
            ctes += self._merged_stats_ctes()
            stats_from = "st"
        parts: list[str] = []
        own_rows = " WHERE g.gs0 = 0" if len(key_sets) > 1 else ""
        parts += [
            f"(SELECT json_build_array(min(g.cl{p.idx}), max(g.ch{p.idx})) FROM g{own_rows}) AS lc{p.idx}"
            for p in self.plans
            if p.chars_pending
        ]
        if self.split and not arrays:
            for s_idx, members in enumerate(key_sets):
                mine = f" AND g.gs{s_idx} = 0" if len(key_sets) > 1 else ""
                parts += [self._key_stats(p, mine) for p in members]
        if single:
            parts += ["r.n AS n", *(f"r.f{p.idx} AS f{p.idx}" for p in self.plans)]
        for p in self.plans:
            if p.path == "none" or not arrays:
                continue
            slots = ["NULL", "NULL", "NULL", "NULL", "NULL"]  # distinct, sampled, quantiles, tops, histogram
            if p.path == "hashed":
                slots[0] = f"(SELECT count(DISTINCT x) FROM {source}, unnest({source}.d{p.idx}) AS x)"
            if p.sample_pos:
                values = f"FROM {sample_source}, unnest({sample_source}.s{p.idx}) AS x"
                # The arrays hold non-null values only: their length is the count (no unnest).
                slots[1] = f"(SELECT coalesce(cardinality({sample_source}.s{p.idx}), 0) FROM {sample_source})"
                if p.col.kind.numeric:
                    qs = ", ".join(str(q) for _, q in QUANTILES)
                    slots[2] = (
                        f"(SELECT percentile_cont(ARRAY[{qs}]::float8[]) WITHIN GROUP (ORDER BY x::float8) {values})"
                    )
                if p.path == "whole":
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
                if p.path == "hashed":
                    # In a true sample a value seen once says nothing about its frequency: only
                    # values seen at least twice are ranked (this also spares sorting unique ids).
                    repeated = "" if self.sample_threshold is None else " HAVING count(*) > 1"
                    slots[3] = (
                        "(SELECT json_agg(json_build_array(z.v, z.n)) FROM (SELECT x::text AS v, count(*) AS n "
                        f'{values} GROUP BY x{repeated} ORDER BY count(*) DESC, x::text COLLATE "C" '
                        f"LIMIT {TOP_K}) AS z)"
                    )
                lo, hi = _as_float(p.first.get("min")), _as_float(p.first.get("max"))
                if single and p.col.kind.numeric:
                    # Edges from this statement's own min/max (the merged stats row r); no
                    # histogram when they are equal or not finite (width_bucket rejects those).
                    # OFFSET 0 keeps the subquery from being inlined: the JSON is read once,
                    # not once per value (inlined, the 5 histograms of a day cost 40 ms more).
                    names = [name for name, _ in self._single_fields(p)]
                    bounds = (
                        f"(SELECT (r.f{p.idx}->>{names.index('min')})::float8 AS lo, "
                        f"(r.f{p.idx}->>{names.index('max')})::float8 AS hi OFFSET 0) AS bd"
                    )
                    bucket = f"least(width_bucket(x::float8, bd.lo, bd.hi, {HISTOGRAM_BUCKETS}), {HISTOGRAM_BUCKETS})"
                    slots[4] = (
                        "(SELECT json_agg(json_build_array(z.b, z.n)) FROM "
                        f"(SELECT {bucket} AS b, count(*) AS n {values}, {bounds} "
                        "WHERE bd.lo < bd.hi AND bd.lo > '-infinity'::float8 AND bd.hi < 'infinity'::float8 "
                        "GROUP BY 1) AS z)"
                    )
                elif p.col.kind.numeric and lo is not None and hi is not None and _finite_range(lo, hi):
                    self.params[f"lo{p.idx}"], self.params[f"hi{p.idx}"] = lo, hi
                    bucket = f"least(width_bucket(x::float8, :lo{p.idx}, :hi{p.idx}, {HISTOGRAM_BUCKETS}), {HISTOGRAM_BUCKETS})"
                    slots[4] = (
                        "(SELECT json_agg(json_build_array(z.b, z.n)) FROM "
                        f"(SELECT {bucket} AS b, count(*) AS n {values} GROUP BY 1) AS z)"
                    )
            parts.append(f"json_build_array({', '.join(slots)}) AS c{p.idx}")
        if keys:
            # Value counts per key column, each read from the rows of its own set.
            branches = []
            for s, members in enumerate(key_sets):
                pairs = ", ".join(f"({p.idx}, g.k{p.idx}::text)" for p in members)
                mine = f" AND g.gs{s} = 0" if len(key_sets) > 1 else ""
                branches.append(
                    f"SELECT a.col, a.v, g.n FROM g CROSS JOIN LATERAL (VALUES {pairs}) AS a(col, v) "
                    f"WHERE a.v IS NOT NULL{mine}"
                )
            parts.append(
                "(SELECT json_agg(json_build_array(z.col, z.v, z.cnt, z.nd)) FROM (SELECT a.col, a.v, "
                "sum(a.n) AS cnt, "
                'row_number() OVER (PARTITION BY a.col ORDER BY sum(a.n) DESC, a.v COLLATE "C") AS rn, '
                "count(*) OVER (PARTITION BY a.col) AS nd "
                f"FROM ({' UNION ALL '.join(branches)}) AS a GROUP BY a.col, a.v) z WHERE z.rn <= {TOP_K}) AS grouped"
            )
        tail = f" FROM {stats_from} AS r" if single else ""
        return f"WITH {', '.join(ctes)} SELECT {', '.join(parts)}{tail}"

    def _single_fields(self, p: _ColPlan) -> list[tuple[str, str]]:
        """Statement 1's aggregates the one statement computes for a column.

        A key column whose values a second statement counts gets its figures from those counts
        (see :meth:`_key_stats`); the one statement keeps only the min/max a numeric key's
        histogram needs for its edges.
        """
        if self.split and p.path == "grouped":
            return [("min", f"min({p.ref})"), ("max", f"max({p.ref})")] if p.col.kind.numeric else []
        return self._stats_fields(p, sketch=False, chars=self.chars)

    def _key_stats(self, p: _ColPlan, own: str) -> str:
        """Statement 1's figures of a key column, from its value counts (the rows of ``g`` in ``own``).

        Exact like the per-row aggregates: counts and length sums weighted by each value's
        count, the mean as the weighted sum over the count, the variance from each value's
        squared offset to that mean; computed once per distinct value instead of once per row.
        """
        k, rows = f"g.k{p.idx}", f"FROM g WHERE g.k{p.idx} IS NOT NULL{own}"
        kind = p.col.kind
        exprs = []
        for name, _ in self._stats_fields(p, sketch=False):
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
                    f"WHERE g.k{p.idx} IS NOT NULL{own})"
                )
            elif name in ("lmin", "lmax"):
                exprs.append(f"(SELECT {name[1:]}(char_length({k}::text)) {rows})")
            elif name == "lsum":
                exprs.append(f"(SELECT sum(g.n * char_length({k}::text)) {rows})")
        return f"json_build_array({', '.join(exprs)}) AS f{p.idx}"

    def _merged_stats_ctes(self) -> list[str]:
        """``s0`` (row count, exact means) and ``st`` (every column's statement-1 figures) over the groups.

        Counts and sums add up, min/max are the groups' min/max, and the sample variance is
        combined exactly from the groups' counts, means and variances (the parallel form of
        Welford's update: within-group sums of squares plus each group's mean offset squared).
        """
        own = " WHERE g.gs0 = 0" if len(self.key_sets) > 1 else ""
        means = ["sum(g.n) AS n"]
        merged = ["min(s0.n) AS n"]
        for p in self.plans:
            names = [name for name, _ in self._stats_fields(p, sketch=False, chars=self.chars)]
            col = {name: f"g.a{p.idx}_{j}" for j, name in enumerate(names)}
            cast = "numeric" if p.col.kind is Kind.DECIMAL else "float8"
            if "mean" in col:
                means.append(
                    f"sum({col['nn']} * {col['mean']}) / nullif(sum({col['nn']}), 0)::{cast} AS m{p.idx}"
                )
            exprs = []
            for name in names:
                a = col[name]
                if name in ("nn", "true"):
                    exprs.append(f"sum({a})::bigint")
                elif name in ("min", "lmin"):
                    exprs.append(f"min({a})")
                elif name in ("max", "lmax"):
                    exprs.append(f"max({a})")
                elif name == "lsum":
                    exprs.append(f"sum({a})")
                elif name == "mean":
                    exprs.append(f"min(s0.m{p.idx})")
                elif name == "sd":
                    nn, mean, mu = col["nn"], col["mean"], f"s0.m{p.idx}"
                    within = f"sum(({nn} - 1) * coalesce({a} * {a}, 0))"
                    between = f"sum({nn} * ({mean} - {mu}) * ({mean} - {mu}))"
                    exprs.append(
                        f"sqrt(greatest(0, ({within} + {between}) / nullif(sum({nn}) - 1, 0)::{cast}))"
                    )
            merged.append(f"json_build_array({', '.join(exprs)}) AS f{p.idx}")
        return [
            f"s0 AS (SELECT {', '.join(means)} FROM g{own})",
            f"st AS (SELECT {', '.join(merged)} FROM g CROSS JOIN s0{own})",
        ]

    # ---- running and assembling -------------------------------------------------------------------
    def run(self, tuning: SqlTuning) -> PartitionProfile:
        """Profile the partition: one full scan when it can be planned without statement 1, else two.

        A probe counts the partition's rows up to the whole-sample size (it reads at most that
        many rows). Empty: done. No larger than the sample: one statement collects every value
        and computes everything exactly. Larger, on a table with statistics (``pg_stats``): the
        plan is made from them and one statement computes everything; when its GROUP BY keys
        expect many groups, that statement runs without GROUP BY and a second one counts the
        key columns' values (GROUP BY the keys, ``count(*)`` only). Without statistics (a view,
        a table never analyzed) or when the estimates proved wrong (a hashed column kept fewer
        hashes than its error bound needs): statement 1 with the sketch, then statement 2.
        """
        if not tuning.single_statement:
            n, plan, shape, statements = self._two_statements(tuning)
            return self._finish(n, shape, {"statements": statements, "plan": "two_statements", **plan})
        nonbool = sum(p.col.kind is not Kind.BOOLEAN for p in self.plans)
        cap = max(1, min(tuning.sample_rows, tuning.sample_values_max // max(1, nonbool)))
        probe_sql = f"SELECT count(*) FROM (SELECT 1 FROM {self.source}{self.where} LIMIT {cap + 1}) AS s"
        probe = int(self.conn.execute(text(probe_sql), self.params).scalar_one())
        info: dict[str, Any] = {"probe_rows": probe}
        if probe == 0:
            for p in self.plans:
                p.first, p.non_null = {"nn": 0}, 0
            return self._finish(0, {}, {"statements": 1, "plan": "empty", **info})
        if probe <= cap:
            plan = self._plan_whole(cap, tuning)
            if self._single_columns() <= _MAX_COLUMNS:
                shape = self._run_single()
                return self._finish(self.n, shape, {"statements": 2, "plan": "one_statement", **plan, **info})
            self._reset()
            n, plan, shape, statements = self._two_statements(tuning)
            reason = "too many result columns for one statement"
            return self._finish(
                n,
                shape,
                {"statements": statements + 1, "plan": "two_statements", "fallback": reason, **plan, **info},
            )
        column_stats: dict[str, tuple[float, float]] | None = None
        reason = "a view has no statistics"
        if self.has_ctid:
            column_stats, reason = self._column_stats()
        if column_stats is not None:
            info["estimates"] = "pg_stats"
            n_est = self._explained_rows(cap)
            self._apply_estimates(column_stats, n_est)
            plan = self._plan(n_est, tuning, estimated=True)
            info.update(estimated_rows=n_est)
            groups = plan["expected_groups"]
            # Statement 1's per-column aggregates computed per group cost a cache miss per
            # aggregate and row once the groups are many (measured on 5M rows: 12 groups +0.4 s,
            # 588 groups +1.3 s, 12,936 groups +4.5 s over a 1.7 s count/min/max scan). Past a
            # few groups, the one statement runs without GROUP BY (a plain, parallel aggregate)
            # and a second one counts the key columns' values: GROUP BY the keys, count(*) only
            # (1.1 s on those 5M rows, less than the count/min/max scan).
            split = bool(groups) and (len(groups) > 1 or groups[0] > tuning.single_groups_max)
            self.chars = not split  # byte lengths when the second statement can finish multi-byte text
            self.split = split
            if self._single_columns(keyed=not split) > _MAX_COLUMNS:
                reason = "too many result columns for one statement"
            else:
                shape = self._run_single(keyed=not split)
                short = [
                    p.col.name
                    for p in self.plans
                    if p.path == "hashed"
                    and p.threshold is not None
                    and int((shape.get(f"c{p.idx}") or [0])[0] or 0) < tuning.distinct_min_sample
                ]
                if not short:
                    if not split:
                        return self._finish(
                            self.n, shape, {"statements": 2, "plan": "one_statement", **plan, **info}
                        )
                    counts = (
                        self.conn.execute(text(self._shape_sql(arrays=False)), self.params).mappings().one()
                    )
                    shape["grouped"] = counts["grouped"]
                    for p in self.plans:
                        if p.chars_pending:
                            p.first["lmin"], p.first["lmax"] = counts[f"lc{p.idx}"] or (None, None)
                        if p.path == "grouped":
                            names = [name for name, _ in self._stats_fields(p, sketch=False)]
                            p.first = dict(zip(names, counts[f"f{p.idx}"], strict=True))
                            p.non_null = int(p.first["nn"] or 0)
                    return self._finish(
                        self.n,
                        shape,
                        {"statements": 3, "plan": "one_statement_and_group_counts", **plan, **info},
                    )
                # The estimate planned too small a hash fraction for these columns: their error
                # would exceed the bound the plan promises. Redo the partition with statement 1.
                reason = f"too few hashes kept for {', '.join(short)} (distinct estimate too high)"
                info["statements_discarded"] = 1
            self._reset()
        log.debug("profiling %s: two statements with the sketch (%s)", self.source, reason)
        n, plan, shape, statements = self._two_statements(tuning)
        extra = 1 + info.get("statements_discarded", 0)
        return self._finish(
            n,
            shape,
            {"statements": statements + extra, "plan": "two_statements", "fallback": reason, **plan, **info},
        )

    def _two_statements(self, tuning: SqlTuning) -> tuple[int, dict[str, Any], Mapping[str, Any], int]:
        """Statement 1 (stats and the sketch), planning, statement 2 (shape)."""
        first = self.conn.execute(text(self._stats_sql()), self.params).mappings().one()
        n = self.n = int(first["n"])
        for p in self.plans:
            names = [name for name, _ in self._stats_fields(p, chars=False)]
            p.first = dict(zip(names, first[f"c{p.idx}"], strict=True))
            p.non_null = int(p.first["nn"])
            self._lengths(p)
            p.d_est = min(_kmv2(p.first.get("hmin"), p.first.get("hmax")), float(p.non_null))
        plan = self._plan(n, tuning)
        log.debug("profiling %s: %d rows, plan %s", self.source, n, plan)
        statements = 1
        shape: Mapping[str, Any] = {}
        if n and any(p.path != "none" for p in self.plans):
            shape = dict(self.conn.execute(text(self._shape_sql()), self.params).mappings().one())
            statements += 1
            for p in self.plans:
                if p.chars_pending:
                    p.first["lmin"], p.first["lmax"] = shape.get(f"lc{p.idx}") or (None, None)
        return n, plan, shape, statements

    @staticmethod
    def _lengths(p: _ColPlan) -> None:
        """Text lengths from statement 1's byte lengths when every character is one byte.

        ``char_length <= octet_length`` value by value, so equal sums mean equal lengths in every
        row, and the byte min/max are the character min/max. Otherwise statement 2 computes the
        character min/max (``chars_pending``).
        """
        f = p.first
        if "omin" not in f:
            return
        if f.get("lsum") == f.get("osum"):
            f["lmin"], f["lmax"] = f.get("omin"), f.get("omax")
        else:
            p.chars_pending = True

    def _plan_whole(self, cap: int, tuning: SqlTuning) -> dict[str, Any]:
        """Every non-boolean column collected whole (the probe counted at most ``cap`` rows)."""
        self.sampled = [p for p in self.plans if p.col.kind is not Kind.BOOLEAN]
        for pos, p in enumerate(self.sampled, start=1):
            p.path, p.sample_pos = "whole", pos
        self.key_sets, self.sample_fraction, self.sample_threshold = [], 1.0, None
        budget = max(1, min(tuning.hashes_per_column, tuning.hashes_total // max(1, len(self.sampled))))
        return {
            "sample_rows_target": cap,
            "sample_fraction": 1.0,
            "hash_budget_per_column": budget,
            "key_sets": [],
            "expected_groups": [],
        }

    def _column_stats(self) -> tuple[dict[str, tuple[float, float]] | None, str]:
        """``{column: (pg_stats.null_frac, pg_stats.n_distinct)}``, or ``None`` and why (never analyzed)."""
        rows = self.conn.execute(
            text(
                "SELECT s.attname, s.null_frac, s.n_distinct FROM pg_catalog.pg_class c "
                "JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace "
                "JOIN pg_catalog.pg_stats s ON s.schemaname = ns.nspname AND s.tablename = c.relname "
                "WHERE c.oid = to_regclass(:rel) ORDER BY s.inherited DESC"
            ),
            {"rel": self.qualified},
        ).all()
        stats: dict[str, tuple[float, float]] = {}
        for name, null_frac, n_distinct in rows:
            stats.setdefault(name, (float(null_frac), float(n_distinct)))
        missing = [
            p.col.name for p in self.plans if p.col.kind is not Kind.BOOLEAN and p.col.name not in stats
        ]
        if missing:
            more = " ..." if len(missing) > 3 else ""
            return None, f"no statistics for {', '.join(missing[:3])}{more} (never analyzed?)"
        return stats, ""

    def _explained_rows(self, cap: int) -> int:
        """The planner's row estimate for the partition, at least ``2 cap``.

        ``EXPLAIN`` scales the analyzed density by the table's current size. The floor: the
        probe only says "more than cap", and a plan for about cap rows would collect every row
        of a partition that may be far larger.
        """
        explained = self.conn.execute(
            text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {self.source}{self.where}"), self.params
        ).scalar_one()
        if isinstance(explained, str):
            explained = json.loads(explained)
        return round(max(float(explained[0]["Plan"]["Plan Rows"]), 2.0 * cap))

    def _apply_estimates(self, stats: Mapping[str, tuple[float, float]], n: int) -> None:
        """Each column's non-null count and distinct estimate from ``pg_stats``.

        ``n_distinct`` negative is a fraction of the rows; positive is the table's count, of
        which a partition of ``m`` values is expected to hold ``d (1 - exp(-m / d))`` (values
        drawn uniformly); 0 (unknown) counts as all distinct.
        """
        self.n = n
        for p in self.plans:
            if p.col.kind is Kind.BOOLEAN:
                continue
            null_frac, nd = stats[p.col.name]
            nn = max(1.0, n * (1.0 - null_frac))
            if nd < 0:
                d = -nd * n
            elif nd > 0:
                d = nd * -math.expm1(-nn / nd) if self.has_predicate else nd
            else:
                d = nn
            p.non_null = max(1, round(nn))
            p.d_est = max(1.0, min(d, nn))

    def _run_single(self, keyed: bool = True) -> dict[str, Any]:
        """Run the one statement; set the row count and each column's statement-1 figures from it."""
        sql = self._shape_sql(single=True, keyed=keyed)
        shape = dict(self.conn.execute(text(sql), self.params).mappings().one())
        self.n = int(shape["n"] or 0)
        for p in self.plans:
            names = [name for name, _ in self._single_fields(p)]
            p.first = dict(zip(names, shape[f"f{p.idx}"], strict=True))
            p.non_null = int(p.first.get("nn") or 0)  # a counted key's: from the second statement
            self._lengths(p)
        return shape

    def _reset(self) -> None:
        """Forget a plan (before replanning the partition with statement 1)."""
        for p in self.plans:
            p.path, p.p, p.threshold, p.key_set, p.sample_pos = "none", 1.0, None, -1, 0
            p.first, p.non_null, p.d_est, p.chars_pending = {}, 0, 0.0, False
        self.params = {k: v for k, v in self.params.items() if not k.startswith(("lo", "hi"))}
        self.key_sets, self.sampled, self.chars, self.split = [], [], True, False
        self.sample_fraction, self.sample_threshold = 1.0, None

    def _finish(self, n: int, shape: Mapping[str, Any], stats: dict[str, Any]) -> PartitionProfile:
        columns = {p.col.name: self._metrics(p, n, shape) for p in self.plans}
        return PartitionProfile(
            row_count=n,
            columns=columns,
            stats={"engine": "postgresql", "row_count": n, **stats},
            data_types={p.col.name: p.col.data_type for p in self.plans},
        )

    def _metrics(self, p: _ColPlan, n: int, shape: Mapping[str, Any]) -> dict[str, Any]:
        kind = p.col.kind
        if kind is Kind.BOOLEAN:
            return boolean_metrics(n, p.non_null, int(p.first.get("true") or 0))
        if p.non_null == 0:
            return empty_metrics(kind, n)
        m = base_metrics(kind, n, p.non_null)
        f = p.first
        if kind.ordered:
            m["min"], m["max"] = json_scalar(f.get("min"), kind), json_scalar(f.get("max"), kind)
        if kind.numeric:
            m["mean"], m["stddev"] = json_number(f.get("mean")), json_number(f.get("sd"))
        if kind is Kind.TEXT:
            m["length"] = {"min": f.get("lmin"), "mean": int(f["lsum"]) / p.non_null, "max": f.get("lmax")}
        k, sampled_n, quants, tops, hist = shape.get(f"c{p.idx}") or [None] * 5
        sampled_n = int(sampled_n or 0)
        exact = self.sample_fraction >= 1.0
        scale = p.non_null / sampled_n if sampled_n else 0.0
        if p.path == "grouped":
            rows = [r for r in shape.get("grouped") or [] if r[0] == p.idx]
            m["top_values"] = top_values((v, c) for _, v, c, _ in rows)
            m["distinct"] = int(rows[0][3]) if rows else 0
            m.update(distinct_is_approx=False, distinct_error=0.0, distinct_method="group_by")
        elif p.path == "whole":
            distinct, ranked = tops or (0, None)
            m["top_values"] = top_values((v, c) for v, c in ranked or [])
            m.update(
                distinct=int(distinct), distinct_is_approx=False, distinct_error=0.0, distinct_method="exact"
            )
        elif p.path == "hashed":
            k = int(k or 0)
            if p.threshold is None:
                m.update(distinct=k, distinct_is_approx=False, distinct_error=0.0, distinct_method="hash")
            else:
                m.update(
                    distinct=min(p.non_null, round(k / p.p)),
                    distinct_is_approx=True,
                    distinct_error=math.sqrt((1 - p.p) / max(k, 1)),
                    distinct_method="hash_threshold",
                    distinct_sample={"hashes": k, "fraction": p.p},
                )
            m["top_values"] = top_values((v, c if exact else round(c * scale)) for v, c in tops or [])
            m["top_values_is_approx"] = not exact
        if kind.numeric:
            m["quantiles"] = quantile_dict(quants)
            m["quantiles_is_approx"] = not exact
            m["histogram"] = self._histogram(p, hist, exact, scale)
        if not exact and p.sample_pos:
            m["sample_rows"] = sampled_n
        return m

    def _histogram(self, p: _ColPlan, buckets: Any, exact: bool, scale: float) -> dict[str, Any] | None:
        lo, hi = _as_float(p.first.get("min")), _as_float(p.first.get("max"))
        if not (is_finite_number(lo) and is_finite_number(hi)):
            return None
        assert lo is not None and hi is not None
        if lo == hi:
            return histogram_from_counts(lo, hi, {0: p.non_null}, is_approx=False)
        counts = {int(b) - 1: (int(c) if exact else round(int(c) * scale)) for b, c in buckets or []}
        return histogram_from_counts(lo, hi, counts, is_approx=not exact)


def _finite_range(lo: float, hi: float) -> bool:
    return math.isfinite(lo) and math.isfinite(hi) and lo < hi


def _as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
