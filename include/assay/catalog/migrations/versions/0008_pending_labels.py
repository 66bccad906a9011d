"""Pending labels: columns whose automatic labels wait for the labelling step (issue #16 item 8).

The inventory records the rule labels at once and marks each column the sentence embedding must
still decide with a row here; ``assay classify`` (the ``label`` task of the inventory DAG) writes
the labels and deletes the row. Only a digest of the sample is kept, never a value.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_labels",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("column_id", sa.BigInteger(), nullable=False),
        sa.Column("sample_digest", sa.Text(), nullable=False, comment="sha256 of the sample the inventory saw"),
        sa.Column(
            "observed_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="The inventory's observation time; the labels' decided_at",
        ),
        sa.Column("marked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "sample_digest ~ '^[0-9a-f]{64}$'", name=op.f("ck_pending_labels_sample_digest_sha256")
        ),
        sa.ForeignKeyConstraint(
            ["column_id"],
            ["asset_columns.id"],
            name=op.f("fk_pending_labels_column_id_asset_columns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_labels")),
        sa.UniqueConstraint("column_id", name=op.f("uq_pending_labels_column_id")),
        comment="Columns whose automatic labels wait for the labelling step (assay classify): the page "
        "shows 'classifying'. Upsert on column_id; the step deletes the row with the labels it writes. "
        "Holds a digest of the sample, never values.",
    )


def downgrade() -> None:
    op.drop_table("pending_labels")
