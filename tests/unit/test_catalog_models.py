"""The catalog ORM follows the schema conventions every later feature relies on (no database)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, UniqueConstraint
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.types import JSON

# isort: split
from assay.catalog import migrate, models
from assay.catalog.db import masked, without_password
from assay.catalog.models import APPEND_ONLY_TABLES, Base
from assay.catalog.upsert import _validated

TABLES = Base.metadata.tables

#: Tables written with plain INSERT only (append-only: no natural key to upsert on). Profile and
#: quality attempts are rows of their own (issue #14 item 4); their keys are unique in *_current.
NO_UPSERT = {"gate_decisions", "profile_runs", "quality_runs", "steward_audit"}

EXPECTED_TABLES = {
    "sources",
    "assets",
    "schema_versions",
    "schema_events",
    "asset_columns",
    "classifications",
    "inventory_runs",
    "profile_runs",
    "profile_current",
    "column_metrics",
    "anomalies",
    "quality_runs",
    "quality_current",
    "expectation_results",
    "review_items",
    "waivers",
    "scorecards",
    "training_datasets",
    "training_runs",
    "model_candidates",
    "gate_decisions",
    "alias_events",
    "task_failures",
    "steward_audit",
    "pending_labels",
}


def test_every_planned_table_exists():
    assert set(TABLES) == EXPECTED_TABLES


@pytest.mark.parametrize("name", sorted(EXPECTED_TABLES))
def test_table_is_documented(name):
    comment = TABLES[name].comment
    assert comment and len(comment) > 20


@pytest.mark.parametrize("name", sorted(EXPECTED_TABLES))
def test_primary_key_is_bigint_identity_id(name):
    (pk,) = TABLES[name].primary_key.columns
    assert pk.name == "id"
    assert isinstance(pk.type, BigInteger)
    assert isinstance(pk.identity, Identity)


@pytest.mark.parametrize("name", sorted(EXPECTED_TABLES - NO_UPSERT))
def test_upserted_tables_have_a_natural_key(name):
    uniques = [c for c in TABLES[name].constraints if isinstance(c, UniqueConstraint)]
    assert uniques, f"{name} has no UNIQUE natural key for ON CONFLICT"
    for uq in uniques:
        assert all(not col.nullable for col in uq.columns), (
            f"{uq.name}: a nullable key column never conflicts (NULL <> NULL); use '' instead"
        )


def test_timestamps_are_timestamptz_and_blobs_are_jsonb():
    for table in TABLES.values():
        for col in table.columns:
            if isinstance(col.type, DateTime):
                assert col.type.timezone, f"{table.name}.{col.name} must be timestamptz"
            if isinstance(col.type, JSON):
                assert isinstance(col.type, postgresql.JSONB), f"{table.name}.{col.name} must be JSONB"


def test_every_constraint_has_a_stable_name_within_postgres_limits():
    dialect = postgresql.dialect()
    for table in TABLES.values():
        CreateTable(table).compile(dialect=dialect)  # raises if a convention cannot be applied
        for constraint in table.constraints:
            assert constraint.name, f"unnamed constraint on {table.name}"
            assert len(str(constraint.name)) <= 63, constraint.name
        for index in table.indexes:
            CreateIndex(index).compile(dialect=dialect)
            assert index.name and len(str(index.name)) <= 63


@pytest.mark.parametrize(
    ("table", "column", "enum"),
    [
        ("sources", "kind", models.SourceKind),
        ("assets", "status", models.AssetStatus),
        ("schema_events", "event_type", models.SchemaEventType),
        ("classifications", "source", models.DecisionSource),
        ("quality_runs", "status", models.QualityStatus),
        ("expectation_results", "dimension", models.Dimension),
        ("gate_decisions", "decision", models.Decision),
    ],
)
def test_closed_vocabularies_are_checked_in_the_database(table, column, enum):
    checks = {
        str(c.name): str(c.sqltext) for c in TABLES[table].constraints if isinstance(c, CheckConstraint)
    }
    sqltext = checks[f"ck_{table}_{column}"]
    for value in enum:
        assert f"'{value.value}'" in sqltext


def test_the_shipped_migration_guards_the_append_only_tables():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(migrate.MIGRATIONS_DIR))
    assert script.get_heads() == [migrate.head()], "migrations must form one line"
    first = script.get_revision("0001")
    assert first is not None
    assert set(first.module.APPEND_ONLY) == set(APPEND_ONLY_TABLES)


def test_masked_url_hides_the_password():
    url = "postgresql+psycopg2://u:s3cret@db.example:5432/assay"
    assert masked(url) == "postgresql+psycopg2://u:***@db.example:5432/assay"
    assert "s3cret" not in masked(url)
    assert masked("not a url") == "<unparsable database URL>"


def test_without_password_strips_it_and_leaves_connection_ids_alone():
    assert without_password("postgresql://u:s3cret@h/db") == "postgresql://u@h/db"
    assert without_password("postgresql://u@h/db?password=s3cret&sslmode=require") == (
        "postgresql://u@h/db?sslmode=require"
    )
    assert without_password("shop_postgres") == "shop_postgres"


def test_upsert_rows_collapse_on_the_key_and_last_wins():
    rows = [
        {"run_key": "a", "status": "running"},
        {"run_key": "b", "status": "running"},
        {"run_key": "a", "status": "success"},
    ]
    assert _validated(models.InventoryRun, rows, ["run_key"]) == [
        {"run_key": "a", "status": "success"},
        {"run_key": "b", "status": "running"},
    ]


@pytest.mark.parametrize(
    ("rows", "key", "message"),
    [
        ([{"run_key": "a"}, {"run_key": "b", "status": "x"}], ["run_key"], "same columns"),
        ([{"status": "running"}], ["run_key"], "lack key columns"),
        ([{"run_key": "a", "nope": 1}], ["run_key"], "unknown columns"),
        ([{"run_key": "a"}], [], "non-empty key"),
        ([{"run_key": "a"}], ["nope"], "do not exist"),
    ],
)
def test_upsert_rejects_malformed_rows(rows, key, message):
    with pytest.raises(ValueError, match=message):
        _validated(models.InventoryRun, rows, key)


def test_date_columns_are_dates():
    for table, column in [("profile_runs", "logical_date"), ("scorecards", "day")]:
        assert TABLES[table].c[column].type.python_type is dt.date
