"""Evidence about one candidate, gathered from MLflow, the catalog and the shop into a plain dataclass.

:func:`gather` never decides anything: it records what it found, and what it could not find in
``Evidence.errors`` (MLflow unreachable, version unknown, no dataset tag …), which
:func:`assay.gate.decide.decide` turns into an ``error`` decision. A missing metric is not an
evidence error: the metric check that needs it reports ``error`` and names it.

The training snapshot is the candidate run's dataset (``assay.training_dataset_id`` tag →
``training_datasets``): its partitions (``<table>:<YYYY-MM-DD>``), the quality runs of those
partitions (by table and day, plus the ids the dataset and the run name), their failed
expectations with the waivers that cover them *now* (matched by
:func:`assay.quality.waivers.active_waivers`, the rule quality itself applies), the open anomalies
on those asset partitions, and train-vs-serving drift.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from assay import names
from assay.config import Settings
from assay.gate.drift import DriftResult
from assay.gate.policy import Policy

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FailedExpectation:
    """One failed expectation of a quality run in the snapshot."""

    suite: str
    asset: str
    partition: str  # "<table>:<partition_key>"
    expectation_id: str
    expectation_type: str
    column: str | None
    severity: str
    quality_run_id: int
    waiver_id: int | None

    def describe(self) -> str:
        col = f" on column {self.column}" if self.column else ""
        waived = f", waived by waiver #{self.waiver_id}" if self.waiver_id is not None else ""
        return (
            f"{self.severity} expectation {self.expectation_id} ({self.expectation_type}){col} of suite "
            f"{self.suite} failed on partition {self.partition} (quality run #{self.quality_run_id}){waived}"
        )


@dataclass(frozen=True)
class OpenAnomaly:
    id: int
    asset: str
    partition: str
    column: str
    metric: str
    observed: float | None
    lower: float | None
    upper: float | None

    def describe(self) -> str:
        col = f".{self.column}" if self.column else ""
        return (
            f"anomaly #{self.id} on {self.asset}{col} {self.metric} partition {self.partition}: "
            f"{self.observed} outside [{self.lower}, {self.upper}]"
        )


@dataclass
class Evidence:
    """Everything :func:`assay.gate.decide.decide` looks at; JSON-able with :meth:`as_json`."""

    model_name: str
    version: str
    now: dt.datetime
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    champion_version: str | None = None
    champion_metrics: dict[str, float] = field(default_factory=dict)
    dataset_id: int | None = None
    dataset_digest: str | None = None
    partitions: list[str] = field(default_factory=list)
    newest_partition: dt.date | None = None
    quality_run_ids: list[int] = field(default_factory=list)
    #: Attempts the training set cites that a later attempt of the same key has superseded (still
    #: judged: they are what the model saw; the current ones are judged too).
    superseded_quality_run_ids: list[int] = field(default_factory=list)
    unvalidated_partitions: list[str] = field(default_factory=list)
    #: Partitions the training-set builder itself flagged (``stats.unvalidated_partitions``, built with
    #: allow_unvalidated); re-judged here with the catalog's current runs and waivers.
    dataset_flagged_partitions: list[str] = field(default_factory=list)
    broken_quality_runs: list[str] = field(default_factory=list)
    failures: list[FailedExpectation] = field(default_factory=list)
    anomalies: list[OpenAnomaly] = field(default_factory=list)
    drift: dict[str, DriftResult] = field(default_factory=dict)
    #: Waivers and GX runs the training run says it relied on (recorded; the gate re-matches waivers now).
    training_waiver_ids: list[int] = field(default_factory=list)
    gx_run_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def waiver_ids(self) -> list[int]:
        return sorted({f.waiver_id for f in self.failures if f.waiver_id is not None})

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["now"] = self.now.isoformat()
        out["newest_partition"] = self.newest_partition.isoformat() if self.newest_partition else None
        out["waiver_ids"] = self.waiver_ids
        return out


# ---- parsing helpers ---------------------------------------------------------------------------
def parse_partition(item: Any) -> tuple[str, dt.date]:
    """``"interactions:2026-11-05"`` (or ``{"table": …, "day": …}``) -> ``("interactions", date)``."""
    if isinstance(item, dict):
        table = item.get("table") or item.get("asset")
        day = item.get("day") or item.get("partition") or item.get("logical_date")
    else:
        table, _, day = str(item).rpartition(":")
    if not table or not day:
        raise ValueError(f"partition {item!r} is not <table>:<YYYY-MM-DD>")
    return str(table), dt.date.fromisoformat(str(day)[:10])


def _ids(value: Any) -> list[int]:
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [int(str(v).strip()) for v in items if str(v).strip()]


# ---- MLflow -----------------------------------------------------------------------------------
def _mlflow_part(client: MlflowClient, ev: Evidence) -> dict[str, str] | None:
    """Candidate metrics and tags, and the champion's metrics; ``None`` (with ``ev.errors``) on failure."""
    from mlflow.exceptions import MlflowException

    from assay.gate import registry

    try:
        mv = registry.model_version(client, ev.model_name, ev.version)
        if mv is None:
            ev.errors.append(f"model {ev.model_name} has no version {ev.version} in the MLflow registry")
            return None
        ev.run_id = mv.run_id
        if not mv.run_id:
            ev.errors.append(f"model {ev.model_name} version {ev.version} is not linked to an MLflow run")
            return None
        run = client.get_run(mv.run_id)
        ev.metrics = dict(run.data.metrics)
        tags = dict(run.data.tags)
        ev.champion_version = registry.champion_version(client, ev.model_name)
        if ev.champion_version is not None and ev.champion_version != ev.version:
            champ = registry.model_version(client, ev.model_name, ev.champion_version)
            if champ is not None and champ.run_id:
                champ_run = client.get_run(champ.run_id)
                ev.champion_metrics = dict(champ_run.data.metrics)
                ours = tags.get(names.TAG_EVAL_LABELS, names.EVAL_INTERACTIONS)
                theirs = champ_run.data.tags.get(names.TAG_EVAL_LABELS, names.EVAL_INTERACTIONS)
                if ours != theirs:
                    ev.errors.append(
                        f"{ev.model_name} v{ev.version} was evaluated on {ours} labels but champion "
                        f"v{ev.champion_version} on {theirs} labels: their metrics are not comparable "
                        f"(tag {names.TAG_EVAL_LABELS}); re-train one of them on the same evaluation labels"
                    )
        return tags
    except MlflowException as exc:
        ev.errors.append(f"MLflow unreachable or failing for {ev.model_name} v{ev.version}: {registry.short(exc)}")
    except (OSError, ConnectionError) as exc:
        ev.errors.append(f"MLflow unreachable for {ev.model_name} v{ev.version}: {type(exc).__name__}: {exc}")
    return None


