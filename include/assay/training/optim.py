"""What makes a training step cheap: frozen layers, the optimizer, an fp32 head under autocast, threads.

* **Frozen embeddings** (``TrainConfig.freeze_embeddings``, default on): the token, position and
  type embeddings keep their pretrained values. The word embedding is half of MiniLM's 22.7M
  parameters; training it costs a dense 30,522 × 384 gradient and its AdamW update on every step
  while a few thousand training queries touch a few thousand of its rows. ``freeze_layers`` freezes
  the lowest encoder layers as well (by default the lowest third, :func:`frozen_layer_count`;
  backward stops above them, and :mod:`assay.training.partial` runs them as a fixed feature extractor).
* **Optimizer**: AdamW over the trainable parameters only, in four groups (no decay on biases and
  norms; the new head ``head_lr_scale`` times faster). ``fused`` AdamW (one kernel per step) on a
  GPU, and on the CPU when this torch has the CPU kernel; else the ``foreach`` implementation.
* **fp32 head** (:func:`fp32_head`): under bf16 autocast the one-logit head runs in fp32, so scores
  keep fp32 resolution: a bf16 logit has 8 significant bits, and candidates of one query that
  score within 1/128 of each other would tie.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from assay.errors import TrainingError

if TYPE_CHECKING:
    import torch

    from assay.training.config import TrainConfig
    from assay.training.device import DevicePlan

log = logging.getLogger(__name__)

#: Parameter-name fragments that get no weight decay.
NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm")


def lr_lambda(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """The LR multiplier per step: linear warm-up, then linear decay to a floor of 0.1."""

    def f(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        remaining = max(1, total_steps - warmup_steps)
        return max(0.1, 1.0 - (step - warmup_steps) / remaining)

    return f


def _encoder_parts(model: Any) -> tuple[Any, Any]:
    """(embeddings module, list of encoder layers) of a BERT-class model; either may be None."""
    base = getattr(model, "base_model", model)
    embeddings = getattr(base, "embeddings", None)
    encoder = getattr(base, "encoder", None)
    layers = getattr(encoder, "layer", None) if encoder is not None else None
    return embeddings, layers


def frozen_layer_count(model: Any, layers: int | None) -> int:
    """How many of the lowest encoder layers ``freeze_layers`` freezes: ``layers`` itself, or with
    ``None`` the lowest third (``n // 3``: 2 of MiniLM-L6's 6, 4 of a 12-layer BERT, none of a
    1- or 2-layer model).

    Raises:
        TrainingError: ``layers`` asked of a model without ``encoder.layer`` or with fewer layers.
    """
    _, encoder_layers = _encoder_parts(model)
    if layers is None:
        return len(encoder_layers) // 3 if encoder_layers is not None else 0
    if layers and (encoder_layers is None or layers > len(encoder_layers)):
        have = "no encoder.layer" if encoder_layers is None else f"{len(encoder_layers)} layers"
        raise TrainingError(f"freeze_layers={layers} but the base model has {have}")
    return layers


def freeze(model: Any, embeddings: bool, layers: int | None) -> int:
    """Stop gradients to the embeddings and the lowest ``layers`` encoder layers (``None``: the
    lowest third, :func:`frozen_layer_count`); returns the number of trainable parameters left.

    Raises:
        TrainingError: ``layers`` asked of a model without ``encoder.layer`` or with fewer layers.
    """
    layers = frozen_layer_count(model, layers)
    emb, encoder_layers = _encoder_parts(model)
    if embeddings:
        module = emb if emb is not None else model.get_input_embeddings()
        for p in module.parameters():
            p.requires_grad_(False)
    if layers:
        for layer in encoder_layers[:layers]:
            for p in layer.parameters():
                p.requires_grad_(False)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def param_groups(model: Any, config: TrainConfig) -> list[dict[str, Any]]:
    """AdamW groups of the trainable parameters: no decay on biases and norms; the new (random)
    head learns ``head_lr_scale`` times faster than the pretrained encoder."""
    groups: list[dict[str, Any]] = []
    for is_head in (False, True):
        for decay in (True, False):
            params = [
                p
                for n, p in model.named_parameters()
                if p.requires_grad
                and n.startswith("classifier.") == is_head
                and (not any(k in n for k in NO_DECAY)) == decay
            ]
            if params:
                groups.append(
                    {
                        "params": params,
                        "weight_decay": config.weight_decay if decay else 0.0,
                        "lr": config.lr * (config.head_lr_scale if is_head else 1.0),
                    }
                )
    return groups


def fused_adamw_available(device_type: str) -> bool:
    """Whether this torch has a fused AdamW kernel for ``device_type`` (CUDA always; CPU since 2.4)."""
    import torch

    if device_type == "cuda":
        return True
    version = tuple(int(v) for v in torch.__version__.split("+")[0].split(".")[:2])
    return device_type == "cpu" and version >= (2, 4)


def make_optimizer(model: Any, config: TrainConfig, plan: DevicePlan) -> torch.optim.Optimizer:
    """AdamW over :func:`param_groups`, fused where this torch has the kernel for the device."""
    import torch

    groups = param_groups(model, config)
    if not groups:
        raise TrainingError("no trainable parameter left (freeze_embeddings/freeze_layers froze them all)")
    fused = config.fused_optimizer and fused_adamw_available(plan.device_type)
    if fused:
        return torch.optim.AdamW(groups, lr=config.lr, fused=True)
    return torch.optim.AdamW(groups, lr=config.lr, foreach=True)


def head_module(model: Any) -> Any:
    """The one-logit head (``classifier`` of the transformers sequence-classification models), or None."""
    head = getattr(model, "classifier", None)
    import torch

    return head if isinstance(head, torch.nn.Module) else None


@contextlib.contextmanager
def fp32_head(model: Any, plan: DevicePlan) -> Iterator[None]:
    """Inside: the model's head runs in fp32 (autocast off, input cast up) whenever autocast is on.

    Hooks, removed on exit, so the model object itself is never changed (it is logged and pickled
    afterwards).
    """
    head = head_module(model)
    if plan.autocast_dtype is None or head is None:
        yield
        return
    import torch

    device_type = plan.device_type

    def before(_module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        torch.set_autocast_enabled(device_type, False)
        return tuple(a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)

    def after(_module: Any, _args: tuple[Any, ...], _out: Any) -> None:
        torch.set_autocast_enabled(device_type, True)

    handles = [head.register_forward_pre_hook(before), head.register_forward_hook(after)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()

