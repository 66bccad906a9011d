"""The trainer's settings: :class:`TrainConfig`, one frozen value that decides a training run.

Every training option is a field here and nowhere else, **with its default**:
:data:`DEFAULT_CONFIG` is ``TrainConfig()``, :class:`assay.training.request.TrainRequest` carries a
``TrainConfig`` across the DAG, CLI and ``torchrun`` boundaries as JSON, and ``assay train`` shows
these defaults in ``--help`` (a test checks they agree field by field). See the request module for
the DAG Param rule.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from assay.errors import TrainingError

LOSSES: tuple[str, ...] = ("bce", "mse", "listwise")
#: Fields of :class:`TrainConfig` that do not change what training computes (left out of the hash).
_NOT_HASHED = frozenset({"checkpoint_every", "log_every", "progress"})


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (the checkpoint key hashes all but the reporting knobs).

    Attributes:
        base_model: folder with ``config.json``, weights and tokenizer; ``None`` = all-MiniLM-L6-v2.
        epochs: passes over the training pairs.
        max_steps: stop after this many optimizer steps (``None``: no limit).
        batch_size: pairs per forward pass (per process in a data-parallel run).
        grad_accum: forward passes per optimizer step.
        lr, weight_decay, warmup_ratio: AdamW and the linear schedule.
        head_lr_scale: learning-rate multiplier of the new (random) classification head.
        max_length: token limit of a (query, product text) pair, special tokens included.
        max_query_length: token limit of the query side (an over-long query is cut, not refused);
            the product text gets what is left of ``max_length``.
        max_train_pairs: subsample the training pairs (by query) to this many; ``None`` = all.
        val_fraction: share of training queries held out for early stopping (0 = none).
        eval_every: validate every N optimizer steps; 0 = at the end of each epoch.
        patience: validations without improvement before stopping early.
        bucket_batches: batches per length-sorted mega-batch.
        loss: ``bce`` (soft target label / label max), ``mse``, or ``listwise`` (ListNet over each
            query's pairs; a query larger than ``batch_size`` is split into lists, see
            :mod:`assay.training.batching`).
        teacher_weight: share of the target taken from a teacher's per-query score (the frame's
            ``teacher`` column, in [0, 1]; see :func:`assay.training.baselines.teacher_targets`):
            target = (1 - w) * label / label max + w * teacher, the label max being the search-log
            contract's scale (1 for binary labels). 0 = click labels only.
        precision: ``auto`` | ``fp32`` | ``bf16`` (see :mod:`assay.training.device`; ``auto`` is
            bf16 autocast on a bf16 GPU and on a CPU with AMX bf16 units).
        freeze_embeddings: keep the pretrained token/position/type embeddings fixed (see
            :mod:`assay.training.optim`: half of MiniLM's weights, no gradient or AdamW update).
        freeze_layers: also keep the lowest N encoder layers fixed (0 = train them all; ``None``, the
            default, = the lowest third, :func:`assay.training.optim.frozen_layer_count`). Frozen layers run in eval
            mode (no dropout) as a fixed feature extractor (:mod:`assay.training.partial`).
        frozen_cache_mb: with ``freeze_layers`` > 0, the most memory (MiB) the frozen bottom's outputs
            may take, kept per pair so later epochs run only the top layers
            (:mod:`assay.training.partial`; fp16, about ``tokens x hidden x 2`` bytes a pair); 0 = none.
        fused_optimizer: fused AdamW where torch has the kernel for the device (else ``foreach``).
        compile: ``torch.compile`` the model before training (pays a compile of tens of seconds;
            worth it on a GPU run of thousands of steps, not for the demo on a CPU).
        seed: seeds python, numpy and torch; the data order of every epoch derives from it.
        checkpoint_every: write a checkpoint every N optimizer steps (0 = never).
    """

    base_model: str | None = None
    epochs: int = 1
    max_steps: int | None = None
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 1e-4
    head_lr_scale: float = 10.0
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_length: int = 96
    max_query_length: int = 32
    max_train_pairs: int | None = None
    val_fraction: float = 0.05
    eval_every: int = 0
    patience: int = 2
    bucket_batches: int = 8
    loss: str = "listwise"
    teacher_weight: float = 0.3
    precision: str = "auto"
    freeze_embeddings: bool = True
    freeze_layers: int | None = None
    frozen_cache_mb: int = 1024
    fused_optimizer: bool = True
    compile: bool = False
    seed: int = 13
    checkpoint_every: int = 200
    log_every: int = 10
    progress: bool = True

    def __post_init__(self) -> None:
        problems = []
        if self.epochs < 1:
            problems.append(f"epochs must be >= 1 (got {self.epochs})")
        if self.max_steps is not None and self.max_steps < 1:
            problems.append(f"max_steps must be >= 1 (got {self.max_steps})")
        if self.batch_size < 1 or self.grad_accum < 1:
            problems.append(
                f"batch_size and grad_accum must be >= 1 (got {self.batch_size}, {self.grad_accum})"
            )
        if not 0 <= self.val_fraction < 1:
            problems.append(f"val_fraction must be in [0, 1) (got {self.val_fraction})")
        if self.loss not in LOSSES:
            problems.append(f"loss must be one of {', '.join(LOSSES)} (got {self.loss!r})")
        if not 0 <= self.teacher_weight <= 1:
            problems.append(f"teacher_weight must be in [0, 1] (got {self.teacher_weight})")
        if self.max_length < 8:
            problems.append(f"max_length must be >= 8 (got {self.max_length})")
        if not 1 <= self.max_query_length <= self.max_length - 4:
            problems.append(f"max_query_length must be in 1..max_length - 4 (got {self.max_query_length} "
                            f"with max_length {self.max_length}): the product text needs room")
        if self.freeze_layers is not None and self.freeze_layers < 0:
            problems.append(f"freeze_layers must be >= 0 (got {self.freeze_layers})")
        if self.frozen_cache_mb < 0:
            problems.append(f"frozen_cache_mb must be >= 0 (got {self.frozen_cache_mb})")
        if problems:
            raise TrainingError("bad training config: " + "; ".join(problems))

    def hashed(self) -> dict[str, Any]:
        """The fields that change the computation (reporting knobs left out)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in _NOT_HASHED}

    def as_params(self) -> dict[str, Any]:
        """Every field by name (MLflow params, the catalog row, JSON requests)."""
        return dataclasses.asdict(self)


#: Defaults of ``assay train`` and the ``train`` DAG: ``TrainConfig()`` itself (one set of defaults).
#: Sized for the demo shop on two CPU cores: one epoch over the ~15–20k training pairs of a 14-day
#: window (about 1,600 listwise steps of up to 16 pairs), bf16 autocast on AMX CPUs, frozen
#: embeddings and, since #16 item 5, the lowest third of the encoder frozen (2 of MiniLM's 6 layers,
#: run as a fixed feature extractor): ~300 training CPU-seconds instead of ~430 at the same judged
#: nDCG@10 (0.9775 against BM25's 0.926); lr 1e-4, 5 % of the training queries for validation, the
#: teacher at 0.3. Freezing 3 or 4 layers is cheaper but falls below +0.05 over BM25; see
#: docs/training.md ("Partial fine-tuning", "Candidate vs baselines"). ``--max-steps N`` caps a run.
DEFAULT_CONFIG = TrainConfig()
