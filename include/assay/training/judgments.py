"""Graded relevance judgments: the labels candidates are evaluated on when a judged set exists.

Click-derived labels (ESCI-style grades from purchases, add-to-cart and clicks) are what the model
*learns* from, but they are a poor yardstick: most relevant products shown once are never clicked
and position bias inflates whatever the logged ranker put on top. On the demo shop a ranker that
knows the true relevance scores only 0.77 nDCG@10 against click labels. Search teams therefore
evaluate on **judged** (query, product) grades — raters' ESCI labels, 0..3 — and keep the click
metrics alongside. This module reads such a judged set and attaches it to held-out rows.

Format: parquet files in one folder, each with at least ``query`` (text, normalised here with
:func:`assay.training.text.normalise_query`), ``product_id`` and ``grade`` (0..the contract's
``judgments.max``, 3 by default). Judgments are optional: a search-log contract without a
``judgments`` section (or a folder without files) evaluates on click labels, and the run's tag
``assay.eval_labels`` says so. Files named
``relevance_*.parquet`` (the demo seed's layout) or ``judgments*.parquet`` are read. The demo seed
writes its hidden grades there (``<landing>/_truth``): a perfect rater panel; a real deployment
points ``ASSAY_JUDGMENTS_DIR`` at its raters' export. Judgments are never a training label: only
the test split carries them (``judged_label``), and the trainer never reads that column.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assay.training import text as txt
from assay.training.errors import DatasetError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: Column of the test split holding the judged grade (-1: the pair was not judged).
JUDGED_COLUMN = "judged_label"
#: Grade of a row nobody judged.
NOT_JUDGED = -1
#: File name patterns read from the judgments folder.
PATTERNS: tuple[str, ...] = ("relevance_*.parquet", "judgments*.parquet")
#: Columns a judgments file must have.
REQUIRED: tuple[str, ...] = ("query", "product_id", "grade")


def judgment_files(folder: Path) -> list[Path]:
    """The judgments files in ``folder``, sorted by name ([] when the folder does not exist)."""
    if not folder.is_dir():
        return []
    return sorted({p for pattern in PATTERNS for p in folder.glob(pattern) if p.is_file()})


def load_judgments(folder: Path | None, max_grade: int = 3) -> pd.DataFrame:
    """Every judged (normalised query, product) pair in ``folder`` with its grade.

    A pair judged several times (the same query in several sessions or files) keeps its highest
    grade. Returns an empty frame when there is no file (or ``folder`` is ``None``).

    Raises:
        DatasetError: a file cannot be read, lacks a required column, or holds a grade outside 0..max_grade;
            the message names the file.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    parts = []
    for path in judgment_files(folder) if folder is not None else []:
        try:
            table = pq.read_table(path)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is reported the same way
            raise DatasetError(f"judgments file {path}: cannot be read: {exc}") from exc
        missing = [c for c in REQUIRED if c not in table.column_names]
        if missing:
            raise DatasetError(f"judgments file {path}: missing column(s) {', '.join(missing)}")
        frame = table.select(list(REQUIRED)).to_pandas()
        grades = pd.to_numeric(frame["grade"], errors="coerce")
        bad = frame[grades.isna() | (grades < 0) | (grades > max_grade)]
        if not bad.empty:
            raise DatasetError(
                f"judgments file {path}: grade must be 0..{max_grade}, got {_plain(bad['grade'].iloc[0])!r} "
                f"(row {int(bad.index[0])}, {len(bad)} such row(s))"
            )
        frame = frame.assign(grade=grades.astype(np.int8), query=frame["query"].map(_normalise))
        parts.append(frame[frame["query"] != ""])
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(REQUIRED, ("object", "object", "int8"), strict=True)})
    every = pd.concat(parts, ignore_index=True)
    best = every.groupby(["query", "product_id"], sort=True)["grade"].max().reset_index()
    log.info("judgments %s: %d judged pairs from %d file(s)", folder, len(best), len(parts))
    return best


def _plain(value: object) -> object:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _normalise(query: object) -> str:
    return txt.normalise_query(query) if isinstance(query, str) else ""


def judged_labels(frame: pd.DataFrame, judgments: pd.DataFrame) -> np.ndarray:
    """The judged grade of each row of ``frame`` (by normalised ``query`` and ``product_id``), int8,
    :data:`NOT_JUDGED` where the pair has no judgment."""
    import pandas as pd

    if judgments.empty or frame.empty:
        return np.full(len(frame), NOT_JUDGED, dtype=np.int8)
    index = pd.MultiIndex.from_frame(judgments[["query", "product_id"]])
    grades = pd.Series(judgments["grade"].to_numpy(), index=index)
    keys = pd.MultiIndex.from_arrays([frame["query"], frame["product_id"]])
    return grades.reindex(keys).fillna(NOT_JUDGED).astype(np.int8).to_numpy()
