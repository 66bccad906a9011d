"""``complete_labels``: the labelling step, which writes the labels the inventory left pending.

The inventory's background route (its default) writes the rule labels at once and marks each
column only the sentence embedding can label with a ``pending_labels`` row holding the digest of
its sample; the asset pages say "classifying" until this step has run (``assay classify``, the
``label`` task of the inventory DAG).

The step samples the marked columns again from their source: the catalog keeps no sampled value
(PII or not) and this step stores none either. It classifies them exactly as the inline route
does (:func:`assay.classify.classify_columns` with the embedding, one call per batch of
:data:`BATCH_COLUMNS` columns, texts embedded in batches sorted by length) and, per batch in one
transaction, writes the labels with the digest of the sample they were computed from and deletes
the marks. On an unchanged source the sample is the inventory's, so the labels are the inline
route's (``tests/integration/test_pending_labels.py`` proves it).

Idempotent: a retry finds only the marks left; labels of columns without a mark are never
touched. A column marked again while it was being labelled (the inventory saw a new sample) is
not written: the next pass labels the new sample. A column gone from its source, or of an asset
the catalog holds as deleted, loses its mark (the inventory marks it again if it comes back).
"""

from __future__ import annotations

import datetime as dt
import glob
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, func, select, tuple_

from assay import progress
from assay.catalog.db import engine
from assay.catalog.models import (
    Asset,
    AssetColumn,
    AssetStatus,
    Classification,
    DecisionSource,
    PendingLabel,
    Source,
)
from assay.config import Settings
from assay.errors import ConfigError, SourceError
from assay.inventory.classifications import SAMPLE_KEY, label_rows, sample_digest, write_classifications
from assay.inventory.lifecycle import lock_key
from assay.inventory.observe import Listing, ObservedAsset, observe_file, observe_sql
from assay.inventory.pipeline import prefetch
from assay.sources.declarations import Declarations, FileSource, SqlSource, default_path, load

log = logging.getLogger(__name__)

#: Columns classified and written together: one classify call (its texts sorted by length) and
#: one transaction; progress is reported per batch (about every 10 s on an idle 2-core box).
BATCH_COLUMNS = 512
#: Up to this many tables of a SQL source are re-read by name; more, and the whole source is
#: listed (one reflection) and filtered, as the inventory reads it.
BY_NAME_TABLES = 64

Key = tuple[str, str]


@dataclass(frozen=True)
class _Mark:
    column_id: int
    column: str
    key: Key
    source: str
    digest: str
    observed_at: dt.datetime
    live: bool  # the asset is not deleted and the column is present


@dataclass
class LabelReport:
    """What one pass of the labelling step did."""

    marked: int = 0  # marks found at the start
    labelled: int = 0  # columns whose labels were written (their marks deleted)
    resampled: int = 0  # of those, columns whose sample had changed since the inventory marked them
    superseded: int = 0  # columns marked again while being labelled: left for the next pass
    dropped: int = 0  # marks of columns gone from their source or of deleted assets
    left: int = 0  # marks left because their source or asset could not be read
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def summary(self) -> str:
        """One line per figure worth reading, errors last."""
        text = (
            f"labels: {self.labelled} of {self.marked} pending columns labelled in {self.elapsed_s:.1f} s"
            f" ({self.resampled} on a changed sample), {self.superseded} marked again meanwhile, "
            f"{self.dropped} gone, {self.left} left"
        )
        return "\n".join([text, *(f"  {e}" for e in self.errors)])


def pending_count(settings: Settings, sources: Sequence[str] | None = None) -> int:
    """How many columns of ``sources`` (all: ``None``) wait for the labelling step."""
    with engine(settings.catalog_url()).connect() as conn:
        stmt = select(func.count()).select_from(PendingLabel).join(AssetColumn, AssetColumn.id == PendingLabel.column_id)
        if sources is not None:
            stmt = stmt.join(Asset, Asset.id == AssetColumn.asset_id).join(Source, Source.id == Asset.source_id)
            stmt = stmt.where(Source.name.in_(list(sources)))
        return int(conn.execute(stmt).scalar_one())


