"""Profiles that never overstate: every profiled figure checked against exact SQL within its stated error.

Two tables built with ``generate_series`` in the test PostgreSQL, both analyzed (the state
autovacuum leaves a loaded table in, so large partitions are planned from ``pg_stats``):

* ``small`` (200,000 rows): under the exact-distinct size (1M non-null values per column), so
  every distinct count is exact and top values are counted from every hash;
* ``large`` (400,000 rows) profiled with ``exact_distinct_rows=100_000`` standing for the 1M
  default (the same code path at a fraction of the test's time): columns above it are estimated
  (hash threshold) and their top values come from the row sample only when a value has at
  least 30 hits.

Constructed columns: every value exactly 8 times (``x8``), a Zipf-like skew (``zipf``),
uniform integers in a narrow range (``narrow``), near-unique text (``uniq``), a key under a
unique index (``pk``), zeros/negatives (``num``), empty strings and whitespace (``txt``), and a
free-text column with one planted value per PII kind (``note``). The reported bug: a 5M-row table whose
``session_id`` occurs exactly 8 times each got top values counted 746 and 498, and a
``product_id`` spanning at most 50,000 integers got 50,566 distinct values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import text

# isort: split
from assay.classify.scrub import safe_json
from assay.profiling.metrics import MIN_SAMPLE_HITS
from assay.profiling.sql import SqlTuning, profile_sql

pytestmark = pytest.mark.integration

SMALL, LARGE = 200_000, 400_000
#: Stands for the default 1M in the large table (see the module docstring).
LARGE_TUNING = SqlTuning(exact_distinct_rows=100_000)
COLUMNS = """
    pk bigint PRIMARY KEY,
    x8 text,
    zipf text,
    narrow integer,
    uniq text,
    num integer,
    txt text,
    note text
"""
# hashint8 scrambles g deterministically: the same table on every run.
VALUES = r"""
    g,
    md5((g / 8)::text),
    'z' || floor(power(((hashint8(g) & 2147483647) % 1000000) / 1000000.0, 4) * 20000)::int,
    1 + (hashint8(g + 1) & 2147483647) % 50000,
    'u' || g || 'h' || (hashint8(g + 2) & 65535),
    ((hashint8(g + 3) & 2147483647) % 11) - 3,
    CASE g % 10 WHEN 0 THEN '' WHEN 1 THEN ' lead' WHEN 2 THEN 'trail ' WHEN 3 THEN E'tab\t'
        ELSE 'w' || (g % 97) END,
    CASE g WHEN 7777 THEN 'please write to jane.doe@example.com today'
        WHEN 8888 THEN 'paid with 4111 1111 1111 1111'
        WHEN 9999 THEN 'refund to DE89 3704 0044 0532 0130 00'
        WHEN 11111 THEN 'login from 10.20.30.40'
        WHEN 12121 THEN 'call +44 20 7946 0958'
        ELSE 'order ' || (g % 5000) || ' shipped' END
