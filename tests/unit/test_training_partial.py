"""Partial fine-tuning (issue #16 item 5): the frozen bottom runs in eval mode, once per pair, and is replayed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from assay.errors import TrainingError
from assay.training import trainer
from assay.training.batching import collate, encode
from assay.training.config import TrainConfig
from assay.training.device import select_device
from assay.training.model import load_model, weights_digest
from assay.training.optim import freeze
from assay.training.partial import BottomCache, frozen_eval
from assay.training.testing import make_tiny_model, synthetic_pairs

CPU = select_device(cuda_available=False, bf16_supported=False)
CPU_BF16 = select_device(cuda_available=False, bf16_supported=False, precision="bf16")


@pytest.fixture(scope="module")
def tiny2(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny BERT with two layers (one to freeze, one to train)."""
    return str(make_tiny_model(tmp_path_factory.mktemp("tiny2") / "bert", layers=2))


def _config(model: str, **kw: object) -> TrainConfig:
    base: dict[str, object] = {"base_model": model, "epochs": 3, "batch_size": 8, "checkpoint_every": 0,
                               "teacher_weight": 0.0, "val_fraction": 0.0, "progress": False, "freeze_layers": 1}
    return TrainConfig(**{**base, **kw})  # type: ignore[arg-type]


def _count_calls(module: torch.nn.Module) -> list[int]:
    calls = [0]

    def hook(*_: object) -> None:
        calls[0] += 1

    module.register_forward_hook(hook)
    return calls