def complete_labels(
    settings: Settings,
    sources: Sequence[str] | None = None,
    *,
    declarations: Declarations | None = None,
    batch_columns: int = BATCH_COLUMNS,
) -> LabelReport:
    """Label every column the inventory left pending (of ``sources``; ``None``: all).

    Returns:
        The figures of the pass.

    Raises:
        SourceError: a source or asset could not be read: raised after every other label was
            written; the message is the report, naming each (their marks stay for the next pass).
        ClassificationError: the embedding model cannot be loaded (the marks stay).
        DatabaseError / SQLAlchemyError: the catalog cannot be read or written.
    """
    started = time.perf_counter()
    url = settings.catalog_url()
    decls = declarations or load(default_path(settings))
    with engine(url).connect() as conn:
        marks = _marks(conn, sources)
    report = LabelReport(marked=len(marks))
    ticker = progress.Ticker("classify", total=len(marks), unit="columns")
    _drop(url, [m for m in marks if not m.live], report)
    by_source: dict[str, dict[Key, list[_Mark]]] = {}
    for m in marks:
        if m.live:
            by_source.setdefault(m.source, {}).setdefault(m.key, []).append(m)
    for name, assets in by_source.items():
        _label_source(settings, url, decls, name, assets, report, ticker, batch_columns)
    report.elapsed_s = round(time.perf_counter() - started, 3)
    ticker.finish(report.labelled + report.dropped + report.left + report.superseded, labelled=report.labelled)
    log.info("%s", report.summary())
    if report.left:
        # Everything that could be labelled is written; the marks left wait for the next pass.
        raise SourceError(report.summary())
    return report


def _marks(conn: Connection, sources: Sequence[str] | None) -> list[_Mark]:
    stmt = (
        select(
            PendingLabel.column_id,
            AssetColumn.name,
            Asset.namespace,
            Asset.name,
            Source.name,
            PendingLabel.sample_digest,
            PendingLabel.observed_at,
            AssetColumn.is_present & (Asset.status != AssetStatus.DELETED.value),
        )
        .join(AssetColumn, AssetColumn.id == PendingLabel.column_id)
        .join(Asset, Asset.id == AssetColumn.asset_id)
        .join(Source, Source.id == Asset.source_id)
        .order_by(Source.name, Asset.namespace, Asset.name, AssetColumn.ordinal)
    )
    if sources is not None:
        stmt = stmt.where(Source.name.in_(list(sources)))
    return [
        _Mark(cid, col, (ns, asset), src, digest, seen, bool(live))
        for cid, col, ns, asset, src, digest, seen, live in conn.execute(stmt)
    ]


def _drop(url: str, marks: Sequence[_Mark], report: LabelReport) -> None:
    """Delete the marks of columns there is nothing to label for (unless marked again meanwhile)."""
    if not marks:
        return
    with engine(url).begin() as conn:
        conn.execute(
            delete(PendingLabel).where(
                tuple_(PendingLabel.column_id, PendingLabel.sample_digest).in_([(m.column_id, m.digest) for m in marks])
            )
        )
    report.dropped += len(marks)


@dataclass
class _Batch:
    marks: list[_Mark] = field(default_factory=list)
    samples: list[Any] = field(default_factory=list)  # assay.classify.ColumnSample
    digests: list[str] = field(default_factory=list)


def _label_source(
    settings: Settings,
    url: str,
    decls: Declarations,
    name: str,
    assets: dict[Key, list[_Mark]],
    report: LabelReport,
    ticker: progress.Ticker,
    batch_columns: int,
) -> None:
    """Re-sample the marked assets of one source and label their marked columns, batch by batch."""
    from assay.classify import ColumnSample

    waiting = sum(len(v) for v in assets.values())
    try:
        decl = decls.get(name)
    except ConfigError as exc:
        report.errors.append(f"source {name}: {exc}; its {waiting} pending columns stay pending")
        report.left += waiting
        return
    listing = Listing()
    batch = _Batch()
    try:
        for asset in prefetch(_reread(settings, decl, set(assets), listing)):
            todo = assets.pop(asset.key, [])
            if asset.error or asset.columns is None:
                report.errors.append(f"{asset.error or asset.location}: {len(todo)} columns stay pending")
                report.left += len(todo)
                continue
            types = {c.name: c.data_type for c in asset.columns}
            gone = [m for m in todo if m.column not in types]
            _drop(url, gone, report)
            for m in todo:
                if m.column in types:
                    values = asset.samples.get(m.column, [])
                    batch.marks.append(m)
                    batch.samples.append(ColumnSample(m.column, types[m.column], values, asset.name))
                    batch.digests.append(sample_digest(asset.name, types[m.column], values, True))
            if len(batch.marks) >= batch_columns:
                _label(url, name, batch, report)
                batch = _Batch()
                ticker.update(report.labelled + report.dropped + report.left + report.superseded,
                              labelled=report.labelled)
        _label(url, name, batch, report)
    except SourceError as exc:
        report.errors.append(f"{exc}; its pending columns stay pending")
        report.left += sum(len(v) for v in assets.values())
        return
    # Not observed: gone from the source since it was marked, unless its namespace could not be listed.
    unread = [m for key, ms in assets.items() for m in ms if key[0] in listing.failed]
    _drop(url, [m for key, ms in assets.items() for m in ms if key[0] not in listing.failed], report)
    if unread:
        report.errors.append(f"source {name}: {'; '.join(listing.failed.values())}")
        report.left += len(unread)


