"""Reading files of a new user's export: headers, declared types, leading zeros and what says why.

Each test writes its own files (names, columns and layouts unlike the demo's feeds) and reads them
with the one reader inventory, profiling and quality share (:func:`assay.sources.files.read_table`).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.errors import SourceError
from assay.quality.feeds import read_feed
from assay.sources.column_types import type_notes
from assay.sources.files import read_table, sniff


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# ---- headers ----------------------------------------------------------------------------------
def test_pandas_index_header_with_numeric_column_names_is_a_header(tmp_path):
    """pandas' ``to_csv()`` of a pivot (years as column names) writes ``,2019,2020``: still a header.

    Failed before: every header cell but the empty one was a number, so the line was taken for data.
    """
    path = write(tmp_path, "sales_by_year.csv", ",2019,2020\n0,11,14\n1,12,15\n2,13,16\n")
    fmt = sniff(path)
    assert fmt.has_header is True
    table = read_table(path, fmt)
    assert table.column_names == ["column_1", "2019", "2020"]
    assert table.num_rows == 3
    assert table.column("2020").to_pylist() == [14, 15, 16]


def test_pandas_index_header_all_quoted_with_bom_and_tabs_in_a_csv(tmp_path):
    """Index column + UTF-8 BOM + tab delimiter + quoted cells + CRLF, named ``.csv``."""
    path = tmp_path / "seller_export.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh, delimiter="\t", quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        out.writerow(["", "seller_id", "seller_zip_code_prefix", "seller_city"])
        out.writerows([[0, "s-9", "01037", "sao paulo"], [1, "s-7", "13023", "campinas"]])
    fmt = sniff(path)
    assert (fmt.kind, fmt.delimiter, fmt.has_bom, fmt.has_header) == ("tsv", "\t", True, True)
    table = read_table(path, fmt)
    assert table.column_names == ["column_1", "seller_id", "seller_zip_code_prefix", "seller_city"]
    assert table.column("seller_zip_code_prefix").to_pylist() == ["01037", "13023"]


def test_first_line_of_values_with_an_empty_first_cell_stays_data(tmp_path):
    # Every line leaves the first cell empty: no index column, so no header either.
    path = write(tmp_path, "readings.csv", ",7,2.5\n,8,3.5\n")
    assert sniff(path).has_header is False


# ---- leading zeros -----------------------------------------------------------------------------
def test_leading_zeros_keep_text_and_the_field_says_why(tmp_path):
    """Quoted zip codes: text, with ``kept as text: leading zeros in N values``. Failed before: no reason recorded."""
    path = write(tmp_path, "customers.csv", 'customer_id,zip\n"c1","01310"\n"c2","22041"\n"c3","04571"\n')
    table = read_table(path)
    assert table.schema.field("zip").type == pa.string()
    assert table.column("zip").to_pylist() == ["01310", "22041", "04571"]
    assert type_notes(table) == {"zip": "kept as text: leading zeros in 2 values"}


def test_a_column_without_leading_zeros_has_no_note(tmp_path):
    table = read_table(write(tmp_path, "c.csv", "customer_id,zip\nc1,11310\nc2,22041\n"))
    assert table.schema.field("zip").type == pa.int64()
    assert type_notes(table) == {}


# ---- declared types ------------------------------------------------------------------------------
def test_declared_string_column_is_never_inferred(tmp_path):
    """A day whose zips happen to have no leading zero still reads them as text when declared.

    Failed before: ``read_table`` had no declared types (one day int64, the next string).
    """
    path = write(tmp_path, "customers.csv", 'customer_id,zip,spend\nc1,"11310",3\nc2,"22041",4.5\n')
    table = read_table(path, types={"zip": "string", "spend": "number"})
    assert table.schema.field("zip").type == pa.string()
    assert table.column("zip").to_pylist() == ["11310", "22041"]
    assert table.schema.field("spend").type == pa.float64()
    assert type_notes(table) == {"zip": "declared string", "spend": "declared number"}


@pytest.mark.parametrize(
    ("declared", "values", "expected"),
    [
        ("integer", ["7", " +8 ", ""], [7, 8, None]),
        ("number", ["1.5", "-2", "3e2"], [1.5, -2.0, 300.0]),
        ("boolean", ["yes", "N", "true"], [True, False, True]),
        ("date", ["2026-03-01", "2026-03-02", ""], ["2026-03-01", "2026-03-02", None]),
    ],
)
def test_declared_types_convert_text(tmp_path, declared, values, expected):
    body = "k;v\n" + "".join(f"{i};{v}\n" for i, v in enumerate(values))
    table = read_table(write(tmp_path, "x.csv", body), types={"v": declared})
    got = table.column("v").to_pylist()
    assert [str(g) if declared == "date" and g is not None else g for g in got] == expected


def test_declared_timestamp_takes_zoned_and_naive_values_as_utc(tmp_path):
    path = write(tmp_path, "events.csv", "id,at\n1,2026-03-01T10:00:00Z\n2,2026-03-01 12:30:00\n3,2026-03-01T10:00:00+02:00\n")
    table = read_table(path, types={"at": "timestamp"})
    assert str(table.schema.field("at").type) == "timestamp[us, tz=UTC]"
    assert [v.isoformat() for v in table.column("at").to_pylist()] == [
        "2026-03-01T10:00:00+00:00",
        "2026-03-01T12:30:00+00:00",
        "2026-03-01T08:00:00+00:00",
    ]


def test_a_value_that_does_not_fit_names_file_line_and_column_never_the_value(tmp_path):
    # A quoted line break before the bad row: the line is the file's, not the row's.
    body = 'order_id,note,qty\n1,"two\nlines",3\n2,ok,4\n3,ok,jane@example.com\n'
    path = write(tmp_path, "orders.csv", body)
    with pytest.raises(SourceError) as err:
        read_table(path, types={"qty": "integer"})
    message = str(err.value)
    assert message.startswith(f"{path}: line 5: ")
    assert "column 'qty'" in message and "not an integer" in message
    assert "jane" not in message


def test_a_date_that_does_not_exist_is_named(tmp_path):
    path = write(tmp_path, "d.csv", "id,day\n1,2026-02-28\n2,2026-02-30\n")
    with pytest.raises(SourceError, match=r"d\.csv: line 3: the value of column 'day' is not a date"):
        read_table(path, types={"day": "date"})


def test_declared_types_for_json_lines_and_parquet(tmp_path):
    jsonl = write(tmp_path, "stock.jsonl", '{"sku": 1234, "qty": "5"}\n\n{"sku": 99, "qty": "x"}\n')
    table = read_table(jsonl, types={"sku": "string"})
    assert table.column("sku").to_pylist() == ["1234", "99"]
    with pytest.raises(SourceError, match=r"stock\.jsonl: line 3: the value of column 'qty' is not an integer"):
        read_table(jsonl, types={"qty": "integer"})
    parquet = tmp_path / "prices.parquet"
    pq.write_table(pa.table({"sku": [1, 2], "price": [3, 4]}), parquet)
    table = read_table(parquet, types={"sku": "string", "price": "number"})
    assert table.column("sku").to_pylist() == ["1", "2"]
    assert table.schema.field("price").type == pa.float64()


def test_a_declared_column_the_file_lacks_is_ignored_by_the_reader(tmp_path):
    table = read_table(write(tmp_path, "a.csv", "id,zip\n1,01000\n"), types={"missing": "string"})
    assert table.column_names == ["id", "zip"]


def test_quality_reads_feeds_with_the_declared_types(tmp_path):
    path = write(tmp_path, "customers.csv", "customer_id,zip\nc1,11310\nc2,22041\n")
    feed = read_feed(path, {"zip": "string"})
    assert feed.frame["zip"].tolist() == ["11310", "22041"]
    assert feed.facts["type_notes"] == {"zip": "declared string"}
    undeclared = read_feed(write(tmp_path, "z.csv", "customer_id,zip\nc1,01310\n"))
    assert undeclared.facts["type_notes"] == {"zip": "kept as text: leading zeros in 1 value"}
