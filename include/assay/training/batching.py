"""From a training frame to batches: targets, tokenisation, the epoch order, padding, splits.

All pure functions of their arguments (and a seed), so a resumed or data-parallel run replays the
same order. Lengths drive the bucketing: each epoch shuffles the pairs (or, for the listwise loss,
query lists) with a seed that depends on the epoch, cuts them into mega-batches of
``bucket_batches`` batches, sorts each by length and shuffles the resulting batches.

**Batch size is a hard limit.** No batch holds more than ``batch_size`` pairs. For the listwise
loss a query with more pairs than that is cut, each epoch, into ``ceil(n / batch_size)`` lists of
near-equal size: its pairs are shuffled (seeded by the epoch), ordered by target (best first, a
stable sort) and dealt round-robin, so its relevant pairs spread over the lists; a list without a
relevant pair, or with a single pair, is dropped for that epoch (ListNet has nothing to order).
Small queries share a batch; two lists of the same query never do (the loss would merge them).

**Labels** are graded 0..``label_max``, the label scale of the search-log contract
(:mod:`assay.training.contract`: 1 for a binary scale); targets are ``label / label_max``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assay.errors import TrainingError

if TYPE_CHECKING:
    import pandas as pd
    import torch

#: Top of the graded scale for callers that pass none (the ESCI-style 0..3 of the demo's contract);
#: training passes the declared scale of its training set.
ESCI_MAX = 3
#: Optional column of a training frame: a teacher's score per pair in [0, 1] (see ``teacher_weight``).
TEACHER_COLUMN = "teacher"


@dataclass
class Encoded:
    """Tokenised pairs, unpadded: one list of ids per pair."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]]
    targets: list[float]
    pad_id: int

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]


def mixed_targets(
    labels: Sequence[float], teacher: Sequence[float] | None, weight: float, label_max: int = ESCI_MAX
) -> list[float]:
    """Training targets in [0, 1]: ``label / label_max``, mixed with a teacher's score when ``weight > 0``.

    Raises:
        TrainingError: a teacher weight without teacher scores, or scores outside [0, 1].
    """
    hard = [float(v) / label_max for v in labels]
    if weight == 0:
        return hard
    if teacher is None:
        raise TrainingError(f"teacher_weight={weight} but the training frame has no {TEACHER_COLUMN!r} column")
    soft = [float(v) for v in teacher]
    bad = [v for v in soft if not 0.0 <= v <= 1.0]
    if bad:
        raise TrainingError(f"{len(bad)} teacher score(s) outside [0, 1] (e.g. {bad[0]})")
    return [(1.0 - weight) * h + weight * t for h, t in zip(hard, soft, strict=True)]


def encode(
    tokenizer: Any,
    queries: Sequence[str],
    texts: Sequence[str],
    labels: Sequence[float],
    max_length: int,
    max_query_length: int | None = None,
    *,
    label_max: int = ESCI_MAX,
) -> Encoded:
    """Tokenise (query, text) pairs once, truncating both sides, without padding.

    The query keeps at most ``max_query_length`` tokens (default: half of ``max_length``;
    :func:`clip_queries`), the text what is left of ``max_length`` after the query and the special
    tokens; so an over-long query is cut rather than refused. Queries within their limit are
    encoded exactly as before (the tokenizer's ``truncation="only_second"`` pair encoding). ``labels`` are graded 0..``label_max`` (fractional
    values allowed: a teacher-mixed target times ``label_max``)."""
    q_limit = max_query_length or max(1, max_length // 2)
    enc = tokenizer(
        clip_queries(tokenizer, queries, q_limit), list(texts), truncation="only_second", max_length=max_length,
        padding=False,
    )
    input_ids = list(enc["input_ids"])
    token_types = list(enc.get("token_type_ids") or [[0] * len(ids) for ids in input_ids])
    return Encoded(
        input_ids=input_ids,
        token_type_ids=token_types,
        targets=[float(v) / label_max for v in labels],
        pad_id=int(tokenizer.pad_token_id or 0),
    )


def clip_queries(tokenizer: Any, queries: Sequence[str], limit: int) -> list[str]:
    """Each query cut after its ``limit``-th token (at the token's end in the text), else unchanged.

    Cutting the text at a token boundary (the fast tokenizer's offsets) re-tokenises to the same
    first ``limit`` tokens, and works with any fast tokenizer.
    """
    texts = [str(q) for q in queries]
    enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    out = []
    for text, offsets in zip(texts, enc["offset_mapping"], strict=True):
        out.append(text[: offsets[limit - 1][1]] if len(offsets) > limit else text)
    return out


def epoch_batches(
    lengths: Sequence[int], batch_size: int, seed: int, epoch: int, bucket_batches: int
) -> list[list[int]]:
    """The batches of one epoch: shuffled, bucketed by length inside mega-batches, batches shuffled.

    A pure function of its arguments, so a resumed run replays the same order.
    """
    import numpy as np

    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    mega = max(1, bucket_batches) * batch_size
    batches: list[list[int]] = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start : start + mega].tolist(), key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    perm = rng.permutation(len(batches))
    return [batches[i] for i in perm]


def query_groups(query_ids: Sequence[Any], targets: Sequence[float]) -> list[list[int]]:
    """Pair indices per query, in first-seen order; queries without a relevant pair are left out
    (a listwise loss has nothing to learn from them)."""
    groups: dict[Any, list[int]] = {}
    for i, q in enumerate(query_ids):
        groups.setdefault(q, []).append(i)
    return [g for g in groups.values() if len(g) > 1 and max(targets[i] for i in g) > 0]


