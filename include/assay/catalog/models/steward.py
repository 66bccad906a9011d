"""The steward audit trail: one row per steward action (who, what, when, target, before/after)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import Index
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from assay.catalog.models.base import PK, Base, Now


class ResolutionReason(StrEnum):
    """Why a steward closed a review item (OpenMetadata's incident reasons, plus ``expected``/``fixed``)."""

    EXPECTED = "expected"  # the data is right as it is; may come with a waiver
    FALSE_POSITIVE = "false_positive"
    MISSING_DATA = "missing_data"
    DUPLICATES = "duplicates"
    OUT_OF_BOUNDS = "out_of_bounds"
    FIXED = "fixed"
    OTHER = "other"  # needs a comment


class StewardAudit(Base):
    __tablename__ = "steward_audit"
    __table_args__ = (
        Index(None, "target_kind", "target_id"),
        Index(None, "at"),
        {
            "comment": "APPEND-ONLY (trigger). One row per steward action (CLI, pages, HITL), written in the "
            "transaction of the change; before/after are PII-masked JSON."
        },
    )

    id: Mapped[PK]
    actor: Mapped[str] = mapped_column(comment="Airflow user, OS user or --actor")
    action: Mapped[str] = mapped_column(comment="acknowledge, assign, resolve, waive, revoke_waiver, ...")
    target_kind: Mapped[str] = mapped_column(comment="review_item, waiver, classification, proposal, model")
    target_id: Mapped[str]
    before: Mapped[Any | None] = mapped_column(JSONB)
    after: Mapped[Any | None] = mapped_column(JSONB)
    comment: Mapped[str | None]
    at: Mapped[Now]
