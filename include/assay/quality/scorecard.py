"""Daily quality scorecards per asset, computed from the stored expectation results.

Score of a dimension on a day = the severity-weighted share of that dimension's expectations that
passed, over every suite run on the asset that day (a critical expectation weighs
:data:`WEIGHTS` ``critical``, a warning one ``warning``). An expectation that could not be evaluated
counts as failed; a waived failure counts as failed too (a waiver accepts the risk, it does not
make the data good) and is listed in the details. ``overall`` is the same weighted share over all
expectations. A run that could not validate at all has no results: its dimensions score ``null``
and ``overall`` is 0, so a broken feed never looks perfect.

The catalog stores scores as 0..1 (its CHECK constraint); :func:`scorecard_history` reports 0..100.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.catalog.db import session
from assay.catalog.models import Asset, Dimension, ExpectationResult, QualityRun, QualityStatus, Scorecard
from assay.catalog.runs import QUALITY, is_current
from assay.catalog.upsert import upsert
from assay.config import Settings
from assay.errors import ConfigError

WEIGHTS: dict[str, float] = {"critical": 3.0, "warning": 1.0}


def compute(results: Iterable[tuple[str, str, bool]], run_errors: int = 0) -> tuple[dict[str, float | None], float | None]:
    """Dimension scores and overall (0..1) from (dimension, severity, success) triples."""
    passed: dict[str, float] = defaultdict(float)
    total: dict[str, float] = defaultdict(float)
    for dimension, severity, success in results:
        w = WEIGHTS.get(severity, 1.0)
        total[dimension] += w
        passed[dimension] += w if success else 0.0
    scores: dict[str, float | None] = {
        d.value: (round(passed[d.value] / total[d.value], 4) if total[d.value] else None) for d in Dimension
    }
    all_total = sum(total.values())
    if not all_total:
        return scores, (0.0 if run_errors else None)
    overall = sum(passed.values()) / all_total
    if run_errors:
        overall = 0.0
    return scores, round(overall, 4)


def update_scorecards(s: Session, asset_ids: Iterable[int], day: dt.date) -> list[int]:
    """Recompute and upsert the scorecard of each asset for ``day``; returns the scorecard ids."""
    ids: list[int] = []
    for asset_id in sorted(set(asset_ids)):
        runs = s.execute(
            select(QualityRun.id, QualityRun.suite_name, QualityRun.status)
            .where(QualityRun.asset_id == asset_id, QualityRun.logical_date == day, is_current(QUALITY))
        ).all()
        if not runs:
            continue
        run_ids = [r.id for r in runs]
        results = s.execute(
            select(ExpectationResult.quality_run_id, ExpectationResult.dimension, ExpectationResult.severity,
                   ExpectationResult.success, ExpectationResult.waived)
            .where(ExpectationResult.quality_run_id.in_(run_ids))
        ).all()
        with_results = {r.quality_run_id for r in results}
        # A run that could not validate at all leaves no results; it must still pull the day down.
        blind = sum(1 for r in runs if r.status == QualityStatus.ERROR.value and r.id not in with_results)
        scores, overall = compute(((r.dimension, r.severity, r.success) for r in results), run_errors=blind)
        details: dict[str, Any] = {
            "suites": sorted({r.suite_name for r in runs}),
            "quality_run_ids": run_ids,
            "expectations": len(results),
            "failed": sum(1 for r in results if not r.success),
            "waived": sum(1 for r in results if r.waived),
            "run_errors": sum(1 for r in runs if r.status == QualityStatus.ERROR.value),
            "weights": WEIGHTS,
        }
        ids += upsert(
            s,
            Scorecard,
            [{"asset_id": asset_id, "day": day, "dimension_scores": scores, "overall": overall, "details": details}],
            key=["asset_id", "day"],
        )
    return ids


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100.0 * value, 2)


def scorecard_history(
    settings: Settings, asset: str, days: int, end: dt.date | None = None
) -> list[dict[str, Any]]:
    """The asset's daily scores (0..100) for the ``days`` days ending at ``end`` (default: its latest day).

    Args:
        asset: a table (``interactions``, ``public.interactions``), a file asset
            (``feeds/northwind/2026-11-13/products.csv``) or a file target (``feeds/northwind``:
            every day's file of that supplier).

    Returns:
        One dict per day that has a scorecard, oldest first: ``day``, ``overall``, ``dimensions``,
        ``details``.

    Raises:
        ConfigError: no asset by that name.
    """
    with session(settings.catalog_url()) as s:
        rows = s.execute(select(Asset.id, Asset.namespace, Asset.name)).all()
        ids = [
            aid for aid, ns, name in rows
            if asset in (name, f"{ns}.{name}", f"{ns}/{name}") or (ns == asset or ns.startswith(asset + "/"))
        ]
        if not ids:
            raise ConfigError(f"no asset named {asset!r} in the catalog")
        q = select(Scorecard).where(Scorecard.asset_id.in_(ids))
        if end is None:
            end = s.execute(select(Scorecard.day).where(Scorecard.asset_id.in_(ids)).order_by(Scorecard.day.desc())
                            .limit(1)).scalar()
            if end is None:
                return []
        q = q.where(Scorecard.day > end - dt.timedelta(days=days), Scorecard.day <= end)
        cards = list(s.execute(q.order_by(Scorecard.day, Scorecard.asset_id)).scalars())
        return [
            {
                "day": c.day.isoformat(),
                "asset_id": c.asset_id,
                "overall": _pct(c.overall),
                "dimensions": {k: _pct(v) for k, v in c.dimension_scores.items()},
                "details": c.details,
            }
            for c in cards
        ]
