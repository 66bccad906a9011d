"""bench/train_bench.py: the --tiny smoke run works, and the CUDA path's CPU-testable parts (issue #16).

No GPU here: the CUDA figures are never measured on this machine; these tests pin what the
``--device cuda`` path decides (bf16 autocast, fused AdamW, torch.compile flag, GPU memory line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest
import torch

from assay.training import optim
from assay.training.model import load_model

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root holds bench/
from bench import train_bench  # noqa: E402


def test_tiny_smoke_run_finishes(capsys: pytest.CaptureFixture[str]) -> None:
    # It crashed before: the tiny model has 64 positions and both loops padded to 128.
    code = train_bench.main(["--tiny", "--steps", "4", "--rounds", "1", "--round-steps", "2"])
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert "padded to 64" in out and "speed-up" in out and "nDCG@10 ours - naive" in out


def test_cuda_plan_is_bf16_pinned_and_cpu_plan_follows_amx() -> None:
    cuda = train_bench.bench_plan("cuda", cuda_available=True, bf16_supported=True, cpu_bf16_fast=False)
    assert cuda.device == "cuda:0" and cuda.precision == "bf16" and cuda.pin_memory and cuda.non_blocking
    cpu = train_bench.bench_plan("cpu", cuda_available=True, bf16_supported=True, cpu_bf16_fast=True)
    assert cpu.device == "cpu" and cpu.precision == "bf16" and not cpu.pin_memory
    with pytest.raises(SystemExit, match="no CUDA device"):
        train_bench.bench_plan("cuda", cuda_available=False, bf16_supported=False, cpu_bf16_fast=False)


def test_cuda_path_builds_a_fused_adamw_and_passes_compile(tiny: str) -> None:
    plan = train_bench.bench_plan("cuda", cuda_available=True, bf16_supported=True, cpu_bf16_fast=False)
    args = argparse.Namespace(steps=5, batch_size=64, lr=1e-4, compile=True, seed=1)
    config = train_bench.bench_config(args, tiny, 64)
    assert config.compile and config.fused_optimizer and config.precision == "auto"
    model, _ = load_model(tiny)
    optim.freeze(model, config.freeze_embeddings, config.freeze_layers)
    opt = optim.make_optimizer(model, config, plan)
    assert opt.defaults["fused"] is True


def test_no_gpu_means_no_gpu_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert train_bench.gpu_peak_mib("cpu") is None
    if not torch.cuda.is_available():
        assert train_bench.main(["--device", "cuda"]) == 2
        assert "nothing is measured" in capsys.readouterr().out
