"""Steward overrides win over automatic classifications: pure functions, no database.

The steward service (:func:`assay.steward.service.override_classification`) stores an override as the
column's ``steward`` row built by :func:`overriding`; readers apply :func:`effective`.
"""

from __future__ import annotations

from collections.abc import Sequence

from assay.classify.base import NO_LABEL, Classification, Override


def effective(
    classifications_auto: Sequence[Classification], overrides: Sequence[Override]
) -> list[Classification]:
    """The classifications of one column that count, once its steward overrides are applied.

    Rules, per kind (``pii``, ``semantic``):

    * no override: the automatic classification stays as it is;
    * an override with a label: it replaces the automatic one (score 1.0, method ``override``;
      the evidence keeps the automatic label and score it replaced, and the steward's reason);
    * an override with label ``"none"``: the column has no label of that kind; the automatic one
      is dropped (this is how a steward says "not PII");
    * an override without an automatic classification of its kind is added all the same.

    Args:
        classifications_auto: the automatic classifications of the column (as from
            :func:`assay.classify.classify_columns`), at most one per kind.
        overrides: the steward's decisions for the column, at most one per kind.

    Returns:
        The effective classifications: ``pii`` first when present, then ``semantic``.

    Raises:
        ValueError: two overrides, or two automatic classifications, of the same kind.
    """
    auto: dict[str, Classification] = {}
    for c in classifications_auto:
        if c.kind in auto:
            raise ValueError(
                f"two automatic {c.kind} classifications for one column: {auto[c.kind].label}, {c.label}"
            )
        auto[c.kind] = c
    steward: dict[str, Override] = {}
    for o in overrides:
        if o.kind in steward:
            raise ValueError(f"two {o.kind} overrides for one column: {steward[o.kind].label}, {o.label}")
        steward[o.kind] = o

    out: list[Classification] = []
    for kind in ("pii", "semantic"):
        replaced = auto.get(kind)
        override = steward.get(kind)
        if override is None:
            if replaced is not None:
                out.append(replaced)
            continue
        if override.label == NO_LABEL:
            continue
        out.append(overriding(override, replaced))
    return out


def overriding(override: Override, replaced: Classification | None) -> Classification:
    """The classification a steward's ``override`` stands for (score 1.0, method ``override``).

    The evidence keeps the automatic label and score it replaced, and the steward's reason; the
    steward service stores it as the column's ``steward`` row (label ``none`` included).
    """
    return Classification(
        kind=override.kind,
        label=override.label,
        score=1.0,
        method="override",
        evidence={
            "override": True,
            "reason": override.reason,
            "decided_by": override.decided_by,
            "auto_label": replaced.label if replaced else None,
            "auto_score": replaced.score if replaced else None,
        },
    )
