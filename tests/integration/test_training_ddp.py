"""Data-parallel training: two CPU processes under torchrun (gloo) end with identical weights, and
the launcher hands rank 0's model back."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from assay.errors import TrainingError
from assay.training import ddp
from assay.training.config import TrainConfig
from assay.training.model import weights_digest
from assay.training.request import TrainRequest
from assay.training.testing import make_tiny_model, synthetic_pairs

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def two_processes(config: TrainConfig) -> TrainRequest:
    """The request the workers read from their job folder (nproc 2)."""
    return TrainRequest(window_end=dt.date(2026, 11, 20), run_key="test/ddp", nproc=2, config=config)


def test_two_gloo_ranks_end_with_identical_weights(tmp_path):
    tiny = str(make_tiny_model(tmp_path / "tiny"))
    pairs = synthetic_pairs(n_queries=24, per_query=8, seed=3)
    config = TrainConfig(base_model=tiny, epochs=2, batch_size=8, lr=1e-3, progress=False, checkpoint_every=5,
                         teacher_weight=0.0, val_fraction=0.1)
    work = tmp_path / "job"
    result = ddp.launch(work, pairs, two_processes(config), dataset_digest="e" * 64, checkpoint_root=tmp_path / "ckpt")

    ranks = [json.loads((work / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["weights"] == ranks[1]["weights"]
    assert ranks[0]["steps"] == ranks[1]["steps"] == result.steps
    # Each rank takes half of every epoch's batches (train split after a 10 % validation hold-out).
    n_batches = -(-result.n_train_pairs // 8)
    assert result.steps == 2 * (n_batches // 2)
    assert weights_digest(result.model) == ranks[0]["weights"]
    # Only rank 0 wrote checkpoints (one folder, keyed with world size 2).
    assert len(list((tmp_path / "ckpt").iterdir())) == 1


def test_a_failing_rank_fails_the_launch_with_its_error(tmp_path):
    tiny = str(make_tiny_model(tmp_path / "tiny"))
    pairs = synthetic_pairs(n_queries=16, per_query=8, seed=3)
    config = TrainConfig(base_model=tiny, epochs=1, batch_size=8, lr=1e12, loss="mse", progress=False,
                         checkpoint_every=0, teacher_weight=0.0)
    with pytest.raises(TrainingError, match="torchrun with 2 processes exited"):
        ddp.launch(tmp_path / "job", pairs, two_processes(config), dataset_digest="e" * 64, checkpoint_root=None)
