"""Semantic classification with the real all-MiniLM-L6-v2 (shipped in a pip package, loaded once here).

No database; marked ``integration`` because it runs the real model (about 2-6 s to load on CPU).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Sequence
from typing import Any

import pytest

from assay.classify import (
    PII_LABELS,
    Classification,
    ColumnSample,
    classify_columns,
)
from assay.classify import embed as embed_module
from assay.classify import semantic as semantic_module
from assay.classify.embed import encode, load_encoder
from assay.classify.text import ColumnView

pytestmark = pytest.mark.integration

log = logging.getLogger(__name__)
RNG = random.Random(7)
N = 60

COLOURS = [
    "red",
    "grey",
    "blue",
    "black",
    "white",
    "navy",
    "green",
    "oak",
    "velvet",
    "leather",
    "small",
    "wireless",
]
PRODUCTS = [
    "sofa", "couch", "tv", "laptop", "kettle", "armchair", "coffee table", "headphones", "trainers",
    "running shoes", "projector", "monitor", "soundbar", "lamp",
]  # fmt: skip
SIZES = ["", "", "", " 55 inch", " 3 seater", " size 9", " 4k", " for kids", " 2 pack"]
BRANDS = ["Nordhaven", "Maison Léa", "Oakridge", "Hygge & Co", "Kaito", "Lumetra", "Arcbyte", "Acme"]
MODELS = ["Oslo", "Bergen", "Milano", "Aria", "Étoile", "Nova", "Kyoto", "Lund"]
PATHS = ["Home > Furniture > Sofas", "Electronics > TV & Video > Televisions", "Home > Kitchen > Kettles"]


def queries() -> list[str]:
    """Search box text: mostly distinct, lower case, one to four words."""
    return [
        f"{RNG.choice(COLOURS)} {RNG.choice(PRODUCTS)}{RNG.choice(SIZES)}"
        if RNG.random() < 0.8
        else RNG.choice(PRODUCTS)
        for _ in range(N)
    ]


def titles() -> list[str]:
    """Product titles in the shapes a catalog renders them ("Acme Blue Velvet Sofa 3-Seater")."""
    shapes = [
        lambda: (
            f"{RNG.choice(BRANDS)} {RNG.choice(MODELS)} {RNG.choice(COLOURS).title()} {RNG.choice(PRODUCTS).title()}"
        ),
        lambda: (
            f"{RNG.choice(BRANDS)} {RNG.choice(MODELS)} {RNG.choice(PRODUCTS).title()} in {RNG.choice(COLOURS).title()}, {RNG.randint(2, 75)} inch"
        ),
        lambda: (
            f"{RNG.choice(PRODUCTS).title()} {RNG.choice(MODELS)} by {RNG.choice(BRANDS)}, {RNG.choice(COLOURS).title()}, small"
        ),
        lambda: "Acme Blue Velvet Sofa 3-Seater",
    ]
    return [RNG.choice(shapes)() for _ in range(N)]


def descriptions() -> list[str]:
    shapes = [
        lambda: (
            f"The {RNG.choice(MODELS)} {RNG.choice(PRODUCTS)} from {RNG.choice(BRANDS)} in {RNG.choice(COLOURS)}. Size: {RNG.randint(1, 9)}."
        ),
        lambda: (
            f"A {RNG.choice(COLOURS)} {RNG.choice(PRODUCTS)} made of {RNG.choice(COLOURS)}, designed by {RNG.choice(BRANDS)}. Available in standard."
        ),
        lambda: (
            f"{RNG.choice(BRANDS)} brings the {RNG.choice(MODELS)}: a {RNG.choice(COLOURS)} {RNG.choice(PRODUCTS)}, finished with care."
        ),
    ]
    return [RNG.choice(shapes)() for _ in range(N)]


def _pick(options: list[str]) -> list[str]:
    return [RNG.choice(options) for _ in range(N)]


def shop_columns() -> list[ColumnSample]:
    """Twenty columns as the inventory would sample them from a shop's tables."""
    return [
        ColumnSample("product_id", "text", [f"P{i:06d}" for i in range(123, 123 + N)], "products"),
        ColumnSample("title", "text", titles(), "products"),
        ColumnSample("brand", "text", _pick(BRANDS), "products"),
        ColumnSample("category_path", "text", _pick(PATHS), "products"),
        ColumnSample("description", "text", descriptions(), "products"),
        ColumnSample("price", "numeric(12,2)", [f"{RNG.uniform(5, 3000):.2f}" for _ in range(N)], "products"),
        ColumnSample("currency", "character varying(3)", _pick(["EUR", "USD", "GBP"]), "products"),
        ColumnSample("updated_at", "timestamp with time zone", ["2026-11-05 10:32:07+00"] * N, "products"),
        ColumnSample("sku", "text", [f"SKU-{RNG.randint(10000, 99999)}-BLK" for _ in range(N)], "products"),
        ColumnSample(
            "quantity", "integer", [str(RNG.randint(10000, 99999)) for _ in range(N)], "order_lines"
        ),
        ColumnSample("email", "text", [f"user.{i}@example.com" for i in range(N)], "customers"),
        ColumnSample(
            "phone", "text", [f"+44 20 7946 0{RNG.randint(0, 999):03d}" for _ in range(N)], "customers"
        ),
        ColumnSample(
            "full_name", "text", _pick(["Anna Schmidt", "Noah Wilson", "Sofia de Vries"]), "customers"
        ),
        ColumnSample("created_at", "timestamp with time zone", ["2025-06-17 21:19:48+00"] * N, "customers"),
        ColumnSample("postal_code", "text", _pick(["SW1A 1AA", "E20 8LZ", "10115", "75001"]), "customers"),
        ColumnSample("query", "text", queries(), "search_sessions"),
        ColumnSample(
            "session_id", "text", [f"s_{RNG.getrandbits(32):08x}" for _ in range(N)], "search_sessions"
        ),
        ColumnSample("device", "text", _pick(["mobile", "desktop", "tablet", "app"]), "search_sessions"),
        ColumnSample("position", "smallint", [str(RNG.randint(1, 20)) for _ in range(N)], "impressions"),
        ColumnSample("event_type", "text", _pick(["click", "add_to_cart", "purchase"]), "interactions"),
    ]


