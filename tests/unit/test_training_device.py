"""Device and precision decisions: the CUDA path is a pure function, tested on this CPU machine."""

from __future__ import annotations

import pytest

from assay.errors import TrainingError
from assay.training.device import DevicePlan, detect, select_device


def test_bf16_gpu_gets_autocast_pinned_memory_and_nccl():
    plan = select_device(cuda_available=True, bf16_supported=True)
    assert plan == DevicePlan(
        device="cuda:0", autocast_dtype="bfloat16", pin_memory=True, non_blocking=True, backend="nccl"
    )
    assert plan.precision == "bf16" and plan.device_type == "cuda"


def test_gpu_without_bf16_trains_fp32_but_still_pins():
    plan = select_device(cuda_available=True, bf16_supported=False)
    assert plan.autocast_dtype is None and plan.precision == "fp32"
    assert plan.pin_memory and plan.non_blocking and plan.backend == "nccl"


def test_bf16_asked_of_a_gpu_without_it_is_an_error():
    with pytest.raises(TrainingError, match="does not support bfloat16"):
        select_device(cuda_available=True, bf16_supported=False, precision="bf16")


def test_fp32_forced_on_a_bf16_gpu():
    assert select_device(cuda_available=True, bf16_supported=True, precision="fp32").autocast_dtype is None


def test_local_rank_picks_the_gpu():
    assert select_device(cuda_available=True, bf16_supported=True, local_rank=1).device == "cuda:1"


def test_cpu_is_fp32_unpinned_gloo():
    for bf16 in (True, False):
        plan = select_device(cuda_available=False, bf16_supported=bf16)
        assert plan == DevicePlan(
            device="cpu", autocast_dtype=None, pin_memory=False, non_blocking=False, backend="gloo"
        )
    assert select_device(cuda_available=True, bf16_supported=True, force_cpu=True).device == "cpu"


def test_cpu_bf16_on_request_and_unknown_precision_refused():
    assert (
        select_device(cuda_available=False, bf16_supported=False, precision="bf16").autocast_dtype
        == "bfloat16"
    )
    with pytest.raises(TrainingError, match="unknown precision 'fp8'"):
        select_device(cuda_available=False, bf16_supported=False, precision="fp8")


def test_autocast_context_really_computes_in_bf16_on_cpu():
    import torch

    layer = torch.nn.Linear(4, 3)
    x = torch.randn(2, 4)
    with select_device(cuda_available=False, bf16_supported=False, precision="bf16").autocast():
        assert layer(x).dtype == torch.bfloat16
    with select_device(cuda_available=False, bf16_supported=False).autocast():
        assert layer(x).dtype == torch.float32


def test_detect_follows_torch():
    import torch

    plan = detect()
    assert plan.device_type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert detect(force_cpu=True).device == "cpu"
