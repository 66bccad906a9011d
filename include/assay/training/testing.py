"""Test and benchmark support: a tiny random BERT and a learnable toy training set.

Nothing in the product imports this module; tests, ``bench/`` and smoke runs do.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from assay.training.model import default_base_model

if TYPE_CHECKING:
    import pandas as pd


def make_tiny_model(directory: Path, seed: int = 0, layers: int = 1) -> Path:
    """Write a tiny random BERT (16 hidden, ``layers`` layers) with MiniLM's real tokenizer to ``directory``.

    For tests and smoke runs: the same code path as a real base model, a hundredth of the cost.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=16,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=1,  # type: ignore[call-arg]  # a PretrainedConfig kwarg BertConfig forwards
    )
    directory.mkdir(parents=True, exist_ok=True)
    BertForSequenceClassification(config).save_pretrained(directory)
    AutoTokenizer.from_pretrained(default_base_model(), local_files_only=True).save_pretrained(directory)
    return directory


def synthetic_pairs(n_queries: int = 40, per_query: int = 8, seed: int = 0) -> pd.DataFrame:
    """A learnable toy training set with the training-set columns (tests and benchmarks).

    Queries are three words (colour, material, product type); a product's label is how many of
    them its text shares (0..3), so lexical overlap ranks well and a cross-encoder can learn it.
    """
    import numpy as np
    import pandas as pd

    colours = ["red", "blue", "green", "black", "white", "grey", "oak", "pink"]
    materials = ["wooden", "metal", "leather", "cotton", "glass", "plastic", "wool", "steel"]
    kinds = ["chair", "table", "lamp", "sofa", "rug", "shelf", "desk", "mirror", "bed", "vase"]
    fillers = ["modern", "classic", "compact", "large", "handmade", "nordic", "vintage", "sturdy"]
    rng = np.random.default_rng(seed)
    rows = []
    for q in range(n_queries):
        words = [str(rng.choice(colours)), str(rng.choice(materials)), str(rng.choice(kinds))]
        for p in range(per_query):
            label = int(rng.integers(0, 4))
            keep = list(rng.permutation(3)[:label])
            text_words = [
                words[i] if i in keep else str(rng.choice(pool))
                for i, pool in enumerate((colours, materials, kinds))
            ]
            # A replaced word may equal the query word by chance: the label counts real overlap.
            label = sum(a == b for a, b in zip(text_words, words, strict=True))
            extra = [str(w) for w in rng.choice(fillers, size=int(rng.integers(1, 6)))]
            rows.append(
                {
                    "query_id": f"q{q}",
                    "query": " ".join(words),
                    "product_id": f"p{q}-{p}",
                    "product_text": " ".join([*extra[:2], *text_words, *extra[2:]]),
                    "label": label,
                    "slice_traffic": "head" if q % 3 == 0 else "tail",
                    "slice_category": words[2],
                    "n_sessions": int(rng.integers(1, 20)),
                }
            )
    frame = pd.DataFrame(rows)
    frame["label"] = frame["label"].astype("int8")
    return frame
