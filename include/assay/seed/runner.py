"""Seeding as the ``seed_shop`` DAG and ``assay seed`` call it: a window of days ending at a date."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from assay.config import Settings
from assay.seed.config import DefectSchedule, SeedConfig
from assay.seed.shop import seed_shop

log = logging.getLogger(__name__)


def schedule_from_spec(spec: str, start: dt.date, days: int) -> DefectSchedule:
    """``none`` | ``demo`` | an explicit ``day:defect,...;day:...`` schedule."""
    text = spec.strip()
    if text in ("", "none"):
        return DefectSchedule.none()
    if text == "demo":
        return DefectSchedule.demo(start, days)
    return DefectSchedule.parse(text)


def seed_window(
    settings: Settings, end: dt.date, days: int, scale: int = 1, defects: str = "none", seed: int = 7
) -> dict[str, Any]:
    """Seed ``days`` days ending at ``end`` into the shop database and landing folder.

    Returns a small JSON-able summary (fit for XCom): days, rows per table, defects per day.
    """
    start = end - dt.timedelta(days=days - 1)
    config = SeedConfig(
        start_date=start, days=days, scale=scale, seed=seed, defects=schedule_from_spec(defects, start, days)
    )
    settings.landing.mkdir(parents=True, exist_ok=True)
    stats = seed_shop(settings.shop_database_url(), settings.landing, config)
    log.info("seeded %d rows over %d days in %.1f s", stats.total_rows, days, stats.elapsed_seconds)
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "rows": {table: sum(per_day.values()) for table, per_day in stats.rows.items()},
        "dimension_rows": dict(stats.dimension_rows),
        "defects": {d.isoformat(): names for d, names in stats.defects.items() if names},
        "files": len(stats.files_written),
    }
