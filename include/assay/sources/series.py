"""File series: the daily files of one feed, identified in ONE place for inventory and profiling.

A file source with a ``partition_regex`` lands one file per partition (day), e.g.
``feeds/northwind/2026-11-05/products.csv``. Each file is its own catalog asset; the files whose
paths differ only in the partition form a series: ``feeds/northwind/{partition}/products.csv``.
Inventory diffs a new file's columns against the previous file of its series (schema events
across days), profiling judges a file's metrics against the earlier files of its series
(anomaly history). Both ask this module, so the two can never disagree on what a series is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

#: Stands for the partition in a series key.
PLACEHOLDER = "{partition}"

T = TypeVar("T")


@dataclass(frozen=True)
class SeriesMember:
    """Where a file sits: its series key and its partition (e.g. ``2026-11-05``)."""

    key: str
    partition: str


def series_of(partition_regex: str | None, location: str | None) -> SeriesMember | None:
    """The series of a file at ``location`` (relative path), or ``None`` when it has no partition.

    The key is the location with the matched ``partition`` group replaced by
    :data:`PLACEHOLDER`; only that occurrence is replaced, so a date elsewhere in the path (a
    folder named after a year, say) stays part of the key.
    """
    if not partition_regex or not location:
        return None
    m = re.search(partition_regex, location)
    if m is None or m.group("partition") is None:
        return None
    start, end = m.span("partition")
    return SeriesMember(location[:start] + PLACEHOLDER + location[end:], m.group("partition"))


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

    Partitions compare as text, which orders ISO dates (the partition format the declarations
    use) chronologically.
    """
    best: tuple[str, T] | None = None
    for p, value in earlier:
        if p < partition and (best is None or p > best[0]):
            best = (p, value)
    return best[1] if best else None
