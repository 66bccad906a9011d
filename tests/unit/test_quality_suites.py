"""Suites in expectations/: the conventions assay relies on, and clear errors when a file breaks them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assay.catalog.models import Dimension, Severity
from assay.quality.suites import SuiteError, build_gx_suite, expectation_key, load_suites, parse_suite

ROOT = Path(__file__).resolve().parents[2]
EXPECTATIONS = ROOT / "expectations"
SHOP_TABLES = {"products", "customers", "search_sessions", "impressions", "interactions"}


def minimal(name: str = "s", **meta) -> dict:
    return {
        "name": name,
        "meta": {"assay": {"source": "shop", "table": "public.t"}, **meta},
        "expectations": [
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "a"},
                "meta": {"name": "a_not_null", "dimension": "completeness", "severity": "critical"},
            }
        ],
    }


def write(tmp_path: Path, doc: dict | str, name: str = "s") -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


# ---- the shipped suites ---------------------------------------------------------------------------
def test_every_shipped_suite_loads_and_covers_the_demo_shop():
    loaded = load_suites(EXPECTATIONS)
    assert loaded.errors == []
    names = {s.name for s in loaded.suites}
    assert names == SHOP_TABLES | {"supplier_feeds"}
    for s in loaded.suites:
        if s.name in SHOP_TABLES:
            assert s.target.source == "shop" and s.target.relation == s.name
        for e in s.expectations:
            assert e.dimension in {d.value for d in Dimension}
            assert e.severity in {v.value for v in Severity}
            assert e.meta.get("name") == e.expectation_id  # every shipped expectation is named
    feeds = loaded.get("supplier_feeds")
    assert feeds.target.source == "supplier_feeds" and feeds.target.files == "feeds/*/{day}/products.*"


def test_shipped_suites_use_every_dimension_and_both_severities():
    loaded = load_suites(EXPECTATIONS)
    used = {(e.dimension, e.severity) for s in loaded.suites for e in s.expectations}
    assert {d for d, _ in used} == {d.value for d in Dimension}
    assert {s for _, s in used} == {"critical", "warning"}


def test_customers_suite_declares_its_pii_columns_with_labels():
    customers = load_suites(EXPECTATIONS).get("customers")
    assert customers.pii_columns == {
        "email": "email",
        "phone": "phone",
        "full_name": "person_name",
        "street_address": "address",
        "postal_code": "postal_code",
        "ip_address": "ip_address",
    }


def test_referential_and_search_checks_are_sql_with_the_batch_placeholder():
    loaded = load_suites(EXPECTATIONS)
    rows = {
        (s.name, e.expectation_id): e.kwargs["unexpected_rows_query"]
        for s in loaded.suites
        for e in s.expectations
        if e.type == "unexpected_rows_expectation"
    }
    for key in [
        ("interactions", "interaction_product_exists"),
        ("interactions", "interaction_session_exists"),
        ("interactions", "click_has_impression"),
        ("interactions", "no_duplicate_judgments"),
        ("impressions", "impression_has_session"),
    ]:
        assert "{batch}" in rows[key], key


def test_feed_price_tiers_cover_the_taxonomy_and_catch_a_hundredfold_price():
    """Each leaf category is in exactly one price tier whose cap is above every legitimate price
    of its products and below 100x the cheapest (the price_outlier slip)."""
    from assay.seed import vocab

    feeds = load_suites(EXPECTATIONS).get("supplier_feeds")
    tiers = [e for e in feeds.expectations if e.expectation_id.startswith("price_plausible_under_")]
    assert len(tiers) >= 3
    by_leaf: dict[str, float] = {}
    for e in tiers:
        for leaf in e.kwargs["row_condition"]["parameter"]:
            assert leaf not in by_leaf, f"{leaf} in two tiers"
            by_leaf[leaf] = e.kwargs["max_value"]
    taxonomy = feeds.expectation("category_in_taxonomy").kwargs["value_set"]
    for c in vocab.CATEGORIES:
        for t in c.types:
            leaf = f"{c.path} > {t.leaf}"
            assert leaf in taxonomy
            cap = by_leaf[leaf]
            dearest = t.price_range[1] * (1 + 0.1 * (len(t.sizes) - 1))
            cheapest_on_promo = t.price_range[0] * 0.7 - 1
            assert dearest < cap < 100 * cheapest_on_promo, leaf


def test_gx_accepts_every_shipped_suite():
    for s in load_suites(EXPECTATIONS).suites:
        suite = build_gx_suite(s)
        assert len(suite.expectations) == len(s.expectations)
        assert {e.meta["name"] for e in suite.expectations} == {e.expectation_id for e in s.expectations}


# ---- bad files --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{ not json", "not valid JSON"),
        (json.dumps([1, 2]), "one JSON object"),
        (json.dumps({**minimal(), "name": "other"}), "must equal the file name"),
        (json.dumps({**minimal(), "expectations": []}), "non-empty list"),
        (json.dumps({**minimal(), "meta": {}}), "meta.assay is missing"),
        (json.dumps(minimal(assay={"source": "shop"})), "exactly one of table, files"),
        (json.dumps(minimal(assay={"source": "x", "files": "feeds/*.csv"})), "{day}"),
        (json.dumps(minimal(pii_columns="email")), "pii_columns"),
    ],
)
def test_bad_suite_files_are_errors_naming_the_file(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(SuiteError) as err:
        parse_suite(path, path.read_bytes())
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)
    assert err.value.suite_name == "s"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dimension": "beauty"}, "meta.dimension must be one of"),
        ({"severity": "fatal"}, "meta.severity must be one of"),
        ({"name": ""}, "meta.name must be a non-empty string"),
    ],
)
def test_expectation_tags_are_checked(tmp_path, change, message):
    doc = minimal()
    doc["expectations"][0]["meta"].update(change)
    path = write(tmp_path, doc)
    with pytest.raises(SuiteError, match=message):
        parse_suite(path, path.read_bytes())


def test_duplicate_expectation_names_are_refused(tmp_path):
    doc = minimal()
    doc["expectations"].append(doc["expectations"][0])
    path = write(tmp_path, doc)
    with pytest.raises(SuiteError, match="two expectations are named 'a_not_null'"):
        parse_suite(path, path.read_bytes())


def test_unnamed_expectation_gets_a_stable_key(tmp_path):
    doc = minimal()
    del doc["expectations"][0]["meta"]["name"]
    path = write(tmp_path, doc)
    spec = parse_suite(path, path.read_bytes())
    key = spec.expectations[0].expectation_id
    assert key == expectation_key("expect_column_values_to_not_be_null", {"column": "a"})
    assert key.startswith("expect_column_values_to_not_be_null:")


def test_pii_columns_as_a_list_use_the_column_name_as_label(tmp_path):
    path = write(tmp_path, minimal(pii_columns=["email", "phone"]))
    assert parse_suite(path, path.read_bytes()).pii_columns == {"email": "email", "phone": "phone"}


def test_load_suites_keeps_going_past_a_broken_file(tmp_path):
    write(tmp_path, minimal("good"), "good")
    write(tmp_path, "{", "broken")
    (tmp_path / "proposed").mkdir()
    write(tmp_path / "proposed", minimal("ignored"), "ignored")
    loaded = load_suites(tmp_path)
    assert [s.name for s in loaded.suites] == ["good"]
    assert [e.suite_name for e in loaded.errors] == ["broken"]
    assert load_suites(tmp_path / "missing").suites == []


def test_unknown_expectation_type_names_file_and_type(tmp_path):
    doc = minimal()
    doc["expectations"][0]["type"] = "expect_column_values_to_be_purple"
    path = write(tmp_path, doc)
    spec = parse_suite(path, path.read_bytes())
    with pytest.raises(SuiteError) as err:
        build_gx_suite(spec)
    assert str(path) in str(err.value)
    assert "unknown expectation type 'expect_column_values_to_be_purple'" in str(err.value)


def test_arguments_gx_refuses_name_the_expectation(tmp_path):
    doc = minimal()
    doc["expectations"][0]["kwargs"] = {"colum": "a"}
    path = write(tmp_path, doc)
    with pytest.raises(SuiteError, match="expectation 'a_not_null' .* GX refuses it"):
        build_gx_suite(parse_suite(path, path.read_bytes()))
