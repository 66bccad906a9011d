"""Quality tables: GX validation attempts and the current one per key, expectation results, waivers,
the steward's review queue and daily scorecards."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from assay.catalog.models.base import (
    PK,
    Base,
    JsonObject,
    Now,
    fk,
    one_of,
)
from assay.catalog.models.enums import Dimension, QualityStatus, ReviewKind, ReviewStatus, Severity
from assay.catalog.models.steward import ResolutionReason


class QualityRun(Base):
    __tablename__ = "quality_runs"
    __table_args__ = (
        one_of("status", QualityStatus),
        Index(None, "asset_id", "logical_date"),
        Index("ix_quality_runs_natural_key", "suite_name", "asset_id", "partition_key", "logical_date"),
        {
            "comment": "APPEND-ONLY attempts: one row per GX validation attempt of a suite on an asset partition, "
            "never changed once finished (see quality_current for the current attempt of each key)."
        },
    )

    id: Mapped[PK]
    suite_name: Mapped[str]
    suite_digest: Mapped[str | None] = mapped_column(comment="sha256 of the suite JSON that ran")
    asset_id: Mapped[int] = fk("assets.id")
    partition_key: Mapped[str]
    logical_date: Mapped[dt.date]
    run_key: Mapped[str]
    gx_run_id: Mapped[str | None]
    success: Mapped[bool | None]
    critical_failures: Mapped[int] = mapped_column(server_default=text("0"))
    warning_failures: Mapped[int] = mapped_column(server_default=text("0"))
    status: Mapped[str] = mapped_column(server_default=text("'running'"))
    error: Mapped[str | None]
    statistics: Mapped[JsonObject]
    data_docs_url: Mapped[str | None]
    started_at: Mapped[Now]
    finished_at: Mapped[dt.datetime | None]


class QualityCurrent(Base):
    __tablename__ = "quality_current"
    __table_args__ = (
        UniqueConstraint("suite_name", "asset_id", "partition_key", "logical_date", name="uq_quality_current_natural_key"),
        UniqueConstraint("quality_run_id"),
        # The steward pages: an asset's days, and the calendar of a day range (0007).
        Index(None, "asset_id", "logical_date"),
        Index(None, "logical_date"),
        {
            "comment": "The current attempt of each (suite_name, asset_id, partition_key, logical_date): the one "
            "consumers read. Moved by a finished attempt; id is the key's stable id (review items' ref prefix)."
        },
    )

    id: Mapped[PK]
    suite_name: Mapped[str]
    asset_id: Mapped[int] = fk("assets.id")
    partition_key: Mapped[str]
    logical_date: Mapped[dt.date]
    quality_run_id: Mapped[int] = fk("quality_runs.id")
    updated_at: Mapped[Now]


class Waiver(Base):
    __tablename__ = "waivers"
    __table_args__ = (
        UniqueConstraint(
            "asset_id", "suite_name", "expectation_id", "valid_from", name="uq_waivers_natural_key"
        ),
        CheckConstraint("valid_until IS NULL OR valid_until > valid_from", name="valid_window"),
        {
            "comment": "A steward's time-boxed exemption of one expectation on one asset. "
            "Upsert on (asset_id, suite_name, expectation_id, valid_from); revoke by setting revoked_at."
        },
    )

    id: Mapped[PK]
    asset_id: Mapped[int] = fk("assets.id")
    suite_name: Mapped[str]
    expectation_id: Mapped[str]
    reason: Mapped[str]
    created_by: Mapped[str]
    valid_from: Mapped[dt.datetime]
    valid_until: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    revoked_by: Mapped[str | None]
    created_at: Mapped[Now]


class ExpectationResult(Base):
    __tablename__ = "expectation_results"
    __table_args__ = (
        UniqueConstraint("quality_run_id", "expectation_id"),
        one_of("dimension", Dimension),
        one_of("severity", Severity),
        CheckConstraint("NOT waived OR waiver_id IS NOT NULL", name="waived_has_waiver"),
        Index(None, "waiver_id"),
        {
            "comment": "One expectation's outcome in a quality run attempt, written with it and never changed after. "
            "Unique on (quality_run_id, expectation_id). details are PII-masked."
        },
    )

    id: Mapped[PK]
    quality_run_id: Mapped[int] = fk("quality_runs.id")
    expectation_id: Mapped[str] = mapped_column(comment="Stable key: the GX id or type + kwargs hash")
    expectation_type: Mapped[str]
    column_name: Mapped[str | None]
    dimension: Mapped[str]
    severity: Mapped[str]
    success: Mapped[bool]
    observed_value: Mapped[Any | None] = mapped_column(JSONB)
    unexpected_count: Mapped[int | None] = mapped_column(BigInteger)
    unexpected_percent: Mapped[float | None]
    details: Mapped[JsonObject]
    waived: Mapped[bool] = mapped_column(server_default=text("false"))
    waiver_id: Mapped[int | None] = fk("waivers.id", ondelete="SET NULL")


class ReviewItem(Base):
    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("kind", "ref"),
        one_of("kind", ReviewKind),
        one_of("status", ReviewStatus),
        one_of("resolution_reason", ResolutionReason),  # NULL passes: open items and the stages' closes
        Index(None, "asset_id", "status"),
        Index(None, "quality_run_id"),
        Index(None, "anomaly_id"),
        Index(None, "schema_event_id"),
        {
            "comment": "The steward's work queue. Upsert on (kind, ref); ref is the writer's stable key, "
            "e.g. '<quality_current.id>/<expectation_id>' (stable across attempts) or '<anomaly_id>'."
        },
    )

    id: Mapped[PK]
    kind: Mapped[str]
    ref: Mapped[str]
    asset_id: Mapped[int] = fk("assets.id")
    quality_run_id: Mapped[int | None] = fk("quality_runs.id")
    anomaly_id: Mapped[int | None] = fk("anomalies.id")
    schema_event_id: Mapped[int | None] = fk("schema_events.id")
    summary: Mapped[str]
    details: Mapped[JsonObject]
    status: Mapped[str] = mapped_column(server_default=text("'open'"))
    resolution: Mapped[str | None]
    closed_by: Mapped[str | None]
    closed_at: Mapped[dt.datetime | None]
    created_at: Mapped[Now]
    updated_at: Mapped[Now]
    # The steward's workflow (assay.steward): acknowledge -> assign -> resolve with a reason code.
    acknowledged_by: Mapped[str | None]
    acknowledged_at: Mapped[dt.datetime | None]
    assigned_to: Mapped[str | None]
    assigned_at: Mapped[dt.datetime | None]
    resolution_reason: Mapped[str | None] = mapped_column(comment="ResolutionReason of a steward's close")


class Scorecard(Base):
    __tablename__ = "scorecards"
    __table_args__ = (
        UniqueConstraint("asset_id", "day"),
        CheckConstraint("overall IS NULL OR (overall >= 0 AND overall <= 1)", name="overall"),
        Index(None, "day"),  # the scorecard over time (0007)
        {"comment": "Daily quality score of an asset per dimension (0..1). Upsert on (asset_id, day)."},
    )

    id: Mapped[PK]
    asset_id: Mapped[int] = fk("assets.id")
    day: Mapped[dt.date]
    dimension_scores: Mapped[JsonObject] = mapped_column(comment="{dimension: score 0..1 or null}")
    overall: Mapped[float | None]
    details: Mapped[JsonObject]
    computed_at: Mapped[Now]
