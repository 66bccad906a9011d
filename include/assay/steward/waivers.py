"""Waivers as steward actions: waive, revoke, and list each waiver with the results it covered.

The rules of a waiver (which suite, expectation and asset it may name, its window) are
:mod:`assay.quality.waivers`'; this module adds the steward's request shape, the required expiry
and the audit row, written in the same transaction as the waiver.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.catalog.db import session
from assay.catalog.models import Asset, ExpectationResult, Waiver
from assay.config import Settings
from assay.errors import ConfigError
from assay.quality import waivers as rules
from assay.steward import audit
from assay.steward.views import StewardError, WaiverRequest, WaiverView, asset_label

TARGET = "waiver"
#: Result ids listed per waiver (the count covers all of them).
COVERED_IDS = 20


def _utc_day(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


def window(req: WaiverRequest) -> tuple[dt.datetime, dt.datetime]:
    """``[valid_from, valid_until)`` of a request: from its first partition to the earlier of the day
    after its last partition and its expiry.

    Raises:
        StewardError: no expiry, no first partition, or an empty window.
    """
    what = f"waiver of {req.expectation or '?'} on {req.asset or '?'}"
    if req.expires_at is None:
        raise StewardError(f"{what}: an expiry date is required")
    if req.partition_from is None:
        raise StewardError(f"{what}: the first partition (day) it covers is required")
    start, end = _utc_day(req.partition_from), _utc_day(req.expires_at)
    if req.partition_to is not None:
        if req.partition_to < req.partition_from:
            raise StewardError(f"{what}: partition range {req.partition_from} .. {req.partition_to} is empty")
        end = min(end, _utc_day(req.partition_to) + dt.timedelta(days=1))
    if end <= start:
        raise StewardError(f"{what}: it expires ({end.date()}) before its first partition ({start.date()})")
    return start, end


def put_request(s: Session, settings: Settings, actor: str, req: WaiverRequest, *, item_id: int | None = None) -> int:
    """Write the waiver of ``req`` and its audit row in ``s``'s transaction; returns the waiver's id."""
    if not req.suite or not req.expectation or req.asset is None:
        about = f"review item {item_id}" if item_id is not None else f"waiver on {req.asset or '?'}"
        raise StewardError(f"{about}: a waiver names its asset, suite and expectation "
                           f"(got suite {req.suite or '-'}, expectation {req.expectation or '-'})")
    if not (req.reason or "").strip():
        raise StewardError(f"waiver of {req.expectation} on {req.asset}: a reason is required")
    start, end = window(req)
    try:
        waiver_id, before, after = rules.put_waiver(
            s, settings, asset=req.asset, suite=req.suite, expectation=req.expectation, reason=req.reason or "",
            created_by=actor, valid_from=start, valid_until=end)
    except ConfigError as exc:
        raise StewardError(f"waiver of {req.expectation} on {req.asset} refused: {exc}") from None
    if item_id is not None:
        after = {**after, "review_item_id": item_id}
    audit.record(s, actor, "waive", TARGET, waiver_id, before, after, req.reason)
    return waiver_id


def waive(settings: Settings, actor: str, req: WaiverRequest) -> WaiverView:
    """Create (or renew) a waiver of one expectation on one asset's partitions, with its audit row."""
    with session(settings.catalog_url()) as s:
        waiver_id = put_request(s, settings, actor, req)
        return _views(s, [waiver_id])[0]


def revoke_waiver(settings: Settings, actor: str, waiver_id: int, comment: str | None = None) -> WaiverView:
    """Revoke a waiver (later runs no longer honour it), with its audit row."""
    with session(settings.catalog_url()) as s:
        try:
            before, after = rules.revoke_in(s, waiver_id, actor)
        except ConfigError as exc:
            raise StewardError(str(exc)) from None
        audit.record(s, actor, "revoke_waiver", TARGET, waiver_id, before, after, comment)
        return _views(s, [waiver_id])[0]


def list_waivers(settings: Settings, *, include_revoked: bool = False) -> list[WaiverView]:
    """Every waiver (newest first) with the expectation results it covered (count and newest ids)."""
    with session(settings.catalog_url()) as s:
        q = select(Waiver.id)
        if not include_revoked:
            q = q.where(Waiver.revoked_at.is_(None))
        ids = [int(i) for i in s.execute(q.order_by(Waiver.created_at.desc(), Waiver.id.desc())).scalars()]
        return _views(s, ids)


def _views(s: Session, ids: list[int]) -> list[WaiverView]:
    if not ids:
        return []
    counts = dict(s.execute(
        select(ExpectationResult.waiver_id, func.count()).where(ExpectationResult.waiver_id.in_(ids))
        .group_by(ExpectationResult.waiver_id)).all())
    ranked = (
        select(ExpectationResult.waiver_id, ExpectationResult.id,
               func.row_number().over(partition_by=ExpectationResult.waiver_id,
                                      order_by=ExpectationResult.id.desc()).label("n"))
        .where(ExpectationResult.waiver_id.in_(ids)).subquery()
    )
    covered: dict[int, list[int]] = {}
    for wid, rid in s.execute(select(ranked.c.waiver_id, ranked.c.id).where(ranked.c.n <= COVERED_IDS)
                              .order_by(ranked.c.id.desc())).all():
        covered.setdefault(int(wid), []).append(int(rid))
    rows = {w.id: (w, ns, name) for w, ns, name in s.execute(
        select(Waiver, Asset.namespace, Asset.name).join(Asset, Asset.id == Waiver.asset_id)
        .where(Waiver.id.in_(ids)).execution_options(populate_existing=True)).all()}
    out = []
    for i in ids:
        w, ns, name = rows[i]
        out.append(WaiverView(
            id=w.id, asset_id=w.asset_id, asset=asset_label(ns, name), suite=w.suite_name,
            expectation=w.expectation_id, reason=w.reason, created_by=w.created_by, valid_from=w.valid_from,
            valid_until=w.valid_until, revoked_at=w.revoked_at, revoked_by=w.revoked_by, created_at=w.created_at,
            covered_count=int(counts.get(i, 0)), covered_result_ids=covered.get(i, [])))
    return out
