"""Data-parallel training under ``torchrun``: the launcher and the per-process entry point.

``assay train --nproc N`` calls :func:`launch`, which writes the job (training pairs as Parquet, the
:class:`~assay.training.request.TrainRequest` as JSON, the same document ``assay train --request``
reads) to a work folder and runs::

    python -m torch.distributed.run --standalone --nproc_per_node N -m assay.training.ddp --work DIR

Each process joins the group (``gloo`` on CPU, ``nccl`` on CUDA, from
:func:`assay.training.device.select_device`), trains its share of every epoch's batches inside
``DistributedDataParallel`` and writes ``rank<r>.json`` (steps and a digest of its final weights);
rank 0 alone reports metrics to the MLflow run, writes checkpoints, and saves the model and
``result.json`` for the launcher, which loads them back. The same module runs without ``torchrun``
as a single process (``python -m assay.training.ddp --work DIR``): that is how tests start a
trainer they can kill.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.errors import TrainingError
from assay.training import trainer
from assay.training.model import weights_digest
from assay.training.request import TrainRequest
from assay.training.trainer import TrainResult

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

JOB = "job.json"
PAIRS = "train.parquet"
RESULT = "result.json"
MODEL = "model"


def write_job(
    work: Path,
    train_df: pd.DataFrame,
    request: TrainRequest,
    *,
    dataset_digest: str,
    checkpoint_root: Path | None,
    mlflow_uri: str | None = None,
    mlflow_run_id: str | None = None,
    label_max: int = 3,
) -> None:
    """Everything a training process needs, in ``work`` (no database access in the workers)."""
    work.mkdir(parents=True, exist_ok=True)
    train_df.to_parquet(work / PAIRS, index=False)
    job = {
        "request": request.to_dict(),
        "dataset_digest": dataset_digest,
        "checkpoint_root": str(checkpoint_root) if checkpoint_root else None,
        "mlflow_uri": mlflow_uri,
        "mlflow_run_id": mlflow_run_id,
        "label_max": label_max,
    }
    (work / JOB).write_text(json.dumps(job, indent=2))


def command(work: Path, nproc: int) -> list[str]:
    """The ``torchrun`` command line (``python -m torch.distributed.run``) for ``nproc`` processes."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "assay.training.ddp",
        "--work",
        str(work),
    ]


def launch(
    work: Path,
    train_df: pd.DataFrame,
    request: TrainRequest,
    *,
    dataset_digest: str,
    checkpoint_root: Path | None,
    mlflow_uri: str | None = None,
    mlflow_run_id: str | None = None,
    label_max: int = 3,
) -> TrainResult:
    """Train with ``request.nproc`` processes under ``torchrun`` and load rank 0's model back.

    Raises:
        TrainingError: a worker failed (its last error lines are in the message).
    """
    from assay.config import environ_snapshot

    nproc = request.nproc
    write_job(
        work,
        train_df,
        request,
        dataset_digest=dataset_digest,
        checkpoint_root=checkpoint_root,
        mlflow_uri=mlflow_uri,
        mlflow_run_id=mlflow_run_id,
        label_max=label_max,
    )
    cmd = command(work, nproc)
    log.info("launching %s", " ".join(cmd))
    proc = subprocess.run(cmd, env=environ_snapshot(), capture_output=True, text=True, check=False)
    for line in proc.stderr.splitlines()[-40:]:
        log.info("torchrun | %s", line)
    if proc.returncode != 0:
        errors = [ln for ln in proc.stderr.splitlines() if "Error" in ln or "error" in ln][-5:]
        raise TrainingError(
            f"torchrun with {nproc} processes exited {proc.returncode}: "
            + (" | ".join(errors) or proc.stderr[-2000:])
        )
    return load_result(work)


def load_result(work: Path) -> TrainResult:
    """The :class:`TrainResult` rank 0 left in ``work`` (model and tokenizer loaded on the CPU)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    meta = json.loads((work / RESULT).read_text())
    model = AutoModelForSequenceClassification.from_pretrained(work / MODEL, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(work / MODEL, local_files_only=True)
    model.eval()
    meta["loss_curve"] = [tuple(x) for x in meta["loss_curve"]]
    meta["val_curve"] = [tuple(x) for x in meta["val_curve"]]
    return TrainResult(model=model, tokenizer=tokenizer, **meta)


def _result_meta(result: TrainResult) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(result).items() if k not in ("model", "tokenizer")}


def run_worker(work: Path) -> TrainResult:
    """Train as one process of the job in ``work`` (a rank of a ``torchrun`` job, or alone)."""
    import torch
    import torch.distributed as dist

    from assay.training.device import detect

    job = json.loads((work / JOB).read_text())
    config = TrainRequest.from_dict(job["request"]).config
    distributed = dist.is_torchelastic_launched()
    rank, world_size, local_rank = 0, 1, 0
    if distributed:
        plan_backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=plan_backend)
        rank, world_size = dist.get_rank(), dist.get_world_size()
        local_rank = rank % max(1, torch.cuda.device_count())
        # Share the CPU cores between the processes instead of oversubscribing them.
        torch.set_num_threads(max(1, torch.get_num_threads() // world_size))
    plan = detect(config.precision, local_rank=local_rank)
    if plan.device_type == "cuda":
        torch.cuda.set_device(plan.torch_device())

    on_metrics = None
    if rank == 0 and job.get("mlflow_run_id"):
        from assay.config import get_settings
        from assay.training.tracking import RunTracker

        settings = get_settings().model_copy(update={"mlflow_tracking_uri": job["mlflow_uri"]})
        tracker = RunTracker(settings, job["mlflow_run_id"])

        def on_metrics(step: int, values: dict[str, float]) -> None:
            tracker.log_metrics(values, step=step)

    import pandas as pd

    try:
        result = trainer.train(
            pd.read_parquet(work / PAIRS),
            config,
            plan,
            dataset_digest=job["dataset_digest"],
            checkpoint_root=Path(job["checkpoint_root"]) if job["checkpoint_root"] else None,
            on_metrics=on_metrics,
            rank=rank,
            world_size=world_size,
            label_max=int(job.get("label_max", 3)),
        )
        digest = weights_digest(result.model)
        (work / f"rank{rank}.json").write_text(
            json.dumps({"rank": rank, "steps": result.steps, "weights": digest})
        )
        if rank == 0:
            result.model.save_pretrained(work / MODEL)
            result.tokenizer.save_pretrained(work / MODEL)
            (work / RESULT).write_text(json.dumps(_result_meta(result)))
        if distributed:
            dist.barrier()
    finally:
        if distributed and dist.is_initialized():
            dist.destroy_process_group()
    return result


def main(argv: list[str] | None = None) -> int:
    """The worker process: its one argument is the job folder (every option is in the request)."""
    parser = argparse.ArgumentParser(prog="python -m assay.training.ddp", description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="job folder written by write_job()")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run_worker(args.work)
    except TrainingError as exc:
        # Logged, not printed: the line reaches stderr, where the launcher picks up error lines.
        log.error("assay: error: %s", exc)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
