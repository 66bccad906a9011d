"""``run_profile``: profile every active asset's partition for one logical date into the catalog.

Which partition an asset has for a logical date:

* a SQL table or view with a ``partition_column``: the rows ``WHERE partition_column = <date>``
  (partition key ``YYYY-MM-DD``), profiled even when there are none (a missing day is an anomaly);
* a SQL table or view without one: the whole table, as the ``__all__`` snapshot of that date;
* a file: the file whose partition (from its path, by the source's ``partition_regex``) is the
  date; a file source without a ``partition_regex`` is profiled whole as ``__all__``.

Each partition is written in one transaction: the ``profile_runs`` row (upserted on its natural
key), its ``column_metrics`` (upserted per column, stale columns deleted) and its anomalies
(upserted per metric, keeping a steward's status; anomalies no longer found deleted). Rerunning a
date therefore replaces its profile, and running it again with nothing changed leaves the catalog
as it was (only the run timestamps move). A partition that fails is recorded as ``failed`` with
its error and the others carry on; :class:`~assay.profiling.report.ProfilingError` is raised at
the end.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, select, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from assay.catalog.db import session
from assay.catalog.models import (
    Anomaly,
    AnomalyStatus,
    Asset,
    AssetColumn,
    AssetKind,
    AssetStatus,
    Classification,
    ClassificationKind,
    ColumnMetrics,
    DecisionSource,
    ProfileRun,
    ReviewItem,
    ReviewKind,
    RunStatus,
    Source,
    SourceKind,
)
from assay.catalog.upsert import upsert
from assay.config import Settings
from assay.errors import AssayError, ConfigError
from assay.names import ALL_PARTITIONS
from assay.profiling.anomalies import AnomalyConfig, Finding, detect_all, observed_values
from assay.profiling.report import AssetResult, ProfileReport, ProfilingError
from assay.profiling.sql import DEFAULT_TUNING, SqlTuning
from assay.sources.declarations import Declarations, FileSource, SqlSource, default_path, load
from assay.sources.series import members, series_of

log = logging.getLogger(__name__)

#: Partition key of an unpartitioned asset's snapshot.
#: A steward's label that says "no PII here".
NO_LABEL = "none"

_RUN_KEY = ["asset_id", "partition_key", "logical_date"]
_ANOMALY_KEY = ["asset_id", "partition_key", "logical_date", "column_name", "metric"]
#: Columns a rerun rewrites on an existing anomaly; the steward's status and the first
#: detection time stay.
_ANOMALY_UPDATE = ["profile_run_id", "observed", "lower", "upper", "method", "details"]


@dataclass
class _Target:
    """One asset partition to profile."""

    asset_id: int
    source_id: int
    source: str
    source_kind: str
    kind: str
    namespace: str
    name: str
    location: str | None
    partition_column: str | None
    partition_key: str
    series_key: str | None = None
    series_regex: str | None = None
    done: bool = False
    pii: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return (
            f"{self.source}:{self.namespace}/{self.name}" if self.namespace else f"{self.source}:{self.name}"
        )


@dataclass
class _Profile:
    row_count: int
    columns: dict[str, dict[str, Any]]
    data_types: dict[str, str]
    stats: dict[str, Any]


def run_profile(
    settings: Settings,
    logical_date: dt.date,
    run_key: str,
    assets: list[str] | None = None,
    force: bool = False,
    *,
    anomaly_config: AnomalyConfig | None = None,
    tuning: SqlTuning = DEFAULT_TUNING,
    declarations: Declarations | None = None,
) -> ProfileReport:
    """Profile every active asset's partition for ``logical_date`` and detect anomalies.

    Args:
        settings: where the catalog and the source declarations are.
        logical_date: the partition date (Airflow's logical date).
        run_key: ``dag_id/run_id`` in Airflow, ``cli/<date>`` from the command line; stored on
            each ``profile_runs`` row.
        assets: restrict to these assets, each given as its name, ``namespace.name`` or location;
            ``None`` for every active asset.
        force: profile partitions already profiled successfully for this date again.
        anomaly_config: detector thresholds (k, warm-up, window, tolerances).
        tuning: SQL profiler sample and sketch sizes.
        declarations: the source declarations; default: the file the settings name.

    Returns:
        One :class:`AssetResult` per asset partition considered.

    Raises:
        ConfigError: a requested asset is not an active asset of the catalog.
        ProfilingError: at least one partition failed; raised after every partition was tried and
            recorded, with the report attached.
    """
    url = settings.catalog_url()
    decls = declarations or load(default_path(settings))
    config = anomaly_config or AnomalyConfig()
    with session(url) as s:
        targets = _targets(s, decls, logical_date, assets)
    results: list[AssetResult] = []
    with _engines() as engines:
        for target in targets:
            if target.done and not force:
                results.append(AssetResult(target.asset_id, target.label, target.partition_key, "skipped"))
                continue
            results.append(
                _profile_one(url, settings, decls, engines, target, logical_date, run_key, config, tuning)
            )
    report = ProfileReport(run_key=run_key, logical_date=logical_date, results=tuple(results))
    log.info("%s", report.summary())
    if report.failed:
        raise ProfilingError(report)
    return report


# ---- which partitions ---------------------------------------------------------------------------
def _targets(s: Session, decls: Declarations, day: dt.date, wanted: list[str] | None) -> list[_Target]:
    rows = s.execute(
        select(Asset, Source.name, Source.kind)
        .join(Source, Source.id == Asset.source_id)
        .where(Asset.status == AssetStatus.ACTIVE.value)
        .order_by(Source.name, Asset.namespace, Asset.name)
    ).all()
    if wanted is not None:
        names = set(wanted)
        matched = [
            r for r in rows if names & {r[0].name, f"{r[0].namespace}.{r[0].name}", r[0].location or ""}
        ]
        found = {n for r in matched for n in (r[0].name, f"{r[0].namespace}.{r[0].name}", r[0].location)}
        unknown = sorted(names - found)
        if unknown:
            raise ConfigError(f"not active assets of the catalog: {', '.join(unknown)}")
        rows = matched
    targets: list[_Target] = []
    for asset, source_name, source_kind in rows:
        key, series = _partition_of(asset, source_name, source_kind, decls, day)
        if key is None:
            continue  # a file of another date
        targets.append(
            _Target(
                asset_id=asset.id,
                source_id=asset.source_id,
                source=source_name,
                source_kind=source_kind,
                kind=asset.kind,
                namespace=asset.namespace,
                name=asset.name,
                location=asset.location,
                partition_column=asset.partition_column if source_kind == SourceKind.SQL.value else None,
                partition_key=key,
                series_key=series,
                series_regex=_partition_regex(decls, source_name) if series else None,
            )
        )
    if not targets:
        return targets
    ids = [t.asset_id for t in targets]
    done = set(
        s.execute(
            select(ProfileRun.asset_id, ProfileRun.partition_key).where(
                ProfileRun.asset_id.in_(ids),
                ProfileRun.logical_date == day,
                ProfileRun.status == RunStatus.SUCCESS.value,
            )
        ).all()
    )
    labels = _pii_labels(s, ids)
    for t in targets:
        t.done = (t.asset_id, t.partition_key) in done
        t.pii = labels.get(t.asset_id, {})
    return targets


def _partition_of(
    asset: Asset, source_name: str, source_kind: str, decls: Declarations, day: dt.date
) -> tuple[str | None, str | None]:
    """``(partition key or None when the asset has no partition that day, file series key)``."""
    if source_kind == SourceKind.SQL.value:
        return (day.isoformat() if asset.partition_column else ALL_PARTITIONS), None
    decl = _declared(decls, source_name)
    if not isinstance(decl, FileSource) or not asset.location:
        return ALL_PARTITIONS, None
    member = series_of(decl.partition_regex, asset.location)
    if member is None:
        return ALL_PARTITIONS, None
    if member.partition != day.isoformat():
        return None, None
    return member.partition, member.key


def _partition_regex(decls: Declarations, source_name: str) -> str | None:
    decl = _declared(decls, source_name)
    return decl.partition_regex if isinstance(decl, FileSource) else None


def _declared(decls: Declarations, source_name: str) -> SqlSource | FileSource | None:
    try:
        return decls.get(source_name)
    except ConfigError:
        return None


def _pii_labels(s: Session, asset_ids: list[int]) -> dict[int, dict[str, str]]:
    """``{asset_id: {column: pii label}}``; a steward's row wins over the automatic one."""
    rows = s.execute(
        select(AssetColumn.asset_id, AssetColumn.name, Classification.label, Classification.source)
        .join(Classification, Classification.column_id == AssetColumn.id)
        .where(AssetColumn.asset_id.in_(asset_ids), Classification.kind == ClassificationKind.PII.value)
    ).all()
    chosen: dict[tuple[int, str], tuple[str, str]] = {}
    for asset_id, column, label, source in rows:
        current = chosen.get((asset_id, column))
        if current is None or source == DecisionSource.STEWARD.value:
            chosen[(asset_id, column)] = (label, source)
    out: dict[int, dict[str, str]] = {}
    for (asset_id, column), (label, _) in chosen.items():
        if label != NO_LABEL:
            out.setdefault(asset_id, {})[column] = label
    return out


# ---- profiling one partition --------------------------------------------------------------------
@contextmanager
def _engines() -> Iterator[dict[str, Engine]]:
    """Source engines shared by the assets of one run, disposed at its end."""
    engines: dict[str, Engine] = {}
    try:
        yield engines
    finally:
        for e in engines.values():
            e.dispose()


def _profile_one(
    url: str,
    settings: Settings,
    decls: Declarations,
    engines: dict[str, Engine],
    target: _Target,
    day: dt.date,
    run_key: str,
    config: AnomalyConfig,
    tuning: SqlTuning,
) -> AssetResult:
    started = dt.datetime.now(dt.UTC)
    base = {
        "asset_id": target.asset_id,
        "partition_key": target.partition_key,
        "logical_date": day,
        "run_key": run_key,
        "started_at": started,
    }
    with session(url) as s:
        (run_id,) = upsert(
            s,
            ProfileRun,
            [{**base, "status": RunStatus.RUNNING.value, "error": None, "finished_at": None}],
            _RUN_KEY,
        )
    from pyarrow import ArrowException

    try:
        profile = _compute(settings, decls, engines, target, day, tuning)
    except (SQLAlchemyError, OSError, AssayError, ArrowException) as exc:
        # A table dropped since the inventory, an unreadable file, a broken declaration: recorded
        # for this asset; the rest of the run carries on and the run fails at the end.
        error = _error_text(exc)
        log.warning("profiling %s [%s] failed: %s", target.label, target.partition_key, error)
        with session(url) as s:
            upsert(
                s,
                ProfileRun,
                [
                    {
                        **base,
                        "status": RunStatus.FAILED.value,
                        "error": error,
                        "row_count": None,
                        "stats": {},
                        "finished_at": dt.datetime.now(dt.UTC),
                    }
                ],
                _RUN_KEY,
            )
            s.execute(delete(ColumnMetrics).where(ColumnMetrics.profile_run_id == run_id))
            s.execute(delete(Anomaly).where(*_anomaly_scope(target, day)))
        return AssetResult(target.asset_id, target.label, target.partition_key, "failed", run_id, error=error)

    with session(url) as s:
        upsert(
            s,
            ProfileRun,
            [
                {
                    **base,
                    "status": RunStatus.SUCCESS.value,
                    "error": None,
                    "row_count": profile.row_count,
                    "stats": profile.stats,
                    "finished_at": dt.datetime.now(dt.UTC),
                }
            ],
            _RUN_KEY,
        )
        _replace_metrics(s, run_id, profile)
        findings = _detect(s, target, day, profile, config)
        _replace_anomalies(s, target, day, run_id, findings)
    log.info(
        "profiled %s [%s]: %d rows, %d columns, %d anomalies",
        target.label,
        target.partition_key,
        profile.row_count,
        len(profile.columns),
        len(findings),
    )
    return AssetResult(
        target.asset_id,
        target.label,
        target.partition_key,
        "profiled",
        run_id,
        profile.row_count,
        len(findings),
    )


def _compute(
    settings: Settings,
    decls: Declarations,
    engines: dict[str, Engine],
    target: _Target,
    day: dt.date,
    tuning: SqlTuning,
) -> _Profile:
    decl = decls.get(target.source)
    if isinstance(decl, SqlSource):
        from assay.profiling.sql import profile_sql
        from assay.sources.sql import source_engine

        source_url = decl.resolve_url(settings)
        if source_url not in engines:
            engines[source_url] = source_engine(source_url)
        part = target.partition_key != ALL_PARTITIONS
        prof = profile_sql(
            engines[source_url],
            target.name,
            target.namespace or None,
            target.partition_column if part else None,
            day if part else None,
            pii=target.pii,
            tuning=tuning,
        )
        return _Profile(prof.row_count, prof.columns, prof.data_types, prof.stats)
    from assay.profiling.arrow import profile_arrow
    from assay.sources import files

    path = Path(target.location or target.name)
    if not path.is_absolute():
        path = decl.resolve_root(settings) / path
    table = files.read_table(path)
    columns = profile_arrow(table, pii=target.pii)
    data_types = {f.name: files.arrow_type_name(f.type) for f in table.schema}
    stats = {"engine": "arrow", "statements": 0, "row_count": table.num_rows, "exact": True}
    return _Profile(table.num_rows, columns, data_types, stats)


def _error_text(exc: BaseException) -> str:
    """The first line of the error (SQLAlchemy appends the statement and a documentation link)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0]


# ---- writing ------------------------------------------------------------------------------------
def _replace_metrics(s: Session, run_id: int, profile: _Profile) -> None:
    rows = [
        {
            "profile_run_id": run_id,
            "column_name": name,
            "data_type": profile.data_types.get(name),
            "metrics": m,
        }
        for name, m in profile.columns.items()
    ]
    if rows:
        upsert(s, ColumnMetrics, rows, ["profile_run_id", "column_name"])
    s.execute(
        delete(ColumnMetrics).where(
            ColumnMetrics.profile_run_id == run_id, ColumnMetrics.column_name.not_in(list(profile.columns))
        )
    )


def _anomaly_scope(target: _Target, day: dt.date) -> list[Any]:
    return [
        Anomaly.asset_id == target.asset_id,
        Anomaly.partition_key == target.partition_key,
        Anomaly.logical_date == day,
    ]


def _replace_anomalies(
    s: Session, target: _Target, day: dt.date, run_id: int, findings: Sequence[Finding]
) -> None:
    rows = [
        {
            "asset_id": target.asset_id,
            "profile_run_id": run_id,
            "partition_key": target.partition_key,
            "logical_date": day,
            "column_name": f.column_name,
            "metric": f.metric,
            "observed": f.observed,
            "lower": f.lower,
            "upper": f.upper,
            "method": f.method,
            "details": f.details,
        }
        for f in findings
    ]
    if rows:
        ids = upsert(s, Anomaly, rows, _ANOMALY_KEY, update=_ANOMALY_UPDATE)
        _open_review_items(s, target, day, run_id, findings, ids)
    keep = [(f.column_name, f.metric) for f in findings]
    stale = delete(Anomaly).where(*_anomaly_scope(target, day))
    if keep:
        stale = stale.where(tuple_(Anomaly.column_name, Anomaly.metric).not_in(keep))
    s.execute(stale)


def review_ref(asset_id: int, partition_key: str, day: dt.date, column_name: str, metric: str) -> str:
    """The stable key of an anomaly's review item: asset, partition, logical date, column, metric."""
    return f"{asset_id}/{partition_key}/{day.isoformat()}/{column_name}/{metric}"


def _open_review_items(
    s: Session, target: _Target, day: dt.date, run_id: int, findings: Sequence[Finding], anomaly_ids: Sequence[int]
) -> None:
    """Open a steward review item per anomaly, upserted on ``(kind, ref)``.

    A rerun of the date refreshes the summary and details of the same items and keeps a steward's
    status and resolution. An anomaly a rerun no longer finds is deleted, and its item with it
    (the foreign key cascades).
    """
    rows = []
    for f, anomaly_id in zip(findings, anomaly_ids, strict=True):
        what = f"{f.column_name}.{f.metric}" if f.column_name else f.metric
        bounds = (
            f" outside [{f.lower:.6g}, {f.upper:.6g}]" if f.lower is not None and f.upper is not None else ""
        )
        rows.append(
            {
                "kind": ReviewKind.ANOMALY.value,
                "ref": review_ref(target.asset_id, target.partition_key, day, f.column_name, f.metric),
                "asset_id": target.asset_id,
                "anomaly_id": anomaly_id,
                "summary": f"{target.label} {target.partition_key}: {what} = {f.observed:.6g}{bounds} ({f.method})",
                "details": {
                    "partition_key": target.partition_key,
                    "logical_date": day.isoformat(),
                    "column_name": f.column_name,
                    "metric": f.metric,
                    "observed": f.observed,
                    "lower": f.lower,
                    "upper": f.upper,
                    "method": f.method,
                    "profile_run_id": run_id,
                },
            }
        )
    upsert(s, ReviewItem, rows, ["kind", "ref"], update=["summary", "details", "anomaly_id"])


def _series(s: Session, target: _Target) -> list[int]:
    """The assets whose history this one continues: itself, or every file of the same series."""
    if target.series_key is None:
        return [target.asset_id]
    rows = s.execute(
        select(Asset.id, Asset.location).where(
            Asset.source_id == target.source_id, Asset.kind == AssetKind.FILE.value
        )
    ).all()
    return members(target.series_regex, target.series_key, rows) or [target.asset_id]


def _detect(
    s: Session, target: _Target, day: dt.date, profile: _Profile, config: AnomalyConfig
) -> list[Finding]:
    """Findings for this partition against the prior partitions of the same asset (or file series)."""
    series = _series(s, target)
    prior = s.execute(
        select(
            ProfileRun.id,
            ProfileRun.asset_id,
            ProfileRun.partition_key,
            ProfileRun.logical_date,
            ProfileRun.row_count,
        )
        .where(
            ProfileRun.asset_id.in_(series),
            ProfileRun.logical_date < day,
            ProfileRun.status == RunStatus.SUCCESS.value,
        )
        .order_by(ProfileRun.logical_date.desc())
        .limit(config.window)
    ).all()
    prior = list(reversed(prior))
    run_ids = [r.id for r in prior]
    metrics: dict[int, dict[str, dict[str, Any]]] = {}
    if run_ids:
        for run_id, column, m in s.execute(
            select(ColumnMetrics.profile_run_id, ColumnMetrics.column_name, ColumnMetrics.metrics).where(
                ColumnMetrics.profile_run_id.in_(run_ids)
            )
        ):
            metrics.setdefault(run_id, {})[column] = m
    flagged: set[tuple[int, str, dt.date, str, str]] = set()
    if prior:
        flagged = set(
            s.execute(
                select(
                    Anomaly.asset_id,
                    Anomaly.partition_key,
                    Anomaly.logical_date,
                    Anomaly.column_name,
                    Anomaly.metric,
                ).where(
                    Anomaly.asset_id.in_(series),
                    Anomaly.logical_date < day,
                    Anomaly.logical_date >= prior[0].logical_date,
                    Anomaly.status == AnomalyStatus.OPEN.value,
                )
            ).all()
        )
    # A column flagged on a day leaves that day out of the column's history for every metric:
    # a null burst flags the null ratio but also depresses the distinct count, and the next
    # day's recovery must be judged against the last clean day, not against the burst.
    flagged_columns = {f[:4] for f in flagged}
    history = []
    for r in prior:
        values = observed_values(int(r.row_count or 0), metrics.get(r.id, {}))
        history.append(
            {
                key: v
                for key, v in values.items()
                if (r.asset_id, r.partition_key, r.logical_date, key[0]) not in flagged_columns
            }
        )
    return detect_all(observed_values(profile.row_count, profile.columns), history, config)
