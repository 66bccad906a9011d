"""Which plan profiles a SQL partition (one statement or two) and the fallbacks, on a real PostgreSQL.

Every table here is created with autovacuum off, so whether it has statistics is up to the test
(autovacuum would otherwise analyze it at some point of the run and change the plan under it).
"""

from __future__ import annotations

import datetime as dt
import decimal
import statistics

import pytest
import sqlalchemy as sa
from sqlalchemy import text
from support.db import statements_reading

# isort: split
from assay.profiling.sql import SqlTuning, profile_sql

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 11, 20)
# Small budgets so that a few thousand rows are a "large" partition: sampled, hashed and grouped.
# exact_distinct_rows=0: these small tables stand for large ones (the approximate paths).
TUNE = SqlTuning(
    sample_rows=500, distinct_sample=1024, distinct_min_sample=200, hashes_per_column=4000, exact_distinct_rows=0
)


@pytest.fixture
def source(fresh_db) -> sa.Engine:
    eng = sa.create_engine(fresh_db("plans"))
    yield eng
    eng.dispose()


def _analyze(eng: sa.Engine, table: str) -> None:
    with eng.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f"ANALYZE {table}")


def _events(eng: sa.Engine, rows: int, *, kinds: int, shops: int) -> list[tuple]:
    """A day of events: an id, a low-cardinality kind and shop, a price, a text with multi-byte characters."""
    with eng.begin() as c:
        c.execute(
            text(
                "CREATE TABLE ev (day date, id bigint, kind text, shop int, price numeric(10,2), "
                "score double precision, label text, at timestamptz) WITH (autovacuum_enabled = false)"
            )
        )
        c.execute(
            text(
                "INSERT INTO ev SELECT DATE '2026-11-20', g, 'k' || (g % :kinds), g % :shops, "
                "(hashint4(g) & 65535) / 100.0, sqrt(g) * 3.5, "
                "CASE WHEN g % 7 = 0 THEN NULL WHEN g % 3 = 0 THEN 'größe-' || g ELSE 'n' || (g % 1000) END, "
                "TIMESTAMPTZ '2026-11-20 00:00+00' + g * INTERVAL '1 second' "
                "FROM generate_series(1, :rows) g"
            ),
            {"kinds": kinds, "shops": shops, "rows": rows},
        )
        return c.execute(text("SELECT id, kind, shop, price, score, label, at FROM ev")).all()


def _check_exact_stats(m: dict, rows: list[tuple]) -> None:
    """count/min/max/mean/stddev/lengths are exact on every plan: check them against Python."""
    ids = [r[0] for r in rows]
    prices = [r[3] for r in rows]
    scores = [r[4] for r in rows]
    labels = [r[5] for r in rows if r[5] is not None]
    assert m["id"]["row_count"] == len(rows) and (m["id"]["min"], m["id"]["max"]) == (min(ids), max(ids))
    assert m["id"]["mean"] == pytest.approx(statistics.fmean(ids), rel=1e-12)
    assert m["id"]["stddev"] == pytest.approx(statistics.stdev(ids), rel=1e-9)
    assert m["price"]["mean"] == pytest.approx(float(sum(prices) / len(prices)), rel=1e-12)
    assert m["price"]["stddev"] == pytest.approx(
        float(statistics.stdev([decimal.Decimal(p) for p in prices])), rel=1e-9
    )
    assert m["price"]["min"] == pytest.approx(float(min(prices))) and m["price"]["max"] == pytest.approx(
        float(max(prices))
    )
    assert m["score"]["stddev"] == pytest.approx(statistics.stdev(scores), rel=1e-9)
    lengths = [len(v) for v in labels]
    assert m["label"]["null_count"] == len(rows) - len(labels)
    assert m["label"]["length"]["min"] == min(lengths) and m["label"]["length"]["max"] == max(lengths)
    assert m["label"]["length"]["mean"] == pytest.approx(statistics.fmean(lengths))
    assert (m["label"]["min"], m["label"]["max"]) == (min(labels), max(labels))
    assert m["at"]["min"] == min(r[6] for r in rows).isoformat()
    for col in ("id", "price", "score"):
        assert sum(m[col]["histogram"]["counts"]) == pytest.approx(len(rows), rel=0.2)


