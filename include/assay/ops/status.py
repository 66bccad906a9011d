"""What the catalog holds after a demo run: row counts, the quality overview, the newest training
run and gate decision. Read from the catalog only, so it holds after a re-run (a re-run adds
profile and quality *attempts*; the ``*_current`` counts, one per key, and the overview stay)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from assay.config import Settings
from assay.gate.latest import LatestDecision, LatestRun, latest_decision, latest_run
from assay.ops.demo import DEMO_DAYS
from assay.quality.overview import QualityOverview, overview

#: The catalog's main tables, in the order the summary lists them (``profile_runs`` and
#: ``quality_runs`` count every attempt, ``profile_current`` and ``quality_current`` the keys).
CATALOG_TABLES: tuple[str, ...] = (
    "sources", "assets", "asset_columns", "schema_events", "classifications", "profile_runs",
    "profile_current", "anomalies", "quality_runs", "quality_current", "expectation_results",
    "training_runs", "gate_decisions",
)


@dataclass(frozen=True)
class DemoStatus:
    """The catalog's state of one logical date, as the demo summary shows it."""

    logical_date: dt.date
    counts: list[tuple[str, int]]
    quality: QualityOverview | None  # None: the catalog has no quality tables
    run: LatestRun | None
    decision: LatestDecision | None


def catalog_counts(url: str) -> list[tuple[str, int]]:
    """Row counts of the catalog's main tables (those that exist)."""
    from sqlalchemy import func, inspect, select, table

    from assay.catalog.db import engine

    eng = engine(url)
    present = set(inspect(eng).get_table_names())
    out = []
    with eng.connect() as conn:
        for name in CATALOG_TABLES:
            if name in present:
                out.append((name, int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())))
    return out


def quality_overview(settings: Settings, logical_date: dt.date, days: int = DEMO_DAYS) -> QualityOverview | None:
    """The quality overview of the ``days`` days ending at ``logical_date``; None without quality tables."""
    from sqlalchemy import inspect

    from assay.catalog.db import engine

    url = settings.catalog_url()
    if "quality_runs" not in set(inspect(engine(url)).get_table_names()):
        return None
    return overview(url, logical_date, days)


def demo_status(settings: Settings, logical_date: str) -> DemoStatus:
    """Everything the demo summary shows for ``logical_date`` (YYYY-MM-DD)."""
    url = settings.catalog_url()
    counts = catalog_counts(url)
    day = dt.date.fromisoformat(logical_date)
    return DemoStatus(day, counts, quality_overview(settings, day), latest_run(url), latest_decision(url))
