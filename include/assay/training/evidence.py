"""Quality evidence of a training window, read from the catalog: which days may be used, and why not.

The tables are those the search-log contract maps (:mod:`assay.training.contract`), as assets of
the contract's source and schema in the catalog. For each day of the window, the latest quality run
of every event table (the contract's sessions, impressions and interactions) on that day's partition
must be ``ok``; the products table (validated whole, partition ``__all__``) must have an ``ok``
latest run on or before ``window_end``.
Other days are skipped with a reason (or kept and listed with ``allow_unvalidated``). The waivers
recorded on the runs relied on are collected for the training set's lineage.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from assay.config import Settings
from assay.names import ALL_PARTITIONS
from assay.training.contract import EVENT_KINDS, SearchLogContract
from assay.training.errors import NoValidatedData

log = logging.getLogger(__name__)


def event_tables(contract: SearchLogContract) -> tuple[str, ...]:
    """Tables a day's examples are read from (each must pass quality on that day), distinct, in order."""
    return tuple(dict.fromkeys(contract.table(k).table for k in EVENT_KINDS))


def products_table(contract: SearchLogContract) -> str:
    """The catalogue table product texts come from; validated whole (partition ``__all__``)."""
    return contract.table("products").table


@dataclass(frozen=True)
class SkippedDay:
    """A day of the window left out of the training set, with the reasons."""

    day: dt.date
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON form (manifest, catalog stats)."""
        return {"day": self.day.isoformat(), "reasons": list(self.reasons)}


@dataclass
class Evidence:
    """The latest quality runs of one table partition (one per suite that validates it)."""

    table: str
    partition_key: str
    logical_date: dt.date | None = None
    run_ids: list[int] = field(default_factory=list)
    gx_run_ids: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def partition(self) -> str:
        day = self.logical_date.isoformat() if self.partition_key == ALL_PARTITIONS and self.logical_date \
            else self.partition_key
        return f"{self.table}:{day}"

    @property
    def ok(self) -> bool:
        return bool(self.run_ids) and not self.problems


def _failed_expectations(s: Any, run_ids: list[int]) -> dict[int, list[str]]:
    from sqlalchemy import select

    from assay.catalog.models import ExpectationResult

    if not run_ids:
        return {}
    rows = s.execute(
        select(ExpectationResult.quality_run_id, ExpectationResult.expectation_id)
        .where(ExpectationResult.quality_run_id.in_(run_ids), ExpectationResult.success.is_(False),
               ExpectationResult.waived.is_(False), ExpectationResult.severity == "critical")
        .order_by(ExpectationResult.quality_run_id, ExpectationResult.expectation_id)
    ).all()
    out: dict[int, list[str]] = defaultdict(list)
    for run_id, eid in rows:
        out[run_id].append(eid)
    return out


def collect_evidence(
    settings: Settings, contract: SearchLogContract, days: list[dt.date], window_end: dt.date
) -> tuple[dict[tuple[str, dt.date], Evidence], Evidence]:
    """Evidence per (event table, day) and the products table's evidence."""
    from sqlalchemy import select

    from assay.catalog.db import session
    from assay.catalog.models import Asset, QualityRun, QualityStatus, Source
    from assay.catalog.runs import QUALITY, is_current

    event_tabs, products_tab = event_tables(contract), products_table(contract)
    tables = (*event_tabs, products_tab)
    keys = [d.isoformat() for d in days]
    with session(settings.catalog_url()) as s:
        assets = dict(
            s.execute(
                select(Asset.name, Asset.id)
                .join(Source, Source.id == Asset.source_id)
                .where(Source.name == contract.source, Asset.namespace == contract.schema_, Asset.name.in_(tables))
            ).all()
        )
        by_id = {aid: name for name, aid in assets.items()}
        runs = s.execute(
            select(QualityRun.id, QualityRun.asset_id, QualityRun.suite_name, QualityRun.partition_key,
                   QualityRun.logical_date, QualityRun.status, QualityRun.gx_run_id, QualityRun.error)
            .where(QualityRun.asset_id.in_(list(by_id)),
                   QualityRun.partition_key.in_([*keys, ALL_PARTITIONS]),
                   QualityRun.logical_date <= window_end,
                   is_current(QUALITY))  # attempts superseded by a rerun are not evidence
            .order_by(QualityRun.logical_date, QualityRun.id)
        ).all()
        # Latest run per (asset, suite, partition): later logical date wins, then the later row.
        latest: dict[tuple[str, str, str], Any] = {}
        for r in runs:
            latest[(by_id[r.asset_id], r.suite_name, r.partition_key)] = r
        # The products table: only its runs of the newest logical date count.
        product_runs = [r for (t, _, pk), r in latest.items() if t == products_tab and pk == ALL_PARTITIONS]
        if product_runs:
            newest = max(r.logical_date for r in product_runs)
            product_runs = [r for r in product_runs if r.logical_date == newest]
        chosen = [r for (t, _, pk), r in latest.items() if t != products_tab and pk != ALL_PARTITIONS]
        chosen += product_runs
        failed = _failed_expectations(s, [r.id for r in chosen])

    def describe(r: Any) -> str:
        what = ", ".join(failed.get(r.id, [])) or (r.error or "no critical failure recorded")
        return f"quality run {r.id} ({r.suite_name}) is {r.status}: {what}"

    evidence: dict[tuple[str, dt.date], Evidence] = {}
    for table in event_tabs:
        for day in days:
            ev = Evidence(table, day.isoformat(), day)
            evidence[(table, day)] = ev
    products = Evidence(products_tab, ALL_PARTITIONS)
    for r in chosen:
        table = by_id[r.asset_id]
        ev = products if table == products_tab else evidence[(table, dt.date.fromisoformat(r.partition_key))]
        ev.logical_date = ev.logical_date or r.logical_date
        ev.run_ids.append(int(r.id))
        if r.gx_run_id:
            ev.gx_run_ids.append(_gx_run_id(str(r.gx_run_id)))
        if r.status != QualityStatus.OK.value:
            ev.problems.append(describe(r))
    for key, ev in evidence.items():
        if not ev.run_ids:
            ev.problems.append(f"no quality run of {key[0]} on partition {key[1].isoformat()}"
                               + ("" if key[0] in assets else f" (asset {contract.source}:{contract.schema_}.{key[0]} is not in the catalog)"))
    if not products.run_ids:
        products.problems.append(f"no quality run of {products_tab} on or before {window_end.isoformat()}")
    return evidence, products


