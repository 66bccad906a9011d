"""A trainer process killed with SIGKILL after its first checkpoint resumes from it when re-run,
and ends in exactly the state a run that was never killed reaches (same steps, losses, weights)."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assay.training import checkpoint, ddp, trainer
from assay.training.config import TrainConfig
from assay.training.device import detect
from assay.training.model import weights_digest
from assay.training.request import TrainRequest
from assay.training.testing import make_tiny_model, synthetic_pairs

pytestmark = pytest.mark.integration

DIGEST = "f" * 64


def start(work: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "assay.training.ddp", "--work", str(work)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sigkill_then_rerun_resumes_and_matches_a_clean_run(tmp_path):
    tiny = str(make_tiny_model(tmp_path / "tiny"))
    pairs = synthetic_pairs(n_queries=60, per_query=8, seed=2)
    # Many small steps so the kill lands mid-run; a checkpoint every 10 steps.
    config = TrainConfig(base_model=tiny, epochs=3, batch_size=4, lr=1e-3, progress=False, checkpoint_every=10,
                         eval_every=40, teacher_weight=0.0, val_fraction=0.1)
    ckpt_root = tmp_path / "checkpoints"
    work = tmp_path / "job"
    request = TrainRequest(window_end=dt.date(2026, 11, 20), run_key="test/resume", config=config)
    ddp.write_job(work, pairs, request, dataset_digest=DIGEST, checkpoint_root=ckpt_root)

    proc = start(work)
    deadline = time.monotonic() + 240
    try:
        while not list(ckpt_root.glob("*/last.pt")):
            assert proc.poll() is None, f"trainer ended before its first checkpoint: {proc.stdout.read()[-2000:]}"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    (folder,) = ckpt_root.iterdir()
    saved_step = checkpoint.load(folder)["step"]
    assert saved_step >= 10 and saved_step % 10 == 0
    assert not (work / ddp.RESULT).exists()

    rerun = start(work)
    out, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, out[-3000:]
    assert f"resuming training from step {saved_step}" in out
    resumed = json.loads((work / ddp.RESULT).read_text())
    assert resumed["resumed_from_step"] == saved_step

    # The clean run uses the worker's own plan (detect(): bf16 autocast on an AMX CPU since issue #16).
    clean = trainer.train(pairs, config, detect(config.precision), dataset_digest=DIGEST)
    # Early stopping (patience 2, every 40 steps) is part of the state that must survive the kill.
    assert resumed["steps"] == clean.steps > saved_step
    assert resumed["stopped_early"] == clean.stopped_early
    assert [tuple(x) for x in resumed["loss_curve"]] == clean.loss_curve
    assert [tuple(x) for x in resumed["val_curve"]] == clean.val_curve
    rank0 = json.loads((work / "rank0.json").read_text())
    assert rank0["weights"] == weights_digest(clean.model)
