"""Steward workspace: new review-item kinds (suggested suites, value-level PII findings).

The steward audit trail and the review-item workflow fields are added here too when they land.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = ("quality_failure", "anomaly", "schema_change", "classification")
NEW_KINDS = (*OLD_KINDS, "suggested_suite", "pii_finding")


def _kinds(kinds: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_review_items_kind"), "review_items", type_="check")
    listed = ", ".join(f"'{k}'" for k in kinds)
    op.create_check_constraint(op.f("ck_review_items_kind"), "review_items", f"kind IN ({listed})")


def upgrade() -> None:
    _kinds(NEW_KINDS)


def downgrade() -> None:
    # Items of the new kinds cannot be kept under the old constraint.
    op.execute("DELETE FROM review_items WHERE kind IN ('suggested_suite', 'pii_finding')")
    _kinds(OLD_KINDS)
