"""Semantic column types: cheap rules first, sentence embeddings for the rest.

A column gets exactly one semantic label (PII columns get their PII label, see ``classifier``).
Three kinds of signal decide it, in this order:

1. **Decisive rules** (method ``pattern``, or ``name`` where the column name is part of the rule).
   The declared type (timestamp, date, boolean, JSON); values that are almost all (>= 90 %) of one
   machine-checkable shape (ISO 8601 timestamps or dates as text, ``http(s)://`` -> ``url``,
   ISO 4217 codes -> ``currency``, ISO 3166 codes -> ``country``, category paths ``A > B > C``,
   two distinct yes/no words -> ``boolean``); or a numeric column whose name says price or
   position. The score is the share of values that satisfied the rule (1.0 for the declared type,
   0.9 for name + numeric).
2. **Type compatibility.** A numeric column (declared, or text whose values are >= 95 % numbers)
   can only get a label marked ``numeric`` (identifier, price, quantity, measure, boolean, rank).
3. **Embedding similarity plus soft signals** (method ``embedding``). One short text per column —
   the meaningful words of its name, its type family and up to eight distinct sampled values (three
   longer ones for free text) — is embedded with all-MiniLM-L6-v2 and compared (cosine) with a few
   prototype texts per label; a label's similarity is its best prototype's. Soft signals are added:
   a keyword of the label in the column name (:data:`.semantic_rules.NAME_BOOST`), the table's name
   for generic column names (``brands.name``), and value shapes (unique codes -> identifier, repeated words
   without digits -> not an identifier, sentences and long text -> free_text, lower-case phrases
   -> search_query, Title Case phrases -> product_title, short repeated values -> category). The
   highest sum wins; the score is that sum clipped to [0, 1]; below :data:`MIN_SCORE` the label is
   ``unknown``.

With ``use_embeddings=False`` step 3 adds up the soft signals alone (no model is loaded): scores are
small by construction (0.05-0.4) and any positive signal wins; none at all gives ``unknown``.

The labels and vocabularies live in :mod:`assay.classify.semantic_labels`, steps 1 and the soft
signals in :mod:`assay.classify.semantic_rules`; this module builds the embedded column text,
computes the similarities and decides.

PII labels (email, phone ...) are not in the embedding contest: only the validated detectors of
:mod:`assay.classify.pii` give them, so a column named ``email`` full of product ids is an
``identifier``, not an "email" that failed validation.

Evidence (never a raw value)::

    {"decided_by": "embedding+signals", "signals": {"product_title:name:title": 0.2},
     "cosine": 0.71, "combined": 0.91, "runner_up": "search_query", "runner_up_cosine": 0.6,
     "runner_up_score": 0.6, "margin": 0.31, "min_score": 0.3, "model": "all-MiniLM-L6-v2",
     "values_embedded": 8}

A decisive rule records ``decided_by: "rule:<name>"`` only: the model could not change its label,
so such a column is never embedded (:func:`needs_embedding`). Each distinct column text is embedded
once per process (:func:`similarities` remembers its similarities).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from assay.classify.base import Classification, Method
from assay.classify.semantic_labels import GENERIC_NAMES, LABEL_NAMES, LABELS, column_text_shape
from assay.classify.semantic_rules import decisive_rule, soft_signals
from assay.classify.text import ColumnView

if TYPE_CHECKING:
    import torch

#: Below this combined score the label is ``unknown`` (with embeddings; rules alone need any signal).
MIN_SCORE = 0.3
#: Without embeddings the winner only needs a positive sum of signals.
RULES_MIN_SCORE = 0.01
#: The label given when nothing is convincing.
UNKNOWN = "unknown"
#: Distinct values put in the embedded column text, and the characters kept of each.
TEXT_VALUES = 8
TEXT_VALUE_CHARS = 40
#: Columns whose values are longer than that on average (descriptions, reviews) embed fewer, longer
#: values: a sentence cut after 40 characters no longer reads as free text.
LONG_TEXT_VALUES = 3
LONG_TEXT_VALUE_CHARS = 110


def text_values(col: ColumnView) -> list[str]:
    """The distinct, shortened sampled values that go into the column's text, in sample order."""
    long_text = col.mean_length > TEXT_VALUE_CHARS
    limit, chars = (LONG_TEXT_VALUES, LONG_TEXT_VALUE_CHARS) if long_text else (TEXT_VALUES, TEXT_VALUE_CHARS)
    seen: list[str] = []
    for value in col.values:
        cut = value[:chars]
        if cut not in seen:
            seen.append(cut)
        if len(seen) == limit:
            break
    return seen


