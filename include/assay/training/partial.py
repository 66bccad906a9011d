"""Partial fine-tuning: the frozen lower encoder layers as a fixed feature extractor, run once per pair.

With ``TrainConfig.freeze_layers`` = k, the embeddings and the lowest k encoder layers get no
gradient (:func:`assay.training.optim.freeze`). This module makes them cheap as well:

* :func:`frozen_eval` keeps them in eval mode while the rest trains, so they are deterministic (no
  dropout): a pair's output of the frozen bottom is a function of the pair alone. Autograd records
  nothing there (no parameter and no input needs a gradient), so backward already stops above them.
* :class:`BottomCache` keeps that output per pair (fp16, unpadded, at most ``budget_bytes``;
  ``TrainConfig.frozen_cache_mb``) the first time a pair is seen, and later epochs replay it
  (:func:`replay`): they run only the top layers, the pooler and the head. fp16 rather than bf16:
  the residual stream needs the mantissa (11 bits against 8), and its values stay far inside fp16's
  range. Pairs beyond the budget are recomputed each time, so memory stays bounded on any set.

The replay swaps the frozen layers for one module that returns the cached hidden states, inside a
``with`` block, and puts them back on exit; the model's own forward (masks, pooler, head) is used
unchanged, so any BERT-class model with ``encoder.layer`` works.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from assay.training.optim import _encoder_parts

if TYPE_CHECKING:
    import torch

    from assay.training.device import DevicePlan


def frozen_eval(model: Any, embeddings: bool, layers: int) -> None:
    """With ``layers`` > 0: the frozen embeddings and lowest ``layers`` encoder layers in eval mode
    (no dropout), so the frozen bottom is a deterministic function of the pair.

    Nothing changes with ``layers`` = 0 (frozen embeddings alone keep their dropout as input noise).
    Call after every ``model.train()``: that call puts every submodule back in train mode.
    """
    emb, encoder_layers = _encoder_parts(model)
    if not layers or encoder_layers is None:
        return
    if embeddings and emb is not None:
        emb.eval()
    for layer in encoder_layers[:layers]:
        layer.eval()


class _Stop(Exception):
    """Raised by the hook on the last frozen layer: its output is all that is needed."""

    def __init__(self, output: Any) -> None:
        super().__init__("bottom computed")
        self.output = output


class _Replay:
    """Builds the module that stands in for the frozen layers during a replayed forward pass."""

    @staticmethod
    def module(hidden: torch.Tensor, as_tuple: bool) -> torch.nn.Module:
        import torch

        class Replay(torch.nn.Module):
            def forward(self, *_args: Any, **_kwargs: Any) -> Any:
                return (hidden,) if as_tuple else hidden

        return Replay()


class BottomCache:
    """The frozen bottom's output per pair index, fp16 on the host, within a byte budget.

    Args:
        model: the (unwrapped) model being trained.
        layers: how many lowest encoder layers are frozen (>= 1).
        budget_bytes: the most the cache may hold; 0 turns caching off (the bottom is then computed
            for every batch, still in eval mode and without autograd).
    """

    def __init__(self, model: Any, layers: int, budget_bytes: int) -> None:
        self.model = model
        self.layers = layers
        self.budget = budget_bytes
        self.store: dict[int, torch.Tensor] = {}
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._as_tuple = False
        self._lowp: dict[str, Any] = {}

    def _bottom_layers(self, plan: DevicePlan) -> list[Any]:
        """The frozen layers to run: under autocast, copies whose Linear weights are already in the
        autocast dtype (made once), so no forward pass casts them again (autocast re-casts weights
        that need no gradient on every call: a sixth of a step's CPU time with 2 of 6 layers frozen).
        The model's own weights stay fp32 and untouched."""
        import copy

        import torch

        _, encoder_layers = _encoder_parts(self.model)
        frozen = list(encoder_layers)[: self.layers]
        if plan.autocast_dtype is None:
            return frozen
        if plan.autocast_dtype not in self._lowp:
            dtype = getattr(torch, plan.autocast_dtype)
            copies = []
            for layer in frozen:
                twin = copy.deepcopy(layer)
                for module in twin.modules():
                    if isinstance(module, torch.nn.Linear):
                        module.to(dtype)
                copies.append(twin)
            self._lowp[plan.autocast_dtype] = copies
        return list(self._lowp[plan.autocast_dtype])

    def _compute(self, inputs: dict[str, torch.Tensor], plan: DevicePlan) -> torch.Tensor:
        """Hidden states after the last frozen layer for a padded batch (float32, on the device)."""
        import torch

        _, encoder_layers = _encoder_parts(self.model)
        bottom = self._bottom_layers(plan)

        def stop(_module: Any, _args: Any, output: Any) -> None:
            raise _Stop(output)

        handle = bottom[-1].register_forward_hook(stop)
        base = getattr(self.model, "base_model", self.model)
        original = base.encoder.layer
        base.encoder.layer = torch.nn.ModuleList([*bottom, *list(encoder_layers)[self.layers :]])
        try:
            with torch.inference_mode(), plan.autocast():
                base(**inputs)
        except _Stop as done:
            out = done.output
        finally:
            handle.remove()
            base.encoder.layer = original
        self._as_tuple = isinstance(out, tuple)
        hidden = out[0] if self._as_tuple else out
        return hidden.float().clone()

    def hidden(self, idx: Sequence[int], inputs: dict[str, torch.Tensor], plan: DevicePlan) -> torch.Tensor:
        """The frozen bottom's output for the batch of pair indices ``idx`` (padded like ``inputs``).

        Cached pairs are read back; if any pair is missing the whole batch is computed once and
        the missing pairs are stored while the budget lasts.
        """
        import torch

        mask = inputs["attention_mask"]
        lengths = mask.sum(dim=1).tolist()
        if all(i in self.store for i in idx):
            self.hits += len(idx)
            device = mask.device
            width = mask.shape[1]
            first = self.store[idx[0]]
            out = torch.zeros((len(idx), width, first.shape[-1]), dtype=torch.float32, device=device)
            for row, i in enumerate(idx):
                cached = self.store[i]
                out[row, : cached.shape[0]] = cached.to(device, dtype=torch.float32)
            return out
        self.misses += len(idx)
        hidden = self._compute(inputs, plan)
        if self.budget > 0:
            # Every pair sees its features at the cache's precision, stored or not, so a pair
            # trains the same whether it was replayed, recomputed (over budget) or resumed.
            hidden = hidden.half().float()
            for row, i in enumerate(idx):
                if i in self.store:
                    continue
                n = int(lengths[row])
                size = n * hidden.shape[-1] * 2
                if self.bytes + size > self.budget:
                    break
                self.store[i] = hidden[row, :n].to("cpu", dtype=torch.float16)
                self.bytes += size
        return hidden

    @contextlib.contextmanager
    def replay(self, hidden: torch.Tensor) -> Iterator[None]:
        """Inside: the model's forward starts from ``hidden`` after the frozen layers."""
        import torch

        _, encoder_layers = _encoder_parts(self.model)
        base = getattr(self.model, "base_model", self.model)
        encoder = base.encoder
        original = encoder.layer
        encoder.layer = torch.nn.ModuleList(
            [_Replay.module(hidden, self._as_tuple), *list(encoder_layers)[self.layers :]]
        )
        try:
            yield
        finally:
            encoder.layer = original