def split_query(
    group: Sequence[int], batch_size: int, targets: Sequence[float] | None, rng: Any
) -> list[list[int]]:
    """The lists one query contributes to an epoch (see the module docstring for the rule).

    A query of at most ``batch_size`` pairs is one list, as it is. A larger one is dealt into
    ``ceil(n / batch_size)`` lists after a seeded shuffle and a stable sort by target; with
    ``targets`` given, lists without a relevant pair or with one pair are dropped.
    """
    if len(group) <= batch_size:
        return [list(group)]
    n_lists = -(-len(group) // batch_size)
    shuffled = [group[i] for i in rng.permutation(len(group))]
    if targets is not None:
        shuffled.sort(key=lambda i: -targets[i])
    lists = [shuffled[j::n_lists] for j in range(n_lists)]
    if targets is None:
        return lists
    return [part for part in lists if len(part) > 1 and max(targets[i] for i in part) > 0]


def group_batches(
    groups: Sequence[Sequence[int]],
    lengths: Sequence[int],
    batch_size: int,
    seed: int,
    epoch: int,
    bucket_batches: int,
    targets: Sequence[float] | None = None,
) -> list[list[int]]:
    """Batches of query lists, at most ``batch_size`` pairs each: shuffled, bucketed by length in
    mega-batches, then shuffled.

    A query's pairs are contiguous inside its batch (the listwise loss finds them there); a query
    with more than ``batch_size`` pairs is split by :func:`split_query`, and two lists of one query
    never share a batch.
    """
    import numpy as np

    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(groups)).tolist()
    # A separate stream for the splits: the query order does not depend on which queries are split.
    split_rng = np.random.default_rng([seed, epoch, 1])
    lists = [(gi, part) for gi in order for part in split_query(groups[gi], batch_size, targets, split_rng)]
    mega = max(1, bucket_batches) * batch_size
    batches: list[list[int]] = []
    start = 0
    while start < len(lists):
        chunk: list[tuple[int, list[int]]] = []
        size = 0
        while start < len(lists) and (size < mega or not chunk):
            chunk.append(lists[start])
            size += len(lists[start][1])
            start += 1
        chunk.sort(key=lambda item: max(lengths[i] for i in item[1]))
        current: list[int] = []
        owners: set[int] = set()
        for gi, part in chunk:
            if current and (len(current) + len(part) > batch_size or gi in owners):
                batches.append(current)
                current, owners = [], set()
            current = current + part
            owners.add(gi)
        if current:
            batches.append(current)
    perm = rng.permutation(len(batches))
    return [batches[i] for i in perm]


def collate(
    data: Encoded, idx: Sequence[int], pin_memory: bool = False, pad_to: int | None = None
) -> dict[str, torch.Tensor]:
    """A batch padded to its longest pair (or to ``pad_to``, for the naive baseline)."""
    import torch

    width = pad_to or max(len(data.input_ids[i]) for i in idx)
    ids = torch.full((len(idx), width), data.pad_id, dtype=torch.long)
    types = torch.zeros((len(idx), width), dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for row, i in enumerate(idx):
        n = len(data.input_ids[i])
        ids[row, :n] = torch.tensor(data.input_ids[i])
        types[row, :n] = torch.tensor(data.token_type_ids[i])
        mask[row, :n] = 1
    batch = {
        "input_ids": ids,
        "token_type_ids": types,
        "attention_mask": mask,
        "targets": torch.tensor([data.targets[i] for i in idx], dtype=torch.float32),
    }
    if pin_memory:
        batch = {k: v.pin_memory() for k, v in batch.items()}
    return batch


def split_validation(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, validation) split by ``query_id``: a query's pairs stay on one side."""
    import numpy as np

    if fraction <= 0:
        return frame, frame.iloc[0:0]
    queries = np.array(sorted(frame["query_id"].astype(str).unique()))
    n_val = int(round(len(queries) * fraction))
    if n_val < 2 or len(queries) - n_val < 1:
        return frame, frame.iloc[0:0]
    rng = np.random.default_rng(seed)
    val_q = set(rng.choice(queries, size=n_val, replace=False).tolist())
    is_val = frame["query_id"].astype(str).isin(val_q)
    return frame[~is_val], frame[is_val]


def subsample_queries(frame: pd.DataFrame, max_pairs: int | None, seed: int) -> pd.DataFrame:
    """At most ``max_pairs`` pairs, taken as whole queries in a seeded random order."""
    import numpy as np

    if max_pairs is None or len(frame) <= max_pairs:
        return frame
    queries = np.array(sorted(frame["query_id"].astype(str).unique()))
    sizes = frame.groupby(frame["query_id"].astype(str)).size()
    keep: list[str] = []
    total = 0
    for q in np.random.default_rng([seed, 1]).permutation(queries):
        if total + int(sizes[q]) > max_pairs and keep:
            continue
        keep.append(q)
        total += int(sizes[q])
        if total >= max_pairs:
            break
    return frame[frame["query_id"].astype(str).isin(set(keep))]


def check_trainable(frame: pd.DataFrame, what: str) -> None:
    """Refuse a set no ranking model can learn from.

    Raises:
        TrainingError: no pairs, or every pair has the same label.
    """
    if len(frame) == 0:
        raise TrainingError(f"{what} is empty: nothing to train on")
    labels = sorted(set(int(v) for v in frame["label"].unique()))
    if len(labels) < 2:
        raise TrainingError(
            f"{what} has a single label class ({labels[0]}) in {len(frame)} pairs: a ranker needs at least two"
        )


def rank_batches(batches: list[list[int]], rank: int, world_size: int) -> list[list[int]]:
    """This rank's share: every ``world_size``-th batch, the same count on every rank."""
    usable = (len(batches) // world_size) * world_size
    return batches[rank:usable:world_size]
