"""bf16 autocast on AMX CPUs by default, with the head kept in fp32 (issue #16)."""

from __future__ import annotations

import torch

from assay.training.device import cpu_has_amx_bf16, detect, select_device
from assay.training.model import load_model, score
from assay.training.optim import fp32_head


def test_auto_picks_bf16_on_an_amx_cpu_only() -> None:
    amx = select_device(cuda_available=False, bf16_supported=False, cpu_bf16_fast=True)
    assert amx.device == "cpu" and amx.precision == "bf16" and not amx.pin_memory
    assert select_device(cuda_available=False, bf16_supported=False).precision == "fp32"
    assert select_device(cuda_available=False, bf16_supported=False, cpu_bf16_fast=True,
                         precision="fp32").precision == "fp32"
    # A GPU's own bf16 answer decides on the GPU, not the CPU's.
    assert select_device(cuda_available=True, bf16_supported=False, cpu_bf16_fast=True).precision == "fp32"


def test_detect_asks_torch_about_amx() -> None:
    assert detect(force_cpu=True).precision == ("bf16" if cpu_has_amx_bf16() else "fp32")


def test_the_head_runs_in_fp32_under_autocast_and_the_hooks_go_away(tiny: str) -> None:
    model, tok = load_model(tiny)
    model.eval()
    plan = select_device(cuda_available=False, bf16_supported=False, precision="bf16")
    batch = tok(["red chair"], ["a red wooden chair"], return_tensors="pt")
    with torch.inference_mode(), plan.autocast():
        assert model(**batch).logits.dtype == torch.bfloat16
        with fp32_head(model, plan):
            assert model(**batch).logits.dtype == torch.float32
            assert torch.is_autocast_enabled("cpu")  # the rest of the model still runs in bf16
        assert model(**batch).logits.dtype == torch.bfloat16
    assert not model.classifier._forward_hooks and not model.classifier._forward_pre_hooks


def test_bf16_scores_keep_fp32_resolution(tiny: str) -> None:
    model, tok = load_model(tiny)
    plan = select_device(cuda_available=False, bf16_supported=False, precision="bf16")
    queries = [f"red chair {i}" for i in range(40)]
    texts = [f"a red wooden chair number {i} with {i % 7} legs" for i in range(40)]
    scores = score(model, tok, queries, texts, plan, 64)
    with torch.inference_mode(), plan.autocast():
        bf16 = model(**tok(queries, texts, return_tensors="pt", padding=True)).logits.float().view(-1)
    # A bf16 logit carries 8 significant bits: near-equal scores collide; the fp32 head keeps them apart.
    assert len(set(scores.tolist())) > 2 * len(set(bf16.tolist()))
