"""bench/profile_shapes.py: the lower bounds the profiling bench prints beside its ratios.

Issue #16 target 1 asks for the profile within 3x floor A. The bench also times, alone, two pieces
every such profile pays (min/max of every column, and the value-level PII screen of #13 item 7),
so a miss that is structural shows in the same run. These tests pin what each bound measures: the
screen counts the candidates the profile would find, on the columns the profile screens value by
value, and nothing the profile screens once per distinct value.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root holds bench/
from bench import profile_shapes  # noqa: E402

COLUMNS = (
    ("id", "bigint", "g"),
    ("code", "text", "'c' || g"),
    ("note", "text", "CASE WHEN g = 7 THEN 'write to jane.doe@example.org' ELSE 'note ' || g END"),
    ("lang", "text", "(ARRAY['en','de'])[1 + g % 2]"),
    ("ok", "boolean", "g % 2 = 0"),
)


def test_only_text_columns_outside_the_key_sets_are_screened_per_value() -> None:
    assert profile_shapes.screened_per_value(COLUMNS, [["lang"], ["ok"]]) == ("code", "note")
    assert profile_shapes.screened_per_value(COLUMNS, None) == ("code", "note", "lang")
    assert profile_shapes.screened_per_value(COLUMNS[:1], []) == ()


def test_minmax_is_two_aggregates_per_column_and_no_count() -> None:
    sql = profile_shapes.minmax_sql("t", COLUMNS)
    assert "min(id), max(id)" in sql and "bool_and(ok), bool_or(ok)" in sql
    assert "count(id)" not in sql and "min(ok)" not in sql


@pytest.mark.integration
def test_the_screen_counts_the_profiles_candidates(scratch_db) -> None:
    with scratch_db("bounds") as url:
        eng = sa.create_engine(url)
        try:
            profile_shapes.build(eng, "t", COLUMNS, 50)
            with eng.connect() as c:
                counts = c.execute(sa.text(profile_shapes.screen_sql("t", ("code", "note", "lang")))).one()
                row = c.execute(sa.text(profile_shapes.minmax_sql("t", COLUMNS))).one()
        finally:
            eng.dispose()
    assert tuple(counts) == (50, 0, 1, 0)  # rows, then candidates of code, note, lang
    assert row[1:3] == (1, 50) and row[-2:] == (False, True)


@pytest.mark.integration
def test_the_bench_prints_both_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import profile_bench

    profile_bench.main(["--rows", "3000", "--shapes", "events16", "--rounds", "1"])
    out = capsys.readouterr().out
    assert "lower bounds in PostgreSQL" in out
    minmax = next(line for line in out.splitlines() if "min/max of every column " in line)
    screen = next(line for line in out.splitlines() if "PII screen of the per-value text columns" in line)
    assert float(minmax.split()[-3]) > 0  # "... s   r x A": the ratio
    # the text columns outside the plan's GROUP BY key sets, as the plan line names them
    plan = next(line for line in out.splitlines() if line.startswith("events16: "))
    keys = {name for key_set in ast.literal_eval(plan.split("key sets ", 1)[1]) for name in key_set}
    texts = [name for name, sqltype, _ in profile_shapes.EVENTS16 if sqltype == "text" and name not in keys]
    assert texts and f"({len(texts)})" in screen and screen.endswith(f"({', '.join(texts)})")
