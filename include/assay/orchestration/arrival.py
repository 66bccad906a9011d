"""Data that has not arrived waits: which partitions of a day are missing, and a deferrable wait for them.

A day D has *arrived* when every declared partitioned asset has it:

* a SQL asset declared with a ``partition_column`` (``config/sources.yaml``): at least one row
  ``WHERE partition_column = D`` (read through the source's own read-only URL);
* a file series (a file source with a ``partition_regex``): every series that had a file in the
  :data:`SERIES_LOOKBACK_DAYS` days before D has its file for D.

Unpartitioned assets (dimension tables, undated files) have no day to wait for. The first task of
each daily DAG is a :class:`PartitionArrivalSensor`: with the data there it returns at once (so
``airflow dags test`` never waits); otherwise it defers to :class:`PartitionArrivalTrigger` in
the triggerer (no worker slot held) until the data arrives or the deadline passes — the end of D
plus the ``arrival_deadline_hours`` Param. Past the deadline the run fails once, with one
freshness failure naming every missing partition, and nothing downstream runs: no expectation
failures or anomalies on empty partitions, no ``validated`` event for the day.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

if TYPE_CHECKING:
    from assay.config import Settings

log = logging.getLogger(__name__)

#: A file series counts as expected on D when it had a file in the days before D.
SERIES_LOOKBACK_DAYS = 7
#: Hours after the end of a day (UTC) that its data may still arrive, unless a run says otherwise.
DEFAULT_DEADLINE_HOURS = 24
#: How often the triggerer looks again.
DEFAULT_POLL_SECONDS = 300.0


def missing_partitions(
    day: dt.date, sources: Sequence[str] | None = None, assets: Sequence[str] | None = None,
    settings: Settings | None = None,
) -> list[str]:
    """The declared partitions of ``day`` that have not arrived, each named (empty: all there).

    Args:
        sources: only these declared sources (empty = all).
        assets: only assets whose name (or file series) contains one of these (empty = all).
        settings: default: the process's (:func:`assay.config.get_settings`).

    Raises:
        SourceError, ConfigError: a source cannot be read or the declarations are invalid (an
            infrastructure error: the task retries).
    """
    from assay.config import get_settings
    from assay.sources.declarations import SqlSource, default_path, load

    settings = settings or get_settings()
    missing: list[str] = []
    for src in load(default_path(settings)).sources:
        if sources and src.name not in sources:
            continue
        if isinstance(src, SqlSource):
            missing += _sql_missing(src, src.resolve_url(settings), day, assets)
        elif src.partition_regex:
            missing += _files_missing(src, src.resolve_root(settings), day, assets)
    return missing


def _wanted(name: str, assets: Sequence[str] | None) -> bool:
    return not assets or any(a in name for a in assets)


def _sql_missing(src: Any, url: str, day: dt.date, assets: Sequence[str] | None) -> list[str]:
    """Declared partitioned tables of a SQL source without a row for ``day``."""
    import sqlalchemy as sa

    from assay.catalog.db import engine
    from assay.catalog.urls import scrub
    from assay.errors import SourceError

    tables = {n: d.partition_column for n, d in src.assets.items() if d.partition_column and src.wants(n)}
    tables = {n: c for n, c in tables.items() if _wanted(n, assets)}
    if not tables:
        return []
    missing: list[str] = []
    try:
        with engine(url).connect() as conn:
            inspector = sa.inspect(conn)
            for name, column in sorted(tables.items()):
                schema = next((s for s in src.schemas if inspector.has_table(name, schema=s)), None)
                if schema is None:
                    missing.append(f"{src.name}:{name} (table not found in {', '.join(src.schemas)})")
                    continue
                table = sa.table(name, sa.column(column), schema=schema)
                found = conn.execute(sa.select(sa.literal(1)).select_from(table).where(table.c[column] == day).limit(1))
                if found.first() is None:
                    missing.append(f"{src.name}:{schema}/{name} (no rows with {column} = {day})")
    except sa.exc.SQLAlchemyError as exc:
        raise SourceError(f"source {src.name}: cannot check the arrival of {day}: {scrub(str(exc), url)}") from None
    return missing


def _files_missing(src: Any, root: Any, day: dt.date, assets: Sequence[str] | None) -> list[str]:
    """File series of a file source that had files before ``day`` but none for it."""
    from assay.errors import SourceError
    from assay.sources.series import series_of

    if not root.is_dir():
        raise SourceError(f"source {src.name}: folder {root} does not exist or is not a folder")
    seen: dict[str, set[dt.date]] = {}
    for pattern in src.patterns:
        for path in root.glob(pattern):
            member = series_of(src.partition_regex, path.relative_to(root).as_posix())
            when = _day_of(member.partition) if member is not None else None
            if member is not None and when is not None:
                seen.setdefault(member.key, set()).add(when)
    since = day - dt.timedelta(days=SERIES_LOOKBACK_DAYS)
    return [
        f"{src.name}:{key} (no file for {day})"
        for key, days in sorted(seen.items())
        if day not in days and any(since <= d < day for d in days) and _wanted(key, assets)
    ]


def _day_of(partition: str) -> dt.date | None:
    """A file's partition as a day (``2026-11-05``, ``20261105``, ``2026_11_05`` …); None when not a date."""
    digits = "".join(ch for ch in partition if ch.isdigit())
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8])) if len(digits) == 8 else None
    except ValueError:
        return None


