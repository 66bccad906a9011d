"""Waivers: a steward's time-boxed exemption of one named expectation on one asset.

A waiver covers a partition when its window ``[valid_from, valid_until)`` overlaps the partition's
day (UTC) and it has not been revoked. A covered failure is recorded as usual but marked
``waived`` with the waiver's id; it no longer fails the task, opens no review item, and the run's
summary lists the waiver. Revoking keeps the row (who, when), so past decisions stay explainable.

Stewards waive through ``assay steward waive`` / :mod:`assay.steward.service` (audited); the functions
here are the primitives it calls. Example::

    add_waiver(settings, asset="search_sessions", suite="search_sessions",
               expectation="query_not_null", reason="upstream bug INC-123, fixed on the 14th",
               created_by="jane", valid_from=date(2026, 11, 12), valid_until=date(2026, 11, 14))
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from assay.catalog.db import session
from assay.catalog.models import Asset, AssetKind, Source, SourceKind, Waiver
from assay.catalog.upsert import upsert
from assay.config import Settings
from assay.errors import ConfigError
from assay.quality import store
from assay.quality.suites import SuiteError, live_suite_path, parse_suite, suites_dir


def _as_utc(value: dt.datetime | dt.date) -> dt.datetime:
    """A date is its midnight UTC; a naive datetime is taken as UTC."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


def _resolve_asset(s: Session, settings: Settings, suite_name: str, asset: str | int, folder: Path) -> int:
    """The asset a waiver is for: an id, or a name within the suite's source."""
    path = live_suite_path(folder, suite_name)  # <source>/<stem>.json, or a flat file
    try:
        spec = parse_suite(path, path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"no suite {suite_name!r} in {folder}") from None
    except SuiteError as exc:
        raise ConfigError(f"cannot waive against a broken suite: {exc}") from None
    if isinstance(asset, int):
        if s.get(Asset, asset) is None:
            raise ConfigError(f"no asset with id {asset}")
        return asset
    target = spec.target
    source_id = s.execute(select(Source.id).where(Source.name == target.source)).scalar()
    if target.table is not None:
        if asset not in (target.relation, target.table):
            raise ConfigError(f"suite {suite_name} validates {target.table}, not {asset!r}")
        if source_id is None:
            source_id = store.ensure_source(s, target.source, SourceKind.SQL, f"settings:{target.source}")
        return store.ensure_asset(s, source_id, target.schema, target.relation, AssetKind.TABLE, target.table)
    namespace, _, name = asset.rpartition("/")
    if not namespace or source_id is None:
        raise ConfigError(
            f"suite {suite_name} validates files: name one file as <folder>/<file> (e.g. "
            f"feeds/northwind/2026-11-13/products.csv) that the catalog knows, or give its asset id"
        )
    found = s.execute(
        select(Asset.id).where(Asset.source_id == source_id, Asset.namespace == namespace, Asset.name == name)
    ).scalar()
    if found is None:
        raise ConfigError(f"source {target.source} has no file asset {asset!r} in the catalog")
    return int(found)


def waiver_json(w: Waiver) -> dict[str, Any]:
    """A waiver row as JSON (the audit trail's before/after)."""
    return {
        "id": w.id, "asset_id": w.asset_id, "suite": w.suite_name, "expectation": w.expectation_id,
        "reason": w.reason, "created_by": w.created_by, "valid_from": w.valid_from.isoformat(),
        "valid_until": w.valid_until.isoformat() if w.valid_until else None,
        "revoked_at": w.revoked_at.isoformat() if w.revoked_at else None, "revoked_by": w.revoked_by,
    }


def put_waiver(
    s: Session,
    settings: Settings,
    *,
    asset: str | int,
    suite: str,
    expectation: str,
    reason: str,
    created_by: str,
    valid_from: dt.datetime | dt.date,
    valid_until: dt.datetime | dt.date | None = None,
    folder: Path | None = None,
) -> tuple[int, dict[str, Any] | None, dict[str, Any]]:
    """Validate and upsert one waiver inside the caller's transaction (see :func:`add_waiver`).

    Returns:
        The waiver's id, the row before (``None`` when new) and after, as JSON.
    """
    folder = folder or suites_dir(settings)
    if not reason.strip() or not created_by.strip():
        raise ConfigError("a waiver needs a reason and the steward's name")
    start, end = _as_utc(valid_from), (_as_utc(valid_until) if valid_until is not None else None)
    if end is not None and end <= start:
        raise ConfigError(f"waiver window is empty: valid_until {end.isoformat()} <= valid_from {start.isoformat()}")
    path = live_suite_path(folder, suite)
    suite = path.stem  # the catalog's suite name (``source.stem`` names the file only)
    asset_id = _resolve_asset(s, settings, suite, asset, folder)
    spec = parse_suite(path, path.read_bytes())
    try:
        spec.expectation(expectation)
    except KeyError:
        known = ", ".join(e.expectation_id for e in spec.expectations)
        raise ConfigError(f"suite {suite} has no expectation {expectation!r}; it has: {known}") from None
    old = s.execute(select(Waiver).where(
        Waiver.asset_id == asset_id, Waiver.suite_name == suite, Waiver.expectation_id == expectation,
        Waiver.valid_from == start).with_for_update()).scalar()
    before = waiver_json(old) if old is not None else None
    (waiver_id,) = upsert(
        s,
        Waiver,
        [
            {
                "asset_id": asset_id,
                "suite_name": suite,
                "expectation_id": expectation,
                "reason": reason.strip(),
                "created_by": created_by.strip(),
                "valid_from": start,
                "valid_until": end,
                "revoked_at": None,
                "revoked_by": None,
            }
        ],
        key=["asset_id", "suite_name", "expectation_id", "valid_from"],
    )
    row = s.execute(select(Waiver).where(Waiver.id == waiver_id).execution_options(populate_existing=True)).scalar_one()
    return int(waiver_id), before, waiver_json(row)


