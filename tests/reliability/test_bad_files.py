"""Bad landing files: read through the real reader, then through a real inventory into a fresh catalog.

Each bad input asserts that the error names the file (and the line where one is known), that the
other files carry on, and that what an earlier clean run stored for them is not lost.
"""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from support.db import records

from assay.config import Settings
from assay.errors import SourceError
from assay.inventory import run_inventory
from assay.sources import files
from assay.sources.files import read_table, sniff

DAY = dt.date(2026, 11, 20)
GOOD = "sku,price\nA-1,1.5\nA-2,2.5\n"
#: Columns of an asset row that a later run may rewrite whatever the data (run pointers, clocks).
RUN_COLUMNS = {"updated_at", "last_inventory_run_id", "last_seen_at"}


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# ---- the reader ---------------------------------------------------------------------------------
def test_a_10_mb_cell_is_read_not_refused(tmp_path):
    cell = "x" * (10 * 1024 * 1024)
    path = write(tmp_path, "long.csv", f"sku,note\nA-1,{cell}\nA-2,short\n")
    table = read_table(path)
    assert table.num_rows == 2
    assert len(table.column("note")[0].as_py()) == len(cell)
    # The sampled read (profiling, quality) takes the same path.
    assert read_table(path, max_rows=1).num_rows == 1


def test_a_long_json_line_is_read(tmp_path):
    value = "y" * (3 * 1024 * 1024)
    path = write(tmp_path, "long.jsonl", f'{{"sku": "A-1", "note": "{value}"}}\n{{"sku": "A-2", "note": "z"}}\n')
    assert read_table(path).num_rows == 2


