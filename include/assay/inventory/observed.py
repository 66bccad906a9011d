"""What the inventory observes: :class:`ObservedAsset` values, shared by the SQL and file observers.

Nothing here writes to the catalog or reads a source; :mod:`assay.inventory.observe` (SQL) and
:mod:`assay.inventory.observe_files` (files) fill these values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from assay.catalog.models import AssetKind
from assay.sources.declarations import AssetDecl
from assay.sources.sql import ColumnInfo

#: Values per column handed to classification.
SAMPLE_ROWS = 200
#: What a driver or pyarrow raises for one value it cannot hand to Python (a date of year 10000,
#: a number out of range, text in a broken encoding): recorded against the asset, never the run.
VALUE_ERRORS: tuple[type[Exception], ...] = (ValueError, ArithmeticError)


@dataclass
class ObservedAsset:
    """One table, view or file as the inventory saw it.

    ``columns is None`` means the columns are unknown (the asset could not be read far enough).
    ``error`` set means the asset could not be (fully) read: it is recorded with status ``error``.
    ``note`` is a warning for a readable asset (an empty file, a ``.csv`` that is tab-separated);
    it goes in the asset's ``error`` column while the status stays ``active``.
    """

    namespace: str
    name: str
    kind: AssetKind
    location: str
    decl: AssetDecl
    columns: tuple[ColumnInfo, ...] | None = None
    row_count: int | None = None
    row_count_is_estimate: bool = False
    size_bytes: int | None = None
    freshness_at: dt.datetime | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    extra_tags: list[str] = field(default_factory=list)
    samples: dict[str, list[str | None]] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass
class Listing:
    """What the observer of one source learnt besides the assets: which namespaces it could list.

    Only assets in a namespace that was listed completely can be declared vanished; a namespace
    that failed to list is in ``failed`` with the reason.
    """

    failed: dict[str, str] = field(default_factory=dict)
    #: Files listed but not observed: their partition is later than the run's logical date.
    later: int = 0


def db_error_text(exc: BaseException) -> str:
    """The first line of the driver's message (SQLAlchemy appends the statement and a link)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return f"{type(orig if orig is not None else exc).__name__}: {first}"


def as_utc(value: Any) -> dt.datetime | None:
    """A newest event time as an aware UTC datetime; a naive timestamp is taken to be UTC.

    ISO-8601 text (event times in a JSON Lines feed) is parsed.

    Raises:
        TypeError: the value is not a date or a timestamp.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), dt.UTC)
    if isinstance(value, str):
        try:
            return as_utc(dt.datetime.fromisoformat(value))
        except ValueError:
            raise TypeError(f"{value[:40]!r} is not an ISO date or timestamp") from None
    raise TypeError(f"{type(value).__name__} is not a date or timestamp")


def unreadable(column: str, exc: BaseException) -> str:
    """Why a column's value could not be handed to Python, for the asset's error."""
    return f"column {column!r} holds a value that cannot be read ({type(exc).__name__}: {exc})"
