"""The value types of column classification: what goes in, what comes out, what a steward says.

Kept free of heavy imports so the inventory, the profiler and DAG code can import them cheaply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from assay.errors import AssayError

Kind = Literal["pii", "semantic"]
Method = Literal["name", "pattern", "embedding", "override"]

#: At most this many values of a sample are looked at; the inventory samples about 200.
MAX_VALUES = 200


class ClassificationError(AssayError):
    """The classifier cannot run (for example the embedding model cannot be loaded)."""


@dataclass(frozen=True)
class ColumnSample:
    """One column to classify: its name, declared type and a sample of its values as text.

    Attributes:
        name: the column name as the source spells it (``full_name``, ``createdAt``).
        data_type: the declared type as the source reports it: SQL (``text``, ``numeric(12,2)``,
            ``timestamp with time zone``) or Arrow/Parquet (``string``, ``int64``,
            ``timestamp[us, tz=UTC]``). Unknown spellings are treated as text.
        values: a sample of the values rendered as text (``None`` for NULL). Only the first
            :data:`MAX_VALUES` are read.
        table: the table or file set the column belongs to; a weak hint (``customers.name`` is a
            person's name, ``brands.name`` is not).
    """

    name: str
    data_type: str
    values: Sequence[str | None]
    table: str | None = None


@dataclass(frozen=True)
class Classification:
    """A PII or semantic label of one column, with its score and the evidence behind it.

    ``evidence`` holds counts, ratios, pattern and signal names and masked examples only, never a
    raw sampled value, so it can be stored in the catalog and shown in Data Docs as is.

    Attributes:
        kind: ``pii`` or ``semantic``.
        label: e.g. ``email``, ``card_number`` (pii); ``product_title``, ``price`` (semantic).
        score: in ``[0, 1]``; see ``docs/classification.md`` for how each kind computes it.
        method: what decided: a column-name hint (``name``), value patterns or the declared type
            (``pattern``), the sentence embedding (``embedding``), or a steward (``override``).
        evidence: JSON-serialisable details (see the module docs of ``pii`` and ``semantic``).
    """

    kind: Kind
    label: str
    score: float
    method: Method
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"classification score must be in [0, 1], got {self.score!r} for {self.label}")

    def as_row(self) -> dict[str, Any]:
        """The columns of a catalog ``classifications`` row this classification fills."""
        return {
            "kind": self.kind,
            "label": self.label,
            "score": self.score,
            "method": self.method,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Override:
    """A steward's decision on one kind of label for one column; it wins over the automatic one.

    Attributes:
        kind: which label it replaces (``pii`` or ``semantic``).
        label: the steward's label; :data:`NO_LABEL` (``"none"``) means "this column has no label of
            this kind" (for example "not PII") and removes the automatic one.
        reason: the steward's note.
        decided_by: who decided.
    """

    kind: Kind
    label: str
    reason: str | None = None
    decided_by: str | None = None


#: The label a steward uses to say "no label of this kind" (matches the catalog's convention).
NO_LABEL = "none"
