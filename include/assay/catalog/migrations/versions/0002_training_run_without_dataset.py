"""A training run that failed before its training set existed is still recorded.

``training_runs.dataset_id`` becomes nullable: a window with no validated partition (or any other
error of the training-set builder) now leaves a ``failed`` row with the error and no dataset,
instead of only a failed MLflow run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("training_runs", "dataset_id", existing_type=sa.BigInteger(), nullable=True)


def downgrade() -> None:
    # Rows without a dataset cannot satisfy NOT NULL again; they only describe failed attempts.
    op.execute("DELETE FROM training_runs WHERE dataset_id IS NULL")
    op.alter_column("training_runs", "dataset_id", existing_type=sa.BigInteger(), nullable=False)
