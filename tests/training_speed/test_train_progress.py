"""Training reports progress (step, loss, samples/s, ETA) on ``assay.progress.train``, rate-limited (issue #16)."""

from __future__ import annotations

import logging

import pytest

from assay import progress
from assay.training import trainer
from assay.training.config import TrainConfig
from assay.training.device import select_device
from assay.training.testing import synthetic_pairs

CPU = select_device(cuda_available=False, bf16_supported=False)


def _config(tiny: str, **kw: object) -> TrainConfig:
    base: dict[str, object] = {"base_model": tiny, "loss": "bce", "batch_size": 8, "lr": 1e-3, "max_steps": 6,
                               "checkpoint_every": 0, "teacher_weight": 0.0, "val_fraction": 0.0}
    return TrainConfig(**{**base, **kw})  # type: ignore[arg-type]


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "assay.progress.train"]


def test_every_line_names_steps_loss_rate_and_eta(tiny: str, caplog: pytest.LogCaptureFixture,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # A zero interval logs every step, so a 6-step run shows the line format without waiting 10 s.
    monkeypatch.setattr(progress, "DEFAULT_EVERY_S", 0.0)
    caplog.set_level(logging.INFO, logger="assay.progress")
    trainer.train(synthetic_pairs(12, 8), _config(tiny), CPU, dataset_digest="p" * 64)
    lines = _lines(caplog)
    assert len(lines) == 6 + 1  # one per step, then the closing line
    assert lines[0].startswith("train: 1/6 steps, ") and "ETA " in lines[0]
    assert "loss=" in lines[0] and "samples_per_s=" in lines[0]
    assert lines[-1].startswith("train: 6/6 steps, ") and "(done in " in lines[-1]


def test_lines_are_rate_limited_and_off_with_progress_false(tiny: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="assay.progress")
    trainer.train(synthetic_pairs(12, 8), _config(tiny), CPU, dataset_digest="p" * 64)
    assert len(_lines(caplog)) == 1  # a run of a few seconds: only the closing line (10 s interval)
    caplog.clear()
    trainer.train(synthetic_pairs(12, 8), _config(tiny, progress=False), CPU, dataset_digest="p" * 64)
    assert _lines(caplog) == []
