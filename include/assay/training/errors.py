"""The training package's typed errors (imported by the dataset builder and the judgments reader alike)."""

from __future__ import annotations

from assay.errors import TrainingError


class DatasetError(TrainingError):
    """The training set cannot be built from this window (bad input); the message says why."""


class NoValidatedData(DatasetError):
    """No day of the window has validated partitions of every table the training set reads."""
