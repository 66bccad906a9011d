"""The catalog schema: sources, assets, schemas, profiles, quality, training and promotion.

Generated with ``alembic revision --autogenerate`` from :mod:`assay.catalog.models`, then edited by
hand:

* ``assets.current_schema_version_id`` and ``schema_versions.asset_id`` point at each other, so
  that foreign key is added after both tables exist (and dropped first on the way down).
* ``gate_decisions`` and ``alias_events`` get a trigger that refuses UPDATE, DELETE and TRUNCATE:
  the promotion audit trail is append-only even for code that bypasses assay.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Frozen copy of models.APPEND_ONLY_TABLES as of this revision (migrations never import the live list).
APPEND_ONLY = ("gate_decisions", "alias_events")
GUARD_FUNCTION = "assay_refuse_append_only_change"


def _guard_append_only(table: str) -> None:
    """Refuse UPDATE and DELETE per row, and TRUNCATE per statement, on ``table``."""
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {GUARD_FUNCTION}()"
    )
    op.execute(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {GUARD_FUNCTION}()"
    )


def upgrade() -> None:
    # restrict_violation (SQLSTATE 23001) surfaces as an IntegrityError in SQLAlchemy.
    op.execute(
        f"""
        CREATE FUNCTION {GUARD_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'assay: % is append-only; % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'restrict_violation',
                      HINT = 'append a new row (a new gate decision or alias event) instead';
        END;
        $$
        """
    )
    op.create_table(
        "gate_decisions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("model_name", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("policy_digest", sa.Text(), nullable=False),
        sa.Column(
            "policy",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "checks",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
            comment="[{name, observed, threshold, verdict}, ...]",
        ),
        sa.Column(
            "evidence",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("run_key", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("decision IN ('pass', 'fail', 'error')", name=op.f("ck_gate_decisions_decision")),
        sa.CheckConstraint(
            "policy_digest ~ '^[0-9a-f]{64}$'", name=op.f("ck_gate_decisions_policy_digest_sha256")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_decisions")),
        comment="APPEND-ONLY (trigger). Every promotion-gate evaluation with its policy, checks and evidence; retries append a new row.",
    )
    op.create_index(
        op.f("ix_gate_decisions_model_name_version"),
        "gate_decisions",
        ["model_name", "version"],
        unique=False,
    )
    op.create_table(
        "inventory_runs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("run_key", sa.Text(), nullable=False, comment="dag_id/run_id, or cli/<logical date>"),
        sa.Column("logical_date", sa.Date(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'running'"), nullable=False),
        sa.Column(
            "stats",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'success', 'partial', 'failed')", name=op.f("ck_inventory_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_runs")),
        sa.UniqueConstraint("run_key", name=op.f("uq_inventory_runs_run_key")),
        comment="One inventory pass over the declared sources. Upsert on run_key.",
    )
    op.create_table(
        "sources",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "name", sa.Text(), nullable=False, comment="Stable source name from the source declarations"
        ),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column(
            "url_or_conn_id",
            sa.Text(),
            nullable=False,
            comment="Airflow connection id, or a URL/path with the password stripped",
        ),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column(
            "tags",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
            comment="List of free-form tag strings",
        ),
        sa.Column(
            "declared",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
            comment="The declaration as read (include/exclude, SLAs, ...)",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('sql', 'files')", name=op.f("ck_sources_kind")),
        sa.CheckConstraint(
            "url_or_conn_id !~ '^[A-Za-z][A-Za-z0-9+.-]*://[^/@?#]*:[^/@?#]*@' AND url_or_conn_id !~* '[?&]password='",
            name=op.f("ck_sources_no_password"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_sources_name")),
        comment="Declared data sources (a SQL database or a file landing folder). Upsert on name.",
    )
    op.create_table(
        "training_datasets",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("window_end", sa.Date(), nullable=False),
        sa.Column("location", sa.Text(), nullable=True, comment="Where the materialised files live"),
        sa.Column(
            "partitions",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "quality_run_ids",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "waiver_ids",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("n_train", sa.Integer(), nullable=False),
        sa.Column("n_test", sa.Integer(), nullable=False),
        sa.Column(
            "stats",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("run_key", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("digest ~ '^[0-9a-f]{64}$'", name=op.f("ck_training_datasets_digest_sha256")),
        sa.CheckConstraint("window_end >= window_start", name=op.f("ck_training_datasets_window")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_datasets")),
        sa.UniqueConstraint("digest", name=op.f("uq_training_datasets_digest")),
        comment="A frozen training set and the quality evidence it was built on. Upsert on digest (content hash).",
    )
    op.create_table(
        "alias_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("model_name", sa.Text(), nullable=False),
        sa.Column("alias", sa.Text(), nullable=False),
        sa.Column("from_version", sa.Text(), nullable=True),
        sa.Column("to_version", sa.Text(), nullable=False),
        sa.Column("decision_id", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("moved_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("from_version IS DISTINCT FROM to_version", name=op.f("ck_alias_events_moves")),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["gate_decisions.id"],
            name=op.f("fk_alias_events_decision_id_gate_decisions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alias_events")),
        sa.UniqueConstraint("decision_id", "alias", name=op.f("uq_alias_events_decision_id_alias")),
        comment="APPEND-ONLY (trigger). Every move of a registry alias and the decision that justified it.",
    )
    op.create_index(
        op.f("ix_alias_events_model_name_alias_moved_at"),
        "alias_events",
        ["model_name", "alias", "moved_at"],
        unique=False,
    )
    op.create_table(
        "assets",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "namespace",
            sa.Text(),
            nullable=False,
            comment="Database schema, or folder relative to the landing root",
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=True, comment="Qualified table name or file glob/path"),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column(
            "tags",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("row_count", sa.BigInteger(), nullable=True),
        sa.Column("row_count_is_estimate", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column(
            "freshness_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="Newest event time (or file mtime) seen at the last inventory",
        ),
        sa.Column("event_time_column", sa.Text(), nullable=True),
        sa.Column("partition_column", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "first_seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "last_seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("last_inventory_run_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "current_schema_version_id",
            sa.BigInteger(),
            nullable=True,
            comment="The schema version seen at the last inventory (versions can recur)",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('table', 'view', 'file', 'partitioned')", name=op.f("ck_assets_kind")),
        sa.CheckConstraint("status IN ('active', 'deleted', 'error')", name=op.f("ck_assets_status")),
        sa.CheckConstraint("row_count IS NULL OR row_count >= 0", name=op.f("ck_assets_row_count")),
        sa.CheckConstraint("size_bytes IS NULL OR size_bytes >= 0", name=op.f("ck_assets_size_bytes")),
        sa.ForeignKeyConstraint(
            ["last_inventory_run_id"],
            ["inventory_runs.id"],
            name=op.f("fk_assets_last_inventory_run_id_inventory_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_assets_source_id_sources"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint(
            "source_id", "namespace", "name", name=op.f("uq_assets_source_id_namespace_name")
        ),
        comment="A table, view or file set found by inventory. Upsert on (source_id, namespace, name); never deleted: a vanished asset gets status 'deleted'.",
    )
    op.create_index(
        op.f("ix_assets_current_schema_version_id"), "assets", ["current_schema_version_id"], unique=False
    )
    op.create_index(
        op.f("ix_assets_last_inventory_run_id"), "assets", ["last_inventory_run_id"], unique=False
    )
    op.create_index(op.f("ix_assets_status"), "assets", ["status"], unique=False)
    op.create_table(
        "training_runs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("mlflow_run_id", sa.Text(), nullable=False),
        sa.Column("dataset_id", sa.BigInteger(), nullable=False),
        sa.Column("run_key", sa.Text(), nullable=False),
        sa.Column(
            "params",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "metrics",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("status", sa.Text(), server_default=sa.text("'running'"), nullable=False),
        sa.Column("model_uri", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'success', 'partial', 'failed')", name=op.f("ck_training_runs_status")
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["training_datasets.id"],
            name=op.f("fk_training_runs_dataset_id_training_datasets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_runs")),
        sa.UniqueConstraint("mlflow_run_id", name=op.f("uq_training_runs_mlflow_run_id")),
        comment="A fine-tuning run tracked in MLflow. Upsert on mlflow_run_id.",
    )
    op.create_index(op.f("ix_training_runs_dataset_id"), "training_runs", ["dataset_id"], unique=False)
    op.create_table(
        "asset_columns",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("asset_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("data_type", sa.Text(), nullable=False),
        sa.Column("nullable", sa.Boolean(), nullable=False),
        sa.Column("is_present", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "first_seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "last_seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_asset_columns_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_columns")),
        sa.UniqueConstraint("asset_id", "name", name=op.f("uq_asset_columns_asset_id_name")),
        comment="Current columns of an asset; a removed column stays with is_present = false so its classifications survive. Upsert on (asset_id, name).",
    )
    op.create_table(
        "model_candidates",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("model_name", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("mlflow_run_id", sa.Text(), nullable=True),
        sa.Column("training_run_id", sa.BigInteger(), nullable=True),
        sa.Column("model_uri", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["training_run_id"],
            ["training_runs.id"],
            name=op.f("fk_model_candidates_training_run_id_training_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_candidates")),
        sa.UniqueConstraint("model_name", "version", name=op.f("uq_model_candidates_model_name_version")),
        comment="A registered model version the gate may judge. Upsert on (model_name, version).",
    )
    op.create_index(
        op.f("ix_model_candidates_training_run_id"), "model_candidates", ["training_run_id"], unique=False
    )
    op.create_table(
        "profile_runs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("asset_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "partition_key",
            sa.Text(),
            nullable=False,
            comment="e.g. '2026-11-20', or '__all__' for the whole asset",
        ),
        sa.Column("logical_date", sa.Date(), nullable=False),
        sa.Column("run_key", sa.Text(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=True),
        sa.Column(
            "stats",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
            comment="Table-level figures: sampling, bytes, duration, ...",
        ),
        sa.Column("status", sa.Text(), server_default=sa.text("'running'"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'success', 'partial', 'failed')", name=op.f("ck_profile_runs_status")
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_profile_runs_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_runs")),
        sa.UniqueConstraint(
            "asset_id",
            "partition_key",
            "logical_date",
            name=op.f("uq_profile_runs_asset_id_partition_key_logical_date"),
        ),
        comment="Profiling of one asset partition. Upsert on (asset_id, partition_key, logical_date).",
    )
    op.create_table(
        "quality_runs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("suite_name", sa.Text(), nullable=False),
        sa.Column("suite_digest", sa.Text(), nullable=True, comment="sha256 of the suite JSON that ran"),
        sa.Column("asset_id", sa.BigInteger(), nullable=False),
        sa.Column("partition_key", sa.Text(), nullable=False),
        sa.Column("logical_date", sa.Date(), nullable=False),
        sa.Column("run_key", sa.Text(), nullable=False),
        sa.Column("gx_run_id", sa.Text(), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=True),
        sa.Column("critical_failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("warning_failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'running'"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "statistics",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("data_docs_url", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'ok', 'failed', 'error')", name=op.f("ck_quality_runs_status")
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_quality_runs_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_runs")),
        sa.UniqueConstraint(
            "suite_name",
            "asset_id",
            "partition_key",
            "logical_date",
            name=op.f("uq_quality_runs_suite_name_asset_id_partition_key_logical_date"),
        ),
        comment="One GX validation of a suite on an asset partition. Upsert on (suite_name, asset_id, partition_key, logical_date).",
    )
    op.create_index(
        op.f("ix_quality_runs_asset_id_logical_date"),
        "quality_runs",
        ["asset_id", "logical_date"],
        unique=False,
    )
    op.create_table(
        "schema_versions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("asset_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False, comment="sha256 of the canonical column list"),
        sa.Column(
            "columns",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
            comment="[{name, ordinal, data_type, nullable}, ...]",
        ),
        sa.Column(
            "observed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="First time this column set was seen",
        ),
        sa.Column(
            "last_observed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("run_key", sa.Text(), nullable=True, comment="Inventory run that first saw this version"),
        sa.CheckConstraint(
            "fingerprint ~ '^[0-9a-f]{64}$'", name=op.f("ck_schema_versions_fingerprint_sha256")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_schema_versions_version")),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_schema_versions_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schema_versions")),
        sa.UniqueConstraint("asset_id", "fingerprint", name=op.f("uq_schema_versions_asset_id_fingerprint")),
        sa.UniqueConstraint("asset_id", "version", name=op.f("uq_schema_versions_asset_id_version")),
        comment="Distinct column sets of an asset. Upsert on (asset_id, fingerprint); a schema that comes back reuses its version.",
    )
    # The other half of the assets <-> schema_versions cycle.
    op.create_foreign_key(
        op.f("fk_assets_current_schema_version_id_schema_versions"),
        "assets",
        "schema_versions",
        ["current_schema_version_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_table(
        "scorecards",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("asset_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "dimension_scores",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
            comment="{dimension: score 0..1 or null}",
        ),
        sa.Column("overall", sa.Double(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "overall IS NULL OR (overall >= 0 AND overall <= 1)", name=op.f("ck_scorecards_overall")
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_scorecards_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecards")),
        sa.UniqueConstraint("asset_id", "day", name=op.f("uq_scorecards_asset_id_day")),
        comment="Daily quality score of an asset per dimension (0..1). Upsert on (asset_id, day).",
    )
    op.create_table(
        "waivers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("asset_id", sa.BigInteger(), nullable=False),
        sa.Column("suite_name", sa.Text(), nullable=False),
        sa.Column("expectation_id", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "valid_until IS NULL OR valid_until > valid_from", name=op.f("ck_waivers_valid_window")
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_waivers_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waivers")),
        sa.UniqueConstraint(
            "asset_id", "suite_name", "expectation_id", "valid_from", name="uq_waivers_natural_key"
        ),
        comment="A steward's time-boxed exemption of one expectation on one asset. Upsert on (asset_id, suite_name, expectation_id, valid_from); revoke by setting revoked_at.",
    )
    op.create_table(
        "anomalies",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("asset_id", sa.BigInteger(), nullable=False),
        sa.Column("profile_run_id", sa.BigInteger(), nullable=True),
        sa.Column("partition_key", sa.Text(), nullable=False),
        sa.Column("logical_date", sa.Date(), nullable=False),
        sa.Column(
            "column_name",
            sa.Text(),
            server_default=sa.text("''"),
            nullable=False,
            comment="'' for table-level metrics",
        ),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("observed", sa.Double(), nullable=True),
        sa.Column("lower", sa.Double(), nullable=True),
        sa.Column("upper", sa.Double(), nullable=True),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("status", sa.Text(), server_default=sa.text("'open'"), nullable=False),
        sa.Column("status_changed_by", sa.Text(), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detected_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'acknowledged', 'resolved')", name=op.f("ck_anomalies_status")
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_anomalies_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["profile_run_id"],
            ["profile_runs.id"],
            name=op.f("fk_anomalies_profile_run_id_profile_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomalies")),
        sa.UniqueConstraint(
            "asset_id",
            "partition_key",
            "logical_date",
            "column_name",
            "metric",
            name="uq_anomalies_natural_key",
        ),
        comment="A metric outside its expected band. Upsert on (asset_id, partition_key, logical_date, column_name, metric); reruns keep the steward's status.",
    )
    op.create_index(op.f("ix_anomalies_profile_run_id"), "anomalies", ["profile_run_id"], unique=False)
    op.create_index(op.f("ix_anomalies_status"), "anomalies", ["status"], unique=False)
    op.create_table(
        "classifications",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("column_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column(
            "label",
            sa.Text(),
            nullable=False,
            comment="e.g. email, phone, product_title; 'none' = steward says no label",
        ),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column(
            "evidence",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("source", sa.Text(), server_default=sa.text("'auto'"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True, comment="A steward's note"),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('pii', 'semantic')", name=op.f("ck_classifications_kind")),
        sa.CheckConstraint(
            "method IN ('name', 'pattern', 'embedding', 'override')", name=op.f("ck_classifications_method")
        ),
        sa.CheckConstraint("source IN ('auto', 'steward')", name=op.f("ck_classifications_source")),
        sa.CheckConstraint("score >= 0 AND score <= 1", name=op.f("ck_classifications_score")),
        sa.ForeignKeyConstraint(
            ["column_id"],
            ["asset_columns.id"],
            name=op.f("fk_classifications_column_id_asset_columns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classifications")),
        sa.UniqueConstraint(
            "column_id", "kind", "source", name=op.f("uq_classifications_column_id_kind_source")
        ),
        comment="PII and semantic labels of a column. Upsert on (column_id, kind, source); the steward row wins over the auto row. Evidence holds counts, pattern names and masked examples, never raw values.",
    )
    op.create_table(
        "column_metrics",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("profile_run_id", sa.BigInteger(), nullable=False),
        sa.Column("column_name", sa.Text(), nullable=False),
        sa.Column("data_type", sa.Text(), nullable=True),
        sa.Column(
            "metrics",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
            comment="null_count, distinct, distinct_is_approx, distinct_error, min, max, mean, stddev, quantiles, length stats, top_values, histogram",
        ),
        sa.ForeignKeyConstraint(
            ["profile_run_id"],
            ["profile_runs.id"],
            name=op.f("fk_column_metrics_profile_run_id_profile_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_column_metrics")),
        sa.UniqueConstraint(
            "profile_run_id", "column_name", name=op.f("uq_column_metrics_profile_run_id_column_name")
        ),
        comment="Per-column metrics of a profile run. Upsert on (profile_run_id, column_name).",
    )
    op.create_table(
        "expectation_results",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("quality_run_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "expectation_id", sa.Text(), nullable=False, comment="Stable key: the GX id or type + kwargs hash"
        ),
        sa.Column("expectation_type", sa.Text(), nullable=False),
        sa.Column("column_name", sa.Text(), nullable=True),
        sa.Column("dimension", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("observed_value", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("unexpected_count", sa.BigInteger(), nullable=True),
        sa.Column("unexpected_percent", sa.Double(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("waived", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("waiver_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "dimension IN ('completeness', 'uniqueness', 'validity', 'consistency', 'timeliness', 'volume')",
            name=op.f("ck_expectation_results_dimension"),
        ),
        sa.CheckConstraint(
            "severity IN ('critical', 'warning')", name=op.f("ck_expectation_results_severity")
        ),
        sa.CheckConstraint(
            "NOT waived OR waiver_id IS NOT NULL", name=op.f("ck_expectation_results_waived_has_waiver")
        ),
        sa.ForeignKeyConstraint(
            ["quality_run_id"],
            ["quality_runs.id"],
            name=op.f("fk_expectation_results_quality_run_id_quality_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["waiver_id"],
            ["waivers.id"],
            name=op.f("fk_expectation_results_waiver_id_waivers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expectation_results")),
        sa.UniqueConstraint(
            "quality_run_id",
            "expectation_id",
            name=op.f("uq_expectation_results_quality_run_id_expectation_id"),
        ),
        comment="One expectation's outcome in a quality run. Upsert on (quality_run_id, expectation_id). details are PII-masked.",
    )
    op.create_index(
        op.f("ix_expectation_results_waiver_id"), "expectation_results", ["waiver_id"], unique=False
    )
    op.create_table(
        "schema_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("asset_id", sa.BigInteger(), nullable=False),
        sa.Column("schema_version_id", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column(
            "column_name",
            sa.Text(),
            server_default=sa.text("''"),
            nullable=False,
            comment="'' for asset-level events",
        ),
        sa.Column("old", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("new", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("run_key", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "event_type IN ('column_added', 'column_removed', 'type_changed', 'nullability_changed', 'asset_created', 'asset_deleted', 'asset_restored')",
            name=op.f("ck_schema_events_event_type"),
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_schema_events_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["schema_version_id"],
            ["schema_versions.id"],
            name=op.f("fk_schema_events_schema_version_id_schema_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schema_events")),
        sa.UniqueConstraint(
            "asset_id",
            "schema_version_id",
            "event_type",
            "column_name",
            "run_key",
            name="uq_schema_events_natural_key",
        ),
        comment="Schema changes and asset lifecycle events. Append-only by convention; INSERT ... ON CONFLICT DO NOTHING on (asset_id, schema_version_id, event_type, column_name, run_key).",
    )
    op.create_index(op.f("ix_schema_events_observed_at"), "schema_events", ["observed_at"], unique=False)
    op.create_index(
        op.f("ix_schema_events_schema_version_id"), "schema_events", ["schema_version_id"], unique=False
    )
    op.create_table(
        "review_items",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.Column("asset_id", sa.BigInteger(), nullable=False),
        sa.Column("quality_run_id", sa.BigInteger(), nullable=True),
        sa.Column("anomaly_id", sa.BigInteger(), nullable=True),
        sa.Column("schema_event_id", sa.BigInteger(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("status", sa.Text(), server_default=sa.text("'open'"), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("closed_by", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('quality_failure', 'anomaly', 'schema_change', 'classification')",
            name=op.f("ck_review_items_kind"),
        ),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_review_items_status")),
        sa.ForeignKeyConstraint(
            ["anomaly_id"],
            ["anomalies.id"],
            name=op.f("fk_review_items_anomaly_id_anomalies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_review_items_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["quality_run_id"],
            ["quality_runs.id"],
            name=op.f("fk_review_items_quality_run_id_quality_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["schema_event_id"],
            ["schema_events.id"],
            name=op.f("fk_review_items_schema_event_id_schema_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
        sa.UniqueConstraint("kind", "ref", name=op.f("uq_review_items_kind_ref")),
        comment="The steward's work queue. Upsert on (kind, ref); ref is the writer's stable key, e.g. '<quality_run_id>/<expectation_id>' or '<anomaly_id>'.",
    )
    op.create_index(op.f("ix_review_items_anomaly_id"), "review_items", ["anomaly_id"], unique=False)
    op.create_index(
        op.f("ix_review_items_asset_id_status"), "review_items", ["asset_id", "status"], unique=False
    )
    op.create_index(op.f("ix_review_items_quality_run_id"), "review_items", ["quality_run_id"], unique=False)
    op.create_index(
        op.f("ix_review_items_schema_event_id"), "review_items", ["schema_event_id"], unique=False
    )
    for table in APPEND_ONLY:
        _guard_append_only(table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS {GUARD_FUNCTION}()")
    op.drop_constraint(
        op.f("fk_assets_current_schema_version_id_schema_versions"), "assets", type_="foreignkey"
    )
    op.drop_index(op.f("ix_review_items_schema_event_id"), table_name="review_items")
    op.drop_index(op.f("ix_review_items_quality_run_id"), table_name="review_items")
    op.drop_index(op.f("ix_review_items_asset_id_status"), table_name="review_items")
    op.drop_index(op.f("ix_review_items_anomaly_id"), table_name="review_items")
    op.drop_table("review_items")
    op.drop_index(op.f("ix_schema_events_schema_version_id"), table_name="schema_events")
    op.drop_index(op.f("ix_schema_events_observed_at"), table_name="schema_events")
    op.drop_table("schema_events")
    op.drop_index(op.f("ix_expectation_results_waiver_id"), table_name="expectation_results")
    op.drop_table("expectation_results")
    op.drop_table("column_metrics")
    op.drop_table("classifications")
    op.drop_index(op.f("ix_anomalies_status"), table_name="anomalies")
    op.drop_index(op.f("ix_anomalies_profile_run_id"), table_name="anomalies")
    op.drop_table("anomalies")
    op.drop_table("waivers")
    op.drop_table("scorecards")
    op.drop_table("schema_versions")
    op.drop_index(op.f("ix_quality_runs_asset_id_logical_date"), table_name="quality_runs")
    op.drop_table("quality_runs")
    op.drop_table("profile_runs")
    op.drop_index(op.f("ix_model_candidates_training_run_id"), table_name="model_candidates")
    op.drop_table("model_candidates")
    op.drop_table("asset_columns")
    op.drop_index(op.f("ix_training_runs_dataset_id"), table_name="training_runs")
    op.drop_table("training_runs")
    op.drop_index(op.f("ix_assets_status"), table_name="assets")
    op.drop_index(op.f("ix_assets_last_inventory_run_id"), table_name="assets")
    op.drop_index(op.f("ix_assets_current_schema_version_id"), table_name="assets")
    op.drop_table("assets")
    op.drop_index(op.f("ix_alias_events_model_name_alias_moved_at"), table_name="alias_events")
    op.drop_table("alias_events")
    op.drop_table("training_datasets")
    op.drop_table("sources")
    op.drop_table("inventory_runs")
    op.drop_index(op.f("ix_gate_decisions_model_name_version"), table_name="gate_decisions")
    op.drop_table("gate_decisions")
