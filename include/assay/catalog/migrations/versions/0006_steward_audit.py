"""Steward workspace: new review-item kinds (suggested suites, value-level PII findings), the review-item
workflow (acknowledge, assign, resolve with a reason code) and the append-only steward audit trail.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = ("quality_failure", "anomaly", "schema_change", "classification")
NEW_KINDS = (*OLD_KINDS, "suggested_suite", "pii_finding")
#: Frozen copy of models.ResolutionReason as of this revision.
REASONS = ("expected", "false_positive", "missing_data", "duplicates", "out_of_bounds", "fixed", "other")
#: The append-only guard function of revision 0001.
GUARD_FUNCTION = "assay_refuse_append_only_change"


def _kinds(kinds: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_review_items_kind"), "review_items", type_="check")
    listed = ", ".join(f"'{k}'" for k in kinds)
    op.create_check_constraint(op.f("ck_review_items_kind"), "review_items", f"kind IN ({listed})")


def upgrade() -> None:
    _kinds(NEW_KINDS)
    # Value-level PII findings were filed as kind 'classification' (ref pii_values/...) before.
    op.execute("UPDATE review_items SET kind = 'pii_finding' WHERE kind = 'classification' AND ref LIKE 'pii\\_values/%'")
    for name in ("acknowledged_by", "assigned_to", "resolution_reason"):
        op.add_column("review_items", sa.Column(name, sa.Text(), nullable=True, comment=(
            "ResolutionReason of a steward's close" if name == "resolution_reason" else None)))
    for name in ("acknowledged_at", "assigned_at"):
        op.add_column("review_items", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    listed = ", ".join(f"'{r}'" for r in REASONS)
    op.create_check_constraint(
        op.f("ck_review_items_resolution_reason"), "review_items", f"resolution_reason IN ({listed})"
    )
    op.create_table(
        "steward_audit",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False, comment="Airflow user, OS user or --actor"),
        sa.Column("action", sa.Text(), nullable=False,
                  comment="acknowledge, assign, resolve, waive, revoke_waiver, ..."),
        sa.Column("target_kind", sa.Text(), nullable=False,
                  comment="review_item, waiver, classification, proposal, model"),
        sa.Column("target_id", sa.Text(), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_steward_audit")),
        comment="APPEND-ONLY (trigger). One row per steward action (CLI, pages, HITL), written in the "
        "transaction of the change; before/after are PII-masked JSON.",
    )
    op.create_index(op.f("ix_steward_audit_at"), "steward_audit", ["at"], unique=False)
    op.create_index(
        op.f("ix_steward_audit_target_kind_target_id"), "steward_audit", ["target_kind", "target_id"], unique=False
    )
    op.execute(f"CREATE TRIGGER steward_audit_append_only BEFORE UPDATE OR DELETE ON steward_audit "
               f"FOR EACH ROW EXECUTE FUNCTION {GUARD_FUNCTION}()")
    op.execute(f"CREATE TRIGGER steward_audit_no_truncate BEFORE TRUNCATE ON steward_audit "
               f"FOR EACH STATEMENT EXECUTE FUNCTION {GUARD_FUNCTION}()")


def downgrade() -> None:
    op.drop_table("steward_audit")  # its triggers go with it
    op.drop_constraint(op.f("ck_review_items_resolution_reason"), "review_items", type_="check")
    for name in ("resolution_reason", "assigned_at", "assigned_to", "acknowledged_at", "acknowledged_by"):
        op.drop_column("review_items", name)
    # Items of the new kinds cannot be kept under the old constraint (PII findings go back to their old kind).
    op.execute("UPDATE review_items SET kind = 'classification' WHERE kind = 'pii_finding' AND ref LIKE 'pii\\_values/%'")
    op.execute("DELETE FROM review_items WHERE kind IN ('suggested_suite', 'pii_finding')")
    _kinds(OLD_KINDS)
