"""The catalog and registry side of a training run: ``training_runs`` and ``model_candidates`` rows,
interrupted attempts, and the outcome of a run key that already registered a version (idempotency).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from assay import names
from assay.config import Settings
from assay.errors import TrainingError
from assay.training.request import TrainOutcome

log = logging.getLogger(__name__)


def now() -> dt.datetime:
    """The wall clock in UTC (the ``finished_at`` of a catalog row)."""
    return dt.datetime.now(dt.UTC)


def record_run(settings: Settings, row: dict[str, Any]) -> int:
    """Upsert the ``training_runs`` row (keyed by its MLflow run id); returns its id."""
    from assay.catalog.db import session
    from assay.catalog.models import TrainingRun
    from assay.catalog.upsert import upsert

    with session(settings.catalog_url()) as s:
        (run_pk,) = upsert(s, TrainingRun, [row], key=["mlflow_run_id"])
    return run_pk


def record_candidate(settings: Settings, outcome: TrainOutcome, training_run_pk: int) -> None:
    """Upsert the ``model_candidates`` row of a registered version."""
    from assay.catalog.db import session
    from assay.catalog.models import ModelCandidate
    from assay.catalog.upsert import upsert

    with session(settings.catalog_url()) as s:
        upsert(
            s,
            ModelCandidate,
            [
                {
                    "model_name": outcome.model_name,
                    "version": outcome.version,
                    "mlflow_run_id": outcome.run_id,
                    "training_run_id": training_run_pk,
                    "model_uri": outcome.model_uri,
                }
            ],
            key=["model_name", "version"],
        )


def fail_stale_attempts(settings: Settings, run_key: str) -> None:
    """Runs of this key still ``running`` were killed: mark them failed in the catalog and MLflow."""
    from sqlalchemy import select, update

    from assay.catalog.db import session
    from assay.catalog.models import RunStatus, TrainingRun
    from assay.training.tracking import TAG_ERROR, client

    with session(settings.catalog_url()) as s:
        stale = list(
            s.execute(
                select(TrainingRun.mlflow_run_id).where(
                    TrainingRun.run_key == run_key, TrainingRun.status == RunStatus.RUNNING
                )
            ).scalars()
        )
        if stale:
            s.execute(
                update(TrainingRun)
                .where(TrainingRun.mlflow_run_id.in_(stale))
                .values(
                    status=RunStatus.FAILED, finished_at=now(), error="interrupted; superseded by a retry"
                )
            )
    if stale:
        c = client(settings)
        for run_id in stale:
            c.set_tag(run_id, TAG_ERROR, "interrupted; superseded by a retry")
            c.set_terminated(run_id, "FAILED")
        log.info("marked %d interrupted attempt(s) of %s failed: %s", len(stale), run_key, ", ".join(stale))


def finished_outcome(settings: Settings, run_key: str) -> TrainOutcome | None:
    """The outcome of an earlier run of ``run_key`` that registered a version, if there is one.

    The registry is the source of truth (a version is what must never be made twice); the catalog
    rows are rewritten from the MLflow run in case the earlier attempt died before writing them.
    """
    from assay.catalog.models import RunStatus
    from assay.training.tracking import client

    c = client(settings)
    versions = [
        mv
        for mv in c.search_model_versions(f"name = '{names.MODEL_NAME}'")
        if mv.tags.get(names.TAG_RUN_KEY) == run_key
    ]
    if not versions:
        return None
    mv = min(versions, key=lambda v: int(v.version))
    if not mv.run_id:
        raise TrainingError(f"{names.MODEL_NAME} v{mv.version} (run key {run_key}) has no source run")
    run = c.get_run(mv.run_id)
    outcome = TrainOutcome(
        run_id=mv.run_id,
        model_uri=f"models:/{names.MODEL_NAME}/{mv.version}",
        model_name=names.MODEL_NAME,
        version=str(mv.version),
        dataset_digest=run.data.tags.get(names.TAG_DATASET_DIGEST, ""),
        metrics=_ranking_metrics(dict(run.data.metrics)),
        reused=True,
    )
    run_pk = record_run(
        settings,
        {
            "mlflow_run_id": mv.run_id,
            "dataset_id": int(run.data.tags[names.TAG_DATASET_ID]),
            "run_key": run_key,
            "params": dict(run.data.params),
            "metrics": outcome.metrics,
            "status": RunStatus.SUCCESS,
            "model_uri": outcome.model_uri,
            "finished_at": now(),
            "error": None,
        },
    )
    record_candidate(settings, outcome, run_pk)
    log.info(
        "run key %s already produced %s v%s (run %s): reusing it",
        run_key,
        names.MODEL_NAME,
        mv.version,
        mv.run_id,
    )
    return outcome


def _ranking_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The evaluation metrics among a run's metrics (not the curves)."""
    stems = set(names.METRICS) | set(names.BASELINES) | {names.CLICK_LABELS}
    return {k: v for k, v in metrics.items() if k.split(".")[0] in stems}
