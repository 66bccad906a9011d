"""Inventory tables: declared sources, their assets, columns, schema versions and events, column
classifications, and the inventory runs that find them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from assay.catalog.models.base import (
    ATTEMPT_ERROR,
    ATTEMPT_STARTED_AT,
    PK,
    Base,
    JsonList,
    JsonObject,
    Now,
    fk,
    one_of,
    sha256_check,
)
from assay.catalog.models.enums import (
    AssetKind,
    AssetStatus,
    ClassificationKind,
    ClassificationMethod,
    DecisionSource,
    RunStatus,
    SchemaEventType,
    SourceKind,
)


# ---- sources and assets -----------------------------------------------------------------------
class Source(Base):
    __tablename__ = "sources"
    __table_args__ = (
        UniqueConstraint("name"),
        one_of("kind", SourceKind),
        # A password must never reach the catalog: neither user:password@ nor ?password=.
        CheckConstraint(
            "url_or_conn_id !~ '^[A-Za-z][A-Za-z0-9+.-]*://[^/@?#]*:[^/@?#]*@' "
            "AND url_or_conn_id !~* '[?&]password='",
            name="no_password",
        ),
        {"comment": "Declared data sources (a SQL database or a file landing folder). Upsert on name."},
    )

    id: Mapped[PK]
    name: Mapped[str] = mapped_column(comment="Stable source name from the source declarations")
    kind: Mapped[str]
    url_or_conn_id: Mapped[str] = mapped_column(
        comment="Airflow connection id, or a URL/path with the password stripped"
    )
    owner: Mapped[str | None]
    tags: Mapped[JsonList] = mapped_column(comment="List of free-form tag strings")
    declared: Mapped[JsonObject] = mapped_column(
        comment="The declaration as read (include/exclude, SLAs, ...)"
    )
    created_at: Mapped[Now]
    updated_at: Mapped[Now]


class Asset(Base):
    __tablename__ = "assets"
    __table_args__ = (
        UniqueConstraint("source_id", "namespace", "name"),
        one_of("kind", AssetKind),
        one_of("status", AssetStatus),
        CheckConstraint("row_count IS NULL OR row_count >= 0", name="row_count"),
        CheckConstraint("size_bytes IS NULL OR size_bytes >= 0", name="size_bytes"),
        Index(None, "status"),
        Index(None, "last_inventory_run_id"),
        Index(None, "current_schema_version_id"),
        {
            "comment": "A table, view or file set found by inventory. Upsert on (source_id, namespace, name); "
            "never deleted: a vanished asset gets status 'deleted'."
        },
    )

    id: Mapped[PK]
    source_id: Mapped[int] = fk("sources.id", ondelete="RESTRICT")
    namespace: Mapped[str] = mapped_column(comment="Database schema, or folder relative to the landing root")
    name: Mapped[str]
    kind: Mapped[str]
    location: Mapped[str | None] = mapped_column(comment="Qualified table name or file glob/path")
    description: Mapped[str | None]
    owner: Mapped[str | None]
    tags: Mapped[JsonList]
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    row_count_is_estimate: Mapped[bool] = mapped_column(server_default=text("false"))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    freshness_at: Mapped[dt.datetime | None] = mapped_column(
        comment="Newest event time (or file mtime) seen at the last inventory"
    )
    event_time_column: Mapped[str | None]
    partition_column: Mapped[str | None]
    status: Mapped[str] = mapped_column(server_default=text("'active'"))
    error: Mapped[str | None]
    deleted_at: Mapped[dt.datetime | None]
    first_seen_at: Mapped[Now]
    last_seen_at: Mapped[Now]
    last_inventory_run_id: Mapped[int | None] = fk("inventory_runs.id", ondelete="SET NULL")
    current_schema_version_id: Mapped[int | None] = mapped_column(
        BigInteger,
        # schema_versions points back at assets: created after both tables exist.
        ForeignKey("schema_versions.id", ondelete="SET NULL", use_alter=True),
        comment="The schema version seen at the last inventory (versions can recur)",
    )
    created_at: Mapped[Now]
    updated_at: Mapped[Now]


class SchemaVersion(Base):
    __tablename__ = "schema_versions"
    __table_args__ = (
        UniqueConstraint("asset_id", "version"),
        UniqueConstraint("asset_id", "fingerprint"),
        sha256_check("fingerprint"),
        CheckConstraint("version >= 1", name="version"),
        {
            "comment": "Distinct column sets of an asset. Upsert on (asset_id, fingerprint); "
            "a schema that comes back reuses its version."
        },
    )

    id: Mapped[PK]
    asset_id: Mapped[int] = fk("assets.id")
    version: Mapped[int]
    fingerprint: Mapped[str] = mapped_column(comment="sha256 of the canonical column list")
    columns: Mapped[JsonList] = mapped_column(comment="[{name, ordinal, data_type, nullable}, ...]")
    observed_at: Mapped[Now] = mapped_column(comment="First time this column set was seen")
    last_observed_at: Mapped[Now]
    run_key: Mapped[str | None] = mapped_column(comment="Inventory run that first saw this version")


class SchemaEvent(Base):
    __tablename__ = "schema_events"
    __table_args__ = (
        # run_key is part of the key: a rerun of one run is idempotent, while a schema that
        # flaps (A -> B -> A -> B) still records every change.
        UniqueConstraint(
            "asset_id",
            "schema_version_id",
            "event_type",
            "column_name",
            "run_key",
            name="uq_schema_events_natural_key",
        ),
        one_of("event_type", SchemaEventType),
        Index(None, "schema_version_id"),
        Index(None, "observed_at"),
        {
            "comment": "Schema changes and asset lifecycle events. Append-only by convention; "
            "INSERT ... ON CONFLICT DO NOTHING on (asset_id, schema_version_id, event_type, column_name, run_key)."
        },
    )

    id: Mapped[PK]
    asset_id: Mapped[int] = fk("assets.id")
    schema_version_id: Mapped[int] = fk("schema_versions.id")
    event_type: Mapped[str]
    column_name: Mapped[str] = mapped_column(server_default=text("''"), comment="'' for asset-level events")
    old: Mapped[Any | None] = mapped_column(JSONB)
    new: Mapped[Any | None] = mapped_column(JSONB)
    observed_at: Mapped[Now]
    run_key: Mapped[str]


class AssetColumn(Base):
    __tablename__ = "asset_columns"
    __table_args__ = (
        UniqueConstraint("asset_id", "name"),
        {
            "comment": "Current columns of an asset; a removed column stays with is_present = false "
            "so its classifications survive. Upsert on (asset_id, name)."
        },
    )

    id: Mapped[PK]
    asset_id: Mapped[int] = fk("assets.id")
    name: Mapped[str]
    ordinal: Mapped[int]
    data_type: Mapped[str]
    nullable: Mapped[bool]
    is_present: Mapped[bool] = mapped_column(server_default=text("true"))
    description: Mapped[str | None]
    first_seen_at: Mapped[Now]
    last_seen_at: Mapped[Now]
    updated_at: Mapped[Now]


class Classification(Base):
    __tablename__ = "classifications"
    __table_args__ = (
        UniqueConstraint("column_id", "kind", "source"),
        one_of("kind", ClassificationKind),
        one_of("method", ClassificationMethod),
        one_of("source", DecisionSource),
        CheckConstraint("score >= 0 AND score <= 1", name="score"),
        {
            "comment": "PII and semantic labels of a column. Upsert on (column_id, kind, source); "
            "the steward row wins over the auto row. Evidence holds counts, pattern names and "
            "masked examples, never raw values."
        },
    )

    id: Mapped[PK]
    column_id: Mapped[int] = fk("asset_columns.id")
    kind: Mapped[str]
    label: Mapped[str] = mapped_column(
        comment="e.g. email, phone, product_title; 'none' = steward says no label"
    )
    score: Mapped[float]
    method: Mapped[str]
    evidence: Mapped[JsonObject]
    source: Mapped[str] = mapped_column(server_default=text("'auto'"))
    reason: Mapped[str | None] = mapped_column(comment="A steward's note")
    decided_by: Mapped[str | None]
    decided_at: Mapped[Now]
    updated_at: Mapped[Now]


class PendingLabel(Base):
    __tablename__ = "pending_labels"
    __table_args__ = (
        UniqueConstraint("column_id"),
        sha256_check("sample_digest"),
        {
            "comment": "Columns whose automatic labels wait for the labelling step (assay classify): the "
            "page shows 'classifying'. Upsert on column_id; the step deletes the row with the labels it "
            "writes. Holds a digest of the sample, never values."
        },
    )

    id: Mapped[PK]
    column_id: Mapped[int] = fk("asset_columns.id")
    sample_digest: Mapped[str] = mapped_column(comment="sha256 of the sample the inventory saw")
    observed_at: Mapped[dt.datetime] = mapped_column(comment="The inventory's observation time; the labels' decided_at")
    marked_at: Mapped[Now]


class InventoryRun(Base):
    __tablename__ = "inventory_runs"
    __table_args__ = (
        UniqueConstraint("run_key"),
        one_of("status", RunStatus),
        {"comment": "One inventory pass over the declared sources. Upsert on run_key."},
    )

    id: Mapped[PK]
    run_key: Mapped[str] = mapped_column(comment="dag_id/run_id, or cli/<logical date>")
    logical_date: Mapped[dt.date | None]
    started_at: Mapped[Now]
    finished_at: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(server_default=text("'running'"))
    stats: Mapped[JsonObject]
    error: Mapped[str | None]
    attempt_started_at: Mapped[dt.datetime | None] = mapped_column(comment=ATTEMPT_STARTED_AT)
    attempt_error: Mapped[str | None] = mapped_column(comment=ATTEMPT_ERROR)