def _gx_run_id(stored: str) -> str:
    """``run_name/run_time`` of a GX run id stored as its JSON form (GX's own store-key layout)."""
    try:
        parsed = json.loads(stored)
    except ValueError:
        return stored
    if isinstance(parsed, dict) and "run_name" in parsed:
        return f"{parsed.get('run_name')}/{parsed.get('run_time')}"
    return stored


def waivers_of(settings: Settings, run_ids: list[int]) -> list[int]:
    """Ids of the waivers recorded on these quality runs (the waivers a training set relies on)."""
    from sqlalchemy import select

    from assay.catalog.db import session
    from assay.catalog.models import ExpectationResult

    if not run_ids:
        return []
    with session(settings.catalog_url()) as s:
        ids = s.execute(
            select(ExpectationResult.waiver_id)
            .where(ExpectationResult.quality_run_id.in_(run_ids), ExpectationResult.waived.is_(True),
                   ExpectationResult.waiver_id.is_not(None))
            .distinct()
        ).scalars().all()
    return sorted(int(i) for i in ids if i is not None)


@dataclass(frozen=True)
class WindowEvidence:
    """Which days of a window a training set may use, and the quality evidence it relies on."""

    usable: tuple[dt.date, ...]
    skipped: tuple[SkippedDay, ...]
    unvalidated: tuple[str, ...]
    partitions: tuple[str, ...]
    quality_run_ids: tuple[int, ...]
    gx_run_ids: tuple[str, ...]
    waiver_ids: tuple[int, ...]


def window_evidence(
    settings: Settings,
    contract: SearchLogContract,
    all_days: list[dt.date],
    window_end: dt.date,
    *,
    allow_unvalidated: bool,
    window: str,
) -> WindowEvidence:
    """Sort the window's days into usable and skipped by their quality evidence.

    A day is usable when the latest quality run of every event table on it, and of the products
    table, is ``ok``; with ``allow_unvalidated`` a failing day is kept and its partitions listed.

    Raises:
        NoValidatedData: no day is usable (the message names the window and the first reasons).
    """
    evidence, products_ev = collect_evidence(settings, contract, all_days, window_end)
    event_tabs, products_tab = event_tables(contract), products_table(contract)
    usable: list[dt.date] = []
    skipped: list[SkippedDay] = []
    unvalidated: list[str] = []
    for day in all_days:
        evs = [evidence[(t, day)] for t in event_tabs] + [products_ev]
        reasons = tuple(f"{ev.partition}: {p}" for ev in evs for p in ev.problems)
        if not reasons:
            usable.append(day)
        elif allow_unvalidated:
            usable.append(day)
            unvalidated += [ev.partition for ev in evs if ev.problems and ev.partition not in unvalidated]
        else:
            skipped.append(SkippedDay(day, reasons))
    for sk in skipped:
        log.warning("training set %s: day %s skipped: %s", window, sk.day, "; ".join(sk.reasons))
    if not usable:
        detail = "; ".join(f"{sk.day}: {sk.reasons[0]}" for sk in skipped[:3])
        raise NoValidatedData(
            f"training window {window}: no day has validated partitions of {', '.join(event_tabs)} and "
            f"{products_tab} (run the quality stage, or waive the failures) — {detail}"
        )
    used_evs = [evidence[(t, d)] for d in usable for t in event_tabs] + [products_ev]
    quality_run_ids = sorted({i for ev in used_evs for i in ev.run_ids})
    return WindowEvidence(
        usable=tuple(usable),
        skipped=tuple(skipped),
        unvalidated=tuple(unvalidated),
        partitions=tuple(sorted({ev.partition for ev in used_evs})),
        quality_run_ids=tuple(quality_run_ids),
        gx_run_ids=tuple(sorted({g for ev in used_evs for g in ev.gx_run_ids})),
        # Waivers relied on: those recorded on the runs of the days actually used.
        waiver_ids=tuple(waivers_of(settings, quality_run_ids)),
    )
