"""The cross-encoder training loop: a plain PyTorch loop over (query, product text, graded label) pairs.

The pieces live next door: :mod:`~assay.training.config` (``TrainConfig``),
:mod:`~assay.training.model` (loading, scoring), :mod:`~assay.training.batching` (targets,
tokenisation, epoch order, padding, validation split), :mod:`~assay.training.losses` (ListNet, BCE,
MSE). Validation figures come from :func:`assay.training.evaluation.evaluate`, the same code that
scores the test split.

Loop: dynamic padding per batch; length bucketing; gradient accumulation; frozen embeddings and
lowest third of the encoder (run once per pair as a fixed feature extractor, replayed in later
epochs: :mod:`assay.training.partial`) and a fused AdamW with linear warm-up and decay (:mod:`assay.training.optim`); bf16 autocast on a bf16 GPU
or an AMX CPU, pinned, non-blocking copies on a GPU (:mod:`assay.training.device`); a progress line
(step, loss, samples/s, ETA) about every 10 s on the ``assay.progress.train`` logger;
atomic checkpoints every ``checkpoint_every`` optimizer steps (:mod:`assay.training.checkpoint`)
from which a killed run resumes; early stopping on nDCG@10 of a validation split of the training
queries (by query, so no query is on both sides); a NaN or infinite loss stops the run with a
:class:`~assay.errors.TrainingError` naming the step and batch. With the ``listwise`` loss batches
hold query lists of at most ``batch_size`` pairs (a larger query is split, see
:mod:`~assay.training.batching`; queries without a relevant pair are dropped: nothing to order).

Data parallel: with ``world_size > 1`` (started by ``torchrun``, see :mod:`assay.training.ddp`)
the model is wrapped in ``DistributedDataParallel`` and each rank takes every ``world_size``-th
batch of the same epoch order; only rank 0 writes checkpoints and reports metrics.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay import progress
from assay.errors import TrainingError
from assay.training import checkpoint
from assay.training.batching import (
    ESCI_MAX,
    TEACHER_COLUMN,
    check_trainable,
    collate,
    encode,
    epoch_batches,
    group_batches,
    mixed_targets,
    query_groups,
    rank_batches,
    split_validation,
    subsample_queries,
)
from assay.training.config import TrainConfig
from assay.training.device import DevicePlan
from assay.training.losses import listwise_loss, pointwise_loss, query_segments
from assay.training.model import load_model, resolve_base_model, score, seed_everything
from assay.training.optim import fp32_head, freeze, frozen_layer_count, lr_lambda, make_optimizer
from assay.training.partial import BottomCache, frozen_eval

__all__ = ["TrainResult", "lr_lambda", "train", "validation_ndcg"]

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


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


MetricsCallback = Callable[[int, dict[str, float]], None]


def validation_ndcg(
    model: Any, tokenizer: Any, frame: pd.DataFrame, plan: DevicePlan, max_length: int,
    max_query_length: int | None = None,
) -> float:
    """nDCG@10 of the model on a validation frame, by :func:`assay.training.evaluation.evaluate`.

    0.0 when no query of the frame has a relevant pair (nDCG undefined), so early stopping still
    compares numbers.
    """
    from assay.training.evaluation import evaluate

    scores = score(model, tokenizer, frame["query"].tolist(), frame["product_text"].tolist(), plan, max_length,
                   max_query_length=max_query_length)
    value = evaluate(frame, scores).overall["ndcg_at_10"]
    return 0.0 if math.isnan(value) else float(value)


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
    label_max: int = ESCI_MAX,
) -> TrainResult:
    """Fine-tune a cross-encoder on ``train_frame`` (columns query_id, query, product_text, label).

    Args:
        dataset_digest: the training set's digest; with the config hash it keys the checkpoints.
        checkpoint_root: where checkpoint folders live; ``None`` disables checkpoints and resume.
        on_metrics: called on rank 0 with (step, {name: value}) for loss, lr and validation figures.
        rank, world_size: data-parallel position (``torch.distributed`` must be initialised when
            ``world_size > 1``).
        step_hook: called after every optimizer step with (step, loss tensor); tests use it.
        label_max: top of the training set's label scale (the search-log contract's: 1 for binary
            labels); targets and ListNet gains are normalised by it.

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
    frozen = frozen_layer_count(model, config.freeze_layers)
    trainable = freeze(model, config.freeze_embeddings, frozen)
    frozen_eval(model, config.freeze_embeddings, frozen)
    log.info("training %s: %d of %d parameters trainable (%d lowest layers frozen), %s %s", base, trainable,
             sum(p.numel() for p in model.parameters()), frozen, plan.device, plan.precision)
    mixed = mixed_targets(
        fit_frame["label"].tolist(),
        fit_frame[TEACHER_COLUMN].tolist() if TEACHER_COLUMN in fit_frame.columns else None,
        config.teacher_weight,
        label_max,
    )
    data = encode(
        tokenizer, fit_frame["query"], fit_frame["product_text"], [t * label_max for t in mixed], config.max_length,
        config.max_query_length, label_max=label_max,
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
                groups, lengths, config.batch_size, config.seed, epoch, config.bucket_batches, data.targets
            )
        return epoch_batches(lengths, config.batch_size, config.seed, epoch, config.bucket_batches)

    steps_per_epoch = len(rank_batches(batches_of(0), 0, world_size)) // config.grad_accum
    steps_per_epoch = max(1, steps_per_epoch)
    total_steps = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    optimizer = make_optimizer(model, config, plan)
    trained = [p for p in model.parameters() if p.requires_grad]
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(total_steps, int(total_steps * config.warmup_ratio))
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

    net: Any = torch.compile(model) if config.compile else model
    if world_size > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    pointwise = pointwise_loss(config.loss)
    # The frozen bottom runs as a fixed feature extractor, and is replayed in later epochs (single
    # process, eager; a run that ends within its first epoch has nothing to replay: no cache).
    bottom = (
        BottomCache(model, frozen, config.frozen_cache_mb * 2**20 if total_steps > steps_per_epoch else 0)
        if frozen and world_size == 1 and not config.compile else None
    )

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
        value = validation_ndcg(model, tokenizer, val_frame, plan, config.max_length, config.max_query_length)
        frozen_eval(model, config.freeze_embeddings, frozen)  # score() put every module in train mode
        val_curve.append((step, value))
        if is_main and on_metrics:
            on_metrics(step, {"val_ndcg_at_10": value})
        if best_val is None or value > best_val + 1e-4:
            best_val, best_step, bad_evals = value, step, 0
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            return False
        bad_evals += 1
        return bad_evals >= config.patience

    ticker = progress.Ticker(
        "train", total=total_steps - step, unit="steps", every_s=progress.DEFAULT_EVERY_S
    ) if config.progress and is_main else None
    first_step = step
    tick_loss: list[float] = []
    t0 = time.perf_counter()
    examples_at_start = examples
    stopped_early = False
    window: list[float] = []
    epoch = start_epoch
    done = step >= total_steps
    hooks = contextlib.ExitStack()
    try:
        hooks.enter_context(fp32_head(model, plan))
        for epoch in range(start_epoch, config.epochs):
            if done:
                break
            batches = rank_batches(batches_of(epoch), rank, world_size)
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
                    replay = (
                        bottom.replay(bottom.hidden(batches[bi], batch, plan)) if bottom else contextlib.nullcontext()
                    )
                    with replay, plan.autocast():
                        logits = net(**batch).logits.view(-1)
                    if listwise:
                        loss = listwise_loss(logits.float(), targets, query_segments(batches[bi], group_of), label_max)
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
                torch.nn.utils.clip_grad_norm_(trained, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                micro = 0
                loss_curve.append((step, accum_loss))
                window.append(accum_loss)
                if step_hook:
                    step_hook(step, accum_loss)
                tick_loss.append(accum_loss)
                accum_loss = 0.0
                if ticker is not None and ticker.update(
                    step - first_step, **_tick_extra(step, first_step, tick_loss, examples - examples_at_start, t0)
                ):
                    tick_loss = []
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
        hooks.close()
    seconds = time.perf_counter() - t0
    if ticker is not None:
        ticker.finish(step - first_step, **_tick_extra(step, first_step, tick_loss, examples - examples_at_start, t0))
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


def _tick_extra(step: int, first_step: int, losses: list[float], seen: int, t0: float) -> dict[str, object]:
    """Extras of a progress line: mean loss since the last line, samples/s, the absolute step on resume."""
    extra: dict[str, object] = {}
    if first_step:
        extra["step"] = step
    if losses:
        extra["loss"] = sum(losses) / len(losses)
    elapsed = time.perf_counter() - t0
    extra["samples_per_s"] = round(seen / elapsed, 1) if elapsed > 0 else 0.0
    return extra


def finished_checkpoint_dir(result: TrainResult, dataset_digest: str, checkpoint_root: Path) -> Path:
    """The checkpoint folder a finished run used (to clear it once the model is safely logged)."""
    return checkpoint.checkpoint_dir(checkpoint_root, dataset_digest, result.config_hash)