def column_text(col: ColumnView) -> str:
    """The text embedded for a column: ``column: <name words>. type: <family>. values: a; b; c``."""
    seen = text_values(col)
    family = "number" if col.numeric and col.family in ("text", "other") else col.family
    return column_text_shape(" ".join(name_words(col)), family, "; ".join(seen) if seen else "(none)")


_NOISE_TOKEN = re.compile(r"^(?:\d+|[a-pr-z]|col|column|field|attr|var|unnamed)\d*$")


def name_words(col: ColumnView) -> list[str]:
    """The words of the column name worth embedding.

    Placeholder words (``col_7``, ``field2``, ``x``) are dropped: they carry no meaning and pull
    every such column towards the same labels. A generic name (``name``, ``value``) is prefixed
    with the table's words, so ``brands.name`` reads "brands name".
    """
    kept = [t for t in col.tokens if not _NOISE_TOKEN.match(t)]
    if text_reads_table(col.tokens):
        kept = [t for t in col.table_tokens if not _NOISE_TOKEN.match(t)] + kept
    return kept


def text_reads_table(tokens: Sequence[str]) -> bool:
    """Whether a column name's embedded words include its table's: the meaningful ones are generic."""
    kept = {t for t in tokens if not _NOISE_TOKEN.match(t)}
    return bool(kept) and kept <= GENERIC_NAMES


@cache
def _prototype_matrix() -> tuple[torch.Tensor, tuple[int, ...]]:
    """Embeddings of every prototype (computed once per process) and each row's label index."""
    from assay.classify.embed import encode

    texts: list[str] = []
    owners: list[int] = []
    for i, label in enumerate(LABELS):
        texts.extend(label.prototypes)
        owners.extend([i] * len(label.prototypes))
    return encode(texts), tuple(owners)


#: Column texts whose similarities this process remembers (about 300 bytes each): a text is
#: embedded once per process, so identical columns in many tables (and in each day's chunks) cost
#: one embedding, and a text's similarities never depend on the batch it happened to be in.
CACHED_TEXTS = 200_000
#: A label whose lead (over the runner-up, or over :data:`MIN_SCORE`) is below this was decided
#: again on float32 embeddings when the first were bfloat16. bfloat16 moved no cosine by more
#: than 0.0042 on 4,557 varied column texts (tests/inventory_speed); a lead changes by at most
#: twice that, so the fast path gives float32's labels.
REFINE_MARGIN = 0.02

# text -> (best cosine per label, whether from the float32 model)
_cosine_cache: OrderedDict[str, tuple[tuple[float, ...], bool]] = OrderedDict()
_cache_lock = threading.Lock()


def needs_embedding(col: ColumnView) -> bool:
    """Whether the embedding can change the column's label: no decisive rule settles it."""
    return decisive_rule(col) is None


def similarities(cols: Sequence[ColumnView], *, exact: bool = False) -> list[dict[str, float]]:
    """Cosine similarity of each column's text with each label (best prototype).

    Each distinct text is embedded once per process (:data:`CACHED_TEXTS`); the texts not seen
    before are embedded together in one :func:`~assay.classify.embed.encode` call, with the
    faster bfloat16 model where there is one unless ``exact`` (:func:`refine_close_calls` then
    re-embeds the few columns whose label that could change).
    """
    texts = [column_text(c) for c in cols]
    with _cache_lock:
        missing = [
            t for t in dict.fromkeys(texts) if t not in _cosine_cache or (exact and not _cosine_cache[t][1])
        ]
    if missing:
        rows, was_exact = _embed_similarities(missing, exact)
        with _cache_lock:
            _cosine_cache.update((t, (row, was_exact)) for t, row in zip(missing, rows, strict=True))
            while len(_cosine_cache) > CACHED_TEXTS:
                _cosine_cache.popitem(last=False)
    out: list[dict[str, float]] = []
    for text in texts:
        with _cache_lock:
            hit = _cosine_cache.get(text)
            if hit is not None:
                _cosine_cache.move_to_end(text)
        # None: evicted by this very call (more new texts than the cache holds)
        row = hit[0] if hit is not None else _embed_similarities([text], exact)[0][0]
        out.append(dict(zip(LABEL_NAMES, row, strict=True)))
    return out


def refine_close_calls(cols: Sequence[ColumnView], cosines: list[dict[str, float]]) -> list[dict[str, float]]:
    """``cosines`` with exact (float32) similarities for the columns whose label they may not settle.

    A column is re-embedded when its similarities came from the bfloat16 model and its label's
    lead is below :data:`REFINE_MARGIN` (see :func:`close_call`); about one column in nine.
    """
    close = [
        i
        for i, (col, cos) in enumerate(zip(cols, cosines, strict=True))
        if not _is_exact(column_text(col)) and close_call(decide(col, cos))
    ]
    if not close:
        return cosines
    out = list(cosines)
    for i, exact in zip(close, similarities([cols[i] for i in close], exact=True), strict=True):
        out[i] = exact
    return out


