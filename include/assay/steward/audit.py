"""The steward audit trail: append a row in the caller's transaction, read the log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.catalog.db import session
from assay.catalog.models import StewardAudit
from assay.classify.scrub import safe_json, safe_value
from assay.config import Settings
from assay.steward.views import AuditView, StewardError


def masked(value: Any) -> Any:
    """``value`` as the audit stores it: every string PII-scrubbed and bounded (JSON-ready)."""
    return safe_json(value, limit=2000)


def record(
    s: Session,
    actor: str,
    action: str,
    target_kind: str,
    target_id: str | int,
    before: Any = None,
    after: Any = None,
    comment: str | None = None,
) -> int:
    """Append one audit row in ``s``'s transaction (so it commits or rolls back with the change)."""
    if not actor or not actor.strip():
        raise StewardError(f"{action} {target_kind} {target_id}: the acting user is required")
    row = StewardAudit(
        actor=actor.strip(), action=action, target_kind=target_kind, target_id=str(target_id),
        before=masked(before), after=masked(after),
        comment=safe_value(comment, limit=2000) if comment else None,
    )
    s.add(row)
    s.flush()
    return int(row.id)


def view(row: StewardAudit) -> AuditView:
    """The frozen view of an audit row."""
    return AuditView(row.id, row.actor, row.action, row.target_kind, row.target_id, row.before, row.after,
                     row.comment, row.at)


def audit_log(
    settings: Settings, *, target_kind: str | None = None, target_id: str | int | None = None, limit: int = 100
) -> list[AuditView]:
    """The newest audit rows first, optionally of one target kind and id."""
    q = select(StewardAudit)
    if target_kind is not None:
        q = q.where(StewardAudit.target_kind == target_kind)
    if target_id is not None:
        q = q.where(StewardAudit.target_id == str(target_id))
    with session(settings.catalog_url()) as s:
        rows = s.execute(q.order_by(StewardAudit.id.desc()).limit(max(1, limit))).scalars().all()
        return [view(r) for r in rows]
