"""Device and precision for training: a pure decision, then the torch objects it implies.

:func:`select_device` is a pure function of what the machine offers, so the CUDA path (bf16
autocast, pinned host memory, non-blocking copies, NCCL) is tested on a CPU-only machine;
:func:`detect` asks torch and calls it.

* CUDA with bf16 support (Ampere or newer): bf16 autocast. bf16 has fp32's exponent range, so no
  gradient scaler is needed; the weights and the optimizer stay fp32.
* CUDA without bf16 (Volta, Turing): fp32. fp16 autocast would need a ``GradScaler`` and loss-scale
  bookkeeping in checkpoints; these GPUs are not worth that code here.
* CPU: fp32 by default. ``precision="bf16"`` forces CPU bf16 autocast (slower on most CPUs
  without AMX; kept for tests and for CPUs that have it).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from assay.errors import TrainingError

if TYPE_CHECKING:
    import torch

Precision = Literal["auto", "fp32", "bf16"]
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class DevicePlan:
    """Where and how a training step runs.

    Attributes:
        device: ``"cuda:<rank>"`` or ``"cpu"``.
        autocast_dtype: ``"bfloat16"`` to run forward passes under autocast, ``None`` for fp32.
        pin_memory: collate batches into page-locked host memory (only useful with CUDA).
        non_blocking: copy batches to the device asynchronously (needs pinned memory).
        backend: the ``torch.distributed`` backend for data-parallel runs.
    """

    device: str
    autocast_dtype: str | None
    pin_memory: bool
    non_blocking: bool
    backend: str

    @property
    def device_type(self) -> str:
        return self.device.split(":", 1)[0]

    @property
    def precision(self) -> str:
        return "bf16" if self.autocast_dtype == "bfloat16" else "fp32"

    def torch_device(self) -> torch.device:
        import torch

        return torch.device(self.device)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The autocast context for forward passes (a no-op context in fp32)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        import torch

        return torch.autocast(self.device_type, dtype=getattr(torch, self.autocast_dtype))


def select_device(
    *,
    cuda_available: bool,
    bf16_supported: bool,
    precision: str = "auto",
    local_rank: int = 0,
    force_cpu: bool = False,
) -> DevicePlan:
    """Decide device, precision and host-memory strategy from what the machine offers.

    Args:
        cuda_available: ``torch.cuda.is_available()``.
        bf16_supported: ``torch.cuda.is_bf16_supported()`` (ignored without CUDA).
        precision: ``auto`` (bf16 on a bf16 GPU, else fp32), ``fp32`` or ``bf16``.
        local_rank: the process's GPU index in a data-parallel run.
        force_cpu: train on the CPU even when a GPU is present.

    Raises:
        TrainingError: an unknown precision, or ``bf16`` asked of a GPU that lacks it.
    """
    if precision not in PRECISIONS:
        raise TrainingError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if cuda_available and not force_cpu:
        if precision == "bf16" and not bf16_supported:
            raise TrainingError("precision bf16 was asked for but this GPU does not support bfloat16")
        use_bf16 = precision == "bf16" or (precision == "auto" and bf16_supported)
        return DevicePlan(
            device=f"cuda:{local_rank}",
            autocast_dtype="bfloat16" if use_bf16 else None,
            pin_memory=True,
            non_blocking=True,
            backend="nccl",
        )
    return DevicePlan(
        device="cpu",
        autocast_dtype="bfloat16" if precision == "bf16" else None,
        pin_memory=False,
        non_blocking=False,
        backend="gloo",
    )


def detect(precision: str = "auto", local_rank: int = 0, force_cpu: bool = False) -> DevicePlan:
    """:func:`select_device` for this machine."""
    import torch

    cuda = torch.cuda.is_available()
    return select_device(
        cuda_available=cuda,
        bf16_supported=bool(cuda and torch.cuda.is_bf16_supported()),
        precision=precision,
        local_rank=local_rank,
        force_cpu=force_cpu,
    )
