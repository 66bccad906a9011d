"""Indexes the steward pages need on a large catalog (bench/pages_bench.py: 2,000 assets, 1M results).

Without ``quality_current (asset_id, logical_date)`` the assets list took over 27 s on that catalog.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, columns) — index names follow the models' naming convention ``ix_<table>_<columns>``.
INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("quality_current", ("asset_id", "logical_date")),
    ("quality_current", ("logical_date",)),
    ("profile_current", ("asset_id", "logical_date")),
    ("scorecards", ("day",)),
    ("anomalies", ("asset_id", "logical_date")),
)


def _name(table: str, columns: Sequence[str]) -> str:
    return f"ix_{table}_{'_'.join(columns)}"


def upgrade() -> None:
    for table, columns in INDEXES:
        op.create_index(op.f(_name(table, columns)), table, list(columns), unique=False)


def downgrade() -> None:
    for table, columns in reversed(INDEXES):
        op.drop_index(op.f(_name(table, columns)), table_name=table)
