"""Schema fingerprints and diffs: pure functions over column lists.

A column list is a sequence of dicts ``{name, ordinal, data_type, nullable}`` (the shape stored
in ``schema_versions.columns``). The fingerprint is the sha256 of its canonical JSON, so the same
columns in the same order always give the same fingerprint, on any machine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assay.catalog.models import SchemaEventType

Column = Mapping[str, Any]

#: The keys of a column entry, in canonical order.
COLUMN_KEYS: tuple[str, ...] = ("name", "ordinal", "data_type", "nullable")


def canonical(columns: Sequence[Column]) -> list[dict[str, Any]]:
    """The columns as stored: only the canonical keys, sorted by ordinal."""
    return [
        {"name": str(c["name"]), "ordinal": int(c["ordinal"]), "data_type": str(c["data_type"]), "nullable": bool(c["nullable"])}
        for c in sorted(columns, key=lambda c: int(c["ordinal"]))
    ]


def fingerprint(columns: Sequence[Column]) -> str:
    """sha256 (hex) of the canonical column list: name, type, nullability and ordinal."""
    payload = json.dumps(
        [[c[k] for k in COLUMN_KEYS] for c in canonical(columns)], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Change:
    """One schema event to record: which column (``''`` for the asset) and its old and new state."""

    event_type: SchemaEventType
    column_name: str
    old: Any
    new: Any


def diff(old: Sequence[Column], new: Sequence[Column]) -> list[Change]:
    """The column-level changes from ``old`` to ``new``.

    Columns are matched by name, so a rename reads as one column removed and one added. A column
    whose type and nullability both changed gives two events. A pure reordering changes the
    fingerprint (a new schema version) but gives no event: there is no event type for it, and
    ordinals that shift because a column was added or removed are explained by that event.

    Returns:
        Changes sorted by event type, then column name (a stable order for the catalog).
    """
    before = {c["name"]: c for c in canonical(old)}
    after = {c["name"]: c for c in canonical(new)}
    changes: list[Change] = []
    for name in after.keys() - before.keys():
        changes.append(Change(SchemaEventType.COLUMN_ADDED, name, None, after[name]))
    for name in before.keys() - after.keys():
        changes.append(Change(SchemaEventType.COLUMN_REMOVED, name, before[name], None))
    for name in before.keys() & after.keys():
        b, a = before[name], after[name]
        if b["data_type"] != a["data_type"]:
            changes.append(Change(SchemaEventType.TYPE_CHANGED, name, b["data_type"], a["data_type"]))
        if b["nullable"] != a["nullable"]:
            changes.append(Change(SchemaEventType.NULLABILITY_CHANGED, name, b["nullable"], a["nullable"]))
    return sorted(changes, key=lambda ch: (ch.event_type.value, ch.column_name))
