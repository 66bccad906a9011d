"""File series: the dated files of one feed, identified in ONE place for inventory, profiling and quality.

A file source lands one file per partition (day), e.g. ``feeds/northwind/2026-11-05/products.csv``
or ``exports/sellers_20261105.csv``. Each file is its own catalog asset; the files whose paths
differ only in the partition form a *series*, named by its key:
``feeds/northwind/{partition}/products.csv``. The series is the asset with partitions: inventory
diffs a new file's columns against the previous file of its series (schema events across days),
profiling judges a file's metrics against the earlier files of its series (anomaly history), and
suggestions read the profiles of the whole series. All of them ask this module, so they can never
disagree on what a series is.

Where the partition comes from:

* a source's ``partition_regex`` (a named group ``partition``): only the matched occurrence is
  replaced in the key, so a date elsewhere in the path (a folder named after a year) stays part of
  the key;
* otherwise :data:`DEFAULT_PARTITION_REGEX`, a calendar date written ``2026-11-05``,
  ``2026_11_05``, ``2026/11/05``, ``2026.11.05`` or ``20261105`` and not touching other digits.
  Only real dates count (``20261399`` is no partition). The last date in the path is the
  partition, and every occurrence of that same date is replaced in the key, so
  ``2026-11-05/sellers_20261105.csv`` belongs to ``{partition}/sellers_{partition}.csv``.

A partition that is a date (in any of those spellings) is given as an ISO date (``2026-11-05``),
so partitions compare as text chronologically and match a run's logical date.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

#: Stands for the partition in a series key.
PLACEHOLDER = "{partition}"
#: The partition of a file source that declares no ``partition_regex``: a date in the path.
DEFAULT_PARTITION_REGEX = (
    r"(?<![0-9])(?P<partition>(?:19|20|21)[0-9]{2}(?P<sep>[-_/.]?)[01][0-9](?P=sep)[0-3][0-9])(?![0-9])"
)
_DATE_TEXT = re.compile(r"^((?:19|20|21)[0-9]{2})[-_/.]?([01][0-9])[-_/.]?([0-3][0-9])$")

T = TypeVar("T")


@dataclass(frozen=True)
class SeriesMember:
    """Where a file sits: its series key and its partition (e.g. ``2026-11-05``)."""

    key: str
    partition: str

    @property
    def date(self) -> dt.date | None:
        """The partition as a date (``None`` for a partition that is not a date)."""
        return partition_date(self.partition)


def partition_date(partition: str | None) -> dt.date | None:
    """A partition written as a date (``2026-11-05``, ``20261105``, ``2026/11/05``...), or ``None``."""
    m = _DATE_TEXT.match(partition or "")
    if m is None:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:  # 2026-02-30 is digits, not a date
        return None


def _normalised(partition: str) -> str:
    day = partition_date(partition)
    return day.isoformat() if day else partition


@lru_cache(maxsize=64)
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def series_of(partition_regex: str | None, location: str | None) -> SeriesMember | None:
    """The series of a file at ``location`` (relative path), or ``None`` when it has no partition.

    Args:
        partition_regex: the source's regex with a ``partition`` group; :data:`DEFAULT_PARTITION_REGEX`
            for a source that declares none (see :attr:`FileSource.series_regex`); ``None``: no series.
        location: the file's path relative to the source root.
    """
    if not partition_regex or not location:
        return None
    if partition_regex == DEFAULT_PARTITION_REGEX:
        return _default_series(location)
    m = _compiled(partition_regex).search(location)
    if m is None or m.group("partition") is None:
        return None
    start, end = m.span("partition")
    return SeriesMember(location[:start] + PLACEHOLDER + location[end:], _normalised(m.group("partition")))


def _default_series(location: str) -> SeriesMember | None:
    """The last real date in the path is the partition; each occurrence of it leaves the key."""
    dates = [
        (m.span("partition"), day)
        for m in _compiled(DEFAULT_PARTITION_REGEX).finditer(location)
        if (day := partition_date(m.group("partition"))) is not None
    ]
    if not dates:
        return None
    chosen = dates[-1][1]
    key, last = [], 0
    for (start, end), day in dates:
        if day == chosen:
            key.append(location[last:start] + PLACEHOLDER)
            last = end
    key.append(location[last:])
    return SeriesMember("".join(key), chosen.isoformat())


def members(partition_regex: str | None, key: str, items: Iterable[tuple[T, str | None]]) -> list[T]:
    """The items (``(value, location)`` pairs) whose location belongs to series ``key``."""
    out = []
    for value, location in items:
        found = series_of(partition_regex, location)
        if found is not None and found.key == key:
            out.append(value)
    return out


def predecessor(partition: str, earlier: Iterable[tuple[str, T]]) -> T | None:
    """The value of the latest partition before ``partition`` among ``(partition, value)`` pairs.

    Partitions compare as text, which orders ISO dates (the form :func:`series_of` gives a date
    partition in) chronologically.
    """
    best: tuple[str, T] | None = None
    for p, value in earlier:
        if p < partition and (best is None or p > best[0]):
            best = (p, value)
    return best[1] if best else None


def after(day: dt.date, partition_regex: str | None, location: str | None) -> bool:
    """Whether the file at ``location`` belongs to a later day than ``day`` (its partition date > ``day``).

    A file without a partition, or whose partition is not a date, belongs to no day: ``False``.
    """
    member = series_of(partition_regex, location)
    found = member.date if member else None
    return found is not None and found > day
