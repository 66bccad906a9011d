"""Value-level PII (#13 item 7): one stray e-mail in a 100,000-row text column nobody classified as PII.

``run_profile`` over a SQL table and a landing file: the scan counts it in the column's metrics
(``pii_values``), a steward review item (kind ``pii_finding``) opens for that column only,
and the raw address appears nowhere: not in any catalog row, not in the log records, not in
the report.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import text

# isort: split
from assay.catalog.db import engine, session
from assay.catalog.models import Asset as AssetRow
from assay.catalog.models import AssetColumn, Classification, ColumnMetrics, ReviewItem, Source
from assay.catalog.upsert import upsert
from assay.config import Settings
from assay.profiling import run_profile

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 11, 20)
STRAY = "stray.person@example.org"
FILE_STRAY = "4111 1111 1111 1111"
ROWS = 100_000


def _source(url: str, name: str, kind: str) -> int:
    with session(url) as s:
        (sid,) = upsert(
            s, Source, [{"name": name, "kind": kind, "url_or_conn_id": f"settings:{name}"}], ["name"]
        )
    return sid


def _asset(url: str, source_id: int, namespace: str, name: str, **extra: object) -> int:
    row = {"source_id": source_id, "namespace": namespace, "name": name, **extra}
    with session(url) as s:
        (aid,) = upsert(s, AssetRow, [row], ["source_id", "namespace", "name"])
    return aid


def _pii(url: str, asset_id: int, column: str, label: str) -> None:
    with session(url) as s:
        (cid,) = upsert(
            s,
            AssetColumn,
            [{"asset_id": asset_id, "name": column, "ordinal": 1, "data_type": "text", "nullable": True}],
            ["asset_id", "name"],
            update=[],
        )
        upsert(
            s,
            Classification,
            [
                {
                    "column_id": cid,
                    "kind": "pii",
                    "label": label,
                    "score": 1.0,
                    "method": "name",
                    "source": "auto",
                }
            ],
            ["column_id", "kind", "source"],
        )


def _catalog_text(url: str) -> str:
    """Every row of every catalog table, as text."""
    with engine(url).connect() as c:
        tables = c.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        ).scalars()
        return "\n".join(
            "\n".join(c.execute(text(f'SELECT t::text FROM "{t}" AS t')).scalars()) for t in list(tables)
        )


@pytest.fixture
def world(fresh_db, catalog_url, tmp_path: Path):
    source_url = fresh_db("src")
    landing = tmp_path / "landing"
    (landing / "notes").mkdir(parents=True)
    lines = ["id,comment"] + [f"{i},fine {i}" for i in range(1, 2001)]
    lines[1500] = f"1500,paid with {FILE_STRAY} thanks"
    (landing / "notes" / "notes.csv").write_text("\n".join(lines) + "\n")
    decls = {
        "sources": [
            {"name": "shop", "kind": "sql", "url": source_url},
            {"name": "drop", "kind": "files", "root": str(landing), "patterns": ["notes/*.csv"]},
        ]
    }
    path = tmp_path / "sources.yaml"
    path.write_text(json.dumps(decls))
    src = sa.create_engine(source_url)
    with src.begin() as c:
        c.execute(text("CREATE TABLE reviews (id integer, body text, author_email text)"))
        c.execute(
            text(
                "INSERT INTO reviews SELECT g, CASE WHEN g = 4242 THEN 'write me at ' || :stray "
                "ELSE 'great product, order ' || g END, 'user' || (g % 500) || '@shop.example' "
                "FROM generate_series(1, :n) g"
            ),
            {"stray": STRAY, "n": ROWS},
        )
    src.dispose()
    shop = _source(catalog_url, "shop", "sql")
    drop = _source(catalog_url, "drop", "files")
    reviews = _asset(catalog_url, shop, "public", "reviews", kind="table", location="public.reviews")
    notes = _asset(catalog_url, drop, "notes", "notes.csv", kind="file", location="notes/notes.csv")
    _pii(catalog_url, reviews, "author_email", "email")
    return Settings(database_url=catalog_url, sources_file=path), reviews, notes


def test_a_stray_email_is_counted_reported_and_never_raw(world, caplog):
    settings, reviews, notes = world
    url = settings.catalog_url()
    caplog.set_level(logging.DEBUG)
    report = run_profile(settings, DAY, "test/pii")
    assert len(report.profiled) == 2 and report.pii_column_count == 2
    assert "2 columns with PII-looking values" in report.summary()

    with session(url) as s:
        rows = {
            (m.column_name): m.metrics
            for m in s.query(ColumnMetrics).all()  # both assets: column names differ
        }
        items = s.query(ReviewItem).filter(ReviewItem.kind == "pii_finding").order_by(ReviewItem.ref).all()
        found = {(i.asset_id, i.details["column_name"]): (i.summary, i.details) for i in items}
    body = rows["body"]["pii_values"]
    assert body == {"email": {"count": 1, "examples_masked": ["s***@e***.org"]}}
    assert rows["comment"]["pii_values"]["card_number"] == {
        "count": 1,
        "examples_masked": ["**** **** **** 1111"],
    }
    # One item per column holding PII-looking values; the column classified PII is masked, not reported.
    assert set(found) == {(reviews, "body"), (notes, "comment")}
    summary, details = found[(reviews, "body")]
    assert "column body is not classified PII" in summary and "1 email (e.g. s***@e***.org)" in summary
    assert details["pii_values"] == body and details["non_null_count"] == ROWS
    assert "author_email" in rows and "pii_values" not in rows["author_email"]

    # The raw values appear nowhere: catalog rows, log records, the report.
    catalog = _catalog_text(url)
    for raw in (STRAY, FILE_STRAY, "4111111111111111"):
        assert raw not in catalog
        assert raw not in caplog.text
        assert raw not in report.summary() and raw not in json.dumps(report.as_dict())

    # A rerun refreshes the same items and keeps a steward's status.
    with session(url) as s:
        s.query(ReviewItem).filter(ReviewItem.kind == "pii_finding").update({"status": "closed"})
    run_profile(settings, DAY, "test/pii-2", force=True)
    with session(url) as s:
        after = s.query(ReviewItem).filter(ReviewItem.kind == "pii_finding").all()
    assert len(after) == 2 and {i.status for i in after} == {"closed"}
