"""Profiling tables: profile attempts of asset partitions and the current one per key, their column
metrics, and the anomalies found."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from assay.catalog.models.base import (
    PK,
    Base,
    JsonObject,
    Now,
    fk,
    one_of,
)
from assay.catalog.models.enums import AnomalyStatus, RunStatus


class ProfileRun(Base):
    __tablename__ = "profile_runs"
    __table_args__ = (
        one_of("status", RunStatus),
        Index("ix_profile_runs_natural_key", "asset_id", "partition_key", "logical_date"),
        {
            "comment": "APPEND-ONLY attempts: one row per profiling attempt of an asset partition, never changed "
            "once finished (see profile_current for the current attempt of each key)."
        },
    )

    id: Mapped[PK]
    asset_id: Mapped[int] = fk("assets.id")
    partition_key: Mapped[str] = mapped_column(comment="e.g. '2026-11-20', or '__all__' for the whole asset")
    logical_date: Mapped[dt.date]
    run_key: Mapped[str]
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    stats: Mapped[JsonObject] = mapped_column(comment="Table-level figures: sampling, bytes, duration, ...")
    status: Mapped[str] = mapped_column(server_default=text("'running'"))
    error: Mapped[str | None]
    started_at: Mapped[Now]
    finished_at: Mapped[dt.datetime | None]


class ProfileCurrent(Base):
    __tablename__ = "profile_current"
    __table_args__ = (
        UniqueConstraint("asset_id", "partition_key", "logical_date"),
        UniqueConstraint("profile_run_id"),
        Index(None, "asset_id", "logical_date"),  # an asset's profile history (0007)
        {
            "comment": "The current attempt of each (asset_id, partition_key, logical_date): the one consumers "
            "read. Moved by a finished attempt."
        },
    )

    id: Mapped[PK]
    asset_id: Mapped[int] = fk("assets.id")
    partition_key: Mapped[str]
    logical_date: Mapped[dt.date]
    profile_run_id: Mapped[int] = fk("profile_runs.id")
    updated_at: Mapped[Now]


class ColumnMetrics(Base):
    __tablename__ = "column_metrics"
    __table_args__ = (
        UniqueConstraint("profile_run_id", "column_name"),
        {"comment": "Per-column metrics of a profile attempt, written with it. Unique on (profile_run_id, column_name)."},
    )

    id: Mapped[PK]
    profile_run_id: Mapped[int] = fk("profile_runs.id")
    column_name: Mapped[str]
    data_type: Mapped[str | None]
    metrics: Mapped[JsonObject] = mapped_column(
        comment="null_count, distinct, distinct_is_approx, distinct_error, min, max, mean, stddev, "
        "quantiles, length stats, top_values, histogram"
    )


class Anomaly(Base):
    __tablename__ = "anomalies"
    __table_args__ = (
        UniqueConstraint(
            "asset_id",
            "partition_key",
            "logical_date",
            "column_name",
            "metric",
            name="uq_anomalies_natural_key",
        ),
        one_of("status", AnomalyStatus),
        Index(None, "status"),
        Index(None, "profile_run_id"),
        Index(None, "asset_id", "logical_date"),  # anomalies marked on an asset's charts (0007)
        {
            "comment": "A metric outside its expected band. Upsert on "
            "(asset_id, partition_key, logical_date, column_name, metric); reruns keep the steward's status."
        },
    )

    id: Mapped[PK]
    asset_id: Mapped[int] = fk("assets.id")
    profile_run_id: Mapped[int | None] = fk("profile_runs.id", ondelete="SET NULL")
    partition_key: Mapped[str]
    logical_date: Mapped[dt.date]
    column_name: Mapped[str] = mapped_column(server_default=text("''"), comment="'' for table-level metrics")
    metric: Mapped[str]
    observed: Mapped[float | None]
    lower: Mapped[float | None]
    upper: Mapped[float | None]
    method: Mapped[str]
    details: Mapped[JsonObject]
    status: Mapped[str] = mapped_column(server_default=text("'open'"))
    status_changed_by: Mapped[str | None]
    status_changed_at: Mapped[dt.datetime | None]
    detected_at: Mapped[Now]
    updated_at: Mapped[Now]
