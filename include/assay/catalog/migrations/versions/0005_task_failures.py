"""Task failures recorded by the Airflow failure callback (asset, partition, task, try, error).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_failures",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("dag_id", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("task_id", sa.Text(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False, comment="Sources/assets the run was limited to ('' = all)"),
        sa.Column("logical_date", sa.Date(), nullable=True, comment="The partition (day) the run processed"),
        sa.Column("error_type", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True, comment="Error message, PII-scrubbed and bounded"),
        sa.Column("failed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_failures")),
        sa.UniqueConstraint("dag_id", "run_id", "task_id", "try_number", name="uq_task_failures_natural_key"),
        comment="One row per failed Airflow task try (failure callback); upsert on "
        "(dag_id, run_id, task_id, try_number), so a callback run twice records one failure.",
    )
    op.create_index(op.f("ix_task_failures_logical_date"), "task_failures", ["logical_date"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_task_failures_logical_date"), table_name="task_failures")
    op.drop_table("task_failures")