def test_small_partition_one_statement_after_a_bounded_probe(source):
    """A partition the sample covers is read by the probe (at most sample_rows + 1 rows) and one statement."""
    rows = _events(source, 400, kinds=3, shops=5)
    scans = statements_reading(source, "ev")
    prof = profile_sql(source, "ev", "public", "day", DAY, tuning=TUNE)
    assert prof.stats["plan"] == "one_statement" and prof.stats["probe_rows"] == 400
    assert len(scans) == 2 and "LIMIT 501" in scans[0]
    assert prof.columns["kind"]["distinct"] == 3 and prof.columns["kind"]["distinct_method"] == "exact"
    _check_exact_stats(prof.columns, rows)


def test_analyzed_table_few_groups_takes_one_statement(source):
    """With statistics and a small GROUP BY, one statement computes everything; figures stay exact."""
    rows = _events(source, 6000, kinds=3, shops=4)
    _analyze(source, "ev")
    scans = statements_reading(source, "ev")
    prof = profile_sql(source, "ev", "public", "day", DAY, tuning=TUNE)
    assert prof.stats["plan"] == "one_statement" and prof.stats["estimates"] == "pg_stats"
    assert prof.stats["statements"] == 2 and len(scans) == 2  # the probe (LIMIT 501) and one statement
    assert "fallback" not in prof.stats
    assert sorted(prof.stats["key_sets"][0]) == ["day", "kind", "shop"]
    m = prof.columns
    assert m["kind"]["distinct_method"] == "group_by" and m["kind"]["distinct"] == 3
    assert m["kind"]["top_values"] == [{"value": f"k{i}", "count": 2000} for i in range(3)]
    assert m["shop"]["top_values"] == [{"value": str(i), "count": 1500} for i in range(4)]
    assert m["id"]["distinct_method"] == "hash_threshold"
    assert abs(m["id"]["distinct"] - 6000) <= 3 * m["id"]["distinct_error"] * 6000
    # The groups' means and variances are merged in SQL: checked against Python on all rows.
    _check_exact_stats(m, rows)


def test_analyzed_table_many_groups_counts_the_keys_in_a_second_statement(source):
    """Past single_groups_max expected groups: one plain statement, then GROUP BY the keys, count(*) only.

    Per-group statistics would cost a cache miss per aggregate and row; the plain statement
    computes them once, samples rows by ctid (fetched back by a TID scan), and the second
    statement counts the key columns' values and finishes multi-byte text lengths.
    """
    rows = _events(source, 6000, kinds=30, shops=40)
    _analyze(source, "ev")
    scans = statements_reading(source, "ev")
    prof = profile_sql(source, "ev", "public", "day", DAY, tuning=TUNE)
    assert prof.stats["plan"] == "one_statement_and_group_counts" and prof.stats["estimates"] == "pg_stats"
    assert prof.stats["statements"] == 3 and len(scans) == 3  # probe, everything but the key counts, keys
    aggregate = scans[1][: scans[1].index(", sm AS")]  # the CTE that scans the partition
    assert "GROUP BY" not in aggregate and "octet_length" in aggregate and "t.ctid = ANY" in scans[1]
    # label's multi-byte text shows in pg_stats: counted in characters by the plain statement
    # (text ANALYZE saw as one byte per character is measured in bytes; see test_profile_lengths.py)
    assert 'min(char_length(t."label"' in aggregate and 'char_length(t."label"' not in scans[2]
    assert "GROUP BY" in scans[2] and "array_agg" not in scans[2]
    assert 'min(t."kind")' not in scans[1]  # the key columns' figures come from their value counts
    m = prof.columns
    assert (m["kind"]["distinct"], m["shop"]["distinct"]) == (30, 40)
    assert {m["kind"]["distinct_method"], m["shop"]["distinct_method"]} == {"group_by"}
    assert m["kind"]["top_values"][0] == {"value": "k0", "count": 200}
    assert sum(m["shop"]["histogram"]["counts"]) == pytest.approx(6000, rel=0.2)  # edges from statement 1
    assert 300 < m["price"]["sample_rows"] < 800 and m["price"]["quantiles_is_approx"] is True
    _check_exact_stats(m, rows)
    # The key columns' count/min/max/mean/stddev/lengths, computed from their value counts.
    shops, kinds = [r[2] for r in rows], [r[1] for r in rows]
    assert (m["shop"]["null_count"], m["shop"]["min"], m["shop"]["max"]) == (0, 0, 39)
    assert m["shop"]["mean"] == pytest.approx(statistics.fmean(shops), rel=1e-12)
    assert m["shop"]["stddev"] == pytest.approx(statistics.stdev(shops), rel=1e-9)
    lengths = [len(k) for k in kinds]
    assert (m["kind"]["min"], m["kind"]["max"]) == (min(kinds), max(kinds))
    assert (m["kind"]["length"]["min"], m["kind"]["length"]["max"]) == (min(lengths), max(lengths))
    assert m["kind"]["length"]["mean"] == pytest.approx(statistics.fmean(lengths))
    assert (m["day"]["min"], m["day"]["max"], m["day"]["row_count"]) == ("2026-11-20", "2026-11-20", 6000)


