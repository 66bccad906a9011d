"""A re-run keeps the record of the previous run until it finishes; interrupted attempts are reaped.

``inventory_runs``, ``profile_runs`` and ``quality_runs`` get ``attempt_started_at`` (set while an
attempt to replace the row's record runs) and ``attempt_error`` (why the last attempt ended without
replacing it). Rows left ``running`` by a version without them are marked as attempts in progress,
so the next run reaps them (see :mod:`assay.catalog.runs`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("inventory_runs", "profile_runs", "quality_runs")
STARTED = "Set while an attempt to replace this record runs; the record stays until it finishes"
ERROR = "Why the last attempt ended without replacing this record (interrupted)"


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("attempt_started_at", sa.DateTime(timezone=True), nullable=True, comment=STARTED))
        op.add_column(table, sa.Column("attempt_error", sa.Text(), nullable=True, comment=ERROR))
        runs = sa.table(table, sa.column("attempt_started_at"), sa.column("started_at"), sa.column("status"))
        op.execute(runs.update().where(runs.c.status == "running").values(attempt_started_at=runs.c.started_at))


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "attempt_error")
        op.drop_column(table, "attempt_started_at")
