"""The training-set builder: validated partitions in, a frozen, content-addressed query/product set out.

``build_training_set(settings, window_end, days=14)`` runs the steps of its neighbours in order:

1. **Evidence** (:mod:`~assay.training.evidence`): the days of the window whose partitions passed
   quality (others skipped with a reason, or kept and listed with ``allow_unvalidated``; the
   promotion gate refuses such sets).
2. **Rows** (:mod:`~assay.training.source`): one example per (query, product) shown on a usable
   day, labelled with the best interaction of any of its sessions, on the label scale of the
   search-log contract (:mod:`~assay.training.contract`; the tables read are the ones it maps).
3. **Split and slices** (:mod:`~assay.training.split`, pure): query groups wholly in train or
   test; ``head``/``tail`` traffic and category slices.
4. **Judgments** (:mod:`~assay.training.judgments`) on the test split.
5. **Materialise and record** (:mod:`~assay.training.materialise`): digest, parquet files and
   manifest, the ``training_datasets`` row with the partitions, quality runs, GX run ids and
   waivers relied on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from assay.config import Settings
from assay.training import text as txt
from assay.training.contract import SearchLogContract, judgments_folder, load_default, source_url
from assay.training.errors import DatasetError
from assay.training.evidence import products_table, window_evidence
from assay.training.judgments import JUDGED_COLUMN, judged_labels, load_judgments
from assay.training.materialise import COLUMNS, TrainingSet, dataset_digest, materialise, record
from assay.training.source import read_products, read_rows
from assay.training.split import (
    HEAD_SHARE,
    examples_from_rows,
    group_keys,
    head_queries,
    limit_queries,
    query_categories,
    split_groups,
)

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

log = logging.getLogger(__name__)

#: Bumped whenever the rows, split or serialisation change meaning (part of the digest).
FORMAT_VERSION = 2
PRICE_BINS: tuple[float, ...] = (0, 50, 100, 250, 500, 1000, 2500)


def build_training_set(
    settings: Settings,
    window_end: dt.date,
    days: int = 14,
    *,
    run_key: str | None = None,
    test_fraction: float = 0.2,
    seed: int = 13,
    max_queries: int | None = None,
    allow_unvalidated: bool = False,
    contract: SearchLogContract | None = None,
) -> TrainingSet:
    """Build, materialise and catalogue the training set of the ``days`` days ending at ``window_end``.

    Args:
        settings: where the shop, the catalog and the state folder are.
        window_end: the last day of the window (inclusive).
        days: window length in days.
        run_key: recorded on the catalog row (``dag_id/run_id`` or ``cli/<timestamp>``).
        test_fraction: share of rows (whole query groups) held out for evaluation.
        seed: orders the query groups for the split (and the query sample of ``max_queries``).
        max_queries: keep only this many queries (a seeded sample), for quick experiments.
        allow_unvalidated: include days whose partitions failed quality; they are listed in
            ``stats["unvalidated_partitions"]``.
        contract: the search-log mapping to read; default the settings' (``config/search_log.yaml``).

    Raises:
        NoValidatedData: no day of the window has validated partitions.
        DatasetError: bad parameters, no rows, single-class train labels, or an empty split.
    """
    import numpy as np
    import pandas as pd

    if days < 1:
        raise DatasetError(f"days must be >= 1, got {days}")
    if not 0 < test_fraction < 1:
        raise DatasetError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if max_queries is not None and max_queries < 2:
        raise DatasetError(f"max_queries must be >= 2 (one train and one test query), got {max_queries}")
    window_start = window_end - dt.timedelta(days=days - 1)
    window = f"{window_start.isoformat()}..{window_end.isoformat()}"
    all_days = [window_start + dt.timedelta(days=k) for k in range(days)]

    contract = contract or load_default(settings)
    ev = window_evidence(settings, contract, all_days, window_end, allow_unvalidated=allow_unvalidated,
                         window=window)
    usable, skipped, unvalidated = list(ev.usable), list(ev.skipped), list(ev.unvalidated)
    partitions, quality_run_ids = list(ev.partitions), list(ev.quality_run_ids)
    gx_run_ids, waiver_ids = list(ev.gx_run_ids), list(ev.waiver_ids)

    url = source_url(settings, contract)  # after the evidence: no validated day, no source read
    rows, freq, null_queries = read_rows(url, contract, usable)
    corpus = read_products(url, contract)
    if rows.empty:
        raise DatasetError(f"training window {window}: the usable days {_days(usable)} have no impressions "
                           "with a query in the shop")
    examples = examples_from_rows(rows)
    if max_queries is not None:
        examples = limit_queries(examples, max_queries, seed)
    categories = dict(zip(corpus["product_id"], corpus["slice_category"], strict=True))
    texts = dict(zip(corpus["product_id"], corpus["product_text"], strict=True))
    missing = sorted(set(examples["product_id"]) - set(texts))
    if missing:
        log.warning("training set %s: %d shown products are not in %s (e.g. %s); their rows are dropped",
                    window, len(missing), products_table(contract), missing[0])
        examples = examples[examples["product_id"].isin(texts)]
    if examples.empty:
        raise DatasetError(f"training window {window}: no example is left after filtering")

    frequency: dict[str, int] = defaultdict(int)
    for q, n in zip(freq["query"], freq["n"], strict=True):
        nq = txt.normalise_query(q)
        if nq:
            frequency[nq] += int(n)
    head = head_queries(frequency)
    query_cat = query_categories(examples, categories)
    groups = txt.groups_of(examples["query"])
    group_key = group_keys(groups)

    frame = pd.DataFrame(
        {
            "query_id": examples["query"].map(txt.query_id),
            "query": examples["query"],
            "group_id": examples["query"].map(group_key),
            "product_id": examples["product_id"],
            "product_text": examples["product_id"].map(texts),
            "label": examples["label"].astype(np.int8),
            "slice_traffic": examples["query"].map(lambda q: "head" if q in head else "tail"),
            "slice_category": examples["query"].map(query_cat),
            "n_sessions": examples["n_sessions"].astype(np.int32),
        },
        columns=list(COLUMNS),
    ).sort_values(["query_id", "product_id"], kind="mergesort").reset_index(drop=True)

    group_rows = frame.groupby("group_id").size().to_dict()
    test_groups = split_groups({str(k): int(v) for k, v in group_rows.items()}, test_fraction, seed)
    in_test = frame["group_id"].isin(test_groups)
    train, test = frame[~in_test].reset_index(drop=True), frame[in_test].reset_index(drop=True)
    if train.empty:
        raise DatasetError(f"training window {window}: the training split is empty "
                           f"({len(group_rows)} query group(s); lower test_fraction={test_fraction})")
    if test.empty:
        raise DatasetError(f"training window {window}: the test split is empty "
                           f"({len(group_rows)} query group(s); raise test_fraction={test_fraction} or widen the window)")
    positives = int((train["label"] > 0).sum())
    if positives == 0 or positives == len(train):
        kind = "no positive (clicked) example" if positives == 0 else "no negative (unclicked) example"
        raise DatasetError(f"training window {window}: the training split has {kind} among its {len(train)} rows: "
                           "a ranker cannot learn from one class")
    folder = judgments_folder(settings, contract)
    max_grade = contract.judgments.max if contract.judgments else contract.label_max
    judgments = load_judgments(folder, max_grade)
    test = test.assign(**{JUDGED_COLUMN: judged_labels(test, judgments)})

    params = {
        "format_version": FORMAT_VERSION,
        "window_start": window_start.isoformat(),
        "window_end": window_end.isoformat(),
        "days": days,
        "test_fraction": test_fraction,
        "seed": seed,
        "max_queries": max_queries,
        "head_share": HEAD_SHARE,
        "labels": dict(contract.labels.events) if not contract.graded_by_column else {"grade_column": True},
        "label_scale": {"scale": contract.labels.scale, "max": contract.label_max},
        "near_duplicates": {"jaccard_3gram_min": txt.JACCARD_MIN, "edit_distance_max": txt.EDIT_MAX,
                            "edit_min_len": txt.EDIT_MIN_LEN},
    }
    digest = dataset_digest(train, test, corpus, params)
    shown = corpus[corpus["product_id"].isin(set(frame["product_id"]))]
    query_lengths = Counter(min(len(q.split()), 6) for q in frame["query"].unique())
    stats: dict[str, Any] = {
        "params": params,
        "days_used": _days(usable),
        "days_skipped": [s.as_dict() for s in skipped],
        "unvalidated_partitions": sorted(unvalidated),
        "null_queries_dropped": null_queries,
        "sessions": int(sum(frequency.values())),
        "queries": int(frame["query_id"].nunique()),
        "groups": int(frame["group_id"].nunique()),
        "largest_group": int(max(Counter(groups.values()).values())),
        "head_rule": f"most frequent queries covering {HEAD_SHARE:.0%} of sessions",
        "head_queries": len(head),
        "train": _split_stats(train, contract.label_max),
        "test": _split_stats(test, contract.label_max),
        "query_tokens": {(str(k) if k < 6 else "6+"): int(v) for k, v in sorted(query_lengths.items())},
        "category_mix": {k: int(v) for k, v in sorted(Counter(frame["slice_category"]).items())},
        "price_shown": _histogram(shown["price"].dropna(), PRICE_BINS),
        "currency_shown": {k: int(v) for k, v in sorted(Counter(shown["currency"]).items())},
        "gx_run_ids": gx_run_ids,
        "corpus_products": len(corpus),
        "judgments": _judged_stats(test, judgments, folder, max_grade),
        "contract": contract.describe(),
        "label_scale": {"scale": contract.labels.scale, "max": contract.label_max},
    }
    manifest = {
        "digest": digest,
        "window_start": window_start.isoformat(),
        "window_end": window_end.isoformat(),
        "partitions": partitions,
        "quality_run_ids": quality_run_ids,
        "gx_run_ids": gx_run_ids,
        "waiver_ids": waiver_ids,
        "n_train": len(train),
        "n_test": len(test),
        "skipped_days": [s.as_dict() for s in skipped],
        "stats": stats,
        "columns": list(COLUMNS),
    }
    location = materialise(settings.state_dir / "datasets", digest,
                            {"train": train, "test": test, "products": corpus}, manifest)
    row = {
        "digest": digest,
        "window_start": window_start,
        "window_end": window_end,
        "location": str(location),
        "partitions": partitions,
        "quality_run_ids": quality_run_ids,
        "waiver_ids": waiver_ids,
        "n_train": len(train),
        "n_test": len(test),
        "stats": stats,
        "run_key": run_key,
    }
    dataset_id = record(settings, row, run_key=run_key)
    log.info("training set %s: %d train / %d test rows, %d days used, %d skipped, digest %s, dataset id %d",
             window, len(train), len(test), len(usable), len(skipped), digest[:16], dataset_id)
    return TrainingSet(
        dataset_id=dataset_id,
        digest=digest,
        location=location,
        window_start=window_start,
        window_end=window_end,
        partitions=tuple(partitions),
        quality_run_ids=tuple(quality_run_ids),
        gx_run_ids=tuple(gx_run_ids),
        waiver_ids=tuple(waiver_ids),
        n_train=len(train),
        n_test=len(test),
        stats=stats,
        skipped_days=tuple(skipped),
    )


def _days(days: list[dt.date]) -> list[str]:
    return [d.isoformat() for d in days]


def _histogram(values: Iterable[float], edges: tuple[float, ...]) -> dict[str, int]:
    labels = [f"{int(a)}-{int(b)}" for a, b in zip(edges, edges[1:], strict=False)] + [f"{int(edges[-1])}+"]
    counts = dict.fromkeys(labels, 0)
    for v in values:
        idx = sum(1 for edge in edges[1:] if v >= edge)
        counts[labels[idx]] += 1
    return counts


def _split_stats(frame: pd.DataFrame, label_max: int) -> dict[str, Any]:
    labels = Counter(int(v) for v in frame["label"])
    per_query = frame.drop_duplicates("query_id")
    return {
        "rows": len(frame),
        "queries": int(frame["query_id"].nunique()),
        "groups": int(frame["group_id"].nunique()),
        "labels": {str(k): labels.get(k, 0) for k in range(label_max + 1)},
        "queries_with_positive": int(frame.loc[frame["label"] > 0, "query_id"].nunique()),
        "traffic": {k: int(v) for k, v in sorted(Counter(per_query["slice_traffic"]).items())},
        "category": {k: int(v) for k, v in sorted(Counter(per_query["slice_category"]).items())},
    }


def _judged_stats(test: pd.DataFrame, judgments: pd.DataFrame, folder: Path | None, max_grade: int) -> dict[str, Any]:
    judged = test[test[JUDGED_COLUMN] >= 0]
    grades = Counter(int(g) for g in judged[JUDGED_COLUMN])
    return {
        "source": str(folder) if folder is not None else None,
        "judged_pairs_available": len(judgments),
        "test_rows_judged": len(judged),
        "test_rows": len(test),
        "test_queries_judged": int(judged["query_id"].nunique()),
        "grades": {str(k): grades.get(k, 0) for k in range(max_grade + 1)},
    }
