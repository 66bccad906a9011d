"""Text lengths of a large partition planned from ``pg_stats`` (issue #16 target 1).

The one statement measures text in bytes (one ``char_length`` per value for the mean, the
byte min/max from the length word) unless ``pg_stats`` shows multi-byte characters. Equal
character and byte sums prove the byte min/max are the character min/max; a multi-byte value
ANALYZE did not see makes a lengths statement count characters. Either way the lengths are
exact: checked against Python on every row.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import text
from support.db import statements_reading

from assay.profiling.sql import SqlTuning, profile_sql

pytestmark = pytest.mark.integration

# Small budgets so that a few thousand rows are a "large" partition planned from pg_stats.
TUNE = SqlTuning(
    sample_rows=500, distinct_sample=1024, distinct_min_sample=200, hashes_per_column=4000, exact_distinct_rows=0
)
ROWS = 6000


@pytest.fixture
def source(fresh_db) -> sa.Engine:
    eng = sa.create_engine(fresh_db("lengths"))
    yield eng
    eng.dispose()


def _table(eng: sa.Engine, hidden: str | None) -> list[str]:
    """``notes(id, note)``: ASCII notes of 5-24 characters, and ``hidden`` (when given) in one row.

    ``SET STATISTICS 1`` keeps one common value and two histogram bounds (the min and the max),
    so a value sorting in the middle is invisible to ``pg_stats``.
    """
    with eng.begin() as c:
        c.execute(text("CREATE TABLE notes (id int, note text) WITH (autovacuum_enabled = false)"))
        c.execute(text(
            "INSERT INTO notes SELECT g, 'note ' || repeat('x', g % 20) || g % 7 FROM generate_series(1, :n) g"
        ), {"n": ROWS})
        if hidden is not None:
            c.execute(text("UPDATE notes SET note = :v WHERE id = 3000"), {"v": hidden})
        c.execute(text("ALTER TABLE notes ALTER COLUMN note SET STATISTICS 1"))
    with eng.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE notes")
        return [r[0] for r in c.execute(text("SELECT note FROM notes"))]


def _check(m: dict, notes: list[str]) -> None:
    lengths = [len(v) for v in notes]
    assert m["length"]["min"] == min(lengths) and m["length"]["max"] == max(lengths)
    assert m["length"]["mean"] == pytest.approx(sum(lengths) / len(lengths), rel=1e-12)


def test_ascii_text_is_measured_in_bytes_in_one_statement(source):
    notes = _table(source, None)
    seen = statements_reading(source, "notes")
    prof = profile_sql(source, "notes", "public", None, None, tuning=TUNE)
    assert prof.stats["plan"] == "one_statement" and prof.stats["statements"] == 2
    assert "lengths_statement" not in prof.stats
    one = seen[-1]
    assert one.count('char_length(t."note"') == 1 and 'octet_length(t."note"' in one
    _check(prof.columns["note"], notes)


def test_a_multibyte_value_analyze_missed_is_counted_by_a_lengths_statement(source):
    # 30 characters, 31 bytes: the longest value in characters (the others have at most 25)
    hidden = "note 5é" + "y" * 23  # sorts between "note 5" and "note 6": neither bound
    notes = _table(source, hidden)
    with source.connect() as c:
        seen_by_analyze = c.execute(text(
            "SELECT coalesce(most_common_vals::text, '') || coalesce(histogram_bounds::text, '') "
            "FROM pg_stats WHERE tablename = 'notes' AND attname = 'note'"
        )).scalar_one()
    assert "é" not in seen_by_analyze  # the point of the test: pg_stats does not show it
    seen = statements_reading(source, "notes")
    prof = profile_sql(source, "notes", "public", None, None, tuning=TUNE)
    assert prof.stats["statements"] == 3 and prof.stats["lengths_statement"] is True
    assert seen[-1].startswith("SELECT json_build_array(min(char_length(")
    _check(prof.columns["note"], notes)
    assert prof.columns["note"]["length"]["max"] == 30


def test_multibyte_text_pg_stats_shows_is_counted_in_characters_at_once(source):
    notes = _table(source, None)
    with source.begin() as c:
        c.execute(text("UPDATE notes SET note = 'größe ' || id WHERE id % 2 = 0"))
    with source.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE notes")
        notes = [r[0] for r in c.execute(text("SELECT note FROM notes"))]
    seen = statements_reading(source, "notes")
    prof = profile_sql(source, "notes", "public", None, None, tuning=TUNE)
    assert prof.stats["statements"] == 2 and "lengths_statement" not in prof.stats
    assert 'min(char_length(t."note"' in seen[-1]
    _check(prof.columns["note"], notes)


def test_whitespace_is_counted_by_bytes_like_the_character_trim(source):
    """Leading/trailing whitespace counted on bytes equals ``v <> btrim(v, <whitespace>)`` on characters,
    with multi-byte characters next to the blanks (and blanks that are not ASCII: not counted)."""
    _table(source, None)
    planted = [" é", "é ", "é\t", "\nü", "aé", "\u00a0x", "x\u3000", "\r", "é\x0b", "\x0cé", "ø"]
    with source.begin() as c:
        for i, v in enumerate(planted):
            c.execute(text("UPDATE notes SET note = :v WHERE id = :id"), {"v": v, "id": 100 + i * 7})
    with source.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE notes")
        expected = c.execute(text(
            "SELECT count(*) FILTER (WHERE note <> btrim(note, E' \\t\\n\\x0b\\x0c\\r')) FROM notes"
        )).scalar_one()
    assert expected == 7
    for tuning in (TUNE, SqlTuning()):  # estimated (planned from pg_stats), and every value collected
        prof = profile_sql(source, "notes", "public", None, None, tuning=tuning)
        assert prof.columns["note"]["whitespace"] == expected, prof.stats["plan"]
