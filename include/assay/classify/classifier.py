"""``classify_columns``: the PII label (if any) and the semantic label of each sampled column."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from assay.classify.base import Classification, ColumnSample
from assay.classify.pii import _decide, _score_view
from assay.classify.semantic import decide, similarities
from assay.classify.text import ColumnView

log = logging.getLogger(__name__)


def classify_columns(
    samples: Sequence[ColumnSample], *, use_embeddings: bool = True
) -> list[list[Classification]]:
    """Classify each column: at most one ``pii`` and exactly one ``semantic`` classification.

    A column that is PII gets the PII label as its semantic label too (``email`` is both), with
    the PII score and method; the embedding's own opinion stays in the evidence. All columns are
    embedded in one forward pass; the model is loaded on the first call in a process.

    Args:
        samples: the columns, each with a sample of its values as text.
        use_embeddings: ``False`` decides semantic labels by rules alone and never loads the model.

    Returns:
        One list per input column, in input order: ``[pii, semantic]`` or ``[semantic]``.

    Raises:
        ClassificationError: ``use_embeddings`` is true and the model cannot be loaded.
    """
    started = time.perf_counter()
    cols = [ColumnView(s) for s in samples]
    cosines = similarities(cols) if use_embeddings else [None] * len(cols)
    out: list[list[Classification]] = []
    for col, cos in zip(cols, cosines, strict=True):
        pii = _decide(_score_view(col))
        semantic = decide(col, cos)
        if pii is None:
            out.append([semantic])
            continue
        evidence = {
            "decided_by": "pii",
            "pii_score": pii.score,
            "semantic_label": semantic.label,
            "semantic_score": semantic.score,
        }
        out.append([pii, Classification("semantic", pii.label, pii.score, pii.method, evidence)])
    log.debug(
        "classified %d columns in %.3f s (embeddings=%s)",
        len(cols),
        time.perf_counter() - started,
        use_embeddings,
    )
    return out
