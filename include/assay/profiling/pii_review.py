"""Steward review items for PII found value by value in columns not classified as PII.

The profile's value-level scan (:mod:`assay.classify.pii_scan`) counts, per text column, the
values that hold an e-mail address, a phone or card number, an IBAN or an IP address. A column
classified PII is masked anyway; any other column with such values is a question for the
steward: classify it as PII, or have the data cleaned. One review item (kind
``pii_finding``) per column, partition and logical date, upserted on ``(kind, ref)`` with
``ref = pii_values/<asset id>/<partition>/<logical date>/<column>``, so a rerun refreshes it
and keeps the steward's status; an item the rerun no longer finds is deleted while still open.
Only counts and masked examples are written (the summary is screened as well).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from assay.catalog.models import ReviewItem, ReviewKind, ReviewStatus
from assay.catalog.upsert import upsert
from assay.classify.scrub import safe_value
from assay.profiling.targets import Profile, Target

#: Prefix of the refs of these review items.
REF_PREFIX = "pii_values"


def review_ref(asset_id: int, partition_key: str, day: dt.date, column: str) -> str:
    """The stable key of a column's PII-values review item."""
    return f"{REF_PREFIX}/{asset_id}/{partition_key}/{day.isoformat()}/{column}"


def findings(profile: Profile, classified: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """``{column: pii_values}`` of the columns not classified PII that hold PII-looking values."""
    out: dict[str, dict[str, Any]] = {}
    for column, m in profile.columns.items():
        if column in classified:
            continue
        found = {kind: f for kind, f in (m.get("pii_values") or {}).items() if int(f.get("count") or 0) > 0}
        if found:
            out[column] = found
    return out


def summary(label: str, partition_key: str, column: str, found: Mapping[str, Any], non_null: int) -> str:
    """One line a steward reads: which column, how many values of which kind, masked examples."""
    parts = []
    for kind, f in found.items():
        examples = ", ".join(f.get("examples_masked") or [])
        parts.append(f"{f['count']:,} {kind}" + (f" (e.g. {examples})" if examples else ""))
    text = (
        f"{label} {partition_key}: column {column} is not classified PII but holds "
        f"{'; '.join(parts)} among {non_null:,} values"
    )
    return str(safe_value(text, limit=1000))


def open_reviews(s: Session, target: Target, day: dt.date, run_id: int, profile: Profile) -> int:
    """Open (or refresh) one review item per column with PII-looking values; returns how many.

    Open items of this partition and date whose column no longer has such values are deleted.
    """
    found = findings(profile, target.pii)
    rows = []
    for column, kinds in found.items():
        non_null = int(profile.columns[column].get("non_null_count") or 0)
        rows.append(
            {
                "kind": ReviewKind.PII_FINDING.value,
                "ref": review_ref(target.asset_id, target.partition_key, day, column),
                "asset_id": target.asset_id,
                "summary": summary(target.label, target.partition_key, column, kinds, non_null),
                "details": {
                    "reason": "pii_values",
                    "partition_key": target.partition_key,
                    "logical_date": day.isoformat(),
                    "column_name": column,
                    "pii_values": kinds,
                    "non_null_count": non_null,
                    "profile_run_id": run_id,
                },
            }
        )
    if rows:
        upsert(s, ReviewItem, rows, ["kind", "ref"], update=["summary", "details"])
    prefix = f"{REF_PREFIX}/{target.asset_id}/{target.partition_key}/{day.isoformat()}/"
    stale = delete(ReviewItem).where(
        ReviewItem.kind == ReviewKind.PII_FINDING.value,
        ReviewItem.ref.startswith(prefix, autoescape=True),
        ReviewItem.status == ReviewStatus.OPEN.value,
    )
    if rows:
        stale = stale.where(ReviewItem.ref.not_in([r["ref"] for r in rows]))
    s.execute(stale)
    return len(rows)