def test_never_analyzed_table_takes_two_statements_with_the_sketch(source):
    rows = _events(source, 3000, kinds=3, shops=4)
    scans = statements_reading(source, "ev")
    prof = profile_sql(source, "ev", "public", "day", DAY, tuning=TUNE)
    assert prof.stats["plan"] == "two_statements" and "estimates" not in prof.stats
    assert "no statistics" in prof.stats["fallback"]
    assert prof.stats["statements"] == 3 and len(scans) == 3
    assert "hashint8extended" in scans[1]  # the sketch plans statement 2
    assert prof.columns["kind"]["distinct"] == 3
    _check_exact_stats(prof.columns, rows)


def test_a_view_takes_two_statements(source):
    _events(source, 3000, kinds=3, shops=4)
    _analyze(source, "ev")
    with source.begin() as c:
        c.execute(text("CREATE VIEW ev_v AS SELECT * FROM ev"))
    prof = profile_sql(source, "ev_v", "public", "day", DAY, tuning=TUNE)
    assert prof.stats["plan"] == "two_statements" and prof.stats["fallback"] == "a view has no statistics"
    assert prof.columns["kind"]["distinct"] == 3


def test_ascii_text_lengths_from_byte_lengths(source):
    """All one-byte characters: statement 2 computes no char_length, the byte lengths are the answer."""
    rows = _events(source, 6000, kinds=30, shops=40)
    with source.begin() as c:
        c.execute(text("UPDATE ev SET label = 'n' || id WHERE label LIKE 'g%'"))
    _analyze(source, "ev")
    scans = statements_reading(source, "ev")
    m = profile_sql(source, "ev", "public", "day", DAY, tuning=TUNE).columns
    assert 'char_length(t."label"' not in scans[2]
    labels = ["n" + str(r[0]) if r[5] is not None and r[5].startswith("g") else r[5] for r in rows]
    lengths = [len(v) for v in labels if v is not None]
    assert (m["label"]["length"]["min"], m["label"]["length"]["max"]) == (min(lengths), max(lengths))


def test_stale_statistics_fall_back_to_the_sketch(source):
    """A distinct estimate far too high keeps too few hashes: the partition is redone with statement 1.

    ``x`` is unique when analyzed, then rewritten to 300 values: ``pg_stats`` still says unique,
    so the plan hashes ``x`` with a fraction meant for 6,000 values and keeps ~50 hashes, below
    ``distinct_min_sample``. Its error would exceed the bound the plan promised, so the profile
    is recomputed with the two-statement plan, whose sketch sees the 300 values.
    """
    with source.begin() as c:
        c.execute(text("CREATE TABLE st (day date, x int, y int) WITH (autovacuum_enabled = false)"))
        c.execute(text("INSERT INTO st SELECT DATE '2026-11-20', g, g % 3 FROM generate_series(1, 6000) g"))
    _analyze(source, "st")
    with source.begin() as c:
        c.execute(text("UPDATE st SET x = x % 300"))
    scans = statements_reading(source, "st")
    prof = profile_sql(source, "st", "public", "day", DAY, tuning=TUNE)
    assert prof.stats["plan"] == "two_statements"
    assert prof.stats["fallback"].startswith("too few hashes kept for x")
    assert prof.stats["statements_discarded"] == 1 and prof.stats["statements"] == 4 and len(scans) == 4
    x = prof.columns["x"]
    assert abs(x["distinct"] - 300) <= 3 * x["distinct_error"] * 300  # within its (new, honest) bound
    assert x["distinct_error"] < 0.1


