"""SQL pushdown profiling on a real PostgreSQL, checked against an independent computation in Python."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import random
import statistics
from collections import Counter
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import event, text

# isort: split
from assay.errors import SourceError
from assay.profiling.metrics import HISTOGRAM_BUCKETS, QUANTILES, as_text, bucket_of
from assay.profiling.sql import SqlTuning, profile_sql, profile_sql_partition

pytestmark = pytest.mark.integration

# Tables larger than the row sample are created with autovacuum off: an ANALYZE landing mid-test
# would switch the profiler to the plan made from pg_stats (test_profiling_plans.py covers it).

DAY = dt.date(2026, 11, 20)
OTHER_DAY = dt.date(2026, 11, 21)
EMPTY_DAY = dt.date(2026, 11, 22)


@pytest.fixture
def source(fresh_db) -> sa.Engine:
    eng = sa.create_engine(fresh_db("prof"))
    yield eng
    eng.dispose()


def _rows(n: int, seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    words = ["red", "blue", "green", "größe", "café", "x", "long " * 5]
    rows = []
    for _ in range(n):
        rows.append(
            {
                "i4": rnd.randint(-50, 50) if rnd.random() > 0.1 else None,
                "i8": rnd.randint(0, 10**12),
                "i2": rnd.randint(0, 3),
                "f8": rnd.gauss(10, 3) if rnd.random() > 0.05 else None,
                "num": decimal.Decimal(rnd.randint(0, 100_000)) / 100,
                "txt": rnd.choice(words) + str(rnd.randint(0, 40)) if rnd.random() > 0.2 else None,
                "vc": rnd.choice(["a", "b", "c"]),
                "d": dt.date(2026, 1, 1) + dt.timedelta(days=rnd.randint(0, 30)),
                "ts": dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rnd.randint(0, 10**6)),
                "b": rnd.random() > 0.3 if rnd.random() > 0.1 else None,
                "allnull": None,
            }
        )
    return rows


def _load(eng: sa.Engine, rows_by_day: dict[dt.date, list[dict[str, Any]]]) -> None:
    with eng.begin() as c:
        c.execute(
            text(
                "CREATE TABLE t (day date NOT NULL, i4 integer, i8 bigint, i2 smallint, f8 double precision, "
                "num numeric(12,2), txt text, vc varchar(10), d date, ts timestamptz, b boolean, allnull integer)"
            )
        )
        c.execute(text("CREATE INDEX ON t (day)"))
        for day, rows in rows_by_day.items():
            if rows:
                c.execute(
                    text(
                        "INSERT INTO t VALUES (:day, :i4, :i8, :i2, :f8, :num, :txt, :vc, :d, :ts, :b, :allnull)"
                    ),
                    [{"day": day, **r} for r in rows],
                )


def _expected(values: list[Any], numeric: bool) -> dict[str, Any]:
    """Metrics of one column computed independently: statistics, numpy, Counter."""
    present = [v for v in values if v is not None]
    out: dict[str, Any] = {
        "row_count": len(values),
        "null_count": len(values) - len(present),
        "distinct": len(set(present)),
        "min": min(present) if present else None,
        "max": max(present) if present else None,
        "top": Counter(as_text(v) for v in present),
    }
    if numeric and present:
        floats = [float(v) for v in present]
        out["mean"] = statistics.fmean(floats)
        out["stddev"] = statistics.stdev(floats) if len(floats) > 1 else None
        out["quantiles"] = np.quantile(np.array(floats), [q for _, q in QUANTILES], method="linear").tolist()
        lo, hi = min(floats), max(floats)
        counts = [0] * HISTOGRAM_BUCKETS
        for v in floats:
            counts[bucket_of(v, lo, hi)] += 1
        out["histogram"] = counts if lo < hi else [len(floats)]
    return out


def _check_top(top_values: list[dict[str, Any]], counter: Counter[str]) -> None:
    ranked = sorted(counter.items(), key=lambda vc: (-vc[1], vc[0].encode()))[:10]
    assert [(t["value"], t["count"]) for t in top_values] == ranked


def test_metrics_match_an_independent_computation(source):
    rows = _rows(1500, seed=1)
    _load(source, {DAY: rows, OTHER_DAY: _rows(300, seed=2)})
    prof = profile_sql(source, "t", "public", "day", DAY)
    assert prof.row_count == 1500
    assert prof.stats["statements"] == 2  # the bounded probe, then one statement
    assert prof.stats["plan"] == "one_statement" and prof.stats["probe_rows"] == 1500
    m = prof.columns
    assert set(m) == {"day", "i4", "i8", "i2", "f8", "num", "txt", "vc", "d", "ts", "b", "allnull"}

    for col in ("i4", "i8", "i2", "f8", "num"):
        exp = _expected([r[col] for r in rows], numeric=True)
        got = m[col]
        assert got["row_count"] == 1500
        assert got["null_count"] == exp["null_count"]
        assert got["null_ratio"] == pytest.approx(exp["null_count"] / 1500)
        assert got["distinct"] == exp["distinct"] and got["distinct_is_approx"] is False
        assert got["min"] == pytest.approx(float(exp["min"])) and got["max"] == pytest.approx(
            float(exp["max"])
        )
        assert got["mean"] == pytest.approx(exp["mean"], rel=1e-9)
        assert got["stddev"] == pytest.approx(exp["stddev"], rel=1e-9)
        assert [got["quantiles"][label] for label, _ in QUANTILES] == pytest.approx(
            exp["quantiles"], rel=1e-9
        )
        assert got["quantiles_is_approx"] is False
        assert got["histogram"]["counts"] == exp["histogram"]
        assert got["histogram"]["edges"][0] == float(exp["min"]) and got["histogram"]["edges"][-1] == float(
            exp["max"]
        )
        _check_top(got["top_values"], exp["top"])

    for col in ("txt", "vc"):
        values = [r[col] for r in rows]
        exp = _expected(values, numeric=False)
        got = m[col]
        assert (got["null_count"], got["distinct"]) == (exp["null_count"], exp["distinct"])
        assert (got["min"], got["max"]) == (exp["min"], exp["max"])  # C.UTF-8 collation: code point order
        lengths = [len(v) for v in values if v is not None]
        assert got["length"]["min"] == min(lengths) and got["length"]["max"] == max(lengths)
        assert got["length"]["mean"] == pytest.approx(statistics.fmean(lengths))
        _check_top(got["top_values"], exp["top"])

    exp = _expected([r["d"] for r in rows], numeric=False)
    assert m["d"]["min"] == exp["min"].isoformat() and m["d"]["max"] == exp["max"].isoformat()
    assert m["d"]["distinct"] == exp["distinct"]
    _check_top(m["d"]["top_values"], exp["top"])

    ts = [r["ts"] for r in rows]
    assert m["ts"]["min"] == min(ts).isoformat() and m["ts"]["max"] == max(ts).isoformat()
    assert m["ts"]["distinct"] == len(set(ts))
    assert m["ts"]["top_values"][0]["count"] == Counter(ts).most_common(1)[0][1]

    flags = [r["b"] for r in rows]
    trues, falses = flags.count(True), flags.count(False)
    assert m["b"]["true_count"] == trues and m["b"]["null_count"] == flags.count(None)
    assert m["b"]["distinct"] == 2 and m["b"]["mean"] == pytest.approx(trues / (trues + falses))
    assert m["b"]["stddev"] == pytest.approx(statistics.stdev([1.0] * trues + [0.0] * falses))
    assert m["b"]["top_values"] == sorted(
        [{"value": "true", "count": trues}, {"value": "false", "count": falses}], key=lambda t: -t["count"]
    )

    assert m["allnull"]["null_ratio"] == 1.0 and m["allnull"]["distinct"] == 0
    assert (
        m["allnull"]["min"] is None and m["allnull"]["quantiles"] is None and m["allnull"]["top_values"] == []
    )
    assert m["day"]["distinct"] == 1 and m["day"]["top_values"] == [{"value": "2026-11-20", "count": 1500}]


def test_empty_partition_takes_one_statement(source):
    _load(source, {DAY: _rows(50, seed=3)})
    statements = _count_statements(source)
    prof = profile_sql(source, "t", "public", "day", EMPTY_DAY)
    assert prof.row_count == 0 and prof.stats["statements"] == 1 and prof.stats["plan"] == "empty"
    assert sum('FROM "public"."t"' in s for s in statements) == 1
    for metrics in prof.columns.values():
        assert metrics["row_count"] == 0 and metrics["null_count"] == 0 and metrics["null_ratio"] is None
        assert metrics["distinct"] == 0 and metrics["top_values"] == []


def test_whole_table_without_partition_column(source):
    _load(source, {DAY: _rows(40, seed=4), OTHER_DAY: _rows(60, seed=5)})
    m = profile_sql_partition(source, "t", "public", None, None, ["day", "i2"])
    assert list(m) == ["day", "i2"]
    assert m["day"]["row_count"] == 100 and m["day"]["distinct"] == 2


def _count_statements(eng: sa.Engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(eng, "before_cursor_execute")
    def _record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    return seen


@pytest.mark.parametrize("width", [5, 500])
def test_wide_table_takes_the_same_two_scans(source, width):
    """Scans do not grow with the column count: 2 statements read the table, for 5 or 500 columns.

    The partition fits the row sample: a probe that reads at most sample_rows + 1 rows, then one
    statement (statistics, every value, exact reductions). Larger partitions: see
    test_profiling_plans.py.
    """
    kinds = ["integer", "text", "boolean", "double precision", "date"]
    cols = [(f"c{i}", kinds[i % len(kinds)]) for i in range(width)]
    with source.begin() as c:
        c.execute(text(f"CREATE TABLE wide (day date, {', '.join(f'{n} {t}' for n, t in cols)})"))
        exprs = {
            "integer": "(g * {i}) % 97",
            "text": "'v' || ((g + {i}) % 13)",
            "boolean": "(g + {i}) % 3 = 0",
            "double precision": "sqrt(g + {i})",
            "date": "DATE '2026-01-01' + ((g + {i}) % 40)",
        }
        select_list = ", ".join(exprs[t].format(i=i) for i, (_, t) in enumerate(cols))
        c.execute(
            text(f"INSERT INTO wide SELECT DATE '2026-11-20', {select_list} FROM generate_series(1, 300) g")
        )
    statements = _count_statements(source)
    m = profile_sql_partition(source, "wide", "public", "day", DAY)
    assert len(m) == width + 1
    scans = [s for s in statements if 'FROM "public"."wide"' in s]
    assert len(scans) == 2 and scans[0].startswith("SELECT count(*) FROM (SELECT 1 FROM")
    assert len(statements) <= 5  # settings, reflection (columns, relkind), the probe, the statement
    assert m["c1"]["distinct"] == 13 and m["c2"]["true_count"] == 100 and m["c0"]["row_count"] == 300


def test_weird_identifiers_are_quoted(source):
    weird = ['a"b', "my col", "größe", "x; DROP TABLE y--"]
    q = source.dialect.identifier_preparer.quote_identifier
    with source.begin() as c:
        c.execute(text("CREATE TABLE y (id int)"))
        c.execute(text(f"CREATE SCHEMA {q('my schema')}"))
        c.execute(
            text(
                f"CREATE TABLE {q('my schema')}.{q('tbl; x')} ({q('dä y')} date, "
                + ", ".join(f"{q(w)} text" for w in weird)
                + ")"
            )
        )
        c.execute(
            text(f"INSERT INTO {q('my schema')}.{q('tbl; x')} VALUES (:d, :a, :b, :c, :e)"),
            [
                {"d": DAY, "a": f"v{i % 3}", "b": None if i % 4 == 0 else "z", "c": str(i), "e": "'; --"}
                for i in range(20)
            ],
        )
    tune = SqlTuning(sample_rows=5, hashes_per_column=4, exact_distinct_rows=0)  # also drive the sampled and hashed paths
    m = profile_sql_partition(source, "tbl; x", "my schema", "dä y", DAY, tuning=tune)
    assert set(m) == {"dä y", *weird}
    assert m['a"b']["distinct"] == 3 and m["my col"]["null_count"] == 5
    assert m["x; DROP TABLE y--"]["top_values"] == [{"value": "'; --", "count": 20}]
    with source.connect() as c:
        assert c.execute(text("SELECT count(*) FROM y")).scalar() == 0  # still there


def test_approximate_distinct_is_within_its_stated_error(source):
    """Above the hash budget the threshold estimator kicks in; its error is stated and honoured."""
    with source.begin() as c:
        c.execute(
            text(
                "CREATE TABLE big (day date, uid bigint, sess text, cat text, amount double precision) "
                "WITH (autovacuum_enabled = false)"
            )
        )
        c.execute(
            text(
                "INSERT INTO big SELECT DATE '2026-11-20', g, 's' || (hashint4(g) % 20000), "
                "(ARRAY['a','b','c','d'])[1 + g % 4], (hashint4(g) % 100000) / 100.0 "
                "FROM generate_series(1, 120000) g"
            )
        )
        truth = dict(
            zip(
                ["uid", "sess", "cat", "amount"],
                c.execute(
                    text(
                        "SELECT count(DISTINCT uid), count(DISTINCT sess), count(DISTINCT cat), count(DISTINCT amount) FROM big"
                    )
                ).one(),
                strict=True,
            )
        )
        amounts = np.array([r[0] for r in c.execute(text("SELECT amount FROM big"))])
    tune = SqlTuning(sample_rows=4000, hashes_per_column=20_000, distinct_sample=4096, exact_distinct_rows=0)
    prof = profile_sql(source, "big", "public", "day", DAY, tuning=tune)
    m = prof.columns
    for col in ("uid", "sess", "amount"):
        assert m[col]["distinct_method"] == "hash_threshold" and m[col]["distinct_is_approx"] is True
        error = abs(m[col]["distinct"] - truth[col]) / truth[col]
        assert 0 < m[col]["distinct_error"] < 0.05
        assert error <= 3 * m[col]["distinct_error"], (col, m[col]["distinct"], truth[col])
    assert m["cat"]["distinct_method"] == "group_by" and m["cat"]["distinct"] == 4
    assert m["cat"]["top_values"] == [{"value": v, "count": 30000} for v in "abcd"]  # exact counts
    # Sampled quantiles: each lands within 2 % of rank of the exact one.
    assert m["amount"]["quantiles_is_approx"] is True and 3000 < m["amount"]["sample_rows"] < 5000
    for label, q in QUANTILES:
        rank = float(np.mean(amounts <= m["amount"]["quantiles"][label]))
        assert abs(rank - q) < 0.02, label
    hist = m["amount"]["histogram"]
    assert hist["is_approx"] is True and abs(sum(hist["counts"]) - 120000) < 1200
    assert prof.stats["sample_fraction"] == pytest.approx(4000 / 120000)


def test_profiles_are_deterministic(source):
    """The row sample and the hash thresholds are functions of the data: reruns agree exactly."""
    with source.begin() as c:
        c.execute(text("CREATE TABLE d (day date, x int, s text) WITH (autovacuum_enabled = false)"))
        c.execute(
            text(
                "INSERT INTO d SELECT DATE '2026-11-20', g % 5000, md5(g::text) FROM generate_series(1, 30000) g"
            )
        )
    tune = SqlTuning(
        sample_rows=1000, hashes_per_column=2000, distinct_sample=1024, distinct_min_sample=100, exact_distinct_rows=0
    )
    first = profile_sql_partition(source, "d", "public", "day", DAY, tuning=tune)
    assert first["s"]["distinct_is_approx"] and first["x"]["top_values_is_approx"]
    assert json.dumps(first, sort_keys=True) == json.dumps(
        profile_sql_partition(source, "d", "public", "day", DAY, tuning=tune), sort_keys=True
    )


def test_several_key_sets_use_grouping_sets(source):
    with source.begin() as c:
        c.execute(text("CREATE TABLE k (day date, a int, b text, c int) WITH (autovacuum_enabled = false)"))
        c.execute(
            text(
                "INSERT INTO k SELECT DATE '2026-11-20', g % 7, 'b' || (g % 11), g % 5 FROM generate_series(1, 5000) g"
            )
        )
    tune = SqlTuning(hashes_per_column=100, joint_groups_max=20, sample_rows=500, exact_distinct_rows=0)
    prof = profile_sql(source, "k", "public", "day", DAY, tuning=tune)
    assert len(prof.stats["key_sets"]) >= 2
    m = prof.columns
    assert (m["a"]["distinct"], m["b"]["distinct"], m["c"]["distinct"]) == (7, 11, 5)
    assert m["c"]["top_values"] == [{"value": str(v), "count": 1000} for v in range(5)]
    assert {m[x]["distinct_method"] for x in "abc"} == {"group_by"}


def test_partition_by_timestamp_and_text_columns_and_views(source):
    with source.begin() as c:
        c.execute(text("CREATE TABLE e (at timestamptz, ds text, v int)"))
        c.execute(
            text(
                "INSERT INTO e SELECT TIMESTAMPTZ '2026-11-19 22:00+00' + g * interval '1 minute', "
                "to_char(TIMESTAMPTZ '2026-11-19 22:00+00' + g * interval '1 minute', 'YYYY-MM-DD'), g "
                "FROM generate_series(0, 3599) g"
            )
        )
        c.execute(text("CREATE VIEW ev AS SELECT * FROM e WHERE v % 2 = 0"))
    by_ts = profile_sql_partition(source, "e", "public", "at", DAY, ["v"])
    assert by_ts["v"]["row_count"] == 1440  # the UTC day, not the session's
    by_text = profile_sql_partition(source, "e", "public", "ds", DAY, ["v"])
    assert by_text["v"]["row_count"] == 1440
    view = profile_sql_partition(source, "ev", "public", "ds", DAY, ["v"], tuning=SqlTuning(sample_rows=100))
    assert view["v"]["row_count"] == 720 and view["v"]["quantiles_is_approx"] is True


def test_pii_values_are_masked(source):
    with source.begin() as c:
        c.execute(text("CREATE TABLE people (day date, email text, n int)"))
        c.execute(
            text("INSERT INTO people VALUES (:d, :e, :n)"),
            [{"d": DAY, "e": f"person{i % 7}@example.com", "n": i} for i in range(50)],
        )
    m = profile_sql_partition(source, "people", "public", "day", DAY, pii={"email": "email"})
    dump = json.dumps(m)
    assert "@example.com" not in dump and "person" not in dump
    assert m["email"]["masked"] is True and m["email"]["pii"] == "email"
    assert m["email"]["distinct"] == 7 and m["email"]["top_values"][0]["value"] == "p***@e***.com"
    assert m["n"].get("masked") is None and m["n"]["max"] == 49


def test_missing_table_or_column_is_a_source_error(source):
    _load(source, {DAY: _rows(5, seed=6)})
    with pytest.raises(SourceError, match="table not found"):
        profile_sql_partition(source, "nope", "public", "day", DAY)
    with pytest.raises(SourceError, match="no column"):
        profile_sql_partition(source, "t", "public", "day", DAY, ["i4", "nope"])
    with pytest.raises(SourceError, match="partition column"):
        profile_sql_partition(source, "t", "public", "nope", DAY, ["i4"])


def test_non_finite_floats(source):
    with source.begin() as c:
        c.execute(text("CREATE TABLE nf (day date, x double precision)"))
        c.execute(
            text("INSERT INTO nf VALUES (:d, :x)"),
            [{"d": DAY, "x": x} for x in [1.0, 2.0, math.inf, math.nan, None]],
        )
    m = profile_sql_partition(source, "nf", "public", "day", DAY)["x"]
    assert m["max"] == "NaN" and m["histogram"] is None and m["distinct"] == 4
    json.dumps(m, allow_nan=False)  # storable as JSONB


def test_sql_and_arrow_profilers_agree(source):
    """A file and a table with the same rows get the same metrics (files are profiled by pyarrow)."""
    import pyarrow as pa

    from assay.profiling.arrow import profile_arrow

    rows = _rows(700, seed=9)
    _load(source, {DAY: rows})
    cols = ["i4", "i8", "f8", "num", "txt", "vc", "d", "b", "allnull"]
    from_sql = profile_sql_partition(source, "t", "public", "day", DAY, cols)
    table = pa.table(
        {
            "i4": pa.array([r["i4"] for r in rows], pa.int32()),
            "i8": pa.array([r["i8"] for r in rows], pa.int64()),
            "f8": pa.array([r["f8"] for r in rows], pa.float64()),
            "num": pa.array([r["num"] for r in rows], pa.decimal128(12, 2)),
            "txt": pa.array([r["txt"] for r in rows], pa.string()),
            "vc": pa.array([r["vc"] for r in rows], pa.string()),
            "d": pa.array([r["d"] for r in rows], pa.date32()),
            "b": pa.array([r["b"] for r in rows], pa.bool_()),
            "allnull": pa.array([None] * len(rows), pa.int32()),
        }
    )
    from_arrow = profile_arrow(table)
    same = [
        "kind",
        "row_count",
        "null_count",
        "null_ratio",
        "distinct",
        "min",
        "max",
        "top_values",
        "length",
        "true_count",
    ]
    for col in cols:
        for key in same:
            assert from_sql[col].get(key) == from_arrow[col].get(key), (col, key)
        for key in ("mean", "stddev"):
            expected = from_arrow[col].get(key)
            assert from_sql[col].get(key) == (
                expected if expected is None else pytest.approx(expected, rel=1e-9)
            )
        if from_sql[col]["kind"] in ("integer", "float", "decimal") and from_sql[col]["quantiles"]:
            assert from_sql[col]["quantiles"] == pytest.approx(from_arrow[col]["quantiles"], rel=1e-9)
            assert from_sql[col]["histogram"] == from_arrow[col]["histogram"], col
