"""The inventory's automatic labels: which to store, which to drop, the sample digest they keep.

Only ``source = 'auto'`` rows are written or deleted: a steward's row is never touched. Each
automatic label keeps the digest of the sample it was computed from (:data:`SAMPLE_KEY` in its
evidence), so a column whose sample, type, table and classifier settings are unchanged is not
classified again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, tuple_

from assay.catalog.models import Classification, DecisionSource
from assay.catalog.upsert import upsert_keyed
from assay.inventory.lifecycle import RunContext

#: Who the automatic classifications are attributed to.
DECIDED_BY = "assay.inventory"
#: Key in a classification's evidence holding the digest of the sample it was computed from.
SAMPLE_KEY = "inventory_sample_sha256"

#: Per column: ``(classifications, sample digest)`` for the columns classified this run.
Labels = Mapping[str, tuple[Sequence[Any], str]]
#: The stored automatic labels of an asset: column id -> kind -> sample digest.
StoredLabels = Mapping[int, Mapping[str, str | None]]


def sample_digest(table: str, data_type: str, values: Sequence[str | None], use_embeddings: bool) -> str:
    """sha256 of everything classification looks at for one column (a digest, never the values)."""
    payload = json.dumps([table, data_type, use_embeddings, list(values)], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def classification_rows(
    ctx: RunContext,
    stored: StoredLabels,
    column_ids: Mapping[str, int],
    labels: Labels,
) -> tuple[dict[tuple[int, str], dict[str, Any]], list[tuple[int, str]]]:
    """The automatic label rows to upsert and the ``(column id, kind)`` labels to delete.

    Args:
        stored: the asset's automatic labels as the catalog held them before this run.
        column_ids: ``{column name: column id}`` of the asset's present columns.
        labels: ``{column name: (classifications, sample digest)}`` for the columns classified
            this run; columns not in it keep their stored labels.
    """
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    for name, (found, digest) in labels.items():
        column_id = column_ids[name]
        for c in found:
            k = (column_id, c.kind)
            if k in rows and rows[k]["score"] >= c.score:
                continue
            rows[k] = {
                "column_id": column_id,
                "kind": c.kind,
                "source": DecisionSource.AUTO.value,
                "label": c.label,
                "score": float(c.score),
                "method": c.method,
                "evidence": {**c.evidence, SAMPLE_KEY: digest},
                "decided_by": DECIDED_BY,
                "decided_at": ctx.observed_at,
            }
    stale = [
        (cid, kind)
        for name in labels
        for cid in [column_ids[name]]
        for kind in (stored.get(cid) or {})
        if (cid, kind) not in rows
    ]
    return rows, stale


def write_classifications(conn: Connection, rows: Sequence[dict[str, Any]], stale: Sequence[tuple[int, str]]) -> None:
    """Upsert the new automatic labels and delete the stale ones (``source = 'auto'`` only)."""
    upsert_keyed(
        conn,
        Classification,
        rows,
        ("column_id", "kind", "source"),
        ["label", "score", "method", "evidence", "decided_by", "decided_at"],
        as_recordset=True,
    )
    if stale:
        conn.execute(
            delete(Classification).where(
                Classification.source == DecisionSource.AUTO.value,
                tuple_(Classification.column_id, Classification.kind).in_(list(stale)),
            )
        )