def test_single_statement_can_be_turned_off(source):
    _events(source, 400, kinds=3, shops=5)
    prof = profile_sql(source, "ev", "public", "day", DAY, tuning=SqlTuning(single_statement=False))
    assert prof.stats["plan"] == "two_statements" and prof.stats["statements"] == 2


def test_several_key_sets_in_the_counts_statement(source):
    """Keys too many for one joint GROUP BY: the counts statement uses GROUPING SETS, figures stay exact."""
    rows = _events(source, 6000, kinds=30, shops=40)
    _analyze(source, "ev")
    tune = SqlTuning(
        sample_rows=500,
        distinct_sample=1024,
        distinct_min_sample=200,
        hashes_per_column=4000,
        joint_groups_max=50,
        exact_distinct_rows=0,
    )
    scans = statements_reading(source, "ev")
    prof = profile_sql(source, "ev", "public", "day", DAY, tuning=tune)
    assert prof.stats["plan"] == "one_statement_and_group_counts" and len(prof.stats["key_sets"]) >= 2
    assert "GROUPING SETS" in scans[2]
    m = prof.columns
    assert (m["kind"]["distinct"], m["shop"]["distinct"]) == (30, 40)
    assert m["shop"]["top_values"][0] == {"value": "0", "count": 150}
    shops = [r[2] for r in rows]
    assert m["shop"]["mean"] == pytest.approx(statistics.fmean(shops), rel=1e-12)
    assert m["shop"]["stddev"] == pytest.approx(statistics.stdev(shops), rel=1e-9)
    assert sum(m["shop"]["histogram"]["counts"]) == pytest.approx(6000, rel=0.2)
    _check_exact_stats(m, rows)


def test_too_wide_for_one_statement_takes_two(source):
    """900 columns need ~1,800 result columns in one statement (PostgreSQL allows 1,664): two statements."""
    cols = [f"c{i}" for i in range(900)]
    with source.begin() as c:
        c.execute(text(f"CREATE TABLE w (day date, {', '.join(f'{n} integer' for n in cols)})"))
        c.execute(
            text(
                f"INSERT INTO w SELECT DATE '2026-11-20', {', '.join(f'(g + {i}) % 7' for i in range(900))} "
                "FROM generate_series(1, 200) g"
            )
        )
    prof = profile_sql(source, "w", "public", "day", DAY)
    assert prof.stats["plan"] == "two_statements"
    assert prof.stats["fallback"] == "too many result columns for one statement"
    assert prof.columns["c5"]["distinct"] == 7 and prof.columns["c5"]["distinct_method"] == "exact"


def test_partitioned_table_samples_only_the_partition(source):
    """In a partitioned table a ctid names a row per partition: the row sample must stay in the day.

    Both days' partitions hold rows at the same ctids; a sample fetched back by ctid alone would
    mix in the other day's ids (6,001-12,000).
    """
    with source.begin() as c:
        c.execute(text("CREATE TABLE pt (day date, id bigint, kind text, shop int) PARTITION BY RANGE (day)"))
        for name, lo, hi in (("pt1", "2026-11-20", "2026-11-21"), ("pt2", "2026-11-21", "2026-11-22")):
            c.execute(
                text(
                    f"CREATE TABLE {name} PARTITION OF pt FOR VALUES FROM ('{lo}') TO ('{hi}') "
                    "WITH (autovacuum_enabled = false)"
                )
            )
        c.execute(
            text(
                "INSERT INTO pt SELECT DATE '2026-11-20' + (g > 6000)::int, g, 'k' || (g % 30), g % 40 "
                "FROM generate_series(1, 12000) g"
            )
        )
    _analyze(source, "pt")
    prof = profile_sql(source, "pt", "public", "day", DAY, tuning=TUNE)
    assert prof.stats["estimates"] == "pg_stats" and prof.stats["sample_fraction"] < 1
    ids = prof.columns["id"]
    assert (ids["row_count"], ids["min"], ids["max"]) == (6000, 1, 6000)
    assert all(1 <= q <= 6000 for q in ids["quantiles"].values()), ids["quantiles"]
    assert 300 < ids["sample_rows"] < 800
    assert sum(ids["histogram"]["counts"]) == pytest.approx(6000, rel=0.2)
