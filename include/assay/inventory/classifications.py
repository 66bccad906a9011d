"""The inventory's automatic labels: which to store, which to drop, the sample digest they keep.

Only ``source = 'auto'`` rows are written or deleted: a steward's row is never touched. Each
automatic label keeps the digest of the sample it was computed from (:data:`SAMPLE_KEY` in its
evidence), so a column whose sample, type, table and classifier settings are unchanged is not
classified again.

A column only the sentence embedding can label may instead be left *pending* (the background
route, the default): the rule labels are written at once and a ``pending_labels`` row (kind
:data:`PENDING` in the state and rows here) marks the column for :mod:`assay.inventory.labelling`,
which writes the labels the inline route would have written and deletes the row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy import Connection, delete, select, tuple_

from assay.catalog.models import Asset, AssetColumn, Classification, DecisionSource, PendingLabel
from assay.catalog.upsert import upsert_keyed
from assay.inventory.lifecycle import RunContext

#: Who the automatic classifications are attributed to.
DECIDED_BY = "assay.inventory"
#: Key in a classification's evidence holding the digest of the sample it was computed from.
SAMPLE_KEY = "inventory_sample_sha256"

#: Where the embedding's labels are computed: in the inventory run (``inline``), or by the labelling
#: step after it (``background``: the run writes the rule labels and marks the rest pending).
LabelRoute = Literal["inline", "background"]
LABEL_ROUTES: tuple[LabelRoute, ...] = ("inline", "background")
#: The kind a column's pending marker has in the stored state and in the rows built here.
PENDING = "pending"


@dataclass(frozen=True)
class Pending:
    """Stands among a column's classifications for the labels the labelling step will write."""

    kind: str = PENDING


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
    return label_rows(ctx.observed_at, stored, column_ids, labels)


def label_rows(
    observed_at: dt.datetime,
    stored: StoredLabels,
    column_ids: Mapping[str, int],
    labels: Labels,
) -> tuple[dict[tuple[int, str], dict[str, Any]], list[tuple[int, str]]]:
    """:func:`classification_rows` for labels of a sample observed at ``observed_at`` (their ``decided_at``)."""
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    for name, (found, digest) in labels.items():
        column_id = column_ids[name]
        for c in found:
            if isinstance(c, Pending):
                rows[(column_id, PENDING)] = {
                    "column_id": column_id,
                    "sample_digest": digest,
                    "observed_at": observed_at,
                }
                continue
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
                "decided_at": observed_at,
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
    """Upsert the new automatic labels and pending marks, delete the stale ones (``source = 'auto'`` only)."""
    labels = [r for r in rows if "sample_digest" not in r]
    marks = [r for r in rows if "sample_digest" in r]
    upsert_keyed(
        conn,
        Classification,
        labels,
        ("column_id", "kind", "source"),
        ["label", "score", "method", "evidence", "decided_by", "decided_at"],
        as_recordset=True,
    )
    # A column marked again keeps its first marked_at: the page can say how long it has waited.
    upsert_keyed(conn, PendingLabel, marks, ("column_id",), ["sample_digest", "observed_at"], as_recordset=True)
    old_labels = [k for k in stale if k[1] != PENDING]
    old_marks = [cid for cid, kind in stale if kind == PENDING]
    if old_labels:
        conn.execute(
            delete(Classification).where(
                Classification.source == DecisionSource.AUTO.value,
                tuple_(Classification.column_id, Classification.kind).in_(old_labels),
            )
        )
    if old_marks:
        conn.execute(delete(PendingLabel).where(PendingLabel.column_id.in_(old_marks)))


class _Stated(Protocol):
    columns: dict[str, tuple[int, bool]]
    auto: dict[int, dict[str, str | None]]


def load_pending(conn: Connection, source_id: int, states: Iterable[_Stated]) -> int:
    """Add the pending marks of a source's columns to their assets' states; return how many.

    Each mark goes in its state's ``auto`` (column id -> kind -> digest) under kind
    :data:`PENDING`, so a column whose sample did not change since it was marked is neither
    classified nor marked again, and one labelled inline loses its mark.
    """
    owner = {cid: st.auto for st in states for cid, _ in st.columns.values()}
    n = 0
    for cid, digest in conn.execute(
        select(PendingLabel.column_id, PendingLabel.sample_digest)
        .join(AssetColumn, AssetColumn.id == PendingLabel.column_id)
        .join(Asset, Asset.id == AssetColumn.asset_id)
        .where(Asset.source_id == source_id)
    ):
        if cid in owner:
            owner[cid].setdefault(cid, {})[PENDING] = digest
            n += 1
    return n
