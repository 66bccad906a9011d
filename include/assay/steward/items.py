"""Review items: list them, acknowledge, assign and resolve with a reason code (OpenMetadata's incident flow).

An item is ``open`` until resolved (``closed``); its workflow state is derived from the columns the
actions set: ``new`` -> ``acknowledged`` -> ``assigned`` -> ``resolved``. Each action locks the item's
row (``SELECT ... FOR UPDATE``), so two stewards acting on one item at once are serialised, and writes
the change and its audit row in one transaction. Repeating an action that changes nothing (a second
acknowledge, assigning the current assignee) is a no-op that writes no audit row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.catalog.db import session
from assay.catalog.models import Asset, ReviewItem, ReviewKind, ReviewStatus
from assay.config import Settings
from assay.steward import audit
from assay.steward.views import RESOLUTION_REASONS, ItemView, Page, StewardError, WaiverRequest, asset_label
from assay.steward.waivers import put_request

#: ``status`` filters of :func:`list_items`: open/closed as stored, the workflow states, or all.
STATUSES = ("open", "closed", "all", "new", "acknowledged", "assigned")
TARGET = "review_item"


def state_of(item: ReviewItem) -> str:
    """The workflow state of an item."""
    if item.status == ReviewStatus.CLOSED.value:
        return "resolved"
    if item.assigned_to:
        return "assigned"
    return "acknowledged" if item.acknowledged_at else "new"


def item_json(item: ReviewItem) -> dict[str, Any]:
    """The workflow fields of an item (the audit's before/after)."""
    return {
        "status": item.status, "state": state_of(item), "acknowledged_by": item.acknowledged_by,
        "acknowledged_at": item.acknowledged_at.isoformat() if item.acknowledged_at else None,
        "assigned_to": item.assigned_to, "resolution_reason": item.resolution_reason,
        "resolution": item.resolution, "closed_by": item.closed_by,
        "closed_at": item.closed_at.isoformat() if item.closed_at else None,
    }


def _view(item: ReviewItem, asset: str, waiver_id: int | None = None) -> ItemView:
    return ItemView(
        id=item.id, kind=item.kind, ref=item.ref, asset_id=item.asset_id, asset=asset, summary=item.summary,
        status=item.status, state=state_of(item), details=dict(item.details or {}), created_at=item.created_at,
        updated_at=item.updated_at, acknowledged_by=item.acknowledged_by, acknowledged_at=item.acknowledged_at,
        assigned_to=item.assigned_to, assigned_at=item.assigned_at, resolution_reason=item.resolution_reason,
        resolution=item.resolution, closed_by=item.closed_by, closed_at=item.closed_at, waiver_id=waiver_id,
    )


def list_items(
    settings: Settings,
    *,
    status: str = "open",
    kind: str | None = None,
    asset: str | int | None = None,
    assignee: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[ItemView]:
    """Review items matching the filters, newest first.

    Args:
        status: ``open`` (default), ``closed``, ``all``, or a workflow state (``new``, ``acknowledged``,
            ``assigned``; all three are open).
        kind: one :class:`~assay.catalog.models.ReviewKind` value.
        asset: an asset id, its name, or ``schema.name`` / ``folder/file``.
        assignee: only items assigned to this user.
    """
    if status not in STATUSES:
        raise StewardError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    if kind is not None and kind not in {k.value for k in ReviewKind}:
        raise StewardError(f"unknown review item kind {kind!r}; one of {', '.join(k.value for k in ReviewKind)}")
    where: list[Any] = []
    if status in ("open", "new", "acknowledged", "assigned"):
        where.append(ReviewItem.status == ReviewStatus.OPEN.value)
    if status == "closed":
        where.append(ReviewItem.status == ReviewStatus.CLOSED.value)
    if status == "new":
        where += [ReviewItem.acknowledged_at.is_(None), ReviewItem.assigned_to.is_(None)]
    if status == "acknowledged":
        where += [ReviewItem.acknowledged_at.is_not(None), ReviewItem.assigned_to.is_(None)]
    if status == "assigned":
        where.append(ReviewItem.assigned_to.is_not(None))
    if kind is not None:
        where.append(ReviewItem.kind == kind)
    if assignee is not None:
        where.append(ReviewItem.assigned_to == assignee)
    with session(settings.catalog_url()) as s:
        if asset is not None:
            where.append(ReviewItem.asset_id.in_(_asset_ids(s, asset)))
        total = int(s.execute(select(func.count()).select_from(ReviewItem).where(*where)).scalar_one())
        rows = s.execute(
            select(ReviewItem, Asset.namespace, Asset.name).join(Asset, Asset.id == ReviewItem.asset_id)
            .where(*where).order_by(ReviewItem.updated_at.desc(), ReviewItem.id.desc())
            .limit(max(1, limit)).offset(max(0, offset))
        ).all()
        return Page([_view(i, asset_label(ns, n)) for i, ns, n in rows], total, limit, offset)


def _asset_ids(s: Session, asset: str | int) -> list[int]:
    if isinstance(asset, int) or str(asset).isdigit():
        return [int(asset)]
    text = str(asset)
    namespace, sep, name = text.rpartition("/") if "/" in text else text.rpartition(".")
    q = select(Asset.id).where(Asset.name == (name if sep else text))
    if sep:
        q = q.where(Asset.namespace == namespace)
    ids = [int(i) for i in s.execute(q).scalars()]
    if not ids:
        raise StewardError(f"no asset named {text!r} in the catalog")
    return ids


def locked(s: Session, item_id: int) -> tuple[ReviewItem, str]:
    """The item, its row locked for this transaction, and its asset's label."""
    found = s.execute(
        select(ReviewItem, Asset.namespace, Asset.name).join(Asset, Asset.id == ReviewItem.asset_id)
        .where(ReviewItem.id == item_id).with_for_update(of=ReviewItem)
    ).first()
    if found is None:
        raise StewardError(f"no review item with id {item_id}")
    item, ns, name = found
    return item, asset_label(ns, name)


def _refuse_closed(item: ReviewItem, asset: str, action: str) -> None:
    if item.status == ReviewStatus.CLOSED.value:
        raise StewardError(
            f"review item {item.id} ({item.kind} on {asset}) is already resolved by {item.closed_by}"
            f" ({item.resolution_reason or item.resolution}); cannot {action} it"
        )


def acknowledge(settings: Settings, actor: str, item_id: int, comment: str | None = None) -> ItemView:
    """Acknowledge an open item (someone is looking at it); acknowledging twice is one state."""
    now = dt.datetime.now(dt.UTC)
    with session(settings.catalog_url()) as s:
        item, asset = locked(s, item_id)
        _refuse_closed(item, asset, "acknowledge")
        if item.acknowledged_at is None:
            before = item_json(item)
            item.acknowledged_by, item.acknowledged_at, item.updated_at = actor, now, now
            s.flush()
            audit.record(s, actor, "acknowledge", TARGET, item.id, before, item_json(item), comment)
        return _view(item, asset)


def assign(settings: Settings, actor: str, item_id: int, assignee: str, comment: str | None = None) -> ItemView:
    """Assign an open item to ``assignee`` (acknowledging it too); reassigning to the same user is a no-op."""
    if not assignee or not assignee.strip():
        raise StewardError(f"review item {item_id}: assign needs a user name")
    now = dt.datetime.now(dt.UTC)
    with session(settings.catalog_url()) as s:
        item, asset = locked(s, item_id)
        _refuse_closed(item, asset, "assign")
        if item.assigned_to != assignee.strip():
            before = item_json(item)
            if item.acknowledged_at is None:
                item.acknowledged_by, item.acknowledged_at = actor, now
            item.assigned_to, item.assigned_at, item.updated_at = assignee.strip(), now, now
            s.flush()
            audit.record(s, actor, "assign", TARGET, item.id, before, item_json(item), comment)
        return _view(item, asset)


def resolve(
    settings: Settings,
    actor: str,
    item_id: int,
    reason: str,
    comment: str | None,
    waiver: WaiverRequest | None = None,
) -> ItemView:
    """Resolve (close) an item with a reason code; ``expected`` with ``waiver`` also waives, atomically.

    Raises:
        StewardError: unknown reason, ``other`` without a comment, a waiver with another reason or
            without an expiry, an item already resolved; nothing is written then (nor when the
            waiver itself is refused).
    """
    if reason not in RESOLUTION_REASONS:
        raise StewardError(f"review item {item_id}: unknown reason {reason!r}; one of {', '.join(RESOLUTION_REASONS)}")
    text = (comment or "").strip() or None
    if reason == "other" and text is None:
        raise StewardError(f"review item {item_id}: resolving with reason 'other' needs a comment")
    if waiver is not None and reason != "expected":
        raise StewardError(f"review item {item_id}: only reason 'expected' can come with a waiver (got {reason!r})")
    now = dt.datetime.now(dt.UTC)
    with session(settings.catalog_url()) as s:
        item, asset = locked(s, item_id)
        _refuse_closed(item, asset, "resolve")
        waiver_id = None
        if waiver is not None:
            waiver_id = put_request(s, settings, actor, _from_item(item, waiver, text), item_id=item.id)
        before = item_json(item)
        item.status, item.resolution_reason, item.resolution = ReviewStatus.CLOSED.value, reason, text
        item.closed_by, item.closed_at, item.updated_at = actor, now, now
        if item.acknowledged_at is None:
            item.acknowledged_by, item.acknowledged_at = actor, now
        s.flush()
        after = {**item_json(item), "waiver_id": waiver_id}
        audit.record(s, actor, "resolve", TARGET, item.id, before, after, text)
        return _view(item, asset, waiver_id)


def _from_item(item: ReviewItem, w: WaiverRequest, comment: str | None) -> WaiverRequest:
    """The waiver request completed from the item: its asset, suite, expectation and partition day."""
    d = item.details or {}
    day = d.get("logical_date")
    return WaiverRequest(
        asset=w.asset if w.asset is not None else item.asset_id,
        suite=w.suite or d.get("suite"),
        expectation=w.expectation or d.get("expectation_id"),
        partition_from=w.partition_from or (dt.date.fromisoformat(day) if day else None),
        partition_to=w.partition_to,
        expires_at=w.expires_at,
        reason=w.reason or comment or f"expected (review item {item.id})",
    )
