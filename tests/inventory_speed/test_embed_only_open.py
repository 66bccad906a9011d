"""Issue #16 item 8, without the model: embed only what the rules leave open, each text once.

A deterministic stand-in encoder (a hash of the text) replaces all-MiniLM-L6-v2, so these tests
count what would be embedded and check that sharing results changes none of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from assay.classify import ColumnSample, classify_columns, semantic
from assay.classify import embed as embed_module
from assay.classify.text import ColumnView


def _vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest() * 12
    return [b / 255 - 0.5 for b in digest[:384]]


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every text the stand-in encoder was asked to embed, in order."""
    import torch

    seen: list[str] = []

    def fake_encode(texts: Sequence[str], *, exact: bool = True) -> Any:
        seen.extend(texts)
        rows = torch.tensor([_vector(t) for t in texts]) if texts else torch.empty((0, 384))
        return torch.nn.functional.normalize(rows, p=2, dim=1)

    monkeypatch.setattr(embed_module, "encode", fake_encode)
    monkeypatch.setattr(embed_module, "fast_available", lambda: False)
    semantic._prototype_matrix.cache_clear()
    semantic.clear_cache()
    yield seen
    # Stand-in prototypes and similarities must not outlive the test.
    semantic._prototype_matrix.cache_clear()
    semantic.clear_cache()


def _prototype_count() -> int:
    return sum(len(label.prototypes) for label in semantic.LABELS)


def test_columns_a_rule_decides_are_not_embedded(embedded: list[str]) -> None:
    columns = [
        ColumnSample("created_at", "timestamp with time zone", ["2026-11-05 10:32:07+00"] * 5, "t"),
        ColumnSample("is_active", "boolean", ["true", "false"], "t"),
        ColumnSample("currency", "text", ["EUR", "USD", "GBP"], "t"),
        ColumnSample("link", "text", ["https://example.com/a", "https://example.com/b"], "t"),
        ColumnSample("price", "numeric(12,2)", ["1.50", "2.25"], "t"),
        ColumnSample("query", "text", ["red sofa", "oak table", "blue kettle"], "t"),
        ColumnSample("c07", "bigint", ["1", "17", "4"], "t"),
    ]
    results = classify_columns(columns)
    texts = embedded[_prototype_count() :]
    views = [ColumnView(c) for c in columns]
    assert texts == [semantic.column_text(views[5]), semantic.column_text(views[6])]
    for result in results[:5]:
        [label] = [c for c in result if c.kind == "semantic"]
        assert label.evidence == {"decided_by": label.evidence["decided_by"]}
        assert label.evidence["decided_by"].startswith("rule:")
    assert results[5][-1].evidence["model"] == "all-MiniLM-L6-v2"


def test_each_distinct_text_is_embedded_once_per_process(embedded: list[str]) -> None:
    # 300 tables with the same three open columns and one of 3 samples each: 9 texts in all.
    tables = [
        [
            ColumnSample("query", "text", [f"red sofa {k % 3}", "oak table"], f"t{k}"),
            ColumnSample("c02", "numeric(12,2)", [f"{k % 3}.25", "7.50"], f"t{k}"),
            ColumnSample("title", "text", [f"Acme Sofa {k % 3}", "Oslo Table"], f"t{k}"),
        ]
        for k in range(300)
    ]
    chunked = [classify_columns([c for t in tables[i : i + 64] for c in t]) for i in range(0, 300, 64)]
    texts = embedded[_prototype_count() :]
    assert len(texts) == len(set(texts)) == 9
    # Identical columns got equal (and separate) results wherever their chunk was.
    flat = [r for chunk in chunked for r in chunk]
    assert flat[0] == flat[9] == flat[-9]
    assert flat[0][0] is not flat[9][0]
    assert flat[0][0].evidence is not flat[9][0].evidence


def test_shared_results_equal_results_computed_alone(embedded: list[str]) -> None:
    columns = [
        ColumnSample("name", "text", ["Acme", "Kaito", "Nova"], "brands"),
        ColumnSample("name", "text", ["Acme", "Kaito", "Nova"], "products"),
        ColumnSample("name_2", "text", ["Acme", "Kaito", "Nova"], "brands"),
        ColumnSample("name_2", "text", ["Acme", "Kaito", "Nova"], "products"),
        ColumnSample("query", "text", ["red sofa", "oak table"], "a"),
        ColumnSample("query", "text", ["red sofa", "oak table"], "b"),
    ]
    together = classify_columns(columns)
    for column, result in zip(columns, together, strict=True):
        semantic.clear_cache()
        assert classify_columns([column]) == [result], column
    # A generic name with a placeholder word reads its table: brands.name_2 is not products.name_2.
    views = [ColumnView(c) for c in columns]
    assert semantic.column_text(views[2]) != semantic.column_text(views[3])
    assert together[2] != together[3]