EXPECTED = {
    "product_id": "identifier",
    "title": "product_title",
    "brand": "brand",
    "category_path": "category",
    "description": "free_text",
    "price": "price",
    "currency": "currency",
    "updated_at": "timestamp",
    "sku": "identifier",
    "quantity": "quantity",
    "email": "email",
    "phone": "phone",
    "full_name": "person_name",
    "created_at": "timestamp",
    "postal_code": "postal_code",
    "query": "search_query",
    "session_id": "identifier",
    "device": "category",
    "position": "rank",
    "event_type": "event_type",
}


@pytest.fixture(scope="module")
def encoder() -> embed_module.Encoder:
    started = time.perf_counter()
    enc = load_encoder()
    log.info("model loaded in %.2f s", time.perf_counter() - started)
    return enc


@pytest.fixture(scope="module")
def shop(encoder: embed_module.Encoder) -> tuple[list[ColumnSample], list[list[Classification]]]:
    columns = shop_columns()
    return columns, classify_columns(columns)


def _semantic(result: list[Classification]) -> Classification:
    [semantic] = [c for c in result if c.kind == "semantic"]
    return semantic


#: The first 8 components of sentence-transformers' normalised embeddings of these texts with the
#: same weights (``SentenceTransformer(path).encode(texts, normalize_embeddings=True)``), recorded
#: once so this test neither imports sentence-transformers nor loads the model a second time.
GOLDEN = {
    "column: product title. type: text. values: Acme Sofa": [
        0.03567, 0.03176, -0.07628, 0.01321, -0.00485, 0.09813, 0.06065, 0.06584,
    ],
    "red running shoes": [-0.08195, -0.00796, -0.05866, 0.04264, 0.03555, 0.00648, 0.02205, -0.01225],
}  # fmt: skip


def test_mean_pooling_matches_sentence_transformers(encoder: embed_module.Encoder) -> None:
    ours = encode(list(GOLDEN))
    assert ours.shape == (2, 384)
    for row, expected in zip(ours.tolist(), GOLDEN.values(), strict=True):
        assert sum(x * x for x in row) == pytest.approx(1.0, abs=1e-5)
        assert row[:8] == pytest.approx(expected, abs=2e-4)


def test_model_loads_once(encoder: embed_module.Encoder) -> None:
    assert load_encoder() is encoder
    assert load_encoder.cache_info().currsize == 1
    assert encoder.device in ("cpu", "cuda")
    assert not encoder.model.training


