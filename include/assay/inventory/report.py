"""What an inventory run returns: figures per source (cheap to import, no database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class SourceReport:
    """One source in one inventory run.

    Attributes:
        name: the declared source name.
        kind: ``sql`` or ``files``.
        status: ``success``; ``partial`` (some assets could not be read and are recorded with
            status ``error``); ``failed`` (the source, or one of its schemas, could not be listed).
        error: why the source failed, when it did.
        seen: assets observed (read or not).
        new: assets seen for the first time (``asset_created`` events of this run).
        changed: assets with column-level schema events in this run.
        deleted: assets that vanished (soft-deleted) in this run.
        restored: deleted assets that came back in this run.
        errors: assets recorded with status ``error`` by this run.
        schema_events: schema events recorded by this run, all types.
        elapsed_s: seconds spent on the source.
        asset_errors: the first error messages, each naming its table or file.
    """

    name: str
    kind: str
    status: str
    error: str | None
    seen: int
    new: int
    changed: int
    deleted: int
    restored: int
    errors: int
    schema_events: int
    elapsed_s: float
    asset_errors: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["asset_errors"] = list(self.asset_errors)
        return out


@dataclass(frozen=True)
class InventoryReport:
    """The result of :func:`assay.inventory.run_inventory`."""

    run_key: str
    logical_date: dt.date
    status: str
    sources: tuple[SourceReport, ...]
    elapsed_s: float

    def source(self, name: str) -> SourceReport:
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)

    def totals(self) -> dict[str, int]:
        keys = ("seen", "new", "changed", "deleted", "restored", "errors", "schema_events")
        return {k: sum(getattr(s, k) for s in self.sources) for k in keys}

    def summary(self) -> str:
        """One line per source, for logs and exception messages."""
        lines = [f"inventory {self.run_key} ({self.logical_date}): {self.status} in {self.elapsed_s:.1f} s"]
        for s in self.sources:
            line = (
                f"  {s.name}: {s.status}; {s.seen} seen, {s.new} new, {s.changed} changed, "
                f"{s.deleted} deleted, {s.restored} restored, {s.errors} errors, {s.schema_events} schema events"
            )
            if s.error:
                line += f"; {s.error}"
            lines.append(line)
        return "\n".join(lines)
