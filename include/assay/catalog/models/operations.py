"""Operations tables: task failures recorded by the DAGs' failure callback, for the steward pages."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from assay.catalog.models.base import PK, Base, Now


class TaskFailure(Base):
    __tablename__ = "task_failures"
    __table_args__ = (
        UniqueConstraint("dag_id", "run_id", "task_id", "try_number", name="uq_task_failures_natural_key"),
        Index(None, "logical_date"),
        {
            "comment": "One row per failed Airflow task try (failure callback); upsert on "
            "(dag_id, run_id, task_id, try_number), so a callback run twice records one failure."
        },
    )

    id: Mapped[PK]
    dag_id: Mapped[str]
    run_id: Mapped[str]
    task_id: Mapped[str]
    try_number: Mapped[int]
    scope: Mapped[str] = mapped_column(comment="Sources/assets the run was limited to ('' = all)")
    logical_date: Mapped[dt.date | None] = mapped_column(comment="The partition (day) the run processed")
    error_type: Mapped[str | None]
    error: Mapped[str | None] = mapped_column(comment="Error message, PII-scrubbed and bounded")
    failed_at: Mapped[Now]