# ---- catalog ----------------------------------------------------------------------------------
def _catalog_part(s: Session, ev: Evidence, tags: dict[str, str]) -> tuple[dt.date, dt.date] | None:
    """Dataset, quality failures (with current waivers) and open anomalies; returns the training window."""
    from sqlalchemy import select

    from assay.catalog.models import (
        Anomaly,
        AnomalyStatus,
        Asset,
        ExpectationResult,
        QualityRun,
        TrainingDataset,
    )
    from assay.catalog.runs import QUALITY, is_current
    from assay.quality.waivers import active_waivers

    raw_id = tags.get(names.TAG_DATASET_ID)
    if not raw_id:
        ev.errors.append(f"run {ev.run_id} of {ev.model_name} v{ev.version} has no tag {names.TAG_DATASET_ID}")
        return None
    try:
        ev.dataset_id = int(raw_id)
    except ValueError:
        ev.errors.append(f"run {ev.run_id}: tag {names.TAG_DATASET_ID}={raw_id!r} is not a catalog id")
        return None
    ds = s.get(TrainingDataset, ev.dataset_id)
    if ds is None:
        ev.errors.append(f"training dataset #{ev.dataset_id} (run {ev.run_id}) is not in the catalog")
        return None
    ev.dataset_digest = ds.digest
    ev.dataset_flagged_partitions = [str(p) for p in (ds.stats or {}).get("unvalidated_partitions", [])]
    tag_digest = tags.get(names.TAG_DATASET_DIGEST)
    if tag_digest and tag_digest != ds.digest:
        ev.errors.append(
            f"run {ev.run_id} says dataset digest {tag_digest[:12]}…, catalog dataset #{ds.id} has {ds.digest[:12]}…"
        )
        return None
    raw_parts = list(ds.partitions) or [p for p in tags.get(names.TAG_PARTITIONS, "").split(",") if p.strip()]
    try:
        parts = sorted({parse_partition(p) for p in raw_parts}, key=lambda p: (p[1], p[0]))
    except ValueError as exc:
        ev.errors.append(f"training dataset #{ds.id}: {exc}")
        return None
    if not parts:
        ev.errors.append(f"training dataset #{ds.id} lists no partitions")
        return None
    ev.partitions = [f"{t}:{d.isoformat()}" for t, d in parts]
    ev.newest_partition = max(d for _, d in parts)

    # Quality runs: by (table, day), plus any id the dataset or the run names.
    wanted = {(t, d) for t, d in parts}
    listed = set(_ids(ds.quality_run_ids)) | set(_ids(tags.get(names.TAG_QUALITY_RUN_IDS)))
    rows = s.execute(
        select(QualityRun, Asset.name)
        .join(Asset, Asset.id == QualityRun.asset_id)
        .where(Asset.name.in_(sorted({t for t, _ in parts})), QualityRun.logical_date.in_(sorted({d for _, d in parts})),
               is_current(QUALITY))  # the current attempts; cited ones are added below
    ).all()
    runs = {qr.id: (qr, name) for qr, name in rows if (name, qr.logical_date) in wanted}
    current = set(runs)
    if listed - set(runs):
        extra = s.execute(
            select(QualityRun, Asset.name).join(Asset, Asset.id == QualityRun.asset_id).where(
                QualityRun.id.in_(sorted(listed - set(runs)))
            )
        ).all()
        runs.update({qr.id: (qr, name) for qr, name in extra})
        missing = sorted(listed - set(runs))
        if missing:
            ev.errors.append(f"quality runs named by the snapshot are not in the catalog: {missing}")
    ev.quality_run_ids = sorted(runs)
    ev.superseded_quality_run_ids = sorted(listed & (set(runs) - current))
    ev.training_waiver_ids = sorted(set(_ids(ds.waiver_ids)) | set(_ids(tags.get(names.TAG_WAIVER_IDS))))
    ev.gx_run_ids = sorted({qr.gx_run_id for qr, _ in runs.values() if qr.gx_run_id} | {
        g.strip() for g in tags.get(names.TAG_GX_RUN_IDS, "").split(",") if g.strip()})
    covered = {(name, qr.logical_date) for qr, name in runs.values()}
    ev.unvalidated_partitions = [f"{t}:{d.isoformat()}" for t, d in parts if (t, d) not in covered]
    ev.broken_quality_runs = [
        f"quality run #{qr.id} ({qr.suite_name} on {name}:{qr.partition_key}) has status {qr.status}"
        + (f": {qr.error}" if qr.error else "")
        for qr, name in runs.values()
        if qr.status not in ("ok", "failed")
    ]

    waiver_cache: dict[tuple[int, str, dt.date], dict[str, int]] = {}
    failed = s.execute(
        select(ExpectationResult)
        .where(ExpectationResult.quality_run_id.in_(ev.quality_run_ids), ExpectationResult.success.is_(False))
        .order_by(ExpectationResult.quality_run_id, ExpectationResult.expectation_id)
    ).scalars()
    for er in failed:
        qr, asset_name = runs[er.quality_run_id]
        key = (qr.asset_id, qr.suite_name, qr.logical_date)
        if key not in waiver_cache:
            waiver_cache[key] = active_waivers(s, *key)
        ev.failures.append(
            FailedExpectation(
                suite=qr.suite_name,
                asset=asset_name,
                partition=f"{asset_name}:{qr.partition_key}"
                + ("" if qr.partition_key == qr.logical_date.isoformat() else f" (run of {qr.logical_date})"),
                expectation_id=er.expectation_id,
                expectation_type=er.expectation_type,
                column=er.column_name,
                severity=er.severity,
                quality_run_id=qr.id,
                waiver_id=waiver_cache[key].get(er.expectation_id),
            )
        )

    asset_ids = {qr.asset_id for qr, _ in runs.values()} | set(
        s.execute(select(Asset.id).where(Asset.name.in_(sorted({t for t, _ in parts})))).scalars()
    )
    anomalies = s.execute(
        select(Anomaly, Asset.name)
        .join(Asset, Asset.id == Anomaly.asset_id)
        .where(
            Anomaly.asset_id.in_(sorted(asset_ids)),
            Anomaly.logical_date.in_(sorted({d for _, d in parts})),
            Anomaly.status == AnomalyStatus.OPEN.value,
        )
        .order_by(Anomaly.id)
    ).all()
    for a, asset_name in anomalies:
        if (asset_name, a.logical_date) in wanted:
            ev.anomalies.append(
                OpenAnomaly(a.id, asset_name, a.partition_key, a.column_name, a.metric, a.observed, a.lower, a.upper)
            )
    return ds.window_start, ds.window_end


def gather(
    settings: Settings,
    model_name: str,
    version: str,
    policy: Policy,
    now: dt.datetime,
    *,
    client: MlflowClient | None = None,
) -> Evidence:
    """Read everything the policy needs about ``model_name`` version ``version`` at time ``now``.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the catalog is unreachable (nothing could be recorded either).
    """
    from assay.catalog.db import session
    from assay.gate import drift, registry

    ev = Evidence(model_name=model_name, version=str(version), now=now)
    if client is None:
        client, problem = registry.client_or_error(settings)
        if client is None:
            ev.errors.append(problem or "MLflow client unavailable")
            return ev
    tags = _mlflow_part(client, ev)
    if tags is None:
        return ev
    with session(settings.catalog_url()) as s:
        window = _catalog_part(s, ev, tags)
    if window is None or not policy.drift.features:
        return ev
    end = now.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    serving = (end - dt.timedelta(days=policy.drift.recent_days - 1), end)
    ev.drift = drift.measure_declared(settings, [(f.name, f.bins) for f in policy.drift.features], window, serving)
    return ev
