"""Schema fingerprints and diffs (pure functions)."""

from __future__ import annotations

from assay.catalog.models import SchemaEventType as E
from assay.inventory.schema import canonical, diff, fingerprint


def col(name, ordinal, data_type="TEXT", nullable=True):
    return {"name": name, "ordinal": ordinal, "data_type": data_type, "nullable": nullable}


BASE = [col("id", 1, "INTEGER", False), col("email", 2), col("price", 3, "NUMERIC(10, 2)")]


def test_fingerprint_is_stable_and_sha256():
    fp = fingerprint(BASE)
    assert len(fp) == 64
    assert all(c in "0123456789abcdef" for c in fp)
    assert fingerprint(list(reversed(BASE))) == fp  # input order does not matter, ordinals do
    assert fingerprint([{**c, "extra": 1} for c in BASE]) == fp  # only canonical keys count


def test_fingerprint_sees_each_part():
    fp = fingerprint(BASE)
    assert fingerprint([col("id", 1, "BIGINT", False), *BASE[1:]]) != fp
    assert fingerprint([col("id", 1, "INTEGER", True), *BASE[1:]]) != fp
    assert fingerprint([col("ID", 1, "INTEGER", False), *BASE[1:]]) != fp
    swapped = [BASE[0], {**BASE[1], "ordinal": 3}, {**BASE[2], "ordinal": 2}]
    assert fingerprint(swapped) != fp


def test_fingerprint_handles_unicode_and_quotes():
    a = [col('a"b', 1), col("größe", 2), col("x; DROP TABLE y--", 3)]
    assert fingerprint(a) == fingerprint(canonical(a))


def test_no_change_no_events():
    assert diff(BASE, BASE) == []


def test_each_event_type():
    new = [
        col("id", 1, "BIGINT", False),  # type changed
        col("email", 2, "TEXT", False),  # nullability changed
        col("brand", 3),  # added; price removed
    ]
    changes = {(c.event_type, c.column_name): c for c in diff(BASE, new)}
    assert set(changes) == {
        (E.TYPE_CHANGED, "id"),
        (E.NULLABILITY_CHANGED, "email"),
        (E.COLUMN_ADDED, "brand"),
        (E.COLUMN_REMOVED, "price"),
    }
    assert (changes[E.TYPE_CHANGED, "id"].old, changes[E.TYPE_CHANGED, "id"].new) == ("INTEGER", "BIGINT")
    assert (changes[E.NULLABILITY_CHANGED, "email"].old, changes[E.NULLABILITY_CHANGED, "email"].new) == (True, False)
    assert changes[E.COLUMN_ADDED, "brand"].old is None
    assert changes[E.COLUMN_ADDED, "brand"].new["ordinal"] == 3
    assert changes[E.COLUMN_REMOVED, "price"].new is None


def test_type_and_nullability_together_give_two_events():
    changes = diff([col("a", 1, "TEXT", True)], [col("a", 1, "INTEGER", False)])
    assert [c.event_type for c in changes] == [E.NULLABILITY_CHANGED, E.TYPE_CHANGED]


def test_rename_is_remove_plus_add_and_order_is_stable():
    changes = diff([col("a", 1)], [col("b", 1)])
    assert [(c.event_type, c.column_name) for c in changes] == [(E.COLUMN_ADDED, "b"), (E.COLUMN_REMOVED, "a")]


def test_reorder_changes_fingerprint_without_events():
    reordered = [BASE[0], {**BASE[2], "ordinal": 2}, {**BASE[1], "ordinal": 3}]
    assert fingerprint(reordered) != fingerprint(BASE)
    assert diff(BASE, reordered) == []
