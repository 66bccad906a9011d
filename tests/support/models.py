"""The tiny BERT (one layer, MiniLM's tokenizer) that model tests train instead of MiniLM."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Path of a tiny BERT written once per session (read only: training writes elsewhere)."""
    from assay.training.testing import make_tiny_model

    return str(make_tiny_model(tmp_path_factory.mktemp("tiny") / "bert"))
