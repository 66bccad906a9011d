"""`batch_size` holds across queries: a large query is split into lists, small queries share a batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.training import batching, trainer
from assay.training.config import TrainConfig
from assay.training.device import select_device

CPU = select_device(cuda_available=False, bf16_supported=False)


def groups_of(sizes: list[int]) -> list[list[int]]:
    out, start = [], 0
    for n in sizes:
        out.append(list(range(start, start + n)))
        start += n
    return out


def test_no_batch_exceeds_batch_size_and_a_large_query_is_dealt_into_lists():
    groups = groups_of([40, *[3] * 20])
    n = sum(len(g) for g in groups)
    targets = [0.0] * n
    for i in (0, 1, 2):  # three relevant pairs in the large query
        targets[i] = 1.0
    for g in groups[1:]:
        targets[g[0]] = 1.0
    lengths = list(np.random.default_rng(0).integers(8, 60, size=n))
    batches = batching.group_batches(groups, lengths, 8, seed=1, epoch=0, bucket_batches=4, targets=targets)
    assert max(len(b) for b in batches) <= 8
    big = set(groups[0])
    lists = [[i for i in b if i in big] for b in batches if big & set(b)]
    # ceil(40 / 8) = 5 lists of 8; the 3 relevant pairs land in 3 of them, the other 2 are dropped.
    assert sorted(len(part) for part in lists) == [8, 8, 8]
    assert all(max(targets[i] for i in part) > 0 for part in lists)
    assert sorted(i for part in lists for i in part if targets[i] > 0) == [0, 1, 2]
    # Small queries share batches: 20 queries of 3 pairs fill batches of 6 (two queries each).
    small = [b for b in batches if not big & set(b)]
    assert sum(len(b) for b in small) == 60 and max(len(b) for b in small) == 6
    # Deterministic per (seed, epoch), different across epochs.
    again = batching.group_batches(groups, lengths, 8, seed=1, epoch=0, bucket_batches=4, targets=targets)
    assert batches == again
    assert batches != batching.group_batches(groups, lengths, 8, seed=1, epoch=1, bucket_batches=4, targets=targets)


def test_two_lists_of_one_query_never_share_a_batch():
    groups = groups_of([9, 2])  # 9 > 8: two lists of 5 and 4 pairs; 4 + 2 fit together, 5 + 4 would too
    targets = [1.0] * 11
    for seed in range(20):
        for b in batching.group_batches(groups, [10] * 11, 10, seed=seed, epoch=0, bucket_batches=1, targets=targets):
            assert len(b) <= 10
            assert not (set(b) & set(groups[0]) and len(set(b) & set(groups[0])) == 9 and len(b) > 9)
    # With batch_size 10 the 9-pair query is not split at all.
    for b in batching.group_batches(groups_of([12, 2]), [10] * 14, 10, seed=3, epoch=0, bucket_batches=1,
                                    targets=[1.0] * 14):
        assert len(set(b) & set(range(12))) in (0, 6)  # 12 -> two lists of 6; never both in one batch


def frame(sizes: list[int], relevant: int = 1) -> pd.DataFrame:
    rows = []
    for q, n in enumerate(sizes):
        for k in range(n):
            rows.append({"query_id": f"q{q:03d}", "query": f"query number {q}", "product_text": f"product {q} {k}",
                         "label": 1 if k < relevant else 0})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("batch_size", [8, 16])
def test_the_trainer_takes_at_most_batch_size_pairs_per_step(tiny, monkeypatch, batch_size):
    seen: list[int] = []
    real = trainer.collate

    def counting(data, idx, *args, **kwargs):
        seen.append(len(idx))
        return real(data, idx, *args, **kwargs)

    monkeypatch.setattr(trainer, "collate", counting)
    pairs = frame([40, *[3] * 20], relevant=3)
    config = TrainConfig(base_model=tiny, epochs=1, batch_size=batch_size, lr=1e-3, progress=False,
                         checkpoint_every=0, teacher_weight=0.0, val_fraction=0.0)
    result = trainer.train(pairs, config, CPU, dataset_digest="b" * 64)
    assert result.steps == len(seen) and max(seen) <= batch_size
    assert result.examples_seen == sum(seen)
    # Several small queries per step (3-pair queries packed together), not one query per step.
    assert sum(1 for n in seen if n > 3) > len(seen) // 2
