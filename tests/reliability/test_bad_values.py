"""Bad values in a SQL source (real PostgreSQL scratch databases) and geometric/unknown types.

A value the driver cannot hand to Python (a date or timestamp of year 10000) is recorded against
its own asset, naming the asset and the column; the other assets and the later sources carry on,
the run ends ``partial`` (never left ``running``) and nothing an earlier clean run stored for the
other assets is lost.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import inspect
from sqlalchemy.exc import SAWarning
from support.db import connection, execute, records

from assay.config import Settings
from assay.inventory import run_inventory
from assay.sources import sql

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 11, 20)
#: Columns of an asset row that a later run may rewrite whatever the data (run pointers, clocks).
RUN_COLUMNS = {"updated_at", "last_inventory_run_id", "last_seen_at"}
GEOMETRIC = ("point", "line", "lseg", "box", "path", "polygon", "circle")


def source_settings(settings: Settings, catalog: str, src: str, tmp_path: Path, **decl: Any) -> Settings:
    landing = tmp_path / "landing"
    landing.mkdir(exist_ok=True)
    (landing / "after.csv").write_text("sku,price\nA-1,1.5\n")
    sources = [
        {"name": "shop", "kind": "sql", "url": src, **decl},
        {"name": "later", "kind": "files", "root": str(landing), "patterns": ["*.csv"]},
    ]
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": sources}))
    return settings.model_copy(update={"database_url": catalog, "sources_file": path})


def stored(url: str, name: str) -> dict[str, Any]:
    (row,) = records(url, "SELECT * FROM assets WHERE name = :n", n=name)
    cols = records(url, "SELECT name, data_type, is_present FROM asset_columns WHERE asset_id = :a ORDER BY ordinal", a=row["id"])
    labels = records(
        url,
        "SELECT c.name, k.kind, k.label FROM classifications k JOIN asset_columns c ON c.id = k.column_id "
        "WHERE c.asset_id = :a ORDER BY 1, 2, 3",
        a=row["id"],
    )
    return {"asset": {k: v for k, v in row.items() if k not in RUN_COLUMNS}, "columns": cols, "labels": labels}


def run_status(url: str, key: str) -> str:
    (row,) = records(url, "SELECT status FROM inventory_runs WHERE run_key = :k", k=key)
    return row["status"]


@pytest.fixture
def shop(fresh_db) -> str:
    url = fresh_db("shop")
    execute(
        url,
        "CREATE TABLE customers (id int PRIMARY KEY, email text, city text);"
        "INSERT INTO customers VALUES (1, 'a@example.com', 'Berlin'), (2, 'b@example.com', 'Paris');"
        "CREATE TABLE orders (id int PRIMARY KEY, placed_on date, delivered_on date, shipped_at timestamptz, note text);"
        "INSERT INTO orders VALUES (1, '2026-11-01', '2026-11-03', NULL, 'ok'), (2, '2026-11-02', NULL, NULL, 'ok');"
        "CREATE TABLE zones (id int PRIMARY KEY, name text);"
        "INSERT INTO zones VALUES (1, 'north');",
    )
    return url


@pytest.mark.parametrize(
    ("column", "value"),
    [("delivered_on", "10000-01-01"), ("shipped_at", "10000-01-01 00:00+00"), ("placed_on", "10000-01-01")],
)
def test_an_unreadable_date_is_the_error_of_its_table_only(settings, catalog_url, shop, tmp_path, column, value):
    # placed_on is also the declared event time: max() itself returns the bad value.
    s = source_settings(settings, catalog_url, shop, tmp_path, assets={"orders": {"event_time_column": "placed_on"}})
    assert run_inventory(s, DAY, "clean", use_embeddings=False).status == "success"
    before = {name: stored(catalog_url, name) for name in ("customers", "zones")}
    orders_before = stored(catalog_url, "orders")

    execute(shop, f"UPDATE orders SET {column} = '{value}' WHERE id = 2")
    report = run_inventory(s, DAY, "bad", use_embeddings=False)
    assert report.status == "partial"
    assert run_status(catalog_url, "bad") == "partial"
    assert report.source("shop").status == "partial"
    assert report.source("later").status == "success"
    orders = stored(catalog_url, "orders")
    assert orders["asset"]["status"] == "error"
    message = orders["asset"]["error"]
    assert message.startswith("public.orders: ")
    assert f"column '{column}'" in message
    assert "out of range" in message
    # What was known of the table stays: columns, row count, labels.
    assert orders["asset"]["row_count"] == 2
    assert orders["columns"] == orders_before["columns"]
    assert orders["labels"] == orders_before["labels"]
    for name, was in before.items():
        assert stored(catalog_url, name) == was, name

    # Fixed at the source: the next run clears the error.
    execute(shop, "UPDATE orders SET placed_on = '2026-11-02', delivered_on = NULL, shipped_at = NULL WHERE id = 2")
    assert run_inventory(s, DAY, "fixed", use_embeddings=False).status == "success"
    assert stored(catalog_url, "orders")["asset"]["status"] == "active"


def test_a_bad_value_in_the_first_of_many_tables_does_not_stop_the_parallel_readers(settings, catalog_url, fresh_db, tmp_path):
    # More than READ_AHEAD relations: they are read on several connections side by side.
    src = fresh_db("many")
    execute(
        src,
        "CREATE TABLE a_bad (id int PRIMARY KEY, d date); INSERT INTO a_bad VALUES (1, '10000-01-01');"
        + "".join(f"CREATE TABLE t{i:02d} (id int PRIMARY KEY, d date); INSERT INTO t{i:02d} VALUES (1, '2026-01-01');" for i in range(20)),
    )
    report = run_inventory(source_settings(settings, catalog_url, src, tmp_path), DAY, "many", use_embeddings=False)
    assert report.source("shop").errors == 1
    assert report.source("shop").seen == 21
    statuses = {r["name"]: r["status"] for r in records(catalog_url, "SELECT name, status FROM assets")}
    assert statuses.pop("a_bad") == "error"
    assert set(statuses.values()) == {"active"}


def test_geometric_and_unknown_types_get_their_names(settings, catalog_url, fresh_db, tmp_path):
    src = fresh_db("geo")
    execute(
        src,
        "CREATE TYPE pair AS (a int, b int);"
        "CREATE TABLE shapes (id int PRIMARY KEY, "
        + ", ".join(f"c_{t} {t}" for t in GEOMETRIC)
        + ", c_pair pair, c_pairs pair[], c_points point[], c_xml xml, c_tsv tsvector, c_range int4range);"
        "INSERT INTO shapes (id, c_point, c_pair) VALUES (1, '(1,2)', ROW(1, 2));",
    )
    expected = {f"c_{t}": t for t in GEOMETRIC} | {
        "id": "integer",
        "c_pair": "pair",
        "c_pairs": "pair[]",
        "c_points": "point[]",
        "c_xml": "xml",
        "c_tsv": "tsvector",
        "c_range": "int4range",
    }
    report = run_inventory(source_settings(settings, catalog_url, src, tmp_path), DAY, "geo", use_embeddings=False)
    assert report.status == "success"
    found = {r["name"]: r["data_type"] for r in records(catalog_url, "SELECT name, data_type FROM asset_columns")}
    assert {k: found[k] for k in expected} == expected
    # Profiling reflects columns through SQLAlchemy, which does not know these types: the same names.
    with connection(src) as conn:
        reflected = sql.reflect_columns(conn, "shapes", "public")
        assert {c["name"]: sql.type_name(conn, c["type"]) for c in reflected} == expected
        # Without it SQLAlchemy's reflection gives these columns no type at all.
        with pytest.warns(SAWarning, match="Did not recognize type"):
            plain = {c["name"]: sql.type_name(conn, c["type"]) for c in inspect(conn).get_columns("shapes")}
        assert plain["c_point"] == "unknown"
