"""Frozen embeddings / lower layers and the optimizer over the trainable parameters only (issue #16)."""

from __future__ import annotations

import pytest
import torch

from assay.errors import TrainingError
from assay.training import optim, trainer
from assay.training.config import TrainConfig
from assay.training.device import select_device
from assay.training.model import load_model
from assay.training.testing import synthetic_pairs

CPU = select_device(cuda_available=False, bf16_supported=False)


def _config(tiny: str, **kw: object) -> TrainConfig:
    base: dict[str, object] = {"base_model": tiny, "loss": "bce", "batch_size": 8, "lr": 1e-2, "max_steps": 4,
                               "checkpoint_every": 0, "teacher_weight": 0.0, "val_fraction": 0.0, "progress": False}
    return TrainConfig(**{**base, **kw})  # type: ignore[arg-type]


def _changed(tiny: str, config: TrainConfig) -> dict[str, bool]:
    before, _ = load_model(tiny)
    after = trainer.train(synthetic_pairs(12, 8), config, CPU, dataset_digest="f" * 64).model
    old = before.state_dict()
    return {name: not torch.equal(old[name], value) for name, value in after.state_dict().items()
            if value.is_floating_point()}


def test_embeddings_stay_pretrained_by_default_and_the_rest_learns(tiny: str) -> None:
    changed = _changed(tiny, _config(tiny))
    assert not any(v for n, v in changed.items() if ".embeddings." in n)
    assert changed["bert.encoder.layer.0.attention.self.query.weight"] and changed["classifier.weight"]


def test_freeze_embeddings_off_trains_them(tiny: str) -> None:
    changed = _changed(tiny, _config(tiny, freeze_embeddings=False))
    assert changed["bert.embeddings.word_embeddings.weight"]


def test_freeze_layers_keeps_the_lowest_layers(tiny: str) -> None:
    changed = _changed(tiny, _config(tiny, freeze_layers=1))  # the tiny model has one layer
    assert not any(v for n, v in changed.items() if ".encoder.layer.0." in n)
    assert changed["classifier.weight"] and changed["bert.pooler.dense.weight"]


def test_too_many_frozen_layers_is_refused(tiny: str) -> None:
    with pytest.raises(TrainingError, match="freeze_layers=2 but the base model has 1 layers"):
        trainer.train(synthetic_pairs(12, 8), _config(tiny, freeze_layers=2), CPU, dataset_digest="f" * 64)
    with pytest.raises(TrainingError, match="freeze_layers must be >= 0"):
        _config(tiny, freeze_layers=-1)


def test_optimizer_holds_only_trainable_parameters_with_head_and_decay_groups(tiny: str) -> None:
    model, _ = load_model(tiny)
    trainable = optim.freeze(model, embeddings=True, layers=0)
    opt = optim.make_optimizer(model, _config(tiny, weight_decay=0.01, head_lr_scale=10.0), CPU)
    in_opt = [p for g in opt.param_groups for p in g["params"]]
    assert sum(p.numel() for p in in_opt) == trainable
    assert all(p.requires_grad for p in in_opt)
    head = [g for g in opt.param_groups if any(p is model.classifier.weight for p in g["params"])]
    assert head[0]["lr"] == pytest.approx(1e-1) and head[0]["weight_decay"] == 0.01
    assert {g["weight_decay"] for g in opt.param_groups} == {0.0, 0.01}
