"""Planning and SQL generation of the SQL profiler, without a database: plan -> statements.

The identifiers are quoted by PostgreSQL's dialect (no connection needed); each test states what a
plan must produce, so a change to the planning or to the generated text fails here before it
reaches PostgreSQL (tests/integration/test_profiling_plans.py runs the statements).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import BigInteger, Boolean, Date, DateTime, Integer, Numeric, Text, TypeEngine

from assay.profiling.sql import decode, generate
from assay.profiling.sql.fragments import hash_expr, partition_predicate, stats_fields
from assay.profiling.sql.plan import (
    EMPTY,
    GROUP_COUNTS,
    GROUPED,
    HASHED,
    ONE_STATEMENT,
    TWO_STATEMENTS,
    WHOLE,
    SqlColumn,
    SqlTuning,
    Table,
    empty_plan,
    estimated_plan,
    initial,
    kept_fraction,
    kind_of,
    measured_plan,
    missing_statistics,
    probe_cap,
    table_of,
    threshold,
    whole_plan,
)

QUOTE = postgresql.dialect().identifier_preparer.quote_identifier
DAY = dt.date(2026, 11, 20)
# exact_distinct_rows=0: these small tables stand for large ones (the approximate paths).
TUNE = SqlTuning(
    sample_rows=500, distinct_sample=1024, distinct_min_sample=200, hashes_per_column=4000, exact_distinct_rows=0
)
WEIRD = ['a"b', "my col", "größe", "x; DROP TABLE y--"]


def col(name: str, sql_type: TypeEngine[Any]) -> SqlColumn:
    return SqlColumn(name, kind_of(sql_type), sql_type, str(sql_type))


def events(*, has_ctid: bool = True, tid_unique: bool = True) -> Table:
    """A day of events: a unique id, two low-cardinality keys, a price, a text, a flag."""
    cols = [
        col("day", Date()),
        col("id", BigInteger()),
        col("kind", Text()),
        col("shop", Integer()),
        col("price", Numeric(10, 2)),
        col("label", Text()),
        col("flag", Boolean()),
    ]
    where, params = partition_predicate(f"t.{QUOTE('day')}", Date(), DAY)
    return table_of(
        QUOTE, "ev", "public", cols, where=where, params=params, has_ctid=has_ctid, tid_unique=tid_unique
    )


def pg_stats(kinds: int, shops: int) -> dict[str, tuple[float, float]]:
    """``{column: (null_frac, n_distinct)}`` as ANALYZE would record them for :func:`events`."""
    return {
        "day": (0.0, 1.0),
        "id": (0.0, -1.0),
        "kind": (0.0, float(kinds)),
        "shop": (0.0, float(shops)),
        "price": (0.0, -0.5),
        "label": (0.1, -0.3),
    }


def without_quoted(sql: str) -> str:
    """The statement with every quoted identifier and string literal removed."""
    return re.sub(r"'(?:[^']|'')*'", "", re.sub(r'"(?:[^"]|"")*"', "", sql))


# ---- quoting ------------------------------------------------------------------------------------
def test_odd_identifiers_reach_sql_only_quoted():
    cols = [col(name, Text()) for name in WEIRD]
    where, params = partition_predicate(f"t.{QUOTE('dä y')}", Date(), DAY)
    table = table_of(QUOTE, "tbl; x", "my schema", cols, where=where, params=params, has_ctid=True)
    assert table.qualified == '"my schema"."tbl; x"'
    assert table.refs[0] == 't."a""b"' and table.refs[3] == 't."x; DROP TABLE y--"'
    plan = whole_plan(table, 5, TUNE)
    statements = [
        generate.probe_sql(table, 5),
        generate.stats_sql(table, initial(table)),
        generate.one_statement_sql(table, plan),
        generate.explain_sql(table),
    ]
    for sql in statements:
        assert 'FROM "my schema"."tbl; x" AS t WHERE t."dä y" = :part' in sql
        rest = without_quoted(sql)
        # Nothing of the names is left outside quotes: no statement separator, no comment, no name.
        assert ";" not in rest and "--" not in rest and "DROP" not in rest and "größe" not in rest
    assert 'count(t."a""b")' in statements[1]
    assert params == {"part": DAY}


def test_partition_predicates_bind_their_values():
    assert partition_predicate('t."d"', Date(), DAY) == (' WHERE t."d" = :part', {"part": DAY})
    # A date against a text column compares its ISO form.
    assert partition_predicate('t."ds"', Text(), DAY)[1] == {"part": "2026-11-20"}
    # A date against a timestamp selects the whole day, in UTC for timestamptz.
    sql, params = partition_predicate('t."at"', DateTime(timezone=True), DAY)
    assert sql == ' WHERE t."at" >= :part_lo AND t."at" < :part_hi'
    assert params["part_lo"] == dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    assert params["part_hi"] - params["part_lo"] == dt.timedelta(days=1)
    assert partition_predicate('t."at"', DateTime(), DAY)[1]["part_lo"].tzinfo is None


def test_hashes_follow_the_type():
    assert hash_expr(col("i", BigInteger()), "t.i") == "hashint8extended(t.i, 1)"
    assert hash_expr(col("n", Numeric()), "t.n") == "hash_numeric_extended(t.n, 1)"
    utc = hash_expr(col("at", DateTime(timezone=True)), "t.at")
    assert utc == "timestamp_hash_extended((t.at AT TIME ZONE 'UTC'), 1)"
    assert hash_expr(col("j", postgresql.JSONB()), "t.j") == "jsonb_hash_extended(t.j, 1)"
    assert hash_expr(col("x", postgresql.INET()), "t.x") == "hashtextextended(t.x::text, 1)"


# ---- which statements a plan produces -----------------------------------------------------------
def test_probe_reads_at_most_cap_plus_one_rows():
    table = events()
    cap = probe_cap(table.columns, TUNE)
    assert cap == 500  # booleans are not sampled, so they do not shrink the cap
    assert generate.probe_sql(table, cap).endswith("LIMIT 501) AS s")


def test_empty_partition_plans_nothing_to_read():
    plan = empty_plan(events())
    assert plan.shape == EMPTY and plan.n == 0 and all(c.first == {"nn": 0} for c in plan.columns)


def test_a_small_partition_is_collected_whole_by_one_statement():
    table = events()
    plan = whole_plan(table, 500, TUNE)
    assert plan.shape == ONE_STATEMENT and plan.exact and plan.key_sets == ()
    assert [c.path for c in plan.columns] == [WHOLE] * 6 + ["none"]  # the flag is counted, not sampled
    assert not any(c.approximate for c in plan.columns)
    sql = generate.one_statement_sql(table, plan)
    assert "GROUP BY GROUPING SETS" not in sql and "hashtidextended" not in sql
    assert sql.endswith(" FROM g AS r") and 'json_build_array(count(t."id")' in sql
    assert 'count(NULLIF(t."flag", false))' in sql
    assert generate.result_columns(plan) <= generate.MAX_COLUMNS


def test_few_groups_from_statistics_take_one_grouped_statement():
    table = events()
    plan = estimated_plan(table, pg_stats(kinds=3, shops=4), 100_000, TUNE)
    # byte lengths (one char_length per value): pg_stats showed no multi-byte text
    assert plan.shape == ONE_STATEMENT and not plan.split and not plan.chars
    paths = {c.col.name: c.path for c in plan.columns}
    assert paths["kind"] == paths["shop"] == paths["day"] == GROUPED
    assert paths["id"] == HASHED and plan.columns[1].approximate
    assert plan.figures["key_sets"] == [["day", "kind", "shop"]]
    sql = generate.one_statement_sql(table, plan)
    assert " GROUP BY 1, 2, 3)" in sql and "s0 AS (SELECT" in sql and " FROM st AS r" in sql
    # the row sample as row ids, one row hash per row inside the grouped scan, fetched by ctid
    assert "array_agg(t.ctid) FILTER (WHERE hashtidextended(t.ctid, 1) <= " in sql
    assert sql.count("hashtidextended") == 1 and "t.ctid = ANY ((SELECT array_agg(u.x) FROM g" in sql


def test_many_groups_split_off_a_counts_statement():
    table = events()
    plan = estimated_plan(table, pg_stats(kinds=30, shops=40), 100_000, TUNE)
    assert plan.shape == GROUP_COUNTS and plan.split and not plan.chars
    one = generate.one_statement_sql(table, plan)
    aggregate = one[: one.index(", sm AS")]
    assert "GROUP BY" not in aggregate and "octet_length" in aggregate
    assert "t.ctid = ANY" in one and 'min(t."kind")' not in one  # keys' figures come from the counts
    counts = generate.group_counts_sql(table, plan)
    assert "GROUP BY 1, 2, 3" in counts and "array_agg" not in counts and "AS grouped" in counts


def test_partitioned_tables_never_fetch_the_sample_by_ctid():
    table = events(tid_unique=False)
    plan = estimated_plan(table, pg_stats(kinds=30, shops=40), 100_000, TUNE)
    sql = generate.one_statement_sql(table, plan)
    assert "t.ctid = ANY" not in sql and "sm AS" not in sql
    assert "FILTER (WHERE hashtidextended(t.ctid, 1) <= " in sql


def test_several_key_sets_use_grouping_sets():
    table = events()
    tune = SqlTuning(sample_rows=500, distinct_sample=1024, distinct_min_sample=200, joint_groups_max=20)
    plan = estimated_plan(table, pg_stats(kinds=10, shops=12), 100_000, tune)
    assert len(plan.key_sets) >= 2
    counts = generate.group_counts_sql(table, plan)
    assert "GROUP BY GROUPING SETS" in counts and "g.gs1 = 0" in counts


def test_key_sets_beyond_the_limit_are_hashed():
    table = events()
    tune = SqlTuning(
        sample_rows=500, distinct_sample=1024, distinct_min_sample=200, joint_groups_max=20, key_sets_max=1
    )
    plan = estimated_plan(table, pg_stats(kinds=10, shops=12), 100_000, tune)
    assert len(plan.key_sets) == 1
    assert sum(c.path == GROUPED for c in plan.columns) == len(plan.key_sets[0])
    assert {c.col.name for c in plan.columns if c.path == HASHED} >= {"id"}
    assert len({c.col.name for c in plan.columns if c.path == HASHED}) >= 2


# ---- the two-statement (fallback) plans ---------------------------------------------------------
def statement1_row(table: Table, n: int) -> dict[str, Any]:
    """Statement 1's row for :func:`events`: one JSON array per column in stats_fields order (value checks before the sketch)."""
    by_name = {
        "day": [n, "2026-11-20", "2026-11-20", -(2**63), 2**63 - 1],
        "id": [n, 1, n, n / 2, 10.0, 0, 0, -(2**63) + 2**50, 2**63 - 2**50],
        "kind": [n, "k0", "k2", 2 * n, 2 * n, 2 * n, 2, 0, 0, None, -(2**63) + 2**61, 2**63 - 2**61],
        "shop": [n, 0, 3, 1.5, 1.1, 0, 0, -(2**63) + 2**61, 2**63 - 2**61],
        "price": [n, 5, 5, 5, 0, 0, 0, -(2**62), 2**62],
        "label": [n, "a", "zz", 3 * n, 4 * n, 4, 8, 0, 0, None, -(2**63) + 2**40, 2**63 - 2**40],
        "flag": [n, n // 2],
    }
    row: dict[str, Any] = {"n": n}
    for c in initial(table):
        values = by_name[c.col.name]
        assert len(values) == len(stats_fields(c, chars=False)), c.col.name
        row[f"c{c.idx}"] = values
    return row


def test_statement_1_plans_statement_2_and_its_histogram_edges():
    table = events(has_ctid=False)  # a view: no statistics, no ctid
    assert "hashint8extended" in generate.stats_sql(table, initial(table))  # the sketch
    n, columns = decode.statement1(initial(table), statement1_row(table, 50_000))
    plan = measured_plan(columns, n, TUNE, "a view has no statistics")
    assert plan.shape == TWO_STATEMENTS and plan.fallback == "a view has no statistics"
    assert plan.n == 50_000 and not plan.exact
    label = plan.columns[5]
    assert label.chars_pending  # multi-byte text: its character lengths come from statement 2
    sql, params = generate.shape_sql(table, plan)
    assert params == {"lo1": 1.0, "hi1": 50_000.0, "lo3": 0.0, "hi3": 3.0}  # price: min == max, no edges
    assert "hashtextextended(t::text, 1) <= " in sql  # a view's rows are sampled by their text
    assert 'min(char_length(t."label"::text)) AS cl5' in sql
    assert "r.n AS n" not in sql and not sql.endswith("AS r")


def test_fallback_reasons_name_the_columns_without_statistics():
    table = events()
    assert missing_statistics(table.columns, pg_stats(3, 4)) is None
    assert missing_statistics(table.columns, {}) == "no statistics for day, id, kind ... (never analyzed?)"
    stats = {k: v for k, v in pg_stats(3, 4).items() if k != "label"}
    assert missing_statistics(table.columns, stats) == "no statistics for label (never analyzed?)"


def test_too_wide_for_one_statement():
    cols = [col(f"c{i}", Integer()) for i in range(900)]
    table = table_of(QUOTE, "w", "public", cols, has_ctid=True, tid_unique=True)
    assert generate.result_columns(whole_plan(table, 200, SqlTuning())) > generate.MAX_COLUMNS
    narrow = table_of(QUOTE, "w", "public", cols[:10], has_ctid=True, tid_unique=True)
    assert generate.result_columns(whole_plan(narrow, 200, SqlTuning())) <= generate.MAX_COLUMNS


def test_too_few_hashes_are_detected():
    table = events()
    plan = estimated_plan(table, pg_stats(kinds=3, shops=4), 100_000, TUNE)
    hashed = {c.col.name: c.idx for c in plan.columns if c.approximate}
    assert set(hashed) == {"id", "price", "label"}
    enough = {f"c{i}": [900, 0, None, None, None] for i in hashed.values()}
    assert decode.short_of_hashes(plan, enough, 200) == []
    short = {**enough, f"c{hashed['id']}": [50, 0, None, None, None]}
    assert decode.short_of_hashes(plan, short, 200) == ["id"]


@pytest.mark.parametrize("p", [0.001, 0.03, 0.5])
def test_thresholds_keep_the_planned_fraction(p):
    assert kept_fraction(threshold(p)) == pytest.approx(p, rel=1e-9)


def test_threshold_of_the_whole_space_is_the_largest_hash():
    assert threshold(1.0) == 2**63 - 1
