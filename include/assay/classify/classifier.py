"""``classify_columns``: the PII label (if any) and the semantic label of each sampled column.

``classify_rules_first``: only what the rules decide, and which columns wait for the embedding
(the inventory's background route, see :mod:`assay.inventory.labelling`).
"""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Hashable, Sequence
from typing import TypeVar

from assay.classify.base import MAX_VALUES, Classification, ColumnSample
from assay.classify.pii import _decide, _score_view
from assay.classify.semantic import (
    decide,
    needs_embedding,
    refine_close_calls,
    similarities,
    text_reads_table,
)
from assay.classify.semantic_labels import GENERIC_NAMES
from assay.classify.text import ColumnView, _name_parts

log = logging.getLogger(__name__)
T = TypeVar("T")


def classify_columns(
    samples: Sequence[ColumnSample], *, use_embeddings: bool = True
) -> list[list[Classification]]:
    """Classify each column: at most one ``pii`` and exactly one ``semantic`` classification.

    A column that is PII gets the PII label as its semantic label too (``email`` is both), with
    the PII score and method; the embedding's own opinion stays in the evidence. Only the columns
    that no decisive rule settles are embedded, each distinct column text once per process, all
    of a call's new texts in one :func:`~assay.classify.embed.encode` call; the model is loaded on
    the first call in a process that needs it.

    Args:
        samples: the columns, each with a sample of its values as text.
        use_embeddings: ``False`` decides semantic labels by rules alone and never loads the model.

    Returns:
        One list per input column, in input order: ``[pii, semantic]`` or ``[semantic]``.

    Raises:
        ClassificationError: ``use_embeddings`` is true and the model cannot be loaded.
    """
    started = time.perf_counter()
    unique, slot = _distinct(samples, use_embeddings)
    cols = [ColumnView(samples[i]) for i in unique]
    cosines: list[dict[str, float] | None] = [None] * len(cols)
    if use_embeddings:
        # Only the columns no decisive rule settles are embedded (the model cannot change the others).
        open_idx = [j for j, col in enumerate(cols) if needs_embedding(col)]
        open_cols = [cols[j] for j in open_idx]
        # A label the fast (bfloat16) embedding might have changed is decided on exact embeddings.
        found = refine_close_calls(open_cols, similarities(open_cols))
        for j, cos in zip(open_idx, found, strict=True):
            cosines[j] = cos
    computed = [_classify_one(col, cos) for col, cos in zip(cols, cosines, strict=True)]
    out = _hand_out(computed, slot)
    log.debug(
        "classified %d columns (%d distinct) in %.3f s (embeddings=%s)",
        len(samples),
        len(cols),
        time.perf_counter() - started,
        use_embeddings,
    )
    return out


def classify_rules_first(samples: Sequence[ColumnSample]) -> list[tuple[list[Classification], bool]]:
    """What the rules decide now, and whether the sentence embedding must still decide the rest.

    Per column: ``(labels, waits)``. A column a decisive rule settles gets exactly what
    :func:`classify_columns` gives it (``waits`` false). A column only the embedding can settle
    gets its PII label (if any) and ``waits`` true: its semantic label is left to a later
    ``classify_columns(..., use_embeddings=True)`` over the same sample, which then gives the
    same labels the inline route gives. Never loads the model.
    """
    unique, slot = _distinct(samples, True)
    computed: list[tuple[list[Classification], bool]] = []
    for i in unique:
        col = ColumnView(samples[i])
        if needs_embedding(col):
            pii = _decide(_score_view(col))
            computed.append(([pii] if pii is not None else [], True))
        else:
            computed.append((_classify_one(col, None), False))
    return _hand_out(computed, slot)


def _distinct(samples: Sequence[ColumnSample], use_embeddings: bool) -> tuple[list[int], list[int]]:
    """The first index of each distinct column, and each column's slot among those.

    Identical columns (same name, type, sampled values and, where it can matter, table) are
    classified once: wide sources repeat the same columns in many tables.
    """
    first: dict[Hashable, int] = {}
    unique: list[int] = []
    slot: list[int] = []
    for i, s in enumerate(samples):
        key = _memo_key(s, use_embeddings)
        j = first.setdefault(key, len(unique)) if key is not None else len(unique)
        if j == len(unique):
            unique.append(i)
        slot.append(j)
    return unique, slot


def _hand_out(computed: Sequence[T], slot: Sequence[int]) -> list[T]:
    """One result per column: each copy gets its own objects (a caller may edit one's evidence)."""
    out: list[T] = []
    # A pickle round trip is the cheapest deep copy of the frozen results and their evidence.
    # The first copy is the computed result itself; it is pickled only if it is needed again.
    handed_out = [False] * len(computed)
    frozen: dict[int, bytes] = {}
    for j in slot:
        if not handed_out[j]:
            handed_out[j] = True
            out.append(computed[j])
            continue
        data = frozen.get(j)
        if data is None:
            data = frozen[j] = pickle.dumps(computed[j], protocol=pickle.HIGHEST_PROTOCOL)
        out.append(pickle.loads(data))  # noqa: S301 - bytes this function just made
    return out


def _classify_one(col: ColumnView, cos: dict[str, float] | None) -> list[Classification]:
    pii = _decide(_score_view(col))
    semantic = decide(col, cos)
    if pii is None:
        return [semantic]
    evidence = {
        "decided_by": "pii",
        "pii_score": pii.score,
        "semantic_label": semantic.label,
        "semantic_score": semantic.score,
    }
    return [pii, Classification("semantic", pii.label, pii.score, pii.method, evidence)]


_PLAIN = frozenset({str, type(None)})


def _memo_key(sample: ColumnSample, use_embeddings: bool) -> Hashable | None:
    """What a column's result depends on, or ``None``: classify it on its own.

    The table name is left out where nothing reads it: the rules read it only for generic column
    names (``name``, ``value``: see ``semantic_labels.GENERIC_NAMES``), the embedded text also
    for a generic name with placeholder words (``name_2``). With embeddings the key holds as
    well: the embedded text is a function of the same inputs, and
    :func:`~assay.classify.semantic.similarities` gives one text the same cosines every time in a
    process, whatever the batch.
    """
    values = tuple(sample.values[:MAX_VALUES])
    if not set(map(type, values)) <= _PLAIN:
        return None  # 1, 1.0 and True are equal keys but different text
    tokens = _name_parts(sample.name)[0]
    generic = set(tokens) <= GENERIC_NAMES or (use_embeddings and text_reads_table(tokens))
    return (sample.name, sample.data_type, sample.table if generic else None, values)
