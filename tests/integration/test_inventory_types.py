"""Inventory and profiling spell every SQL type the same way (``assay.sources.sql.normal_type``).

``asset_columns.data_type`` (inventory, from ``pg_catalog.format_type``) and
``column_metrics.data_type`` (profiling, from SQLAlchemy reflection) must agree, and both must
be PostgreSQL's own spelling.
"""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from sqlalchemy import create_engine, text

from assay.config import Settings
from assay.inventory import run_inventory
from assay.profiling import run_profile

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 11, 20)
TYPES = {
    "i": "integer",
    "b": "bigint",
    "s": "smallint",
    "n": "numeric(12,2)",
    "nn": "numeric",
    "r": "real",
    "d": "double precision",
    "vc": "character varying(20)",
    "v": "character varying",
    "c": "character(3)",
    "t": "text",
    "bo": "boolean",
    "dt": "date",
    "ts": "timestamp without time zone",
    "tz": "timestamp with time zone",
    "tz3": "timestamp(3) with time zone",
    "tm": "time without time zone",
    "u": "uuid",
    "j": "jsonb",
    "ia": "integer[]",
}


def test_asset_columns_and_column_metrics_spell_types_alike(catalog_url, fresh_db, tmp_path):
    src = fresh_db("types")
    eng = create_engine(src)
    with eng.begin() as c:
        c.exec_driver_sql(f"CREATE TABLE typed ({', '.join(f'{k} {t}' for k, t in TYPES.items())})")
        c.exec_driver_sql(
            "INSERT INTO typed VALUES (1, 2, 3, 4.5, 6, 7.5, 8.5, 'a', 'b', 'xyz', 'text', true, '2026-11-20', "
            "'2026-11-20 10:00', '2026-11-20 10:00+00', '2026-11-20 10:00+00', '10:00', "
            "'00000000-0000-0000-0000-000000000001', '{}', '{1,2}')"
        )
        stored = dict(
            c.execute(
                text(
                    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = 'typed'::regclass AND attnum > 0"
                )
            ).all()
        )
    eng.dispose()
    assert stored == TYPES  # the table is what the test means
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [{"name": "src", "kind": "sql", "url": src}]}))
    settings = Settings(database_url=catalog_url, sources_file=path)
    run_inventory(settings, DAY, "types/inventory", use_embeddings=False)
    run_profile(settings, DAY, "types/profile")
    cat = create_engine(catalog_url)
    with cat.connect() as c:
        inventory = dict(c.execute(text("SELECT name, data_type FROM asset_columns")).all())
        profile = dict(c.execute(text("SELECT column_name, data_type FROM column_metrics")).all())
    cat.dispose()
    assert inventory == TYPES
    assert profile == TYPES
