"""Column classification for the inventory: PII detection and semantic column types.

A pure library (no database): the inventory samples each column, calls :func:`classify_columns`
and stores the results in the catalog table ``classifications``; steward overrides are stored
beside them and applied with :func:`effective`. :func:`mask_value` masks PII values wherever they
would otherwise be shown (evidence, profiles, Data Docs).

Importing this package is cheap: torch and transformers load on the first embedding call.
See ``docs/classification.md`` for the rules, thresholds and labels.
"""

from __future__ import annotations

from assay.classify.base import (
    MAX_VALUES,
    NO_LABEL,
    Classification,
    ClassificationError,
    ColumnSample,
    Kind,
    Method,
    Override,
)
from assay.classify.classifier import classify_columns, classify_rules_first
from assay.classify.mask import mask_value
from assay.classify.overrides import effective
from assay.classify.pii import NAME_BONUS, PII_LABELS, PII_THRESHOLD, detect_pii, score_pii
from assay.classify.semantic import MIN_SCORE as SEMANTIC_MIN_SCORE
from assay.classify.semantic import UNKNOWN
from assay.classify.semantic_labels import LABEL_NAMES

#: Every label a semantic classification can carry: the embedding labels, the PII labels (a PII
#: column's semantic label is its PII label) and ``unknown``.
SEMANTIC_LABELS: tuple[str, ...] = (*LABEL_NAMES, *PII_LABELS, UNKNOWN)

__all__ = [
    "MAX_VALUES",
    "NAME_BONUS",
    "NO_LABEL",
    "PII_LABELS",
    "PII_THRESHOLD",
    "SEMANTIC_LABELS",
    "SEMANTIC_MIN_SCORE",
    "UNKNOWN",
    "Classification",
    "ClassificationError",
    "ColumnSample",
    "Kind",
    "Method",
    "Override",
    "classify_columns",
    "classify_rules_first",
    "detect_pii",
    "effective",
    "mask_value",
    "score_pii",
]
