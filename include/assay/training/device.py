"""Device and precision for training: a pure decision, then the torch objects it implies.

:func:`select_device` is a pure function of what the machine offers, so the CUDA path (bf16
autocast, pinned host memory, non-blocking copies, NCCL) is tested on a CPU-only machine;
:func:`detect` asks torch and calls it.

* CUDA with bf16 support (Ampere or newer): bf16 autocast. bf16 has fp32's exponent range, so no
  gradient scaler is needed; the weights and the optimizer stay fp32.
* CUDA without bf16 (Volta, Turing): fp32. fp16 autocast would need a ``GradScaler`` and loss-scale
  bookkeeping in checkpoints; these GPUs are not worth that code here.
* CPU with AMX bf16 tile units (Intel Sapphire Rapids and newer): bf16 autocast. oneDNN runs the
  bf16 matrix products on the AMX tiles; measured on this project's 2-core Xeon (MiniLM, 16 pairs of
  48 tokens, forward + backward + AdamW, CPU seconds): 36.7 pairs/s against 23 in fp32 (1.6x), and
  the same judged nDCG@10 on the demo (docs/training.md, "Speed"). The head stays fp32
  (:func:`assay.training.optim.fp32_head`).
* Any other CPU: fp32 (without AMX, bf16 autocast is slower than fp32 on most CPUs).
  ``precision="bf16"`` forces CPU bf16 autocast; ``precision="fp32"`` turns it off on AMX CPUs.
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
    cpu_bf16_fast: bool = False,
) -> DevicePlan:
    """Decide device, precision and host-memory strategy from what the machine offers.

    Args:
        cuda_available: ``torch.cuda.is_available()``.
        bf16_supported: ``torch.cuda.is_bf16_supported()`` (ignored without CUDA).
        precision: ``auto`` (bf16 on a bf16 GPU, else fp32), ``fp32`` or ``bf16``.
        local_rank: the process's GPU index in a data-parallel run.
        force_cpu: train on the CPU even when a GPU is present.
        cpu_bf16_fast: the CPU has AMX bf16 units (:func:`cpu_has_amx_bf16`), so ``auto`` picks
            bf16 autocast on the CPU too.

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
        autocast_dtype="bfloat16" if precision == "bf16" or (precision == "auto" and cpu_bf16_fast) else None,
        pin_memory=False,
        non_blocking=False,
        backend="gloo",
    )


def cpu_has_amx_bf16() -> bool:
    """Whether torch sees AMX tile units on this CPU (bf16 matrix products in hardware)."""
    import torch

    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)  # torch >= 2.3; private but stable
    try:
        return bool(probe()) if probe is not None else False
    except RuntimeError:  # a torch built without cpuinfo
        return False


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
        cpu_bf16_fast=cpu_has_amx_bf16(),
    )
