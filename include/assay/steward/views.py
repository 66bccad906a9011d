"""The steward service's requests, results and error: small frozen values shared by the CLI and the pages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from assay.catalog.models.steward import ResolutionReason
from assay.errors import ConfigError

#: Reason codes a review item is resolved with; ``other`` needs a comment.
RESOLUTION_REASONS: tuple[str, ...] = tuple(r.value for r in ResolutionReason)

T = TypeVar("T")


class StewardError(ConfigError):
    """A steward action was refused (unknown item, wrong state, bad input); the message names the item."""


def asset_label(namespace: str | None, name: str) -> str:
    """How an asset is named to people: ``schema.table`` or ``folder/file``."""
    if not namespace:
        return name
    return f"{namespace}/{name}" if "/" in namespace or "." in name else f"{namespace}.{name}"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the total the filters match."""

    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class ItemView:
    """A review item as the steward sees it; ``state`` is new, acknowledged, assigned or resolved."""

    id: int
    kind: str
    ref: str
    asset_id: int
    asset: str
    summary: str
    status: str
    state: str
    details: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    acknowledged_by: str | None = None
    acknowledged_at: dt.datetime | None = None
    assigned_to: str | None = None
    assigned_at: dt.datetime | None = None
    resolution_reason: str | None = None
    resolution: str | None = None
    closed_by: str | None = None
    closed_at: dt.datetime | None = None
    waiver_id: int | None = None  # the waiver a resolve "expected" created


@dataclass(frozen=True)
class WaiverRequest:
    """A waiver to create: partitions ``partition_from``..``partition_to`` (days, inclusive) of one expectation.

    ``expires_at`` is required: the waiver covers nothing from that day on. ``partition_to`` defaults to
    the day before ``expires_at``; ``asset``/``suite``/``expectation`` may be left empty when the waiver
    comes with a review item (they are taken from the item).
    """

    asset: str | int | None
    suite: str | None
    expectation: str | None
    partition_from: dt.date | None
    partition_to: dt.date | None
    expires_at: dt.date | dt.datetime | None
    reason: str | None = None


@dataclass(frozen=True)
class WaiverView:
    """A waiver with the expectation results it covered (count and the newest ids)."""

    id: int
    asset_id: int
    asset: str
    suite: str
    expectation: str
    reason: str
    created_by: str
    valid_from: dt.datetime
    valid_until: dt.datetime | None
    revoked_at: dt.datetime | None
    revoked_by: str | None
    created_at: dt.datetime
    covered_count: int = 0
    covered_result_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class AuditView:
    """One audit row: who did what to which target, when, with the (masked) state before and after."""

    id: int
    actor: str
    action: str
    target_kind: str
    target_id: str
    before: Any
    after: Any
    comment: str | None
    at: dt.datetime


@dataclass(frozen=True)
class OverrideView:
    """A steward's classification decision on one column (``label`` None: the override was removed)."""

    asset_id: int
    column: str
    kind: str
    label: str | None
    effective_label: str | None


@dataclass(frozen=True)
class ProposalDecision:
    """What accept/reject did to a proposal: the names decided, what is still pending, the live file."""

    proposal: str
    decision: str
    names: list[str]
    pending: list[str]
    live_path: str | None = None


@dataclass(frozen=True)
class RollbackView:
    """A rollback: the model, the version now champion and the decision recording it."""

    model_name: str
    version: str
    decision_id: int | None
    reason: str