def _reread(settings: Settings, decl: SqlSource | FileSource, keys: set[Key], listing: Listing) -> Iterator[ObservedAsset]:
    """The assets ``keys`` of a source, observed again with their samples (the inventory's reading)."""
    if isinstance(decl, FileSource):
        from assay.sources.files import inside

        root = decl.resolve_root(settings)
        if not root.is_dir():
            raise SourceError(f"source {decl.name}: landing folder {root} does not exist or is not a folder")
        for namespace, name in sorted(keys):
            path = root / namespace / name if namespace else root / name
            if path.is_file() and inside(root, path):
                yield observe_file(decl, root, path)
        return
    try:
        url = decl.resolve_url(settings)
    except ConfigError as exc:
        raise SourceError(f"source {decl.name}: {exc}") from exc
    except Exception as exc:  # Airflow's connection lookup raises its own types
        raise SourceError(f"source {decl.name}: cannot resolve connection {decl.conn_id!r}: {exc}") from exc
    names = {name for _, name in keys}
    if len(names) <= BY_NAME_TABLES:
        decl = decl.model_copy(update={"include": [glob.escape(n) for n in sorted(names)], "exclude": []})
    for asset in observe_sql(decl, url, listing):
        if asset.key in keys:
            yield asset


def _label(url: str, source: str, batch: _Batch, report: LabelReport) -> None:
    """Classify a batch with the embedding and write it in one transaction (marks still current only)."""
    from assay.classify import classify_columns

    if not batch.marks:
        return
    results = classify_columns(batch.samples, use_embeddings=True)
    ids = [m.column_id for m in batch.marks]
    with engine(url).begin() as conn:
        # Waits while an inventory of the source runs: its state and writes never interleave with these.
        conn.execute(select(func.pg_advisory_xact_lock(lock_key(source))))
        current = dict(
            conn.execute(
                select(PendingLabel.column_id, PendingLabel.sample_digest)
                .where(PendingLabel.column_id.in_(ids))
                .with_for_update()
            ).all()
        )
        stored: dict[int, dict[str, str | None]] = {}
        for cid, kind, digest in conn.execute(
            select(Classification.column_id, Classification.kind, Classification.evidence[SAMPLE_KEY].astext).where(
                Classification.source == DecisionSource.AUTO.value, Classification.column_id.in_(ids)
            )
        ):
            stored.setdefault(cid, {})[kind] = digest
        rows: list[dict[str, Any]] = []
        stale: list[tuple[int, str]] = []
        done: list[tuple[int, str]] = []
        for m, found, digest in zip(batch.marks, results, batch.digests, strict=True):
            if current.get(m.column_id) != m.digest:
                report.superseded += 1
                continue
            found_rows, old = label_rows(m.observed_at, stored, {m.column: m.column_id}, {m.column: (found, digest)})
            rows.extend(found_rows.values())
            stale.extend(old)
            done.append((m.column_id, m.digest))
            report.resampled += digest != m.digest
        write_classifications(conn, rows, stale)
        if done:
            conn.execute(delete(PendingLabel).where(tuple_(PendingLabel.column_id, PendingLabel.sample_digest).in_(done)))
    report.labelled += len(done)