def deadline(day: dt.date, hours: float | None) -> dt.datetime:
    """When the data of ``day`` is late: the end of the day (UTC) plus ``hours``."""
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return end + dt.timedelta(hours=DEFAULT_DEADLINE_HOURS if hours is None else hours)


def freshness_message(day: dt.date, missing: Sequence[str], due: dt.datetime) -> str:
    """The one freshness failure of a late day: every missing partition, named."""
    return (
        f"freshness: {len(missing)} partition(s) of {day} had not arrived by the deadline "
        f"{due.isoformat(timespec='minutes')}: " + "; ".join(missing)
    )


class PartitionArrivalTrigger(BaseTrigger):
    """Runs in the triggerer: checks the day's partitions every ``poll_seconds`` until all arrived or ``deadline``."""

    def __init__(
        self, day: str, deadline: str, sources: list[str] | None = None, assets: list[str] | None = None,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
    ) -> None:
        super().__init__()
        self.day, self.deadline = day, deadline
        self.sources, self.assets, self.poll_seconds = sources, assets, poll_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and arguments the triggerer rebuilds it from."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"day": self.day, "deadline": self.deadline, "sources": self.sources, "assets": self.assets,
             "poll_seconds": self.poll_seconds},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yield ``arrived`` as soon as nothing is missing, or ``late`` with the missing list at the deadline."""
        from assay.errors import AssayError

        day, due = dt.date.fromisoformat(self.day), dt.datetime.fromisoformat(self.deadline)
        while True:
            try:
                missing = await asyncio.to_thread(missing_partitions, day, self.sources, self.assets)
                problem = None
            except AssayError as exc:  # a source down for a moment: look again at the next poll
                missing, problem = [], str(exc)
                self.log.warning("%s: cannot check the arrival: %s", self.day, problem)
            now = dt.datetime.now(dt.UTC)
            if problem is None and not missing:
                yield TriggerEvent({"status": "arrived", "day": self.day})
                return
            if now >= due:
                # A check that keeps failing is an infrastructure error (the task retries), not lateness.
                status = {"status": "error", "error": problem} if problem else {"status": "late", "missing": missing}
                yield TriggerEvent({"day": self.day, **status})
                return
            if missing:
                self.log.info("%s: waiting for %s", self.day, "; ".join(missing))
            await asyncio.sleep(min(self.poll_seconds, (due - now).total_seconds()))


class PartitionArrivalSensor(BaseOperator):
    """Waits (deferred) until the run's day has arrived; fails once, cleanly, when it is late.

    Reads the Params ``arrival_deadline_hours`` (null = :data:`DEFAULT_DEADLINE_HOURS`) and the
    run's scope (``sources`` / ``assets``).
    """

    ui_color = "#e8f4ff"

    def __init__(self, *, poll_seconds: float = DEFAULT_POLL_SECONDS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.poll_seconds = poll_seconds

    def execute(self, context: Any) -> str:
        """Return at once when the day is there; defer until it is; fail past the deadline."""
        from assay.orchestration import partition_date

        day = partition_date(context)
        params = context.get("params") or {}
        sources, assets = params.get("sources") or None, params.get("assets") or None
        due = deadline(day, params.get("arrival_deadline_hours"))
        missing = missing_partitions(day, sources, assets)
        if not missing:
            return day.isoformat()
        if dt.datetime.now(dt.UTC) >= due:
            _late(day, missing, due)
        log.info("%s has not arrived (%s); waiting until %s", day, "; ".join(missing), due.isoformat())
        self.defer(
            trigger=PartitionArrivalTrigger(day.isoformat(), due.isoformat(), sources, assets, self.poll_seconds),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> str:
        """Back from the triggerer: the day arrived, or it is late (one freshness failure)."""
        from assay.errors import SourceError

        day = dt.date.fromisoformat(event["day"])
        if event.get("status") == "error":
            raise SourceError(f"could not check the arrival of {day}: {event.get('error')}")
        if event.get("status") != "arrived":
            params = context.get("params") or {}
            _late(day, event.get("missing") or [], deadline(day, params.get("arrival_deadline_hours")))
        return day.isoformat()


def _late(day: dt.date, missing: Sequence[str], due: dt.datetime) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    # A late day is a data fact, not a flake: no retry, no traceback chain, one message.
    raise AirflowFailException(freshness_message(day, missing, due))