"""
PLANTED = [
    "jane.doe@example.com",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "10.20.30.40",
    "7946 0958",
]


@pytest.fixture(scope="module")
def truth(scratch_db) -> Iterator[sa.Engine]:
    with scratch_db("truth") as url:
        eng = sa.create_engine(url)
        with eng.begin() as c:
            for name, rows in (("small", SMALL), ("large", LARGE)):
                c.execute(text(f"CREATE TABLE {name} ({COLUMNS}) WITH (autovacuum_enabled = off)"))
                c.execute(text(f"INSERT INTO {name} SELECT {VALUES} FROM generate_series(1, {rows}) g"))
        with eng.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE small, large")
        yield eng
        eng.dispose()


@pytest.fixture(scope="module")
def profiles(truth: sa.Engine) -> dict[str, Any]:
    return {
        "small": profile_sql(truth, "small", "public", None, None),
        "large": profile_sql(truth, "large", "public", None, None, tuning=LARGE_TUNING),
    }


def _one(eng: sa.Engine, sql: str) -> Any:
    with eng.connect() as c:
        return c.execute(text(sql)).scalar_one()


def _counts(eng: sa.Engine, table: str, column: str) -> dict[str, int]:
    with eng.connect() as c:
        rows = c.execute(text(f"SELECT {column}::text, count(*) FROM {table} GROUP BY 1")).all()
    return {v: n for v, n in rows}


def _within(estimate: float, exact: float, error: float, sigmas: float = 4.0) -> bool:
    """``estimate`` within ``sigmas`` stated relative standard errors of ``exact``."""
    return abs(estimate - exact) <= sigmas * error * exact + 1e-9


@pytest.mark.parametrize("table", ["small", "large"])
def test_every_figure_against_exact_sql(truth, profiles, table):
    prof = profiles[table]
    m = prof.columns
    rows = SMALL if table == "small" else LARGE
    assert prof.row_count == rows
    for col, metrics in m.items():
        exact = _one(truth, f"SELECT count(DISTINCT {col}) FROM {table}")
        nulls = _one(truth, f"SELECT count(*) - count({col}) FROM {table}")
        assert metrics["null_count"] == nulls, col
        # Distinct counts: exact when said so, else within the stated error and never impossible.
        if metrics["distinct_is_approx"]:
            assert metrics["distinct_method"] == "hash_threshold" and metrics["distinct_error"] > 0
            assert _within(metrics["distinct"], exact, metrics["distinct_error"]), (
                col,
                metrics["distinct"],
                exact,
            )
        else:
            assert metrics["distinct"] == exact and metrics["distinct_error"] == 0, (
                col,
                metrics["distinct"],
                exact,
            )
        assert metrics["distinct"] <= metrics["non_null_count"]
        if metrics["kind"] == "integer":
            assert metrics["distinct"] <= metrics["max"] - metrics["min"] + 1, col
        # Top values: each count exact, or within its stated error with enough sample hits.
        counts = _counts(truth, table, col)
        for tv in metrics["top_values"]:
            truth_n = counts[tv["value"]]
            if metrics["top_values_is_approx"]:
                assert metrics["top_values_method"] == "row_sample"
                assert _within(tv["count"], truth_n, metrics["top_values_error"]), (col, tv, truth_n)
            else:
                assert tv["count"] == truth_n, (col, tv, truth_n)
        if not metrics["top_values_is_approx"] and metrics["top_values"]:
            # Exact lists are the true top: nothing unlisted is more frequent than the last listed.
            last = metrics["top_values"][-1]["count"]
            listed = {tv["value"] for tv in metrics["top_values"]}
            assert all(n <= last for v, n in counts.items() if v not in listed and v is not None), col
        bound = metrics.get("max_repeats")
        if bound is not None:
            most = max(n for v, n in counts.items() if v is not None)
            if bound["is_approx"]:
                assert most <= bound["value"] or bound["method"] == "row_sample", (col, bound, most)
                assert bound.get("lower_bound", 0) <= most
            else:
                assert bound["value"] == most, (col, bound, most)
        # The key flag is never claimed without proof, and never wrong.
        unique = exact == rows and nulls == 0
        assert metrics["looks_like_key"] in (unique, None), (col, metrics["looks_like_key"])
        if metrics["looks_like_key"] is None:
            assert metrics["distinct_is_approx"] and metrics["looks_like_key_method"] == "unproven"


def test_each_value_eight_times_is_never_scaled_up(profiles):
    """The reported bug: sample hits x 1/fraction turned 8 occurrences into 746 and 498."""
    small, large = profiles["small"].columns["x8"], profiles["large"].columns["x8"]
    # Under the exact size: every count is counted, not scaled.
    assert small["top_values_method"] == "hash_counts" and not small["top_values_is_approx"]
    assert small["top_values"] and all(tv["count"] in (7, 8) for tv in small["top_values"])
    assert small["max_repeats"] == {"value": 8, "is_approx": False, "method": "hash_counts"}
    assert small["looks_like_key"] is False
    # Above it: no value has 30 sample hits, so none is listed; the bound says so, and the kept
    # hashes (every occurrence of each kept value) show the exact 8.
    assert large["distinct_method"] == "hash_threshold"
    assert large["top_values"] == [] and "no value repeats more than ~" in large["top_values_note"]
    assert large["max_repeats"]["is_approx"] and large["max_repeats"]["value"] >= 8
    assert large["max_repeats"]["lower_bound"] == 8 and large["distinct_sample"]["most_repeated"] == 8
    assert large["looks_like_key"] is False and large["looks_like_key_method"] == "hash_duplicates"


def test_skewed_values_listed_only_with_enough_hits(profiles):
    zipf = profiles["large"].columns["zipf"]
    if zipf["top_values_method"] == "row_sample":
        assert zipf["top_values"] and zipf["top_values_min_hits"] == MIN_SAMPLE_HITS
        fraction = zipf["sample_rows"] / zipf["non_null_count"]
        assert zipf["top_values_error"] <= math.sqrt(1 / MIN_SAMPLE_HITS) + 1e-9
        assert all(tv["count"] * fraction >= MIN_SAMPLE_HITS - 1 for tv in zipf["top_values"])
    else:  # few enough distinct values to be grouped exactly
        assert zipf["top_values_method"] in ("group_by", "hash_counts") and not zipf["top_values_is_approx"]


def test_integer_range_bounds_the_distinct_count(profiles):
    narrow = profiles["large"].columns["narrow"]
    assert narrow["distinct"] <= narrow["max"] - narrow["min"] + 1 == 50_000


def test_keys_only_when_proven(profiles):
    for name in ("small", "large"):
        pk = profiles[name].columns["pk"]
        assert pk["looks_like_key"] is True and pk["looks_like_key_method"] in ("unique_index", "hash")
    assert profiles["small"].columns["uniq"]["looks_like_key"] is True  # every hash kept: proven
    large_uniq = profiles["large"].columns["uniq"]
    assert large_uniq["looks_like_key"] is None and large_uniq["looks_like_key_method"] == "unproven"
    assert large_uniq["top_values"] == [] and large_uniq["top_values_note"]


@pytest.mark.parametrize("table", ["small", "large"])
def test_zeros_negatives_empty_and_whitespace_are_exact(truth, profiles, table):
    m = profiles[table].columns
    assert m["num"]["zeros"] == _one(truth, f"SELECT count(*) FROM {table} WHERE num = 0")
    assert m["num"]["negatives"] == _one(truth, f"SELECT count(*) FROM {table} WHERE num < 0")
    assert m["txt"]["empty"] == _one(truth, f"SELECT count(*) FROM {table} WHERE txt = ''")
    ws = _one(truth, rf"SELECT count(*) FROM {table} WHERE txt ~ '^\s|\s$'")
    assert m["txt"]["whitespace"] == ws > 0
    lengths = _one(truth, f"SELECT json_build_array(min(length(txt)), max(length(txt))) FROM {table}")
    assert [m["txt"]["length"]["min"], m["txt"]["length"]["max"]] == lengths
    assert m["pk"]["zeros"] == 0 and m["pk"]["negatives"] == 0


@pytest.mark.parametrize("table", ["small", "large"])
def test_planted_pii_is_counted_and_masked(profiles, table):
    m = profiles[table].columns
    found = m["note"]["pii_values"]
    assert {k: v["count"] for k, v in found.items()} == {
        "email": 1,
        "iban": 1,
        "card_number": 1,
        "ip_address": 1,
        "phone": 1,
    }
    assert found["email"]["examples_masked"] == ["j***@e***.com"]
    assert found["card_number"]["examples_masked"] == ["**** **** **** 1111"]
    # The scan's own output holds masked hits only; the stored metrics are screened as well
    # (min/max and top values go through safe_json on their way into the catalog).
    stored = json.dumps(safe_json(profiles[table].columns))
    for raw in PLANTED:
        assert raw not in json.dumps(found) and raw not in stored
    # Columns without PII report none (md5 ids, near-unique text, dates as text are no candidates).
    assert all(m[c]["pii_values"] == {} for c in ("x8", "zipf", "uniq", "txt"))
