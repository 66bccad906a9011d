"""The newest candidate, successful training run and gate decision in the catalog.

``make demo`` tells ``promote`` which version ``train`` just registered (``airflow dags test`` has
no triggering asset event) and shows the newest run and decision at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LatestRun:
    """A successful training run and its MLflow metrics (candidate and baselines)."""

    mlflow_run_id: str
    metrics: dict[str, Any]


@dataclass(frozen=True)
class LatestDecision:
    """A gate decision with its checks (``[{name, observed, threshold, verdict}, ...]``)."""

    id: int
    model_name: str
    version: str
    decision: str
    reason: str
    checks: list[dict[str, Any]]


def latest_candidate(url: str, model_name: str | None = None) -> tuple[str, str] | None:
    """(model name, version) of the newest registered candidate (of ``model_name`` when given), if any."""
    from sqlalchemy import select

    from assay.catalog.db import session
    from assay.catalog.models import ModelCandidate

    query = select(ModelCandidate.model_name, ModelCandidate.version).order_by(ModelCandidate.id.desc()).limit(1)
    if model_name is not None:
        query = query.where(ModelCandidate.model_name == model_name)
    with session(url) as s:
        row = s.execute(query).first()
    return None if row is None else (row[0], row[1])


def latest_run(url: str) -> LatestRun | None:
    """The newest successful training run, if any."""
    from sqlalchemy import select

    from assay.catalog.db import session
    from assay.catalog.models import TrainingRun

    with session(url) as s:
        run = s.execute(
            select(TrainingRun).where(TrainingRun.status == "success").order_by(TrainingRun.id.desc()).limit(1)
        ).scalar_one_or_none()
        return None if run is None else LatestRun(run.mlflow_run_id, dict(run.metrics or {}))


def latest_decision(url: str) -> LatestDecision | None:
    """The newest gate decision, if any."""
    from sqlalchemy import select

    from assay.catalog.db import session
    from assay.catalog.models import GateDecision

    with session(url) as s:
        d = s.execute(select(GateDecision).order_by(GateDecision.id.desc()).limit(1)).scalar_one_or_none()
        if d is None:
            return None
        return LatestDecision(d.id, d.model_name, d.version, d.decision, d.reason, list(d.checks or []))
