"""assay.sources.files: sniffing and strict reading of landing files, every bad input with a test."""

from __future__ import annotations

import codecs
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.errors import SourceError
from assay.sources import files
from assay.sources.files import FileFormat, check_utf8, read_table, sniff


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


FEED = "sku,title,price,stock,updated_at\nA-1,Sofa,199.90,3,2026-11-01T10:00:00Z\nA-2,Lamp,19.50,,2026-11-02T11:30:00Z\n"


def test_csv_is_sniffed_and_typed(tmp_path):
    path = write(tmp_path, "products.csv", FEED)
    fmt = sniff(path)
    assert fmt == FileFormat(kind="csv", delimiter=",", encoding="utf-8", has_bom=False, has_header=True, quote='"')
    table = read_table(path)
    assert table.column_names == ["sku", "title", "price", "stock", "updated_at"]
    assert table.num_rows == 2
    types = {f.name: str(f.type) for f in table.schema}
    assert types["price"] == "double"
    assert types["stock"] == "int64"
    assert types["updated_at"].startswith("timestamp[")
    assert table.column("stock").to_pylist() == [3, None]
    assert fmt.as_dict()["kind"] == "csv"


def test_tab_separated_file_named_csv_is_read_as_tsv(tmp_path):
    path = write(tmp_path, "products.csv", FEED.replace(",", "\t"))
    fmt = sniff(path)
    assert fmt.kind == "tsv"
    assert fmt.delimiter == "\t"
    table = read_table(path)
    assert table.column_names == ["sku", "title", "price", "stock", "updated_at"]
    assert table.column("price").to_pylist() == [199.9, 19.5]


def test_semicolon_csv_keeps_kind_csv_and_records_the_delimiter(tmp_path):
    path = write(tmp_path, "products.csv", FEED.replace(",", ";"))
    fmt = sniff(path)
    assert (fmt.kind, fmt.delimiter) == ("csv", ";")
    assert read_table(path).num_columns == 5


def test_tsv_name_breaks_a_tie(tmp_path):
    # One column: no delimiter splits anything, so the name decides.
    path = write(tmp_path, "skus.tsv", "sku\nA-1\nA-2\n")
    fmt = sniff(path)
    assert (fmt.kind, fmt.delimiter) == ("tsv", "\t")
    assert read_table(path).column_names == ["sku"]


def test_quoted_delimiters_do_not_confuse_the_sniffer(tmp_path):
    path = write(tmp_path, "q.csv", 'sku,title\nA-1,"Sofa, 3 seats; grey"\nA-2,"Lamp; brass"\n')
    assert sniff(path).delimiter == ","
    assert read_table(path).column("title").to_pylist() == ["Sofa, 3 seats; grey", "Lamp; brass"]


def test_utf8_bom_is_detected_and_not_part_of_the_first_name(tmp_path):
    path = write(tmp_path, "bom.csv", codecs.BOM_UTF8 + "größe,name\n1,Müller\n".encode())
    fmt = sniff(path)
    assert fmt.has_bom is True
    assert fmt.encoding == "utf-8-sig"
    table = read_table(path)
    assert table.column_names == ["größe", "name"]
    assert table.column("name").to_pylist() == ["Müller"]


def test_header_detection(tmp_path):
    no_header = write(tmp_path, "n.csv", "1,2.5,2026-01-01\n3,4.5,2026-01-02\n")
    fmt = sniff(no_header)
    assert fmt.has_header is False
    table = read_table(no_header, fmt)
    assert table.column_names == ["column_1", "column_2", "column_3"]
    assert table.num_rows == 2
    assert sniff(write(tmp_path, "h.csv", "a,b\n1,2\n")).has_header is True


def test_latin1_bytes_are_refused_with_offset_and_line(tmp_path):
    data = "sku,title\nA-1,Sofa\nA-2,Caf\xe9 table\n".encode("latin-1")
    path = write(tmp_path, "feed.csv", data)
    with pytest.raises(SourceError) as err:
        read_table(path)
    offset = data.index(b"\xe9")
    message = str(err.value)
    assert str(path) in message
    assert f"offset {offset}" in message
    assert "0xE9" in message
    assert "line 3" in message


def test_latin1_is_refused_even_when_only_sampling(tmp_path):
    # pyarrow alone would return a binary column here instead of failing.
    path = write(tmp_path, "feed.csv", "sku,title\nA-1,Caf\xe9\n".encode("latin-1"))
    with pytest.raises(SourceError, match="not valid UTF-8"):
        read_table(path, max_rows=10)


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64])
@pytest.mark.parametrize("bad", [b"\xff", b"\xc3(", b"\xe2\x82("])
def test_first_bad_byte_is_found_across_chunk_boundaries(tmp_path, monkeypatch, chunk, bad):
    monkeypatch.setattr(files, "_CHUNK", chunk)
    good = ("a,b\n" + "".join(f"{i},é€\n" for i in range(20))).encode()
    data = good + b"9," + bad + b"\n10,x\n"
    path = write(tmp_path, "late.csv", data)
    with pytest.raises(UnicodeDecodeError) as truth:
        data.decode("utf-8")
    with pytest.raises(SourceError) as err:
        check_utf8(path)
    assert f"offset {truth.value.start} " in str(err.value)
    assert f"0x{data[truth.value.start]:02X}" in str(err.value)
    assert "(line 22)" in str(err.value)