def add_waiver(
    settings: Settings,
    *,
    asset: str | int,
    suite: str,
    expectation: str,
    reason: str,
    created_by: str,
    valid_from: dt.datetime | dt.date,
    valid_until: dt.datetime | dt.date | None = None,
    folder: Path | None = None,
) -> int:
    """Waive ``expectation`` of ``suite`` on ``asset`` from ``valid_from`` until ``valid_until``.

    The unaudited primitive: stewards use ``assay steward waive`` or
    :func:`assay.steward.service.waive`, which call :func:`put_waiver` and record who did it.
    Idempotent on (asset, suite, expectation, valid_from): adding it again updates reason, end and
    author of the same row.

    Args:
        settings: where the catalog and the suites are.
        asset: the table name (``search_sessions``), a file asset (``feeds/northwind/<day>/products.csv``)
            or an asset id.
        suite: the suite's name.
        expectation: the expectation's ``meta.name`` in that suite.
        reason: why; shown to whoever reads the results.
        created_by: who decided.
        valid_from: start of the window (a date means its midnight UTC).
        valid_until: end of the window, exclusive; ``None`` = until revoked.
        folder: the suites folder (default ``expectations/`` of the project).

    Returns:
        The waiver's id.

    Raises:
        ConfigError: unknown suite, expectation or asset, empty reason or author, or an empty window.
    """
    with session(settings.catalog_url()) as s:
        waiver_id, _, _ = put_waiver(s, settings, asset=asset, suite=suite, expectation=expectation, reason=reason,
                                     created_by=created_by, valid_from=valid_from, valid_until=valid_until,
                                     folder=folder)
    return waiver_id


def revoke_in(
    s: Session, waiver_id: int, revoked_by: str, at: dt.datetime | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Revoke a waiver inside the caller's transaction (row locked); its JSON before and after.

    Raises:
        ConfigError: no such waiver, or it is already revoked.
    """
    w = s.execute(select(Waiver).where(Waiver.id == waiver_id).with_for_update()).scalar()
    if w is None:
        raise ConfigError(f"no waiver with id {waiver_id}")
    if w.revoked_at is not None:
        raise ConfigError(f"waiver {waiver_id} was already revoked by {w.revoked_by} at {w.revoked_at.isoformat()}")
    before = waiver_json(w)
    w.revoked_at, w.revoked_by = at or dt.datetime.now(dt.UTC), revoked_by
    s.flush()
    return before, waiver_json(w)


def revoke(settings: Settings, waiver_id: int, revoked_by: str, at: dt.datetime | None = None) -> None:
    """Revoke a waiver: later runs no longer honour it (results already recorded keep their mark).

    The unaudited primitive (stewards use ``assay steward revoke``).

    Raises:
        ConfigError: no such waiver, or it is already revoked.
    """
    with session(settings.catalog_url()) as s:
        revoke_in(s, waiver_id, revoked_by, at)


def active_waivers(s: Session, asset_id: int, suite_name: str, day: dt.date) -> dict[str, int]:
    """Expectation id -> waiver id of the unrevoked waivers covering ``day`` (newest wins)."""
    start = _as_utc(day)
    end = start + dt.timedelta(days=1)
    rows = s.execute(
        select(Waiver.expectation_id, Waiver.id)
        .where(
            Waiver.asset_id == asset_id,
            Waiver.suite_name == suite_name,
            Waiver.revoked_at.is_(None),
            Waiver.valid_from < end,
            or_(Waiver.valid_until.is_(None), Waiver.valid_until > start),
        )
        .order_by(Waiver.valid_from, Waiver.id)
    ).all()
    return {eid: wid for eid, wid in rows}
