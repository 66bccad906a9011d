"""Supplier feeds: formats, columns, byte-level determinism, and every feed defect."""

from __future__ import annotations

import codecs
import csv
import io
import json
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from assay.seed.catalog import SUPPLIERS, make_products
from assay.seed.config import (
    ADDED_COLUMN,
    BAD_ENCODING,
    BOM_FEED,
    MISSING_PARTITION,
    PRICE_OUTLIER,
    RENAMED_CATEGORY,
    WRONG_DELIMITER,
)
from assay.seed.feeds import (
    EXTRA_COLUMN,
    FEED_COLUMNS,
    OUTLIER_FACTOR,
    RENAMED_FROM,
    RENAMED_TO,
    feed_path,
    write_feeds,
)

DAY = date(2026, 11, 5)
CSV_SUPPLIER = next(s for s in SUPPLIERS if s.fmt == "csv")


@pytest.fixture(scope="module")
def products():
    return make_products(7, 400, date(2026, 11, 1))


def read_feed(path: Path) -> list[dict[str, object]]:
    """A feed as a list of records, read the way a careful loader would (UTF-8, no BOM)."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    text = path.read_bytes().decode("utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines()]
    return list(csv.DictReader(io.StringIO(text), delimiter="\t" if path.suffix == ".tsv" else ","))


def write(tmp_path: Path, products, *defects: str):
    return write_feeds(tmp_path, DAY, products, 7, frozenset(defects))


def test_four_suppliers_four_formats_same_columns(tmp_path, products):
    files, details = write(tmp_path, products)
    assert details == {}
    assert sorted(p.suffix for p in files) == [".csv", ".jsonl", ".parquet", ".tsv"]
    seen: set[str] = set()
    for supplier, path in zip(SUPPLIERS, files, strict=True):
        assert path == feed_path(tmp_path, supplier, DAY)
        assert path.relative_to(tmp_path).parts == ("feeds", supplier.name, "2026-11-05", path.name)
        records = read_feed(path)
        assert records and list(records[0]) == list(FEED_COLUMNS)
        assert {r["currency"] for r in records} == {supplier.currency}
        ids = {str(r["product_id"]) for r in records}
        assert not ids & seen  # every product has exactly one supplier
        seen |= ids
        assert all(str(r["updated_at"]).startswith("2026-11-05") for r in records)
    assert len(seen) == len(products)
    raw = files[0].read_bytes()
    assert not raw.startswith(codecs.BOM_UTF8) and raw.split(b"\n", 1)[0] == ",".join(FEED_COLUMNS).encode()


def test_feeds_are_byte_identical_across_runs(tmp_path, products):
    a, _ = write(tmp_path / "a", products, PRICE_OUTLIER, ADDED_COLUMN)
    b, _ = write(tmp_path / "b", products, PRICE_OUTLIER, ADDED_COLUMN)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_rewriting_a_day_replaces_its_files(tmp_path, products):
    write(tmp_path, products, ADDED_COLUMN)
    files, _ = write(tmp_path, products)
    assert all(EXTRA_COLUMN not in read_feed(p)[0] for p in files)
    assert not list(tmp_path.rglob("*.tmp"))


def test_bom_feed(tmp_path, products):
    files, details = write(tmp_path, products, BOM_FEED)
    raw = feed_path(tmp_path, CSV_SUPPLIER, DAY).read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    assert raw[3:].split(b"\n", 1)[0] == ",".join(FEED_COLUMNS).encode()
    assert details[BOM_FEED]["file"] == "feeds/northwind/2026-11-05/products.csv"
    assert not any(p.read_bytes().startswith(codecs.BOM_UTF8) for p in files[1:])


def test_wrong_delimiter(tmp_path, products):
    write(tmp_path, products, WRONG_DELIMITER)
    path = feed_path(tmp_path, CSV_SUPPLIER, DAY)
    assert path.suffix == ".csv"
    header = path.read_text(encoding="utf-8").splitlines()[0]
    assert header == ";".join(FEED_COLUMNS)
    # A comma reader sees the whole header as one column.
    assert len(next(csv.reader(io.StringIO(header)))) == 1


def test_bad_encoding(tmp_path, products):
    write(tmp_path, products, BAD_ENCODING)
    raw = feed_path(tmp_path, CSV_SUPPLIER, DAY).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "é".encode("latin-1") in raw
    # Decoded as what it really is, the file is intact: one record per product of the supplier.
    records = list(csv.DictReader(io.StringIO(raw.decode("latin-1"))))
    assert len(records) == int((products.supplier_id == 0).sum())


def test_clean_csv_has_non_ascii_text(tmp_path, products):
    # The bad_encoding defect is only observable if the clean file has characters beyond ASCII.
    write(tmp_path, products)
    raw = feed_path(tmp_path, CSV_SUPPLIER, DAY).read_bytes()
    assert any(b > 127 for b in raw)
    raw.decode("utf-8")


def test_added_column_in_every_format(tmp_path, products):
    files, details = write(tmp_path, products, ADDED_COLUMN)
    for path in files:
        records = read_feed(path)
        assert list(records[0]) == [*FEED_COLUMNS, EXTRA_COLUMN], path
        assert any(r[EXTRA_COLUMN] for r in records)
    assert details[ADDED_COLUMN]["column"] == EXTRA_COLUMN


def test_price_outlier(tmp_path, products):
    clean_files, _ = write(tmp_path / "clean", products)
    hit_files, details = write(tmp_path / "hit", products, PRICE_OUTLIER)
    outliers = set(details[PRICE_OUTLIER]["product_ids"])
    assert 4 <= len(outliers) <= 12
    for clean_path, hit_path in zip(clean_files, hit_files, strict=True):
        clean = {str(r["product_id"]): float(r["price"]) for r in read_feed(clean_path)}
        hit = {str(r["product_id"]): float(r["price"]) for r in read_feed(hit_path)}
        for pid, price in hit.items():
            expected = clean[pid] * OUTLIER_FACTOR if pid in outliers else clean[pid]
            assert price == pytest.approx(expected), pid


def test_renamed_category(tmp_path, products):
    clean_files, _ = write(tmp_path / "clean", products)
    hit_files, details = write(tmp_path / "hit", products, RENAMED_CATEGORY)
    clean = [r["category"] for p in clean_files for r in read_feed(p)]
    hit = [r["category"] for p in hit_files for r in read_feed(p)]
    assert RENAMED_FROM in clean and RENAMED_TO not in clean
    assert RENAMED_FROM not in hit and hit.count(RENAMED_TO) == clean.count(RENAMED_FROM)
    assert details[RENAMED_CATEGORY]["rows"] == clean.count(RENAMED_FROM)


def test_missing_partition_removes_the_days_feeds(tmp_path, products):
    write(tmp_path, products)
    files, details = write(tmp_path, products, MISSING_PARTITION)
    assert files == []
    assert not any(feed_path(tmp_path, s, DAY).parent.exists() for s in SUPPLIERS)
    assert details[MISSING_PARTITION] == {"feeds": "absent"}
