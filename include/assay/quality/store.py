"""Catalog reads and writes of the quality stage (quality_runs, expectation_results, review_items).

Every validation attempt is a ``quality_runs`` row of its own with its expectation results, written
once and never changed (:mod:`assay.catalog.runs`); ``quality_current`` names the current attempt
of each (suite, asset, partition, logical date), the one readers take (:func:`is_current`). A
rerun adds an attempt and moves the pointer, so lineage that cites an attempt id keeps reading
what that attempt saw. Review items are keyed by the key's stable id (``quality_current.id``), so
a steward's status survives reruns; items a new current attempt no longer fails are closed.

Values reach ``expectation_results`` (observed value, details) and ``quality_runs`` (error,
statistics) only through :func:`assay.classify.scrub.safe_json`: PII quoted in the text of any
column is masked, each text bounded to 256 characters (errors to 1,000), the counts kept in
``details.scrubbed``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from assay.catalog import runs
from assay.catalog.db import without_password
from assay.catalog.models import (
    Asset,
    AssetColumn,
    AssetKind,
    Classification,
    ClassificationKind,
    DecisionSource,
    ExpectationResult,
    QualityCurrent,
    QualityRun,
    QualityStatus,
    ReviewItem,
    ReviewKind,
    ReviewStatus,
    Source,
    SourceKind,
)
from assay.catalog.upsert import upsert
from assay.classify.scrub import safe_json, safe_value
from assay.names import ALL_PARTITIONS
from assay.quality.report import Outcome, PartitionResult

#: The label a steward gives to say "this column is not PII".
NO_LABEL = "none"
#: ``ref`` suffix of the review item opened when a whole validation could not run.
RUN_ERROR_REF = "__run__"
#: ``closed_by`` of review items this stage closes itself (a failure that passed on a re-run).
CLOSED_BY = "assay-quality"
#: Characters of an error message kept in ``quality_runs.error`` and a result's ``details.error``.
MAX_ERROR_CHARS = 1000


# ---- sources and assets -----------------------------------------------------------------------
def ensure_source(s: Session, name: str, kind: SourceKind, locator: str) -> int:
    """The id of source ``name``; created if the inventory has not recorded it yet (never updated)."""
    row = {"name": name, "kind": kind.value, "url_or_conn_id": without_password(locator)}
    (source_id,) = upsert(s, Source, [row], key=["name"], update=[])
    return source_id


def ensure_asset(
    s: Session,
    source_id: int,
    namespace: str,
    name: str,
    kind: AssetKind,
    location: str,
    partition_column: str | None = None,
) -> int:
    """The id of an asset; created if the inventory has not recorded it yet (an existing row is
    left exactly as the inventory wrote it)."""
    row = {
        "source_id": source_id,
        "namespace": namespace,
        "name": name,
        "kind": kind.value,
        "location": location,
        "partition_column": partition_column,
    }
    (asset_id,) = upsert(s, Asset, [row], key=["source_id", "namespace", "name"], update=[])
    return asset_id


def find_asset(s: Session, source_id: int, namespace: str, name: str) -> int | None:
    """The id of the asset ``namespace.name`` of a source, or ``None`` when the catalog has none."""
    return s.execute(
        select(Asset.id).where(Asset.source_id == source_id, Asset.namespace == namespace, Asset.name == name)
    ).scalar()


def find_assets(s: Session, name: str) -> list[int]:
    """Ids of assets called ``name`` (``table``, ``schema.table`` or ``folder/file``)."""
    rows = s.execute(select(Asset.id, Asset.namespace, Asset.name)).all()
    return [aid for aid, ns, n in rows if name in (n, f"{ns}.{n}", f"{ns}/{n}")]


def assets_last_validated(s: Session, suite_name: str) -> list[tuple[int, str]]:
    """(asset id, partition style) of the assets the suite validated on its latest recorded date.

    The style is ``__all__`` for whole-table suites and ``day`` for partitioned ones; used to
    record a suite file that broke against the assets it covers.
    """
    latest = s.execute(select(QualityRun.logical_date).where(QualityRun.suite_name == suite_name, is_current())
                       .order_by(QualityRun.logical_date.desc()).limit(1)).scalar()
    if latest is None:
        return []
    rows = s.execute(
        select(QualityRun.asset_id, QualityRun.partition_key)
        .where(QualityRun.suite_name == suite_name, QualityRun.logical_date == latest, is_current())
    ).all()
    return sorted({(aid, ALL_PARTITIONS if pk == ALL_PARTITIONS else "day") for aid, pk in rows})


def pii_columns(s: Session, asset_id: int) -> dict[str, str]:
    """PII column -> label of an asset from its classifications (a steward's row wins; ``none`` = not PII)."""
    rows = s.execute(
        select(AssetColumn.name, Classification.source, Classification.label)
        .join(Classification, Classification.column_id == AssetColumn.id)
        .where(AssetColumn.asset_id == asset_id, Classification.kind == ClassificationKind.PII.value)
    ).all()
    chosen: dict[str, tuple[str, str]] = {}
    for column, source, label in rows:
        if column not in chosen or source == DecisionSource.STEWARD.value:
            chosen[column] = (source, label)
    return {c: label for c, (_, label) in chosen.items() if label != NO_LABEL}


# ---- quality runs ---------------------------------------------------------------------------
def is_current() -> ColumnElement[bool]:
    """WHERE clause keeping the current attempt of each (suite, asset, partition, logical date)."""
    return runs.is_current(runs.QUALITY)


def current_run_id(s: Session, suite: str, asset_id: int, partition_key: str, logical_date: dt.date) -> int | None:
    """The id of the current attempt of one key (None: never attempted)."""
    return runs.current_of(s, runs.QUALITY, (suite, asset_id, partition_key, logical_date))


def attempts(s: Session, run_ids: Iterable[int]) -> dict[int, tuple[QualityRun, bool]]:
    """Cited attempts by id, each with whether it is still the current one of its key.

    A superseded attempt resolves to exactly what it recorded (rows are never changed).
    """
    ids = sorted(set(run_ids))
    current = set(s.execute(select(QualityCurrent.quality_run_id).where(QualityCurrent.quality_run_id.in_(ids))).scalars())
    found = s.execute(select(QualityRun).where(QualityRun.id.in_(ids))).scalars()
    return {r.id: (r, r.id in current) for r in found}


def start_run(s: Session, p: PartitionResult, run_key: str, suite_digest: str | None, now: dt.datetime) -> int:
    """Begin a validation attempt of the partition (a new ``running`` row); return its id.

    The key's current attempt (status, results) stays current until :func:`finish_run` decides
    (see :mod:`assay.catalog.runs`).
    """
    assert p.asset_id is not None
    row = {
        "suite_name": p.suite,
        "suite_digest": suite_digest,
        "asset_id": p.asset_id,
        "partition_key": p.partition_key,
        "logical_date": p.logical_date,
        "run_key": run_key,
    }
    return runs.start_attempt(s, runs.QUALITY, row, now)


def _result_row(run_id: int, o: Outcome) -> dict[str, Any]:
    # The run scrubbed the result already (and counted); this pass is the net for any other path.
    counts: Counter[str] = Counter()
    observed = safe_json(o.observed_value, counts)
    details = safe_json(dict(o.details), counts)
    if o.error:
        details["error"] = safe_value(o.error, counts, MAX_ERROR_CHARS)
    if counts:
        counts.update(details.get("scrubbed") or {})
        details["scrubbed"] = dict(sorted(counts.items()))
    return {
        "quality_run_id": run_id,
        "expectation_id": o.expectation_id,
        "expectation_type": o.expectation_type,
        "column_name": o.column,
        "dimension": o.dimension,
        "severity": o.severity,
        "success": o.success,
        "observed_value": observed,
        "unexpected_count": o.unexpected_count,
        "unexpected_percent": o.unexpected_percent,
        "details": details,
        "waived": o.waived,
        "waiver_id": o.waiver_id if o.waived else None,
    }


def finish_run(
    s: Session,
    p: PartitionResult,
    gx_run_id: str | None,
    now: dt.datetime,
    *,
    run_key: str,
    suite_digest: str | None,
) -> bool:
    """Write the attempt's outcome and expectation results, in the caller's transaction; True if kept.

    The attempt becomes the current one of its key, unless it could not validate (``p.error``)
    and the current attempt is a validation (``ok`` or ``failed``): that one stays current and
    this attempt is recorded beside it; returns True then. Failed expectations are an outcome,
    never kept back. ``run_key`` and ``suite_digest`` are the attempt's (set when it started).
    """
    assert p.quality_run_id is not None
    run_id = p.quality_run_id
    rows = [_result_row(run_id, o) for o in p.outcomes]
    if rows:
        upsert(s, ExpectationResult, rows, key=["quality_run_id", "expectation_id"])
    outcome = {
        "status": p.status,
        "success": None if p.error else p.status == QualityStatus.OK.value,
        "critical_failures": len(p.critical_failures),
        "warning_failures": len(p.warning_failures),
        "error": safe_value(p.error, limit=MAX_ERROR_CHARS),
        "gx_run_id": gx_run_id,
        "statistics": safe_json(p.statistics),
        "suite_digest": suite_digest,
        "run_key": run_key,
        "data_docs_url": p.data_docs_url,
    }
    return runs.finish_attempt(s, runs.QUALITY, run_id, outcome, now)


def set_docs_url(s: Session, run_id: int, url: str) -> None:
    """Set the Data Docs page of an attempt still running; a finished attempt has its own already.

    :func:`finish_run` writes the URL with the outcome (a finished attempt is never changed).
    """
    s.execute(update(QualityRun).where(QualityRun.id == run_id, QualityRun.status == runs.RUNNING,
                                       QualityRun.data_docs_url.is_(None)).values(data_docs_url=url))


# ---- review items ---------------------------------------------------------------------------
def _item(p: PartitionResult, ref: str, summary: str, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": ReviewKind.QUALITY_FAILURE.value,
        "ref": ref,
        "asset_id": p.asset_id,
        "quality_run_id": p.quality_run_id,
        "summary": summary,
        "details": details,
    }


def sync_review_items(s: Session, p: PartitionResult, *, kept: bool = False) -> list[int]:
    """Open (or refresh) a review item per unwaived failure of the run; close the run's items that
    no longer fail. A steward's status on an item that still fails is kept.

    ``kept``: the attempt could not run and the previous record was kept (:func:`finish_run`);
    only the "could not run" item is opened, the record's items stay as they are.
    """
    assert p.quality_run_id is not None and p.asset_id is not None
    key_id = s.execute(select(QualityCurrent.id).where(
        QualityCurrent.suite_name == p.suite, QualityCurrent.asset_id == p.asset_id,
        QualityCurrent.partition_key == p.partition_key, QualityCurrent.logical_date == p.logical_date,
    )).scalar_one()
    prefix = f"{key_id}/"  # the key's, not the attempt's: an item outlives the attempts that find it
    rows: list[dict[str, Any]] = []
    for o in [] if kept else p.outcomes:
        if not o.counts_against:
            continue
        what = f"could not be evaluated: {o.error}" if o.error else f"failed ({o.severity}, {o.dimension})"
        observed = f"; {o.unexpected_count} unexpected" if o.unexpected_count else ""
        rows.append(
            _item(
                p,
                prefix + o.expectation_id,
                f"{p.target} {p.partition_key}: {o.expectation_id} {what}{observed}",
                {
                    "suite": p.suite,
                    "expectation_id": o.expectation_id,
                    "severity": o.severity,
                    "dimension": o.dimension,
                    "partition_key": p.partition_key,
                    "logical_date": p.logical_date.isoformat(),
                    "unexpected_count": o.unexpected_count,
                    "unexpected_percent": o.unexpected_percent,
                    "data_docs_url": p.data_docs_url,
                },
            )
        )
    if p.error:
        rows.append(
            _item(
                p,
                prefix + RUN_ERROR_REF,
                f"{p.target} {p.partition_key}: validation with suite {p.suite} could not run: {p.error}",
                {"suite": p.suite, "partition_key": p.partition_key, "logical_date": p.logical_date.isoformat()},
            )
        )
    ids = upsert(s, ReviewItem, rows, key=["kind", "ref"], update=["summary", "details", "quality_run_id"]) if rows else []
    open_refs = [r["ref"] for r in rows]
    if open_refs:
        # An item this stage closed earlier ("passed on re-run") that fails again is reopened;
        # one a steward closed stays closed.
        s.execute(
            update(ReviewItem)
            .where(
                ReviewItem.kind == ReviewKind.QUALITY_FAILURE.value,
                ReviewItem.ref.in_(open_refs),
                ReviewItem.status == ReviewStatus.CLOSED.value,
                ReviewItem.closed_by == CLOSED_BY,
            )
            .values(status=ReviewStatus.OPEN.value, resolution=None, closed_by=None, closed_at=None)
        )
    if kept:
        return ids
    s.execute(
        update(ReviewItem)
        .where(
            ReviewItem.kind == ReviewKind.QUALITY_FAILURE.value,
            ReviewItem.ref.startswith(prefix, autoescape=True),
            ReviewItem.status == ReviewStatus.OPEN.value,
            ReviewItem.ref.not_in(open_refs) if open_refs else ReviewItem.ref.is_not(None),
        )
        .values(status=ReviewStatus.CLOSED.value, resolution="passed on re-run", closed_by=CLOSED_BY,
                closed_at=dt.datetime.now(dt.UTC))
    )
    return ids


def runs_of(s: Session, logical_date: dt.date, asset_ids: Iterable[int] | None = None) -> list[QualityRun]:
    """The current attempts of ``logical_date`` (of ``asset_ids`` when given)."""
    q = select(QualityRun).where(QualityRun.logical_date == logical_date, is_current())
    if asset_ids is not None:
        q = q.where(QualityRun.asset_id.in_(list(asset_ids)))
    return list(s.execute(q.order_by(QualityRun.id)).scalars())
