"""Issue #16 item 8: the fast embedding path gives the labels of the exact (float32) path.

With the real all-MiniLM-L6-v2 on a varied column set (a ninth of the classification corpus of
``tests/unit/test_classify_equivalence.json.gz``: seed-shop columns, every PII format, near-threshold
mixes, many names, types and tables). The fast path embeds each text once with the bfloat16 model
where the CPU has native bfloat16 and re-embeds the close calls in float32; the slow path embeds
every text in float32. Marked ``integration``: it loads the model.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assay.classify import ColumnSample, classify_columns, semantic
from assay.classify import embed as embed_module
from assay.classify.text import ColumnView

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CORPUS = Path(__file__).parents[1] / "unit" / "test_classify_equivalence.json.gz"


@pytest.fixture(scope="module")
def columns() -> list[ColumnSample]:
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    cases = data["cases"][::9]
    return [ColumnSample(name, dtype, data["sets"][key], table) for name, dtype, key, table in cases]


@pytest.fixture
def fresh() -> Iterator[None]:
    semantic.clear_cache()
    yield
    semantic.clear_cache()


def _rows(results: list[list[Any]]) -> list[list[tuple[str, str, str, float]]]:
    return [[(c.kind, c.label, c.method, c.score) for c in found] for found in results]


def test_fast_path_labels_equal_exact_labels(columns: list[ColumnSample], fresh: None) -> None:
    views = [ColumnView(c) for c in columns]
    open_views = [v for v in views if semantic.needs_embedding(v)]
    assert len(columns) >= 700 and len(open_views) >= 500

    fast = _rows(classify_columns(columns))
    approximate = sum(not semantic._is_exact(semantic.column_text(v)) for v in open_views)

    semantic.clear_cache()
    semantic.similarities(open_views, exact=True)  # every text in float32: the slow path
    slow = _rows(classify_columns(columns))

    differ = [
        (c.name, c.table, f, s)
        for c, f, s in zip(columns, fast, slow, strict=True)
        if [r[:3] for r in f] != [r[:3] for r in s]
    ]
    assert not differ, f"{len(differ)} of {len(columns)} columns got another label; first: {differ[:3]}"
    for f, s in zip(fast, slow, strict=True):
        for (_, _, _, fast_score), (_, _, _, slow_score) in zip(f, s, strict=True):
            assert fast_score == pytest.approx(slow_score, abs=0.01)
    if embed_module.fast_available():
        assert approximate > len(open_views) // 2, "the bfloat16 model embedded most texts"


def test_bfloat16_error_is_well_inside_the_refine_margin(columns: list[ColumnSample], fresh: None) -> None:
    if not embed_module.fast_available():
        pytest.skip("this CPU has no native bfloat16: only the float32 model is used")
    texts = sorted({semantic.column_text(v) for v in map(ColumnView, columns) if semantic.needs_embedding(v)})
    exact, _ = semantic._embed_similarities(texts, True)
    fast, was_exact = semantic._embed_similarities(texts, False)
    assert not was_exact
    worst = max(abs(a - b) for ra, rb in zip(exact, fast, strict=True) for a, b in zip(ra, rb, strict=True))
    # A label's lead moves by at most twice the worst cosine error; refinement covers leads < margin.
    assert 2 * worst < semantic.REFINE_MARGIN, worst
