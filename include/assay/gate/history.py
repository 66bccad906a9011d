"""Alias history: every move of a model's aliases with the decision that justified it."""

from __future__ import annotations

from typing import Any

from assay.config import Settings


def history(settings: Settings, model_name: str, alias: str | None = None) -> list[dict[str, Any]]:
    """Alias moves of ``model_name`` (oldest first), each joined with its gate decision.

    Args:
        alias: only this alias (``champion``); default every alias.
    """
    from sqlalchemy import select

    from assay.catalog.db import session
    from assay.catalog.models import AliasEvent, GateDecision

    q = (
        select(AliasEvent, GateDecision.decision, GateDecision.reason)
        .join(GateDecision, GateDecision.id == AliasEvent.decision_id)
        .where(AliasEvent.model_name == model_name)
        .order_by(AliasEvent.moved_at, AliasEvent.id)
    )
    if alias is not None:
        q = q.where(AliasEvent.alias == alias)
    with session(settings.catalog_url()) as s:
        return [
            {
                "id": e.id,
                "moved_at": e.moved_at.isoformat(),
                "alias": e.alias,
                "from_version": e.from_version,
                "to_version": e.to_version,
                "decision_id": e.decision_id,
                "decision": decision,
                "decision_reason": reason,
                "actor": e.actor,
                "reason": e.reason,
            }
            for e, decision, reason in s.execute(q).all()
        ]


def decisions(settings: Settings, model_name: str, version: str | None = None) -> list[dict[str, Any]]:
    """Gate decisions of ``model_name`` (optionally one version), oldest first."""
    from sqlalchemy import select

    from assay.catalog.db import session
    from assay.catalog.models import GateDecision

    q = select(GateDecision).where(GateDecision.model_name == model_name).order_by(GateDecision.id)
    if version is not None:
        q = q.where(GateDecision.version == str(version))
    with session(settings.catalog_url()) as s:
        return [
            {
                "id": d.id,
                "version": d.version,
                "decision": d.decision,
                "reason": d.reason,
                "actor": d.actor,
                "run_key": d.run_key,
                "decided_at": d.decided_at.isoformat(),
            }
            for d in s.execute(q).scalars()
        ]
