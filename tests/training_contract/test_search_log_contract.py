"""The search-log contract: the mapping file validates, errors name the key, and the demo is one mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from assay.errors import ConfigError
from assay.training import contract as search_log
from assay.training.logsql import tables

ROOT = Path(__file__).resolve().parents[2]

BINARY = {
    "source": "hardware",
    "schema": "logs",
    "labels": {"scale": "binary"},
    "tables": {
        "sessions": {"table": "QueryLog", "columns": {"session_id": "visit_id", "query": "search_text", "day": "visit_day"}},
        "impressions": {"table": "shown_items", "columns": {"session_id": "visit_id", "product_id": "sku", "day": "visit_day"}},
        "interactions": {"table": "user_actions",
                         "columns": {"session_id": "visit_id", "product_id": "sku", "day": "visit_day", "grade": "clicked"}},
        "products": {"table": "catalog_items", "columns": {"product_id": "sku", "title": "name", "category": "dept"}},
    },
}


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "search_log.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_demo_mapping_is_the_default_file_and_the_seed_fits_it():
    from assay.seed.contract import conformance, demo_contract

    contract = demo_contract(ROOT)
    assert contract.source == "shop" and contract.labels.scale == "graded" and contract.label_max == 3
    assert contract.labels.events == {"click": 1, "add_to_cart": 2, "purchase": 3}
    assert conformance(contract) == []
    # The seed's check can fail: a mapping naming a column the seed does not write.
    bad = contract.model_copy(deep=True)
    bad.tables["products"].columns["price"] = "list_price"
    assert conformance(bad) == ['tables.products.columns.price: "public"."products" has no column \'list_price\'']


def test_a_binary_mapping_with_other_names_validates(tmp_path):
    contract = search_log.load(write(tmp_path, BINARY))
    assert contract.label_max == 1 and contract.graded_by_column
    assert contract.wanted_columns("interactions") == {
        "session_id": "text", "product_id": "text", "day": "date", "grade": "number"}
    assert contract.table("products").column("title") == "name"
    assert contract.table("products").column("product_id") == "sku"


def test_statements_quote_every_identifier(tmp_path):
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql

    t = tables(search_log.load(write(tmp_path, BINARY)))
    sql = str(select(t.sessions.c.query).select_from(t.sessions.clause).compile(dialect=postgresql.dialect()))
    assert sql == 'SELECT "logs"."QueryLog"."search_text" \nFROM "logs"."QueryLog"'


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["tables"].pop("products"), "tables: missing products"),
        (lambda d: d["tables"]["products"]["columns"].update(colour_code="c"),
         "tables.products.columns: colour_code is not a contract column of products"),
        (lambda d: d["labels"].update(max=2), "labels: a binary scale has max 1 (got 2)"),
        (lambda d: d.update(labels={"scale": "graded"}), "labels: a graded scale needs max >= 1"),
        (lambda d: d.update(labels={"scale": "graded", "max": 2, "events": {"buy": 3}}),
         "labels: event 'buy' has grade 3, outside 1..2"),
        (lambda d: d["tables"]["interactions"]["columns"].pop("grade"), "labels.events: map event_type values"),
        (lambda d: d.update(source="Hard Ware"), "source: String should match pattern"),
        (lambda d: d.update(extra_key=1), "extra_key: Extra inputs are not permitted"),
    ],
)
def test_a_bad_mapping_is_refused_naming_the_file_and_key(tmp_path, change, message):
    import copy

    data = copy.deepcopy(BINARY)
    change(data)
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        search_log.load(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_a_missing_file_says_how_to_give_one(tmp_path):
    with pytest.raises(ConfigError, match="ASSAY_SEARCH_LOG_FILE"):
        search_log.load(tmp_path / "nope.yaml")


def test_the_url_comes_from_the_source_declarations_and_a_file_source_is_refused(tmp_path, settings):
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [
        {"name": "hardware", "kind": "sql", "url": "postgresql+psycopg2://reader@db.example/hw"},
        {"name": "drops", "kind": "files", "root": str(tmp_path), "patterns": ["*.csv"]},
    ]}))
    s = settings.model_copy(update={"sources_file": sources})
    contract = search_log.load(write(tmp_path, BINARY))
    url = search_log.source_url(s, contract)
    assert url.startswith("postgresql+psycopg2://reader@db.example/hw")
    assert "default_transaction_read_only" in url  # resolved by the declaration: read-only sessions
    with pytest.raises(ConfigError, match="source 'drops' is a files source"):
        search_log.source_url(s, contract.model_copy(update={"source": "drops"}))
    with pytest.raises(ConfigError, match="no source named 'elsewhere'"):
        search_log.source_url(s, contract.model_copy(update={"source": "elsewhere"}))


def test_judgments_are_optional_and_their_folder_defaults_to_the_settings(tmp_path, settings):
    contract = search_log.load(write(tmp_path, BINARY))
    assert contract.judgments is None and search_log.judgments_folder(settings, contract) is None
    with_judgments = search_log.load(write(tmp_path, {**BINARY, "judgments": {"max": 4}}))
    assert search_log.judgments_folder(settings, with_judgments) == settings.judgments
