"""The training losses: ListNet over each query's pairs, and the pointwise BCE / MSE.

``listwise`` (the default) is the cross-entropy between the softmax of a query's scores and its gain
distribution ``2^label - 1`` (the nDCG gains). On the demo shop (18 % relevant pairs) a pointwise
loss spends its first hundreds of steps learning the share of negatives: after 100 steps of MiniLM,
BCE ranked at random (nDCG@10 0.46, AUC 0.49) where ListNet reached 0.67 / 0.74. ``bce`` (soft
target ``label / label_max``, the loss of the public MS MARCO cross-encoders) and ``mse`` remain available.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from assay.training.batching import ESCI_MAX

if TYPE_CHECKING:
    import torch


def listwise_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    segments: Sequence[tuple[int, int]],
    label_max: int = ESCI_MAX,
) -> torch.Tensor:
    """ListNet: cross-entropy between softmax(scores) and the gain distribution of each query.

    Gains are ``2^label - 1`` (the nDCG gains) with ``label = target * label_max`` on the contract's
    scale, so the loss is about order within a query only: no gradient is spent on the share of
    negatives, which dominates a pointwise loss.
    """
    import torch

    gains = torch.pow(2.0, targets * label_max) - 1.0
    losses = []
    for a, b in segments:
        g = gains[a:b]
        losses.append(-(g / g.sum() * torch.log_softmax(logits[a:b], dim=0)).sum())
    return torch.stack(losses).mean()


def query_segments(idx: Sequence[int], group_of: Sequence[int]) -> list[tuple[int, int]]:
    """(start, end) of each run of pairs of the same query in a batch."""
    out, start = [], 0
    for k in range(1, len(idx) + 1):
        if k == len(idx) or group_of[idx[k]] != group_of[idx[start]]:
            out.append((start, k))
            start = k
    return out


def pointwise_loss(name: str) -> Any:
    """The pointwise criterion of ``name`` (``bce`` on logits, else ``mse``)."""
    import torch

    return torch.nn.BCEWithLogitsLoss() if name == "bce" else torch.nn.MSELoss()