def test_a_cell_beyond_the_limit_names_file_and_line(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_BLOCK_BYTES", 2 * 1024 * 1024)
    path = write(tmp_path, "huge.csv", "sku,note\nA-1,a\nA-2," + "x" * (5 * 1024 * 1024) + "\nA-3,b\n")
    with pytest.raises(SourceError, match=r"huge\.csv: line 3 is longer than .*2 MiB"):
        read_table(path)


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("products.csv", GOOD)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "what"),
    [
        ("gz.csv", gzip.compress(GOOD.encode()), "gzip-compressed data"),
        ("zip.csv", _zip_bytes(), "zip archive"),
        ("bz.csv", bz2.compress(GOOD.encode()), "bzip2-compressed data"),
        ("x.jsonl", gzip.compress(b'{"a": 1}\n'), "gzip-compressed data"),
        ("p.csv.gz", gzip.compress(GOOD.encode()), "gzip-compressed data"),
        ("pdf.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF document"),
        ("bin.csv", bytes(range(256)) * 4, "binary data"),
    ],
    ids=lambda value: value if isinstance(value, str) and "." in value else "",
)
def test_compressed_or_binary_content_behind_a_text_name_is_named(tmp_path, name, data, what):
    path = write(tmp_path, name, data)
    with pytest.raises(SourceError) as caught:
        sniff(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {what}")
    assert "UTF-8" not in message.split(";")[0]


def test_a_header_whose_first_cell_is_empty_is_a_header(tmp_path):
    # What pandas writes for DataFrame.to_csv() with its index.
    path = write(tmp_path, "idx.csv", ",sku,price\n0,A-1,1.5\n1,A-2,2.5\n")
    fmt = sniff(path)
    assert fmt.has_header is True
    table = read_table(path, fmt)
    assert table.column_names == ["column_1", "sku", "price"]
    assert table.column("sku").to_pylist() == ["A-1", "A-2"]
    assert files.placeholder_columns(path, fmt) == {1: "column_1"}
    # The sampled read names them the same way.
    assert read_table(path, fmt, max_rows=1).column_names == ["column_1", "sku", "price"]


def test_a_placeholder_never_takes_an_existing_name(tmp_path):
    path = write(tmp_path, "idx.csv", ",column_1,price\n0,A-1,1.5\n")
    assert read_table(path).column_names == ["column_1_1", "column_1", "price"]


def test_a_first_line_of_values_with_empty_cells_is_still_data(tmp_path):
    path = write(tmp_path, "n.csv", ",1,2.5\n,3,4.5\n")
    assert sniff(path).has_header is False


def test_a_27_digit_integer_is_exact_and_zip_codes_stay_text(tmp_path):
    big = "123456789012345678901234567"
    path = write(tmp_path, "n.csv", f"id,zip,qty,price\n{big},01234,1,1.5\n2,12345,2,2.5\n,,3,\n")
    table = read_table(path)
    types = {f.name: str(f.type) for f in table.schema}
    assert types == {"id": "decimal128(38, 0)", "zip": "string", "qty": "int64", "price": "double"}
    assert str(table.column("id")[0].as_py()) == big
    assert table.column("zip").to_pylist() == ["01234", "12345", None]
    sampled = read_table(path, max_rows=2)
    assert {f.name: str(f.type) for f in sampled.schema} == types


def test_integers_beyond_38_digits_stay_text_and_leading_zero_decimals_too(tmp_path):
    path = write(tmp_path, "n.csv", "a,b,c\n" + "9" * 40 + ",007.5,0.5\n1,1.5,-0.25\n")
    table = read_table(path)
    assert [str(f.type) for f in table.schema] == ["string", "string", "double"]
    assert table.column("a")[0].as_py() == "9" * 40


def test_a_nul_byte_names_file_line_and_column(tmp_path):
    path = write(tmp_path, "nul.csv", b"sku,title\nA-1,Sofa\nA-2,La\x00mp\n")
    with pytest.raises(SourceError, match=r"nul\.csv: NUL character .*\(line 3\), column 'title'"):
        read_table(path)


def test_an_invalid_utf8_byte_names_the_column_too(tmp_path):
    path = write(tmp_path, "latin.csv", "sku,title\nA-1,Sofa\nA-2,Caf\xe9\n".encode("latin-1"))
    with pytest.raises(SourceError, match=r"latin\.csv: not valid UTF-8: byte 0xE9 .*\(line 3\), column 'title'"):
        read_table(path)


# ---- through a real inventory -------------------------------------------------------------------
def settings_for(settings: Settings, catalog_url: str, tmp_path: Path, root: Path, **kw: Any) -> Settings:
    source = {"name": "feeds", "kind": "files", "root": str(root), "patterns": ["**/*.*"], **kw}
    other = {"name": "later", "kind": "files", "root": str(tmp_path / "later"), "patterns": ["*.csv"]}
    write(tmp_path / "later", "after.csv", GOOD)
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [source, other]}))
    return settings.model_copy(update={"database_url": catalog_url, "sources_file": path})


def inventory(s: Settings, key: str) -> Any:
    return run_inventory(s, DAY, key, use_embeddings=False)


def assets(url: str) -> dict[str, dict[str, Any]]:
    return {r["location"]: r for r in records(url, "SELECT * FROM assets")}


def stored(url: str, location: str) -> dict[str, Any]:
    """An asset's row, its columns and its schema versions: what a later run must not lose."""
    (row,) = records(url, "SELECT * FROM assets WHERE location = :l", l=location)
    cols = records(url, "SELECT name, ordinal, data_type, is_present FROM asset_columns WHERE asset_id = :a ORDER BY ordinal", a=row["id"])
    versions = records(url, "SELECT id, version, fingerprint FROM schema_versions WHERE asset_id = :a ORDER BY id", a=row["id"])
    return {"asset": {k: v for k, v in row.items() if k not in RUN_COLUMNS}, "columns": cols, "versions": versions}


def run_status(url: str, key: str) -> str:
    (row,) = records(url, "SELECT status FROM inventory_runs WHERE run_key = :k", k=key)
    return row["status"]