def test_truncated_multibyte_character_at_the_end(tmp_path):
    path = write(tmp_path, "cut.csv", "a\né".encode()[:-1])
    with pytest.raises(SourceError, match="ends inside a multi-byte character"):
        check_utf8(path)


def test_utf16_is_refused_by_name(tmp_path):
    path = write(tmp_path, "u16.csv", codecs.BOM_UTF16_LE + "a,b\n1,2\n".encode("utf-16-le"))
    with pytest.raises(SourceError, match="UTF-16"):
        sniff(path)


def test_ragged_row_names_file_and_line(tmp_path):
    path = write(tmp_path, "ragged.csv", "a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n11,12,13\n")
    with pytest.raises(SourceError) as err:
        read_table(path)
    message = str(err.value)
    assert message.startswith(str(path))
    assert "line 4" in message
    assert "4 fields, expected 3" in message


def test_ragged_row_line_counts_quoted_newlines(tmp_path):
    path = write(tmp_path, "ragged.csv", 'a,b\n"multi\nline",2\n3,4\n5\n')
    with pytest.raises(SourceError, match="line 5 has 1 fields, expected 2"):
        read_table(path)


def test_short_row_in_tsv(tmp_path):
    path = write(tmp_path, "r.tsv", "a\tb\tc\n1\t2\t3\n4\t5\n")
    with pytest.raises(SourceError, match=r"line 3 has 2 fields, expected 3"):
        read_table(path)


@pytest.mark.parametrize("data", [b"", codecs.BOM_UTF8, b"\n\n  \n"])
def test_empty_file_reads_as_empty_table(tmp_path, data):
    path = write(tmp_path, "empty.csv", data)
    fmt = sniff(path)
    assert fmt.has_header is False
    table = read_table(path, fmt)
    assert (table.num_columns, table.num_rows) == (0, 0)


def test_header_only_file_has_columns_and_no_rows(tmp_path):
    table = read_table(write(tmp_path, "h.csv", "a,b\n"))
    assert table.column_names == ["a", "b"]
    assert table.num_rows == 0


def test_all_null_column(tmp_path):
    table = read_table(write(tmp_path, "n.csv", "a,b\n1,\n2,\n"))
    assert str(table.schema.field("b").type) == "null"
    assert table.column("b").null_count == 2


def test_repeated_and_empty_header_names_are_refused(tmp_path):
    with pytest.raises(SourceError, match="repeated column names.*'a'"):
        read_table(write(tmp_path, "d.csv", "a,a,b\nx,y,z\n"))


def test_jsonl(tmp_path):
    path = write(tmp_path, "p.jsonl", '{"sku": "A-1", "price": 1.5}\n\n{"sku": "A-2", "price": null}\n')
    fmt = sniff(path)
    assert fmt.kind == "jsonl"
    assert fmt.delimiter is None
    table = read_table(path)
    assert table.num_rows == 2
    assert table.column("price").to_pylist() == [1.5, None]


def test_jsonl_with_bom(tmp_path):
    path = write(tmp_path, "p.jsonl", codecs.BOM_UTF8 + b'{"a": 1}\n{"a": 2}\n')
    fmt = sniff(path)
    assert (fmt.kind, fmt.has_bom) == ("jsonl", True)
    assert read_table(path).column("a").to_pylist() == [1, 2]


def test_bad_jsonl_line_is_named(tmp_path):
    path = write(tmp_path, "p.jsonl", '{"a": 1}\n{"a": 2}\n{"a": \n{"a": 4}\n')
    with pytest.raises(SourceError) as err:
        read_table(path)
    assert str(path) in str(err.value)
    assert "line 3 is not valid JSON" in str(err.value)


def test_parquet_by_magic_not_name(tmp_path):
    path = tmp_path / "feed.bin"
    pq.write_table(pa.table({"sku": ["A-1", "A-2"], "price": pa.array([1.5, None])}), path)
    fmt = sniff(path)
    assert fmt.kind == "parquet"
    assert fmt.encoding is None
    table = read_table(path)
    assert table.num_rows == 2
    assert read_table(path, max_rows=1).num_rows == 1


def test_file_named_parquet_that_is_not(tmp_path):
    with pytest.raises(SourceError, match="not a Parquet file"):
        sniff(write(tmp_path, "x.parquet", "a,b\n1,2\n"))


def test_corrupt_parquet(tmp_path):
    with pytest.raises(SourceError, match="cannot read as Parquet"):
        read_table(write(tmp_path, "x.parquet", b"PAR1 not really"))


def test_max_rows_reads_a_prefix(tmp_path):
    rows = "".join(f"{i},{i * 2}\n" for i in range(10_000))
    path = write(tmp_path, "big.csv", "a,b\n" + rows)
    assert read_table(path, max_rows=200).num_rows == 200
    assert read_table(path).num_rows == 10_000


def test_missing_file(tmp_path):
    with pytest.raises(SourceError, match="cannot open"):
        sniff(tmp_path / "nope.csv")


def test_kind_for_name():
    assert files.kind_for_name("a/products.TSV") == "tsv"
    assert files.kind_for_name("x.ndjson") == "jsonl"
    assert files.kind_for_name("README") is None