@pytest.mark.parametrize("name", list(EXPECTED))
def test_shop_column_labels(shop: tuple[list[ColumnSample], list[list[Classification]]], name: str) -> None:
    columns, results = shop
    [result] = [r for c, r in zip(columns, results, strict=True) if c.name == name]
    semantic = _semantic(result)
    assert semantic.label == EXPECTED[name], semantic
    assert 0.0 < semantic.score <= 1.0
    ev = semantic.evidence
    if ev["decided_by"].startswith("embedding"):
        assert semantic.method == "embedding"
        assert isinstance(ev["cosine"], float)
        assert ev["runner_up"] != semantic.label
        assert isinstance(ev["runner_up_cosine"], float)
        assert ev["margin"] > 0
        assert ev["model"] == "all-MiniLM-L6-v2"
    elif ev["decided_by"].startswith("rule:"):
        assert "cosine" not in ev  # the model cannot change a decisive rule's label: not embedded
    else:
        assert ev["decided_by"] == "pii"
    pii = [c for c in result if c.kind == "pii"]
    assert (len(pii) == 1) is (EXPECTED[name] in PII_LABELS)


@pytest.mark.parametrize("name", ["title", "query", "product_id"])
def test_embedding_decides_the_text_columns(
    shop: tuple[list[ColumnSample], list[list[Classification]]], name: str
) -> None:
    columns, results = shop
    [result] = [r for c, r in zip(columns, results, strict=True) if c.name == name]
    semantic = _semantic(result)
    assert semantic.method == "embedding"
    assert semantic.evidence["cosine"] >= 0.5


def test_no_raw_value_in_any_evidence(shop: tuple[list[ColumnSample], list[list[Classification]]]) -> None:
    columns, results = shop
    for column, result in zip(columns, results, strict=True):
        dumped = json.dumps([c.evidence for c in result], ensure_ascii=False)
        leaked = {v for v in column.values if v and len(v) > 3 and v in dumped}
        assert not leaked, (column.name, sorted(leaked)[:3])


@pytest.mark.parametrize(
    ("sample", "label"),
    [
        # Names that say nothing: the values decide.
        (ColumnSample("col_7", "text", queries()), "search_query"),
        (ColumnSample("field_2", "text", titles()), "product_title"),
        (ColumnSample("c3", "text", descriptions()), "free_text"),
        (ColumnSample("name", "text", _pick(BRANDS), "brands"), "brand"),
        (ColumnSample("name", "text", titles(), "products"), "product_title"),
        (
            ColumnSample(
                "review_text", "text", ["Great kettle, boils fast and looks nice. Would buy again."] * 9
            ),
            "free_text",
        ),
        (
            ColumnSample("rating", "double precision", [f"{RNG.uniform(1, 5):.1f}" for _ in range(N)]),
            "measure",
        ),
        (ColumnSample("country_name", "text", _pick(["Germany", "France", "United Kingdom"])), "country"),
    ],
    ids=lambda x: x.name if isinstance(x, ColumnSample) else None,
)
def test_values_and_context_decide(encoder: embed_module.Encoder, sample: ColumnSample, label: str) -> None:
    [result] = classify_columns([sample])
    assert _semantic(result).label == label, _semantic(result)


def test_email_named_column_of_product_ids(encoder: embed_module.Encoder) -> None:
    """Adversarial: the name says email, the values are product ids: not PII, and an identifier."""
    [result] = classify_columns([ColumnSample("email", "text", [f"P{i:06d}" for i in range(1, N + 1)])])
    assert [c.kind for c in result] == ["semantic"]
    assert result[0].label == "identifier"


def test_one_forward_pass_per_call(encoder: embed_module.Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counting(texts: Sequence[str], **kwargs: Any) -> Any:
        calls.append(len(texts))
        return encode(texts, **kwargs)

    classify_columns(shop_columns()[:2])  # prototypes are embedded once per process, before this
    semantic_module.clear_cache()  # column texts are embedded once per process: forget them
    monkeypatch.setattr(embed_module, "encode", counting)
    columns = shop_columns()
    views = [ColumnView(c) for c in columns]
    # Only the columns no decisive rule settles are embedded, each distinct text once.
    open_texts = {semantic_module.column_text(v) for v in views if semantic_module.needs_embedding(v)}
    started = time.perf_counter()
    classify_columns(columns)
    elapsed = time.perf_counter() - started
    log.info("20 columns classified in %.3f s (warm model)", elapsed)
    # One pass over the open texts; on a CPU with native bfloat16 a second, exact one for the
    # close calls among them (semantic.refine_close_calls).
    assert calls[0] == len(open_texts)
    assert len(calls) == 1 or (len(calls) == 2 and calls[1] <= len(open_texts))
    assert 10 <= len(open_texts) < 20
    made = list(calls)
    classify_columns(columns)  # the same texts again: remembered, nothing embedded
    assert calls == made
    assert elapsed < 30, "20 columns should take about a second on a warm CPU model"