@pytest.mark.integration
def test_bad_files_are_errors_of_their_own_and_nothing_stored_is_lost(settings, catalog_url, tmp_path):
    root = tmp_path / "landing"
    write(root, "good.csv", GOOD)
    write(root, "idx.csv", ",sku,price\n0,A-1,1.5\n")
    write(root, "numbers.csv", "id,zip\n123456789012345678901234567,01234\n")
    write(root, "long.csv", "sku,note\nA-1," + "x" * (10 * 1024 * 1024) + "\n")
    s = settings_for(settings, catalog_url, tmp_path, root)
    assert inventory(s, "clean").status == "success"
    before = {loc: stored(catalog_url, loc) for loc in ("good.csv", "idx.csv", "numbers.csv", "long.csv")}

    write(root, "gz.csv", gzip.compress(GOOD.encode()))
    write(root, "nul.csv", b"sku,title\nA-1,La\x00mp\n")
    write(root, "latin.csv", "sku,title\nA-1,Caf\xe9\n".encode("latin-1"))
    pq.write_table(pa.table({"sku": ["A-1", "A-2"], "shipped": pa.array([0, 2932897], pa.date32())}), root / "far.parquet")
    report = inventory(s, "bad")
    assert report.status == "partial"
    assert run_status(catalog_url, "bad") == "partial"
    assert report.source("later").status == "success"
    found = assets(catalog_url)
    assert found["gz.csv"]["status"] == "error"
    assert "gz.csv: gzip-compressed data, not CSV text" in found["gz.csv"]["error"]
    assert found["nul.csv"]["status"] == "error"
    assert "nul.csv: NUL character" in found["nul.csv"]["error"] and "(line 2), column 'title'" in found["nul.csv"]["error"]
    assert "latin.csv: not valid UTF-8" in found["latin.csv"]["error"] and "(line 2), column 'title'" in found["latin.csv"]["error"]
    far = found["far.parquet"]
    assert far["status"] == "error"
    assert "far.parquet" in far["error"] and "column 'shipped'" in far["error"] and "row 2" in far["error"]
    assert far["row_count"] == 2  # what was read before the bad value is kept
    for loc, was in before.items():
        assert stored(catalog_url, loc) == was, loc

    idx = stored(catalog_url, "idx.csv")
    assert [c["name"] for c in idx["columns"]] == ["column_1", "sku", "price"]
    assert "header cell 1 is empty: named column_1" in idx["asset"]["error"]
    assert idx["asset"]["status"] == "active"
    numbers = {c["name"]: c["data_type"] for c in stored(catalog_url, "numbers.csv")["columns"]}
    assert numbers == {"id": "decimal128(38, 0)", "zip": "string"}
    assert found["long.csv"]["status"] == "active" and found["long.csv"]["row_count"] == 1


@pytest.mark.integration
def test_symlinks_outside_the_root_are_not_followed(settings, catalog_url, tmp_path):
    outside = tmp_path / "outside"
    write(outside, "secret.csv", "user,password\nroot,hunter2\n")
    root = tmp_path / "landing"
    write(root, "good.csv", GOOD)
    write(root, "sub/inner.csv", GOOD)
    os.symlink(root / "sub" / "inner.csv", root / "alias.csv")  # inside the root: read
    s = settings_for(settings, catalog_url, tmp_path, root)
    assert inventory(s, "clean").status == "success"
    before = {loc: stored(catalog_url, loc) for loc in ("good.csv", "sub/inner.csv", "alias.csv")}

    # "*/*.csv" walks into a linked folder (pathlib's "**" does not follow folder links).
    s = settings_for(settings, catalog_url, tmp_path, root, patterns=["**/*.*", "*/*.csv"])
    os.symlink(outside / "secret.csv", root / "link.csv")
    os.symlink(outside, root / "dir")
    os.symlink("../../outside/secret.csv", root / "sub" / "rel.csv")
    report = inventory(s, "links")
    assert report.status == "partial"
    assert report.source("later").status == "success"
    found = assets(catalog_url)
    for loc in ("link.csv", "dir/secret.csv", "sub/rel.csv"):
        assert found[loc]["status"] == "error", loc
        assert found[loc]["error"] == f"{loc}: a symbolic link to a path outside the source root: not followed"
        assert found[loc]["current_schema_version_id"] is None
    columns = records(catalog_url, "SELECT name FROM asset_columns")
    assert {"password", "user"}.isdisjoint(c["name"] for c in columns)
    assert found["alias.csv"]["status"] == "active"
    for loc, was in before.items():
        assert stored(catalog_url, loc) == was, loc


