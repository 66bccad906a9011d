"""File series (assay.sources.series): the one definition inventory and profiling share."""

from __future__ import annotations

from assay.sources.declarations import FileSource
from assay.sources.series import PLACEHOLDER, members, predecessor, series_of

REGEX = r"(?P<partition>\d{4}-\d{2}-\d{2})"


def test_series_key_replaces_only_the_partition():
    m = series_of(REGEX, "feeds/northwind/2026-11-05/products.csv")
    assert m is not None
    assert m.key == f"feeds/northwind/{PLACEHOLDER}/products.csv"
    assert m.partition == "2026-11-05"
    # A second date in the path belongs to the key (only the matched group is replaced).
    m2 = series_of(REGEX, "feeds/a/2026-11-05/2026-11-05.csv")
    assert m2 is not None and m2.key == f"feeds/a/{PLACEHOLDER}/2026-11-05.csv"


def test_no_series_without_regex_or_partition():
    assert series_of(None, "feeds/a/2026-11-05/products.csv") is None
    assert series_of(REGEX, "feeds/a/latest/products.csv") is None
    assert series_of(REGEX, None) is None


def test_members_are_same_supplier_same_file_other_days():
    key = f"feeds/a/{PLACEHOLDER}/products.csv"
    items = [
        (1, "feeds/a/2026-11-01/products.csv"),
        (2, "feeds/a/2026-11-02/products.csv"),
        (3, "feeds/b/2026-11-01/products.csv"),  # another supplier
        (4, "feeds/a/2026-11-01/products.tsv"),  # another file of the supplier
        (5, "feeds/a/products.csv"),  # no partition
        (6, None),
    ]
    assert members(REGEX, key, items) == [1, 2]


def test_predecessor_is_the_latest_earlier_partition():
    earlier = [("2026-11-01", "a"), ("2026-11-03", "c"), ("2026-11-02", "b"), ("2026-11-05", "e")]
    assert predecessor("2026-11-04", earlier) == "c"
    assert predecessor("2026-11-03", earlier) == "b"  # not itself
    assert predecessor("2026-11-01", earlier) is None


def test_declaration_partition_of_uses_the_series():
    decl = FileSource(name="feeds", kind="files", root="/x", patterns=["*"], partition_regex=REGEX)
    assert decl.partition_of("feeds/a/2026-11-05/products.csv") == "2026-11-05"
    assert decl.partition_of("feeds/a/products.csv") is None
