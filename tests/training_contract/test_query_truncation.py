"""Both sides truncate: an over-long query is cut to max_query_length tokens and trains."""

from __future__ import annotations

import pandas as pd
import pytest

from assay.errors import TrainingError
from assay.training import batching, trainer
from assay.training.config import TrainConfig
from assay.training.device import select_device
from assay.training.model import load_model, score

CPU = select_device(cuda_available=False, bf16_supported=False)
LONG = " ".join(f"word{i}" for i in range(400))  # ~1,200 tokens, far beyond any max_length


def test_short_queries_encode_as_before_and_long_ones_are_cut(tiny):
    tok = load_model(tiny)[1]
    queries, texts = ["red chair", LONG], ["a red wooden chair for the kitchen " * 30, "lamp"]
    data = batching.encode(tok, queries, texts, [1, 0], 64, 16)
    plain = tok(["red chair"], [texts[0]], truncation="only_second", max_length=64)
    assert data.input_ids[0] == plain["input_ids"][0]  # unchanged for a query within its limit
    assert all(len(ids) <= 64 for ids in data.input_ids)
    sep = tok.sep_token_id
    first_sep = data.input_ids[1].index(sep)
    assert first_sep - 1 == 16  # [CLS] + 16 query tokens
    assert data.input_ids[1][first_sep + 1 : -1] == tok("lamp", add_special_tokens=False)["input_ids"]
    # The tokenizer alone refuses the same pair (what training raised before).
    with pytest.raises(Exception, match="truncat|longer"):
        tok([LONG], ["lamp"], truncation="only_second", max_length=64)


def test_clip_queries_cuts_at_a_token_boundary(tiny):
    tok = load_model(tiny)[1]
    clipped = batching.clip_queries(tok, ["playstation controller wireless", "tv"], 2)
    assert clipped[1] == "tv"
    assert tok(clipped[0], add_special_tokens=False)["input_ids"] == tok(
        "playstation controller wireless", add_special_tokens=False)["input_ids"][:2]


def test_an_over_long_query_trains_and_scores(tiny):
    rows = [{"query_id": f"q{q}", "query": LONG if q == 0 else f"query {q}", "product_text": f"item {q} {k}",
             "label": int(k == 0)} for q in range(6) for k in range(4)]
    config = TrainConfig(base_model=tiny, epochs=1, batch_size=8, lr=1e-3, progress=False, checkpoint_every=0,
                         teacher_weight=0.0, val_fraction=0.0, max_length=48, max_query_length=12)
    result = trainer.train(pd.DataFrame(rows), config, CPU, dataset_digest="c" * 64)
    assert result.steps >= 1
    scores = score(result.model, result.tokenizer, [LONG], ["item 0 0"], CPU, 48, max_query_length=12)
    assert scores.shape == (1,)


@pytest.mark.parametrize(("kw", "ok"), [({"max_query_length": 0}, False), ({"max_query_length": 93}, False),
                                        ({"max_query_length": 92}, True), ({"max_length": 16, "max_query_length": 12}, True)])
def test_the_query_limit_leaves_room_for_the_product_text(kw, ok):
    if ok:
        TrainConfig(**kw)
    else:
        with pytest.raises(TrainingError, match="max_query_length"):
            TrainConfig(**kw)