@pytest.mark.integration
def test_a_file_name_that_is_not_utf8_is_an_error_of_its_own(settings, catalog_url, tmp_path):
    root = tmp_path / "landing"
    write(root, "good.csv", GOOD)
    s = settings_for(settings, catalog_url, tmp_path, root)
    assert inventory(s, "clean").status == "success"
    before = stored(catalog_url, "good.csv")

    (root / os.fsdecode(b"caf\xe9.csv")).write_text(GOOD)
    report = inventory(s, "names")
    assert report.status == "partial"
    assert report.source("later").status == "success"
    found = assets(catalog_url)
    assert found["caf\\xe9.csv"]["status"] == "error"
    assert found["caf\\xe9.csv"]["error"] == "caf\\xe9.csv: the file name is not valid UTF-8: not read (rename the file)"
    assert stored(catalog_url, "good.csv") == before


def test_a_modification_time_beyond_year_9999_is_a_note(tmp_path):
    from assay.inventory.observe import observe_file
    from assay.sources.declarations import FileSource

    future = write(tmp_path, "future.csv", GOOD)
    os.utime(future, (253_402_300_800, 253_402_300_800))  # 10000-01-01
    if future.stat().st_mtime != 253_402_300_800:
        pytest.skip("this file system cannot hold a modification time beyond year 9999")
    decl = FileSource(name="feeds", kind="files", root=str(tmp_path), patterns=["*.csv"])
    asset = observe_file(decl, tmp_path, future)
    assert asset.error is None and asset.row_count == 2
    assert asset.notes == ["future.csv: modification time 253402300800 is out of range; freshness not recorded"]


@pytest.mark.integration
def test_a_value_the_driver_refuses_is_a_catalog_error_of_that_asset(catalog_url):
    # The driver refuses text it cannot encode (a lone surrogate) before sending it, with a
    # UnicodeEncodeError; the inventory's per-asset fallback only knows database errors, so the
    # writes turn it into one (without that the whole run ended there).
    from sqlalchemy.exc import SQLAlchemyError
    from support.db import connection

    from assay.catalog.models import AssetKind
    from assay.inventory import lifecycle, record
    from assay.inventory.observe import ObservedAsset
    from assay.sources.declarations import AssetDecl
    from assay.sources.sql import ColumnInfo

    with connection(catalog_url, commit=True) as conn:
        run_id = lifecycle.start_run(conn, "nul", DAY, dt.datetime.now(dt.UTC))
        source_id = lifecycle.record_source(
            conn, {"name": "feeds", "kind": "files", "url_or_conn_id": "/x", "owner": None, "tags": [], "declared": {}}
        )
    ctx = lifecycle.RunContext(
        run_id=run_id, run_key="nul", observed_at=lifecycle.observed_at_of(DAY), source_id=source_id,
        source_owner=None, source_tags=(),
    )
    bad = ObservedAsset(
        namespace="", name="n.parquet", kind=AssetKind.FILE, location="n.parquet", decl=AssetDecl(),
        columns=(ColumnInfo(name="ti\udce9tle", data_type="string", nullable=True, ordinal=1),),
    )
    for write_one in (
        lambda conn: record.record_asset(conn, ctx, None, bad, None),
        lambda conn: record.record_assets(conn, ctx, [(None, bad, None)]),
    ):
        with pytest.raises(SQLAlchemyError), connection(catalog_url, commit=True) as conn:
            write_one(conn)
    with connection(catalog_url, commit=True) as conn:
        record.record_asset_failure(conn, ctx, bad, "n.parquet: column 'ti\x00tle' \udce9 refused")
    (row,) = records(catalog_url, "SELECT status, error FROM assets")
    assert row == {"status": "error", "error": "n.parquet: column 'ti\\x00tle' \\udce9 refused"}
