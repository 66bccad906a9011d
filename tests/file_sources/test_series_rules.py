"""File series for any declared file source: the default date partition, the ≤ D rule, declarations.

Unit tests (no database) of :mod:`assay.sources.series` and the file-source declaration keys
(``partition_regex``, ``partitioned``, ``columns``) in :mod:`assay.sources.declarations`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from assay.errors import ConfigError
from assay.sources.declarations import FileSource, load
from assay.sources.series import DEFAULT_PARTITION_REGEX, PLACEHOLDER, members, partition_date, series_of

P = PLACEHOLDER


@pytest.mark.parametrize(
    ("location", "key", "partition"),
    [
        ("exports/2026-03-02/sellers.csv", f"exports/{P}/sellers.csv", "2026-03-02"),
        ("reviews_20260302.tsv", f"reviews_{P}.tsv", "2026-03-02"),
        ("dump/2026/03/02/orders.parquet", f"dump/{P}/orders.parquet", "2026-03-02"),
        ("dt=2026_03_02/part-0.jsonl", f"dt={P}/part-0.jsonl", "2026-03-02"),
        # the same date twice (folder and file name) is one partition, both leave the key
        ("2026-03-02/sellers_20260302.csv", f"{P}/sellers_{P}.csv", "2026-03-02"),
        # two different dates: the last one (nearest the file) is the partition
        ("archive_2025-01-01/stock_2026.03.02.csv", f"archive_2025-01-01/stock_{P}.csv", "2026-03-02"),
    ],
)
def test_default_partition_is_a_date_in_the_path(location, key, partition):
    member = series_of(DEFAULT_PARTITION_REGEX, location)
    assert member is not None
    assert (member.key, member.partition) == (key, partition)
    assert member.date == dt.date.fromisoformat(partition)


@pytest.mark.parametrize(
    "location",
    ["categories.csv", "sku_12345678.csv", "batch_20261399.csv", "v2026-02-30/x.csv", "id_120260302.csv"],
)
def test_digits_that_are_no_date_make_no_partition(location):
    assert series_of(DEFAULT_PARTITION_REGEX, location) is None


def test_a_declared_regex_with_compact_dates_gives_iso_partitions():
    member = series_of(r"_(?P<partition>\d{8})\.", "sellers_20260302.csv")
    assert member is not None and member.partition == "2026-03-02"
    # not a date: kept as written (compared as text, never a day of its own)
    batch = series_of(r"batch-(?P<partition>\d+)/", "batch-17/x.csv")
    assert batch is not None and batch.partition == "17" and batch.date is None
    assert partition_date("17") is None


def test_members_of_a_default_series():
    key = f"exports/{P}/sellers.csv"
    items = [
        (1, "exports/2026-03-01/sellers.csv"),
        (2, "exports/2026-03-02/sellers.csv"),
        (3, "exports/2026-03-02/products.csv"),
        (4, "exports/latest/sellers.csv"),
    ]
    assert members(DEFAULT_PARTITION_REGEX, key, items) == [1, 2]


def decl(**kw) -> FileSource:
    return FileSource(name="marketplace", kind="files", root="/x", patterns=["**/*"], **kw)


def test_every_file_source_has_series_unless_it_says_no():
    assert decl().series_regex == DEFAULT_PARTITION_REGEX
    assert decl().partition_of("exports/2026-03-02/sellers.csv") == "2026-03-02"
    assert decl(partitioned=False).series_regex is None
    assert decl(partitioned=False).partition_of("exports/2026-03-02/sellers.csv") is None
    own = r"(?P<partition>\d{4}-\d{2}-\d{2})"
    assert decl(partition_regex=own).series_regex == own


def test_a_file_of_a_later_day_is_after_the_run_date():
    d = decl()
    day = dt.date(2026, 3, 2)
    assert d.after(day, "exports/2026-03-03/sellers.csv")
    assert not d.after(day, "exports/2026-03-02/sellers.csv")  # <= D: part of D's inventory
    assert not d.after(day, "exports/2026-03-01/sellers.csv")
    assert not d.after(day, "categories.csv")  # no partition: always part of it
    assert not decl(partitioned=False).after(day, "exports/2026-03-03/sellers.csv")


def test_declared_column_types_by_series_key_glob_or_name():
    d = decl(
        columns={"zip": "text", "price": "double"},
        assets={
            f"exports/{P}/sellers.csv": {"columns": {"rating": "int"}},
            "reviews_*.tsv": {"columns": {"score": "number", "zip": "integer"}},
            "categories.csv": {"owner": "x@y"},
        },
    )
    assert d.column_types("exports/2026-03-02/sellers.csv") == {"zip": "string", "price": "number", "rating": "integer"}
    assert d.column_types("reviews_20260302.tsv") == {"zip": "integer", "price": "number", "score": "number"}
    assert d.column_types("categories.csv") == {"zip": "string", "price": "number"}
    assert d.file_decl("categories.csv").owner == "x@y"


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("body", "where", "what"),
    [
        (
            "assets: {sellers.csv: {columns: {zip: strng}}}",
            "source 'marketplace' (files.assets.sellers.csv.columns)",
            "column 'zip': unknown column type 'strng'",
        ),
        ("columns: {zip: [string]}", "source 'marketplace' (files.columns.zip)", "valid string"),
        ("partitioned: false\n    partition_regex: '(?P<partition>x)'", "source 'marketplace' (files)", "drop one"),
    ],
)
def test_bad_declarations_name_the_source_and_the_key(tmp_path, body, where, what):
    path = write_yaml(
        tmp_path, f"sources:\n  - name: marketplace\n    kind: files\n    root: /x\n    patterns: ['*']\n    {body}\n"
    )
    with pytest.raises(ConfigError) as err:
        load(path)
    assert where in str(err.value) and what in str(err.value)


def test_declared_types_on_a_sql_source_are_refused(tmp_path):
    path = write_yaml(
        tmp_path,
        "sources:\n  - {name: warehouse, kind: sql, url: 'postgresql://h/db', assets: {sellers: {columns: {zip: string}}}}\n",
    )
    with pytest.raises(ConfigError, match=r"source 'warehouse' \(sql\).*assets sellers: columns"):
        load(path)


def test_the_demo_declarations_still_load_with_their_own_regex():
    demo = load(Path(__file__).resolve().parents[2] / "config" / "sources.yaml")
    feeds = demo.get("supplier_feeds")
    assert isinstance(feeds, FileSource)
    assert feeds.series_regex == feeds.partition_regex
    member = series_of(feeds.series_regex, "feeds/northwind/2026-11-05/products.csv")
    assert member is not None and member.key == f"feeds/northwind/{P}/products.csv"
