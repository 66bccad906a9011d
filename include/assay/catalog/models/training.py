"""Training and promotion tables: frozen training sets, training runs, model candidates, gate
decisions and alias moves (the last two append-only)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Index, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from assay.catalog.models.base import PK, Base, JsonList, JsonObject, Now, fk, one_of, sha256_check
from assay.catalog.models.enums import Decision, RunStatus


class TrainingDataset(Base):
    __tablename__ = "training_datasets"
    __table_args__ = (
        UniqueConstraint("digest"),
        sha256_check("digest"),
        CheckConstraint("window_end >= window_start", name="window"),
        {
            "comment": "A frozen training set and the quality evidence it was built on. "
            "Upsert on digest (content hash)."
        },
    )

    id: Mapped[PK]
    digest: Mapped[str]
    window_start: Mapped[dt.date]
    window_end: Mapped[dt.date]
    location: Mapped[str | None] = mapped_column(comment="Where the materialised files live")
    partitions: Mapped[JsonList]
    quality_run_ids: Mapped[JsonList]
    waiver_ids: Mapped[JsonList]
    n_train: Mapped[int]
    n_test: Mapped[int]
    stats: Mapped[JsonObject]
    run_key: Mapped[str | None]
    created_at: Mapped[Now]


class TrainingRun(Base):
    __tablename__ = "training_runs"
    __table_args__ = (
        UniqueConstraint("mlflow_run_id"),
        one_of("status", RunStatus),
        Index(None, "dataset_id"),
        {"comment": "A fine-tuning run tracked in MLflow. Upsert on mlflow_run_id."},
    )

    id: Mapped[PK]
    mlflow_run_id: Mapped[str]
    dataset_id: Mapped[int | None] = fk("training_datasets.id", ondelete="RESTRICT")  # None: failed before
    run_key: Mapped[str]
    params: Mapped[JsonObject]
    metrics: Mapped[JsonObject]
    status: Mapped[str] = mapped_column(server_default=text("'running'"))
    model_uri: Mapped[str | None]
    started_at: Mapped[Now]
    finished_at: Mapped[dt.datetime | None]
    error: Mapped[str | None]


class ModelCandidate(Base):
    __tablename__ = "model_candidates"
    __table_args__ = (
        UniqueConstraint("model_name", "version"),
        Index(None, "training_run_id"),
        {"comment": "A registered model version the gate may judge. Upsert on (model_name, version)."},
    )

    id: Mapped[PK]
    model_name: Mapped[str]
    version: Mapped[str]
    mlflow_run_id: Mapped[str | None]
    training_run_id: Mapped[int | None] = fk("training_runs.id", ondelete="SET NULL")
    model_uri: Mapped[str]
    created_at: Mapped[Now]


class GateDecision(Base):
    __tablename__ = "gate_decisions"
    __table_args__ = (
        one_of("decision", Decision),
        sha256_check("policy_digest"),
        Index(None, "model_name", "version"),
        {
            "comment": "APPEND-ONLY (trigger). Every promotion-gate evaluation with its policy, checks and "
            "evidence; retries append a new row."
        },
    )

    id: Mapped[PK]
    model_name: Mapped[str]
    version: Mapped[str]
    decision: Mapped[str]
    policy_digest: Mapped[str]
    policy: Mapped[JsonObject]
    checks: Mapped[JsonList] = mapped_column(comment="[{name, observed, threshold, verdict}, ...]")
    evidence: Mapped[JsonObject]
    reason: Mapped[str]
    actor: Mapped[str]
    run_key: Mapped[str | None]
    decided_at: Mapped[Now]


class AliasEvent(Base):
    __tablename__ = "alias_events"
    __table_args__ = (
        # One decision moves one alias at most once: a retried move is INSERT ... ON CONFLICT DO NOTHING.
        UniqueConstraint("decision_id", "alias"),
        CheckConstraint("from_version IS DISTINCT FROM to_version", name="moves"),
        Index(None, "model_name", "alias", "moved_at"),
        {
            "comment": "APPEND-ONLY (trigger). Every move of a registry alias and the decision that justified it."
        },
    )

    id: Mapped[PK]
    model_name: Mapped[str]
    alias: Mapped[str]
    from_version: Mapped[str | None]
    to_version: Mapped[str]
    decision_id: Mapped[int] = fk("gate_decisions.id", ondelete="RESTRICT")
    actor: Mapped[str]
    reason: Mapped[str]
    moved_at: Mapped[Now]
