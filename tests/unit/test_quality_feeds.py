"""Feed files as DataFrames with file facts: the delivery defects become column values GX checks."""

from __future__ import annotations

import codecs
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.errors import SourceError
from assay.quality.feeds import FACT_COLUMNS, missing_feed, read_feed

ROWS = "sku,title,price,updated_at\nNW-000001,Maison Léa sofa,349.99,2026-11-12T01:00:00Z\nNW-000002,Kettle,24.99,2026-11-12T02:00:00Z\n"


def facts(frame) -> dict:
    return {c: frame[c].iloc[0] for c in FACT_COLUMNS}


def test_clean_csv(tmp_path):
    path = tmp_path / "products.csv"
    path.write_text(ROWS, encoding="utf-8")
    feed = read_feed(path)
    assert facts(feed.frame) == {"_file_layout": "csv/comma", "_file_encoding": "utf-8", "_file_bom": False}
    assert feed.frame["title"].iloc[0] == "Maison Léa sofa"
    assert str(feed.frame["updated_at"].dt.tz) == "UTC"
    assert feed.notes == []


def test_bom_is_a_fact_not_a_column_name(tmp_path):
    path = tmp_path / "products.csv"
    path.write_bytes(codecs.BOM_UTF8 + ROWS.encode())
    feed = read_feed(path)
    assert facts(feed.frame)["_file_bom"]
    assert "sku" in feed.frame.columns


def test_semicolon_in_a_csv_is_read_and_reported(tmp_path):
    path = tmp_path / "products.csv"
    path.write_text(ROWS.replace(",", ";"), encoding="utf-8")
    feed = read_feed(path)
    assert facts(feed.frame)["_file_layout"] == "csv/semicolon"
    assert list(feed.frame.columns[:4]) == ["sku", "title", "price", "updated_at"]


def test_tab_separated_file_named_tsv(tmp_path):
    path = tmp_path / "products.tsv"
    path.write_text(ROWS.replace(",", "\t"), encoding="utf-8")
    assert facts(read_feed(path).frame)["_file_layout"] == "tsv/tab"


def test_latin1_is_transcoded_and_flagged(tmp_path):
    path = tmp_path / "products.csv"
    path.write_bytes(ROWS.encode("latin-1"))
    feed = read_feed(path)
    assert facts(feed.frame)["_file_encoding"] == "not-utf-8"
    assert feed.frame["title"].iloc[0] == "Maison Léa sofa"
    assert "not valid UTF-8" in feed.notes[0]


def test_parquet_decimals_become_floats(tmp_path):
    path = tmp_path / "products.parquet"
    table = pa.table({"sku": ["CS-000001"], "price": pa.array([Decimal("12.50")], pa.decimal128(12, 2)),
                      "updated_at": pa.array([1_700_000_000], pa.timestamp("s"))})
    pq.write_table(table, path)
    feed = read_feed(path)
    assert feed.frame["price"].dtype == "float64" and feed.frame["price"].iloc[0] == 12.5
    assert str(feed.frame["updated_at"].dt.tz) == "UTC"
    assert facts(feed.frame)["_file_layout"] == "parquet"


def test_ragged_file_is_a_source_error_naming_the_file(tmp_path):
    path = tmp_path / "products.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(SourceError, match="products.csv"):
        read_feed(path)


def test_missing_partition_is_an_empty_frame_with_the_suite_columns():
    feed = missing_feed(["sku", "price"])
    assert len(feed.frame) == 0 and feed.path is None
    assert list(feed.frame.columns) == ["sku", "price", *FACT_COLUMNS]
