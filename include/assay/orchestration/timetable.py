"""One Airflow run per day, named for the day it processes: :class:`DailyPartitions`.

A daily DAG's run for day D has logical date D 00:00, data interval D 00:00 → D+1 00:00 and run id
``<type>__D T00:00:00+00:00`` however it starts: on schedule (after D ends), triggered by hand or
through the REST API with logical date D, or created by a backfill from D1 to D2 (D1..D2
inclusive). Airflow's own timetables each break one of these (``docs/ARCHITECTURE.md``,
"Scheduling and partitions"); this one is registered by the assay plugin (``plugins/``), as
Airflow requires of a custom timetable, so every Airflow process can (de)serialise it.

``scheduled=False`` keeps the day semantics (manual runs, backfills) but never schedules a run by
itself: the DAG then runs on an asset (``AssetOrTimeSchedule``) and stays backfillable.
"""

from __future__ import annotations

from typing import Any

from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction
from airflow.timetables.interval import CronDataIntervalTimetable
from pendulum import DateTime

#: Midnight in the timetable's zone: the partition boundary.
MIDNIGHT = "0 0 * * *"


class DailyPartitions(CronDataIntervalTimetable):
    """Daily partitions: the run for day D has logical date D and data interval [D, D+1)."""

    def __init__(self, *, timezone: str | Any = "UTC", scheduled: bool = True) -> None:
        super().__init__(MIDNIGHT, timezone)
        self.scheduled = scheduled
        self.description = (
            "one run per day, after the day ends" if scheduled else "one run per day, on asset events (no schedule)"
        )

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> DailyPartitions:
        """Rebuild from :meth:`serialize`."""
        from airflow._shared.timezones.timezone import parse_timezone

        return cls(timezone=parse_timezone(data["timezone"]), scheduled=bool(data.get("scheduled", True)))

    def serialize(self) -> dict[str, Any]:
        """What the serialized DAG stores."""
        from airflow.serialization.encoders import encode_timezone

        return {"timezone": encode_timezone(self._timezone), "scheduled": self.scheduled}

    @property
    def summary(self) -> str:
        """What the UI shows as the schedule."""
        return "daily partitions" if self.scheduled else "daily partitions (on assets)"

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """The day that contains ``run_after`` (Airflow passes the chosen logical date here).

        Airflow's cron timetables return the last *complete* interval before it, so a manual run
        for D got the interval of D-1 (or D-2 with an hour offset).
        """
        start = self._align_to_prev(run_after)
        return DataInterval(start=start, end=self._get_next(start))

    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        """As a cron data-interval timetable; nothing for the scheduler when ``scheduled=False``.

        Backfills iterate with ``catchup=True`` and so still get every day; assay's DAGs keep
        ``catchup=False`` (the integrity test checks it), so the scheduler never does.
        """
        if not self.scheduled and not restriction.catchup:
            return None
        info = super().next_dagrun_info(
            last_automated_data_interval=last_automated_data_interval, restriction=restriction
        )
        if info is not None and info.data_interval is not None and restriction.catchup:
            # Only backfills iterate with catchup (every DAG keeps catchup=False). POST
            # /api/v2/backfills names its runs from ``run_after`` (DagRun.generate_run_id), not from
            # this timetable's generate_run_id, so run_after = D makes them ``backfill__D``; D is past,
            # so the runs are not held back.
            return DagRunInfo(run_after=info.data_interval.start, data_interval=info.data_interval)
        return info

    def generate_run_id(
        self, *, run_type: Any, run_after: DateTime, data_interval: DataInterval | None, **extra: Any
    ) -> str:
        """``scheduled__2026-11-19T00:00:00+00:00``: the day processed, never the day it ran."""
        if data_interval is None:
            return super().generate_run_id(run_type=run_type, run_after=run_after, data_interval=None, **extra)
        return str(run_type.generate_run_id(suffix=data_interval.start.isoformat()))
