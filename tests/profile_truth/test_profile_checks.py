"""Zeros and negatives of a large partition planned from ``pg_stats`` (issue #16 target 1).

Where ANALYZE saw no number below 0 (or none near 0), the one statement does not count
negatives (or zeros) value by value: the exact min it computes proves the count is 0. When the data
changed since ANALYZE and the min says otherwise, a checks statement counts them. Either way
the counts equal SQL's ``count(*) FILTER``.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import text
from support.db import statements_reading

from assay.profiling.sql import SqlTuning, profile_sql

pytestmark = pytest.mark.integration

TUNE = SqlTuning(
    sample_rows=500, distinct_sample=1024, distinct_min_sample=200, hashes_per_column=4000, exact_distinct_rows=0
)


@pytest.fixture
def source(fresh_db) -> sa.Engine:
    eng = sa.create_engine(fresh_db("checks"))
    with eng.begin() as c:
        c.execute(text(
            "CREATE TABLE m (pos int, nonneg numeric(10, 2), mixed float8) WITH (autovacuum_enabled = false)"
        ))
        c.execute(text(
            "INSERT INTO m SELECT 1000 + g, (g % 4000) / 4.0, g - 1000.5 FROM generate_series(1, 6000) g"
        ))
    with eng.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE m")
    yield eng
    eng.dispose()


def _exact(eng: sa.Engine) -> dict[str, tuple[int, int]]:
    with eng.connect() as c:
        return {
            col: tuple(c.execute(text(
                f"SELECT count(*) FILTER (WHERE {col} = 0), count(*) FILTER (WHERE {col} < 0) FROM m"
            )).one())
            for col in ("pos", "nonneg", "mixed")
        }


def test_the_exact_min_proves_what_analyze_saw(source):
    seen = statements_reading(source, "m")
    prof = profile_sql(source, "m", "public", None, None, tuning=TUNE)
    assert prof.stats["plan"] == "one_statement" and prof.stats["statements"] == 2, prof.stats.get("fallback")
    assert "checks_statement" not in prof.stats
    one = seen[-1]
    assert 't."pos" = 0' not in one and 't."pos" < 0' not in one  # from 1001, far from 0: neither counted
    assert 't."nonneg" = 0' in one and 't."nonneg" < 0' not in one  # min = 0: zeros counted
    assert 't."mixed" = 0' in one and 't."mixed" < 0' in one
    got = {col: (prof.columns[col]["zeros"], prof.columns[col]["negatives"]) for col in ("pos", "nonneg", "mixed")}
    assert got == _exact(source) and got["pos"] == (0, 0) and got["nonneg"][1] == 0


def test_a_min_below_what_analyze_saw_is_counted_by_a_checks_statement(source):
    with source.begin() as c:  # loaded after ANALYZE: pg_stats still says pos >= 1, nonneg >= 0
        c.execute(text("UPDATE m SET pos = 0 WHERE pos = 1005"))
        c.execute(text("UPDATE m SET pos = -3 WHERE pos = 1007"))
        c.execute(text("UPDATE m SET nonneg = -0.25 WHERE nonneg = 3"))
    seen = statements_reading(source, "m")
    prof = profile_sql(source, "m", "public", None, None, tuning=TUNE)
    assert prof.stats["checks_statement"] is True and prof.stats["statements"] == 3
    assert seen[-1].startswith("SELECT json_build_array(count(*) FILTER (WHERE t.\"pos\" = 0)")
    got = {col: (prof.columns[col]["zeros"], prof.columns[col]["negatives"]) for col in ("pos", "nonneg", "mixed")}
    assert got == _exact(source)
    assert got["pos"][0] > 0 and got["pos"][1] > 0 and got["nonneg"][1] > 0


def test_ids_from_one_still_count_their_zeros_in_the_scan(source):
    """An id column from 1 (ANALYZE's least value within a histogram bucket of 0) counts zeros in the
    scan: a zero ANALYZE's sample missed would otherwise cost a checks statement."""
    with source.begin() as c:
        c.execute(text("CREATE TABLE ids (id int) WITH (autovacuum_enabled = false)"))
        c.execute(text("INSERT INTO ids SELECT g FROM generate_series(0, 5999) g"))
    with source.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE ids")
    prof = profile_sql(source, "ids", "public", None, None, tuning=TUNE)
    assert "checks_statement" not in prof.stats and prof.columns["id"]["zeros"] == 1
    assert prof.columns["id"]["negatives"] == 0
