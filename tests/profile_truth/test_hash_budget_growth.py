"""The hashes a profile keeps per column stay within the budget as the rows grow (issue #16 item 6).

A column hashed below a threshold keeps every row of each value under the threshold, not one hash
per value. A plan from ``pg_stats`` once gave a column of more than 1,000 estimated values a
share of at least ``2 x distinct_min_sample / d_est`` of the hash space whatever the row count,
so a column of 50,000 values kept 6.4 % of all rows (3.2M hashes at 50M rows, the growth bench's
backend memory 2.24x from 5M to 50M). Now the share stops at ``hashes_per_column`` rows and the
distinct count states the (wider) error of the fewer distinct hashes it keeps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.types import Integer

# isort: split
from assay.profiling.metrics import Kind
from assay.profiling.sql import SqlTuning, profile_sql
from assay.profiling.sql.plan import GROUPED, HASHED, SqlColumn, estimated_plan, quote_identifier, table_of

BUDGET = 20_000
#: A small budget standing for the default 262,144 hashes: the same code path at test size.
TUNING = SqlTuning(
    sample_rows=2_000,
    distinct_sample=1_024,
    distinct_min_sample=1_000,
    hashes_per_column=BUDGET,
    exact_distinct_rows=0,
    distinct_floor=50,
)
SIZES = (200_000, 800_000)
VALUES = 5_000


def test_the_planned_share_keeps_at_most_the_budget_at_any_row_count():
    """Default tuning: a 50,000-value column (the bench's ``product_id``) at 5M and 50M rows."""
    tuning = SqlTuning()
    cols = [SqlColumn(f"c{i}", Kind.INTEGER, Integer(), "integer") for i in range(16)]
    table = table_of(quote_identifier, "t", "public", cols, has_ctid=True, tid_unique=True)
    stats = {f"c{i}": (0.0, 50_000.0 if i == 3 else -1.0) for i in range(16)}
    for rows in (5_000_000, 50_000_000):
        col = estimated_plan(table, stats, rows, tuning).columns[3]  # type: ignore[arg-type]
        assert col.path == HASHED and col.threshold is not None
        assert col.p * col.non_null <= tuning.hashes_per_column * 1.0001, rows
        # The guard asks for what the capped share can give, never less than the floor.
        assert col.guard is not None and tuning.distinct_floor <= col.guard <= col.d_est * col.p, rows


@pytest.fixture(scope="module")
def growth(scratch_db) -> Iterator[sa.Engine]:
    with scratch_db("growth") as url:
        eng = sa.create_engine(url)
        with eng.begin() as c:
            for rows in SIZES:
                c.execute(text(f"CREATE TABLE r{rows} (id bigint, v integer) WITH (autovacuum_enabled = off)"))
                # VALUES values, each repeated rows / VALUES times on average (hashint8: deterministic).
                c.execute(
                    text(
                        f"INSERT INTO r{rows} SELECT g, (hashint8(g) & 2147483647) % {VALUES} "
                        f"FROM generate_series(1, {rows}) g"
                    )
                )
        with eng.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE " + ", ".join(f"r{rows}" for rows in SIZES)
            )
        yield eng
        eng.dispose()


@pytest.mark.integration
def test_kept_hashes_stay_within_the_budget_as_rows_grow(growth):
    kept: dict[int, dict[str, Any]] = {}
    for rows in SIZES:
        prof = profile_sql(growth, f"r{rows}", "public", None, None, tuning=TUNING)
        # Read once: no fallback to the two statements (the guard accepts the capped column).
        assert prof.stats["plan"] == "one_statement" and "fallback" not in prof.stats, prof.stats
        v = prof.columns["v"]
        assert v["distinct_method"] == "hash_threshold"
        sample = v["distinct_sample"]
        kept[rows] = sample
        # The rows the statement kept for v: every occurrence of a kept value, at most the budget
        # (binomial slack: ~500 and ~125 kept values of ~40 and ~160 rows each).
        assert sample["kept_rows"] <= BUDGET * 1.25, (rows, sample)
        # The distinct count within its stated error of exact SQL, and the error is the one the
        # hashes kept give.
        with growth.connect() as c:
            exact = c.execute(text(f"SELECT count(DISTINCT v) FROM r{rows}")).scalar_one()
        error = v["distinct_error"]
        assert error == pytest.approx(math.sqrt((1 - sample["fraction"]) / sample["hashes"]))
        assert error <= 1 / math.sqrt(TUNING.distinct_floor)
        assert abs(v["distinct"] - exact) <= 4 * error * exact, (rows, v["distinct"], exact, error)
    # Four times the rows, not four times the kept hashes.
    assert kept[SIZES[1]]["kept_rows"] <= 1.5 * kept[SIZES[0]]["kept_rows"], kept


def test_a_column_whose_values_repeat_beyond_the_budget_is_counted_by_group_by():
    """Default tuning, wide60's 10,000-value integer columns: hashed at 5M rows, grouped at 50M.

    At 50M rows each value repeats 5,000 times: the share capped at ``hashes_per_column`` rows
    keeps ~52 distinct hashes, fewer than the guard's floor (100). Planned as hashed, the
    statement was discarded and the partition read three more times (wide60: 2.41x the time per
    5M rows of its 5M reading).
    """
    tuning = SqlTuning()
    cols = [SqlColumn(f"c{i}", Kind.INTEGER, Integer(), "integer") for i in range(60)]
    table = table_of(quote_identifier, "t", "public", cols, has_ctid=True, tid_unique=True)
    stats = {f"c{i}": (0.0, 10_000.0 if i == 7 else -1.0) for i in range(60)}
    small = estimated_plan(table, stats, 5_000_000, tuning).columns[7]  # type: ignore[arg-type]
    assert small.path == HASHED and small.d_est * small.p >= 2 * tuning.distinct_floor
    plan = estimated_plan(table, stats, 50_000_000, tuning)  # type: ignore[arg-type]
    assert plan.columns[7].path == GROUPED and plan.split
    assert ["c7"] in plan.figures["key_sets"] and len(plan.figures["expected_groups"]) == len(plan.key_sets)


@pytest.fixture(scope="module")
def repeated(scratch_db) -> Iterator[sa.Engine]:
    """2,000 values in 800,000 rows (400 each): the test budget keeps ~50 of them, below 2 x the floor."""
    with scratch_db("repeated") as url:
        eng = sa.create_engine(url)
        with eng.begin() as c:
            c.execute(text("CREATE TABLE rep (id bigint, w integer) WITH (autovacuum_enabled = off)"))
            c.execute(
                text("INSERT INTO rep SELECT g, (hashint8(g) & 2147483647) % 2000 FROM generate_series(1, 800000) g")
            )
        with eng.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE rep")
        yield eng
        eng.dispose()


@pytest.mark.integration
def test_repeated_values_are_counted_once_without_a_fallback(repeated):
    prof = profile_sql(repeated, "rep", "public", None, None, tuning=TUNING)
    # Read once (plus the key counts): no discarded statement, no two-statement fallback.
    assert prof.stats["plan"] == "one_statement_and_group_counts" and "fallback" not in prof.stats, prof.stats
    assert ["w"] in prof.stats["key_sets"]
    w = prof.columns["w"]
    with repeated.connect() as c:
        exact, top = c.execute(
            text("SELECT count(DISTINCT w), (SELECT count(*) FROM rep GROUP BY w ORDER BY 1 DESC LIMIT 1) FROM rep")
        ).one()
    assert (w["distinct"], w["distinct_is_approx"], w["distinct_method"]) == (exact, False, "group_by")
    assert w["top_values"][0]["count"] == top
