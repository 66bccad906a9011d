"""Steward actions that delegate to their own domain: classification overrides, suggested-suite
accept/reject (:mod:`assay.quality.proposals`) and model rollback (:func:`assay.gate.run.rollback`).

An override is a catalog write: the ``steward`` row and its audit row commit together. Proposals
live in files and a rollback moves an MLflow alias, neither of which a catalog transaction can hold:
the domain function acts first (and refuses bad input before changing anything), then the audit row
records what it did.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select

from assay.catalog.db import session
from assay.catalog.models import AssetColumn, Classification, DecisionSource
from assay.catalog.upsert import upsert
from assay.classify import NO_LABEL, PII_LABELS, SEMANTIC_LABELS, Override
from assay.classify import Classification as Label
from assay.classify.overrides import effective, overriding
from assay.config import Settings
from assay.errors import AssayError
from assay.steward import audit
from assay.steward.items import _asset_ids
from assay.steward.views import OverrideView, ProposalDecision, RollbackView, StewardError

LABELS: dict[str, tuple[str, ...]] = {"pii": (*PII_LABELS, NO_LABEL), "semantic": (*SEMANTIC_LABELS, NO_LABEL)}


def _label_json(row: Classification | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"label": row.label, "score": row.score, "method": row.method, "reason": row.reason,
            "decided_by": row.decided_by, "evidence": row.evidence}


def override_classification(
    settings: Settings,
    actor: str,
    asset: str | int,
    column: str,
    kind: str,
    label: str | None,
    reason: str | None = None,
) -> OverrideView:
    """Set (or with ``label=None`` remove) the steward's ``kind`` label of one column; ``none`` = no label.

    Raises:
        StewardError: unknown kind or label, an asset name matching several assets, an unknown column.
    """
    if kind not in LABELS:
        raise StewardError(f"{asset}.{column}: unknown classification kind {kind!r}; one of pii, semantic")
    if label is not None and label not in LABELS[kind]:
        raise StewardError(f"{asset}.{column}: unknown {kind} label {label!r}; one of {', '.join(LABELS[kind])}")
    with session(settings.catalog_url()) as s:
        ids = _asset_ids(s, asset)
        if len(ids) > 1:
            raise StewardError(f"asset name {asset!r} matches {len(ids)} assets; give its id or schema.name")
        col = s.execute(select(AssetColumn).where(AssetColumn.asset_id == ids[0], AssetColumn.name == column)
                        .with_for_update()).scalar()
        if col is None:
            raise StewardError(f"asset {asset} has no column {column!r} in the catalog")
        rows = {r.source: r for r in s.execute(select(Classification).where(
            Classification.column_id == col.id, Classification.kind == kind)).scalars()}
        auto, mine = rows.get(DecisionSource.AUTO.value), rows.get(DecisionSource.STEWARD.value)
        before = _label_json(mine)
        replaced = Label(kind, auto.label, auto.score, auto.method, dict(auto.evidence)) if auto else None  # type: ignore[arg-type]
        if label is None:
            s.execute(delete(Classification).where(Classification.column_id == col.id, Classification.kind == kind,
                                                   Classification.source == DecisionSource.STEWARD.value))
            after = None
        else:
            c = overriding(Override(kind, label, reason=reason, decided_by=actor), replaced)  # type: ignore[arg-type]
            upsert(s, Classification, [{
                "column_id": col.id, "kind": kind, "label": c.label, "score": c.score, "method": c.method,
                "evidence": c.evidence, "source": DecisionSource.STEWARD.value, "reason": reason,
                "decided_by": actor, "decided_at": dt.datetime.now(dt.UTC),
            }], key=["column_id", "kind", "source"])
            after = {"label": label, "reason": reason, "decided_by": actor, "evidence": c.evidence}
        audit.record(s, actor, "override_classification", "classification", f"{col.id}/{kind}", before,
                     {"asset_id": ids[0], "column": column, "kind": kind, **(after or {"label": None})}, reason)
        overrides = [Override(kind, label)] if label is not None else []  # type: ignore[arg-type]
        now = effective([replaced] if replaced else [], overrides)
        return OverrideView(ids[0], column, kind, label, now[0].label if now else None)


def _decided(settings: Settings, actor: str, proposal: str, decision: str, only: Sequence[str] | None,
             act: Any) -> ProposalDecision:
    from assay.quality.proposal_review import find_proposal

    try:
        before = find_proposal(settings.suites_dir, proposal)
        names = list(dict.fromkeys(only)) if only else before.pending
        result = act()
    except AssayError as exc:
        raise StewardError(f"proposal {proposal}: {exc}") from None
    pending = [n for n in before.pending if n not in names]
    live = str(result) if decision == "accepted" else None
    with session(settings.catalog_url()) as s:
        audit.record(s, actor, f"{decision[:-2]}_suggestion", "proposal", before.qualified,
                     {"pending": before.pending}, {"decided": names, "decision": decision, "pending": pending,
                                                   "live": live})
    return ProposalDecision(before.qualified, decision, names, pending, live)


def accept_suggestion(settings: Settings, actor: str, proposal: str, only: Sequence[str] | None = None) -> ProposalDecision:
    """Accept suggestions of a proposal into its live suite (default: all pending); its review item closes
    once nothing is pending (:func:`assay.quality.proposals.accept_proposal`)."""
    from assay.quality.proposals import accept_proposal

    return _decided(settings, actor, proposal, "accepted", only,
                    lambda: accept_proposal(settings, proposal, only=only or None, actor=actor))


def reject_suggestion(settings: Settings, actor: str, proposal: str, only: Sequence[str] | None = None) -> ProposalDecision:
    """Reject suggestions of a proposal (default: all pending) (:func:`assay.quality.proposals.reject_proposal`)."""
    from assay.quality.proposals import reject_proposal

    return _decided(settings, actor, proposal, "rejected", only,
                    lambda: reject_proposal(settings, proposal, only=only or None, actor=actor))


def rollback_options(settings: Settings, model_name: str) -> list[str]:
    """Versions of ``model_name`` a rollback accepts, newest first: a passing decision not held for approval.

    The rule is :func:`assay.gate.run.rollback_targets`, the one :func:`assay.gate.run.rollback` applies.
    """
    from assay.gate.run import rollback_targets

    with session(settings.catalog_url()) as s:
        return rollback_targets(s, model_name)


def rollback_model(settings: Settings, actor: str, model_name: str, version: str | int,
                   reason: str | None = None) -> RollbackView:
    """Move ``champion`` back to ``version`` (it must have a passing decision), recorded as a decision."""
    from assay.gate.run import rollback

    version = str(version)
    options = rollback_options(settings, model_name)
    if version not in options:
        raise StewardError(f"{model_name} v{version} has no passing gate decision; rollback offers only "
                           f"{', '.join(options) or 'no version'} (a pass held for approval counts once approved)")
    try:
        d = rollback(settings, model_name, version, actor=actor, reason=reason,
                     run_key=f"steward/rollback/{dt.datetime.now(dt.UTC).isoformat()}")
    except AssayError as exc:
        raise StewardError(str(exc)) from None
    with session(settings.catalog_url()) as s:
        audit.record(s, actor, "rollback_model", "model", model_name, None,
                     {"champion": version, "decision_id": d.decision_id, "reason": d.reason}, reason)
    return RollbackView(model_name, version, d.decision_id, d.reason)
