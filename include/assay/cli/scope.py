"""Dates, run keys and the "nothing to do" rule shared by the CLI's pipeline commands.

* A date left out is the **last complete day in UTC** (yesterday): a command run today works on
  data that is whole. No command defaults to the demo's date; ``assay demo`` passes its own.
* Run keys carry their scope: ``cli/<command>/<scope>/<date>``, the scope being the sources or
  assets named (``all`` when none), so runs of different sources on one date keep their own rows.
* A run that found nothing to do for its date (no asset, no partition, no row) exits with
  :data:`EMPTY_EXIT` after saying so, unless ``--allow-empty``.
"""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Iterable
from typing import TYPE_CHECKING

from assay.errors import AssayError

if TYPE_CHECKING:
    from assay.quality.report import PartitionResult, QualityReport

#: Exit status of a run that found nothing to do (``--allow-empty`` makes it 0).
EMPTY_EXIT = 3
DATE_HELP = "logical date YYYY-MM-DD (any date, also before the DAGs' start_date); default: yesterday in UTC, the last complete day"
ALLOW_EMPTY_HELP = f"exit 0 when the date has nothing to do (default: say so and exit {EMPTY_EXIT})"


def last_complete_day(now: dt.datetime | None = None) -> dt.date:
    """Yesterday in UTC: the newest day whose data is complete."""
    current = now or dt.datetime.now(dt.UTC)
    if current.tzinfo is None:
        current = current.replace(tzinfo=dt.UTC)
    return current.astimezone(dt.UTC).date() - dt.timedelta(days=1)


def parse_day(value: str | None, now: dt.datetime | None = None) -> dt.date:
    """``value`` as a date, or :func:`last_complete_day` when it is ``None``.

    Raises:
        AssayError: not ``YYYY-MM-DD``.
    """
    if value is None:
        return last_complete_day(now)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise AssayError(f"not a date (YYYY-MM-DD): {value!r}") from None


def scope_of(names: Iterable[str] | None) -> str:
    """The scope part of a run key: the names given, sorted and joined by ``+``; ``all`` for none."""
    chosen = sorted(set(names or ()))
    return "+".join(chosen) if chosen else "all"


def cli_run_key(command: str, day: dt.date, *scopes: Iterable[str] | None) -> str:
    """``cli/<command>/<scope>/<date>``; several scopes (source, assets) are joined by ``:``."""
    parts = [scope_of(s) for s in scopes] or ["all"]
    scope = ":".join(p for p in parts if p != "all") or "all"
    return f"cli/{command}/{scope}/{day.isoformat()}"


def os_user() -> str:
    """Who runs the command, as the operating system names them (recorded as the actor)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no passwd entry and no LOGNAME/USER (some containers)
        return "unknown"


def rows_read(p: PartitionResult) -> int | None:
    """Rows a validated partition had, from what GX reported (``None`` when nothing says)."""
    seen: list[int] = []
    rows = p.statistics.get("rows") if isinstance(p.statistics, dict) else None
    if isinstance(rows, int):
        seen.append(rows)
    for o in p.outcomes:
        if o.expectation_type.startswith("expect_table_row_count") and isinstance(o.observed_value, int):
            seen.append(o.observed_value)
        count = o.details.get("element_count")
        if isinstance(count, int):
            seen.append(count)
    return max(seen) if seen else None


def nothing_validated(report: QualityReport) -> bool:
    """No partition planned, or every partition had zero rows: the date had nothing to validate."""
    return not report.partitions or all(rows_read(p) == 0 for p in report.partitions)
