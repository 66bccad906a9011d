"""Append-only evidence: every profile and validation attempt is its own row, with a current pointer.

``profile_runs`` and ``quality_runs`` stop being one row per key: each attempt is a row of its own
(its ``column_metrics`` / ``expectation_results`` with it), and a finished attempt is never updated
again (a trigger refuses it). ``profile_current`` and ``quality_current`` name the current attempt
of each key. The keys' UNIQUE constraints become plain indexes; ``attempt_started_at`` and
``attempt_error`` go (an attempt is a row now).

Existing rows: each becomes the current attempt of its key. ``quality_current.id`` takes the run's
id, so review items' refs (``<id>/<expectation>``) stay the same. A record that kept an
``attempt_error`` gets that failed attempt as a row of its own beside it (``run_key
migration/0004``), so the failure stays recorded.

Downgrade keeps the current attempt of each key (review items and anomalies re-pointed to it)
and deletes the others: the attempt history is lost, as the older schema cannot hold it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUARD_FUNCTION = "assay_refuse_finished_attempt_change"
#: (table, pointer table, pointer column, key, status of an attempt that did not run)
TABLES = (
    ("profile_runs", "profile_current", "profile_run_id", ("asset_id", "partition_key", "logical_date"), "failed"),
    (
        "quality_runs",
        "quality_current",
        "quality_run_id",
        ("suite_name", "asset_id", "partition_key", "logical_date"),
        "error",
    ),
)
OLD_UNIQUE = {
    "profile_runs": "uq_profile_runs_asset_id_partition_key_logical_date",
    "quality_runs": "uq_quality_runs_suite_name_asset_id_partition_key_logical_date",
}
POINTER_UNIQUE = {"profile_current": "uq_profile_current_asset_id_partition_key_logical_date",
                  "quality_current": "uq_quality_current_natural_key"}
COMMENTS = {
    "profile_runs": (
        "APPEND-ONLY attempts: one row per profiling attempt of an asset partition, never changed once finished "
        "(see profile_current for the current attempt of each key).",
        "Profiling of one asset partition. Upsert on (asset_id, partition_key, logical_date).",
    ),
    "quality_runs": (
        "APPEND-ONLY attempts: one row per GX validation attempt of a suite on an asset partition, never changed "
        "once finished (see quality_current for the current attempt of each key).",
        "One GX validation of a suite on an asset partition. "
        "Upsert on (suite_name, asset_id, partition_key, logical_date).",
    ),
    "column_metrics": (
        "Per-column metrics of a profile attempt, written with it. Unique on (profile_run_id, column_name).",
        "Per-column metrics of a profile run. Upsert on (profile_run_id, column_name).",
    ),
    "expectation_results": (
        "One expectation's outcome in a quality run attempt, written with it and never changed after. "
        "Unique on (quality_run_id, expectation_id). details are PII-masked.",
        "One expectation's outcome in a quality run. Upsert on (quality_run_id, expectation_id). "
        "details are PII-masked.",
    ),
    "review_items": (
        "The steward's work queue. Upsert on (kind, ref); ref is the writer's stable key, "
        "e.g. '<quality_current.id>/<expectation_id>' (stable across attempts) or '<anomaly_id>'.",
        "The steward's work queue. Upsert on (kind, ref); ref is the writer's stable key, "
        "e.g. '<quality_run_id>/<expectation_id>' or '<anomaly_id>'.",
    ),
}
POINTER_COMMENTS = {
    "profile_current": "The current attempt of each (asset_id, partition_key, logical_date): the one consumers "
    "read. Moved by a finished attempt.",
    "quality_current": "The current attempt of each (suite_name, asset_id, partition_key, logical_date): the one "
    "consumers read. Moved by a finished attempt; id is the key's stable id (review items' ref prefix).",
}
#: 0003's comments of the attempt columns (restored by the downgrade).
STARTED = "Set while an attempt to replace this record runs; the record stays until it finishes"
ERROR = "Why the last attempt ended without replacing this record (interrupted)"


def _key_columns(key: tuple[str, ...]) -> list[sa.Column[Any]]:
    types: dict[str, sa.types.TypeEngine[Any]] = {"asset_id": sa.BigInteger(), "logical_date": sa.Date()}
    return [sa.Column(k, types.get(k, sa.Text()), nullable=False) for k in key]


def _create_pointer(table: str, pointer: str, column: str, key: tuple[str, ...]) -> None:
    op.create_table(
        pointer,
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        *_key_columns(key),
        sa.Column(column, sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], name=op.f(f"fk_{pointer}_asset_id_assets"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint([column], [f"{table}.id"], name=op.f(f"fk_{pointer}_{column}_{table}"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{pointer}")),
        sa.UniqueConstraint(*key, name=op.f(POINTER_UNIQUE[pointer])),
        sa.UniqueConstraint(column, name=op.f(f"uq_{pointer}_{column}")),
        comment=POINTER_COMMENTS[pointer],
    )


def upgrade() -> None:
    for table, pointer, column, key, not_run in TABLES:
        _create_pointer(table, pointer, column, key)
        keys = ", ".join(key)
        # Every existing row is the current attempt of its key; the pointer keeps the row's id.
        op.execute(f"INSERT INTO {pointer} (id, {keys}, {column}) SELECT id, {keys}, id FROM {table}")  # noqa: S608 - constant names
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{pointer}', 'id'), "  # noqa: S608 - constant names
            f"COALESCE((SELECT max(id) FROM {pointer}), 0) + 1, false)"
        )
        op.drop_constraint(OLD_UNIQUE[table], table, type_="unique")
        op.create_index(f"ix_{table}_natural_key", table, list(key), unique=False)
        # A failed rerun that kept its record: recorded as an attempt of its own, beside it.
        op.execute(
            f"INSERT INTO {table} ({keys}, run_key, status, error, started_at, finished_at) "  # noqa: S608 - constant names
            f"SELECT {keys}, 'migration/0004', '{not_run}', attempt_error, now(), now() FROM {table} "
            "WHERE attempt_error IS NOT NULL ORDER BY id"
        )
        op.drop_column(table, "attempt_error")
        op.drop_column(table, "attempt_started_at")
    for table, (new, old) in COMMENTS.items():
        op.create_table_comment(table, new, existing_comment=old)
    # restrict_violation (SQLSTATE 23001) surfaces as an IntegrityError in SQLAlchemy.
    op.execute(
        f"""
        CREATE FUNCTION {GUARD_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.status <> 'running' THEN
                RAISE EXCEPTION 'assay: % row % is a finished attempt; % refused', TG_TABLE_NAME, OLD.id, TG_OP
                    USING ERRCODE = 'restrict_violation', HINT = 'start a new attempt instead';
            END IF;
            RETURN NEW;
        END;
        $$
        """
    )
    for table, *_ in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_finished_attempt BEFORE UPDATE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {GUARD_FUNCTION}()"
        )


def downgrade() -> None:
    for table, *_ in TABLES:
        op.execute(f"DROP TRIGGER {table}_finished_attempt ON {table}")
    op.execute(f"DROP FUNCTION {GUARD_FUNCTION}()")
    # Review items name the current attempt of their key again, with the run id as their ref prefix.
    op.execute(
        """
        UPDATE review_items r SET quality_run_id = c.quality_run_id,
               ref = '~' || c.quality_run_id::text || substr(r.ref, strpos(r.ref, '/'))
        FROM quality_current c
        WHERE r.kind = 'quality_failure' AND strpos(r.ref, '/') > 0 AND split_part(r.ref, '/', 1) = c.id::text
        """
    )
    op.execute("UPDATE review_items SET ref = substr(ref, 2) WHERE kind = 'quality_failure' AND ref LIKE '~%'")
    op.execute(
        """
        UPDATE anomalies a SET profile_run_id = c.profile_run_id FROM profile_current c
        WHERE a.profile_run_id IS NOT NULL AND a.asset_id = c.asset_id AND a.partition_key = c.partition_key
          AND a.logical_date = c.logical_date
        """
    )
    for table, pointer, column, key, _ in TABLES:
        # Only the current attempt of each key fits the older schema (child rows cascade).
        op.execute(f"DELETE FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM {pointer} c WHERE c.{column} = t.id)")  # noqa: S608 - constant names
        op.add_column(table, sa.Column("attempt_started_at", sa.DateTime(timezone=True), nullable=True, comment=STARTED))
        op.add_column(table, sa.Column("attempt_error", sa.Text(), nullable=True, comment=ERROR))
        op.execute(f"UPDATE {table} SET attempt_started_at = started_at WHERE status = 'running'")  # noqa: S608 - constant names
        op.drop_table(pointer)
        op.drop_index(f"ix_{table}_natural_key", table_name=table)
        op.create_unique_constraint(OLD_UNIQUE[table], table, list(key))
    for table, (new, old) in COMMENTS.items():
        op.create_table_comment(table, old, existing_comment=new)