def _is_exact(text: str) -> bool:
    """Whether the remembered similarities of ``text`` are float32's (or unknown: not ours to refine)."""
    with _cache_lock:
        hit = _cosine_cache.get(text)
    return hit is None or hit[1]


def close_call(result: Classification) -> bool:
    """Whether a cosine error below :data:`REFINE_MARGIN` / 2 could have changed this embedding decision."""
    ev = result.evidence
    if "cosine" not in ev:
        return False
    return bool(ev["margin"] < REFINE_MARGIN or abs(ev["combined"] - ev["min_score"]) < REFINE_MARGIN)


def _embed_similarities(texts: Sequence[str], exact: bool) -> tuple[list[tuple[float, ...]], bool]:
    """Per text, its best prototype's cosine for each label (rounded to 4 digits); and whether exact."""
    import torch

    from assay.classify.embed import encode, fast_available

    protos, owners = _prototype_matrix()
    cos = encode(texts, exact=exact) @ protos.T  # unit rows: dot product = cosine
    owner_idx = torch.tensor(owners)
    best = torch.full((len(texts), len(LABELS)), -1.0)
    best = best.scatter_reduce(1, owner_idx.expand(len(texts), -1), cos, reduce="amax")
    return [tuple(round(float(v), 4) for v in row) for row in best], exact or not fast_available()


def clear_cache() -> None:
    """Forget the remembered similarities (tests; after the model changed)."""
    with _cache_lock:
        _cosine_cache.clear()


_NUMERIC_LABEL_NAMES: tuple[str, ...] = tuple(label.name for label in LABELS if label.numeric)


def _allowed(col: ColumnView) -> tuple[str, ...]:
    return _NUMERIC_LABEL_NAMES if col.numeric else LABEL_NAMES


def decide(col: ColumnView, cosines: dict[str, float] | None) -> Classification:
    """The column's semantic label from its rules, soft signals and (optionally) its similarities.

    Args:
        col: the prepared column.
        cosines: label -> cosine similarity from :func:`similarities`, or ``None`` for rules only.
    """
    rule = decisive_rule(col)
    if rule is not None:  # the model cannot change it: such a column is not embedded at all
        return Classification(
            "semantic", rule.label, rule.score, rule.method, {"decided_by": f"rule:{rule.rule}"}
        )
    evidence: dict[str, Any] = {}
    if cosines is not None:
        evidence["model"] = "all-MiniLM-L6-v2"
        evidence["values_embedded"] = len(text_values(col))

    signals = soft_signals(col)
    boosts = {label: sum(sigs.values()) for label, sigs in signals.items()}
    if cosines is None:
        combined = {name: 0.0 + boosts.get(name, 0) for name in _allowed(col)}
    else:
        combined = {name: cosines[name] + boosts.get(name, 0) for name in _allowed(col)}
    ranked = sorted(combined.items(), key=lambda kv: -kv[1])
    (win, win_score), (second, second_score) = ranked[0], ranked[1]
    # Rules alone have no similarity to clear: any positive signal is an answer.
    min_score = MIN_SCORE if cosines is not None else RULES_MIN_SCORE
    fired = {f"{label}:{sig}": w for label, sigs in signals.items() for sig, w in sigs.items()}
    evidence.update(
        signals=fired,
        combined=round(win_score, 4),
        runner_up=second,
        runner_up_score=round(second_score, 4),
        margin=round(win_score - second_score, 4),
        min_score=min_score,
    )
    if cosines is not None:
        evidence.update(cosine=cosines[win], runner_up_cosine=cosines[second])
    if win_score < min_score:
        evidence["decided_by"] = "below_min_score"
        evidence["best_label"] = win
        fallback: Method = "embedding" if cosines is not None else "pattern"
        return Classification("semantic", UNKNOWN, round(max(win_score, 0.0), 4), fallback, evidence)
    if cosines is None:
        evidence["decided_by"] = "rules"
        by_name = any(s.startswith(("name:", "table:")) for s in signals.get(win, {}))
        method: Method = "name" if by_name else "pattern"
    else:
        evidence["decided_by"] = "embedding+signals" if signals.get(win) else "embedding"
        method = "embedding"
    return Classification("semantic", win, round(min(win_score, 1.0), 4), method, evidence)
