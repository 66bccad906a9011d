"""The steward service: every steward action, for the CLI, the steward pages and the HITL tasks.

Each action takes ``settings`` and ``actor`` (the acting user), validates its input (a
:class:`~assay.steward.views.StewardError` names the item or asset), writes the change and a
``steward_audit`` row (who, what, when, target, PII-masked before/after) in one transaction, and
returns a small frozen value. The contract is written in ``/work/notes/w2/steward_iface.md`` and
``docs/steward.md``.
"""

from __future__ import annotations

from assay.steward.actions import (
    accept_suggestion,
    override_classification,
    reject_suggestion,
    rollback_model,
    rollback_options,
)
from assay.steward.audit import audit_log
from assay.steward.items import STATUSES, acknowledge, assign, list_items, resolve
from assay.steward.views import (
    RESOLUTION_REASONS,
    AuditView,
    ItemView,
    OverrideView,
    Page,
    ProposalDecision,
    RollbackView,
    StewardError,
    WaiverRequest,
    WaiverView,
)
from assay.steward.waivers import list_waivers, revoke_waiver, waive

__all__ = [
    "RESOLUTION_REASONS",
    "STATUSES",
    "AuditView",
    "ItemView",
    "OverrideView",
    "Page",
    "ProposalDecision",
    "RollbackView",
    "StewardError",
    "WaiverRequest",
    "WaiverView",
    "accept_suggestion",
    "acknowledge",
    "assign",
    "audit_log",
    "list_items",
    "list_waivers",
    "override_classification",
    "reject_suggestion",
    "resolve",
    "revoke_waiver",
    "rollback_model",
    "rollback_options",
    "waive",
]