def _batch(tokenizer: object, n: int = 6) -> tuple[list[int], dict[str, torch.Tensor]]:
    pairs = synthetic_pairs(3, n // 3)
    data = encode(tokenizer, pairs["query"], pairs["product_text"], pairs["label"].tolist(), 48, 16)
    idx = list(range(len(data)))
    batch = collate(data, idx)
    batch.pop("targets")
    return idx, batch


def test_later_epochs_replay_the_frozen_layer_instead_of_running_it(tiny2: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}
    original = trainer.load_model

    def spy(path: str) -> tuple[object, object]:
        model, tokenizer = original(path)
        seen["bottom"] = _count_calls(model.bert.encoder.layer[0])
        seen["top"] = _count_calls(model.bert.encoder.layer[1])
        return model, tokenizer

    monkeypatch.setattr(trainer, "load_model", spy)
    result = trainer.train(synthetic_pairs(12, 8), _config(tiny2), CPU, dataset_digest="f" * 64)
    per_epoch = result.steps // 3
    assert seen["top"] == [result.steps]  # the top layer runs on every step
    assert seen["bottom"] == [per_epoch]  # the frozen one only in the first epoch


def test_no_budget_means_no_cache_and_the_same_training(tiny2: str) -> None:
    cached = trainer.train(synthetic_pairs(12, 8), _config(tiny2), CPU, dataset_digest="f" * 64)
    uncached = trainer.train(synthetic_pairs(12, 8), _config(tiny2, frozen_cache_mb=0), CPU, dataset_digest="f" * 64)
    assert cached.steps == uncached.steps
    # fp16 storage of the cache is the only difference: the losses agree closely.
    for (_, a), (_, b) in zip(cached.loss_curve, uncached.loss_curve, strict=True):
        assert a == pytest.approx(b, rel=1e-2, abs=1e-3)


def test_frozen_layers_keep_their_weights_and_the_top_learns(tiny2: str) -> None:
    before, _ = load_model(tiny2)
    after = trainer.train(synthetic_pairs(12, 8), _config(tiny2, lr=1e-2), CPU, dataset_digest="f" * 64).model
    old = before.state_dict()
    for name, value in after.state_dict().items():
        if ".embeddings." in name or ".encoder.layer.0." in name:
            assert torch.equal(old[name], value), name
    assert not torch.equal(old["bert.encoder.layer.1.output.dense.weight"],
                           after.state_dict()["bert.encoder.layer.1.output.dense.weight"])


def test_same_seed_same_weights_with_the_cache(tiny2: str) -> None:
    a = trainer.train(synthetic_pairs(12, 8), _config(tiny2), CPU, dataset_digest="f" * 64)
    b = trainer.train(synthetic_pairs(12, 8), _config(tiny2), CPU, dataset_digest="f" * 64)
    assert weights_digest(a.model) == weights_digest(b.model)


@pytest.mark.parametrize("plan", [CPU, CPU_BF16], ids=["fp32", "bf16"])
def test_replayed_forward_equals_the_full_forward(tiny2: str, plan: object) -> None:
    model, tokenizer = load_model(tiny2)
    freeze(model, embeddings=True, layers=1)
    model.train()
    frozen_eval(model, embeddings=True, layers=1)
    model.bert.encoder.layer[1].eval()  # compare without the top's dropout
    model.dropout.eval()
    idx, batch = _batch(tokenizer)
    with torch.no_grad(), plan.autocast():  # type: ignore[attr-defined]
        full = model(**batch).logits.float()
    cache = BottomCache(model, layers=1, budget_bytes=2**20)
    cache.hidden(idx, batch, plan)  # type: ignore[arg-type]  # fills the cache
    hidden = cache.hidden(idx, batch, plan)  # type: ignore[arg-type]  # read back
    assert cache.hits == len(idx)
    with torch.no_grad(), cache.replay(hidden), plan.autocast():  # type: ignore[attr-defined]
        replayed = model(**batch).logits.float()
    assert len(model.bert.encoder.layer) == 2  # the layers are back after the replay
    torch.testing.assert_close(replayed, full, rtol=2e-2, atol=2e-2)


def test_frozen_bottom_is_deterministic_in_train_mode(tiny2: str) -> None:
    model, tokenizer = load_model(tiny2)
    model.config.hidden_dropout_prob = 0.5
    freeze(model, embeddings=True, layers=1)
    model.train()
    frozen_eval(model, embeddings=True, layers=1)
    idx, batch = _batch(tokenizer)
    first = BottomCache(model, 1, 0).hidden(idx, batch, CPU)
    second = BottomCache(model, 1, 0).hidden(idx, batch, CPU)
    assert torch.equal(first, second)
    assert model.bert.encoder.layer[1].training and not model.bert.encoder.layer[0].training


def test_the_cache_stays_within_its_budget(tiny2: str) -> None:
    model, tokenizer = load_model(tiny2)
    freeze(model, embeddings=True, layers=1)
    idx, batch = _batch(tokenizer)
    one_pair = int(batch["attention_mask"][0].sum()) * model.config.hidden_size * 2
    cache = BottomCache(model, 1, budget_bytes=2 * one_pair + 1)
    cache.hidden(idx, batch, CPU)
    assert 0 < cache.bytes <= 2 * one_pair + 1 and len(cache.store) < len(idx)
    empty = BottomCache(model, 1, budget_bytes=0)
    empty.hidden(idx, batch, CPU)
    assert empty.store == {} and empty.bytes == 0


def test_a_negative_budget_is_refused(tiny2: str) -> None:
    with pytest.raises(TrainingError, match="frozen_cache_mb must be >= 0"):
        _config(tiny2, frozen_cache_mb=-1)


def test_none_freezes_the_lowest_third(tmp_path: Path) -> None:
    from assay.training.optim import frozen_layer_count

    three = str(make_tiny_model(tmp_path / "b3", layers=3))
    model, _ = load_model(three)
    assert frozen_layer_count(model, None) == 1 and frozen_layer_count(model, 2) == 2
    assert frozen_layer_count(model, 0) == 0
    for layers, frozen in ((1, 0), (2, 0), (6, 2), (12, 4)):
        assert frozen_layer_count(load_model(str(make_tiny_model(tmp_path / f"n{layers}", layers=layers)))[0],
                                  None) == frozen
    with pytest.raises(TrainingError, match="freeze_layers=4 but the base model has 3 layers"):
        frozen_layer_count(model, 4)
    assert TrainConfig().freeze_layers is None  # the default
    result = trainer.train(synthetic_pairs(12, 8), _config(three, freeze_layers=None, epochs=1), CPU,
                           dataset_digest="f" * 64)
    after = result.model.state_dict()
    assert torch.equal(model.state_dict()["bert.encoder.layer.0.output.dense.weight"],
                       after["bert.encoder.layer.0.output.dense.weight"])
    assert not torch.equal(model.state_dict()["bert.encoder.layer.1.output.dense.weight"],
                           after["bert.encoder.layer.1.output.dense.weight"])


def test_bf16_bottom_runs_on_low_precision_copies_and_leaves_the_weights(tiny2: str) -> None:
    model, tokenizer = load_model(tiny2)
    freeze(model, embeddings=True, layers=1)
    model.train()
    frozen_eval(model, embeddings=True, layers=1)
    idx, batch = _batch(tokenizer)
    captured: list[torch.Tensor] = []
    handle = model.bert.encoder.layer[0].register_forward_hook(lambda _m, _a, out: captured.append(out))
    with torch.no_grad(), CPU_BF16.autocast():
        model(**batch)
    handle.remove()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    got = BottomCache(model, 1, 0).hidden(idx, batch, CPU_BF16)
    torch.testing.assert_close(got, captured[0].float(), rtol=1e-3, atol=1e-3)
    assert all(torch.equal(before[k], v) and v.dtype == torch.float32
               for k, v in model.state_dict().items() if v.is_floating_point())
    assert len(model.bert.encoder.layer) == 2
