"""The profile's cost guards (issue #16 target 1), checked on the plans and statements themselves.

Pure: no database. The figures these guards came from are in docs/profiling.md (Cost):

* the exact columns (every hash kept) share one hash budget: 60 numeric columns x 1M
  rows once kept every hash, 60M hashes in a 2.3 GB backend;
* no reduction reads a one-row array CTE in its own ``FROM`` (each such read copied every
  column's arrays: 37 reads took 5.2 s of a 23 s statement on 1M rows);
* columns that keep every hash split the key columns' counts off (no per-group merge of
  million-hash arrays after the scan).
"""

from __future__ import annotations

import re

from sqlalchemy.types import Integer, Text

from assay.profiling.metrics import Kind
from assay.profiling.sql.generate import one_statement_sql
from assay.profiling.sql.plan import (
    GROUPED,
    HASHED,
    SqlColumn,
    SqlTuning,
    estimated_plan,
    quote_identifier,
    table_of,
)


def _table(n_cols: int, kinds: tuple[Kind, ...] = (Kind.INTEGER,)) -> object:
    cols = []
    for i in range(n_cols):
        kind = kinds[i % len(kinds)]
        sql_type = Integer() if kind is Kind.INTEGER else Text()
        cols.append(SqlColumn(f"c{i}", kind, sql_type, "integer" if kind is Kind.INTEGER else "text"))
    return table_of(quote_identifier, "t", "public", cols, has_ctid=True, tid_unique=True)


def test_exact_columns_share_the_hash_budget():
    tuning = SqlTuning()
    table = _table(60)
    stats = {f"c{i}": (0.0, -1.0) for i in range(60)}  # every value distinct
    plan = estimated_plan(table, stats, 1_000_000, tuning)  # type: ignore[arg-type]
    exact = [c for c in plan.columns if c.path == HASHED and c.threshold is None]
    estimated = [c for c in plan.columns if c.path == HASHED and c.threshold is not None]
    assert sum(c.non_null for c in exact) <= tuning.exact_hashes_total
    assert len(exact) == tuning.exact_hashes_total // 1_000_000  # the first columns, in order
    assert [c.idx for c in exact] == list(range(len(exact)))
    assert len(exact) + len(estimated) == 60  # the rest estimated (stated error), none dropped


def test_a_narrow_table_under_the_exact_size_keeps_every_hash():
    plan = estimated_plan(_table(12), {f"c{i}": (0.0, -1.0) for i in range(12)}, 1_000_000, SqlTuning())  # type: ignore[arg-type]
    assert all(c.path == HASHED and c.threshold is None for c in plan.columns)


def test_every_hash_columns_split_the_key_counts_off():
    table = _table(6, (Kind.INTEGER, Kind.TEXT))
    # c0-c3 near-unique (every hash kept), c4, c5 five values each (GROUP BY keys)
    stats = {f"c{i}": (0.0, -1.0 if i < 4 else 5.0) for i in range(6)}
    plan = estimated_plan(table, stats, 1_000_000, SqlTuning())  # type: ignore[arg-type]
    assert [c.path for c in plan.columns] == [HASHED] * 4 + [GROUPED] * 2
    assert plan.split and "AS t GROUP BY" not in one_statement_sql(table, plan)  # type: ignore[arg-type]
    # Few hashes per column (estimated at 5M rows): one statement with its GROUP BY, as before.
    small = estimated_plan(table, stats, 5_000_000, SqlTuning())  # type: ignore[arg-type]
    assert not small.split


def test_no_reduction_reads_an_array_cte_in_its_own_from():
    table = _table(6, (Kind.INTEGER, Kind.TEXT))
    stats = {f"c{i}": (0.0, -1.0 if i < 4 else 5.0) for i in range(6)}
    for rows in (1_000_000, 5_000_000):
        plan = estimated_plan(table, stats, rows, SqlTuning())  # type: ignore[arg-type]
        sql = one_statement_sql(table, plan)  # type: ignore[arg-type]
        # Arrays are unnested from the outer row (r, m or sm), never re-read with FROM <cte>, unnest(...)
        assert not re.search(r"FROM (g|m|sm), unnest", sql), rows
        assert not re.search(r"\(SELECT coalesce\(cardinality", sql), rows
        assert "unnest(" in sql


def test_a_wide_table_keeps_enough_hashes_for_its_own_guard():
    """A 10,000-value column among 60 got 1/60 of the budget, fewer hashes than the guard asks."""
    tuning = SqlTuning()
    table = _table(60)
    stats = {f"c{i}": (0.0, 10_000.0 if i == 40 else -1.0) for i in range(60)}
    for rows in (1_000_000, 5_000_000):
        plan = estimated_plan(table, stats, rows, tuning)  # type: ignore[arg-type]
        col = plan.columns[40]  # past the 16 exact columns at 1M rows
        assert col.path == HASHED and col.threshold is not None
        # Twice what the guard asks of it; the guard asks less once the share is capped at
        # hashes_per_column rows (issue #16 item 6: kept rows bounded whatever the row count).
        guard = tuning.distinct_min_sample if col.guard is None else min(tuning.distinct_min_sample, col.guard)
        assert col.d_est * col.p >= 2 * guard and col.p * col.non_null <= tuning.hashes_per_column * 1.0001, rows
