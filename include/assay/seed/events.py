"""One day of search traffic: sessions, impressions and the click -> cart -> purchase funnel.

Per session: a target product is drawn by popularity, a query is written from it (see
:mod:`assay.seed.queries`), and 20 candidates (the target, same-type, same-category and random
products) are ranked by a *noisy lexical* ranker, whose top 10 are shown. Shoppers then examine
position ``p`` with probability ``1 / log2(1 + p)`` (position bias) and click an examined product
with a probability set by its hidden grade; add-to-cart and purchase follow a click, again by
grade. The ranker rewards literal word overlap, so it misranks exactly the synonym, variant and
typo queries a learned model can fix.

All draws of a day come from streams keyed by the seed and the day, so a day is identical
whichever window it is seeded in. Defects use their own streams: turning one on changes only
the rows it corrupts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.seed import vocab
from assay.seed.catalog import Products, get_vocab, midnight_utc
from assay.seed.config import DUPLICATED_EVENTS, NULL_BURST, SESSIONS_PER_SCALE
from assay.seed.queries import QueryBatch, make_queries
from assay.seed.relevance import grade_matrix
from assay.seed.rng import stream

SHOWN = 10
N_SAME_TYPE = 6
N_SAME_CATEGORY = 6
N_RANDOM = 7
N_CANDIDATES = 1 + N_SAME_TYPE + N_SAME_CATEGORY + N_RANDOM

#: Monday..Sunday traffic factors: weekends are busier.
WEEKDAY_FACTOR = (0.95, 0.93, 0.97, 1.0, 1.05, 1.2, 1.15)
#: Hour-of-day traffic weights (UTC): quiet nights, evening peak.
HOUR_WEIGHTS = (
    2, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 7, 8, 7, 6, 6, 7, 8, 10, 12, 12, 10, 7, 4,
)  # fmt: skip
#: Sessions start by 23:40 so their funnel (at most ~17 minutes) ends on the same day.
LAST_START_SECOND = 86_400 - 20 * 60

# Click model, indexed by grade 0..3.
P_CLICK_IF_EXAMINED = np.array([0.04, 0.14, 0.40, 0.75])
P_CART_IF_CLICKED = np.array([0.01, 0.05, 0.12, 0.28])
P_BUY_IF_CARTED = np.array([0.05, 0.15, 0.30, 0.50])
#: Examination probability by position 1..10: 1 / log2(1 + position).
EXAMINATION = 1.0 / np.log2(1.0 + np.arange(1, SHOWN + 1))

# Noisy lexical ranker: weight of the hidden grade, of literal word overlap, and noise.
RANK_GRADE_WEIGHT = 0.5
RANK_LEXICAL_WEIGHT = 2.0
RANK_NOISE = 0.8

#: Fraction of search_sessions.query set to NULL by the null_burst defect.
NULL_BURST_FRACTION = 0.4
#: Fraction of interactions emitted twice (same event_id) by the duplicated_events defect.
DUPLICATE_FRACTION = 0.08

EVENT_TYPES = ("click", "add_to_cart", "purchase")


def sessions_for_day(scale: int, day: date, seed: int) -> int:
    """Number of sessions on ``day``: scale x 200, a weekday factor and +-3 % of daily noise."""
    jitter = 1.0 + 0.03 * (2.0 * stream(seed, "volume", day.toordinal()).random() - 1.0)
    return max(1, round(SESSIONS_PER_SCALE * scale * WEEKDAY_FACTOR[day.weekday()] * jitter))


@dataclass(frozen=True)
class DayData:
    """The rows of one day, ready for COPY, plus the hidden truth."""

    day: date
    sessions: pa.Table
    impressions: pa.Table
    interactions: pa.Table
    truth: pa.Table
    defect_details: dict[str, dict[str, Any]] = field(default_factory=dict)

    def row_counts(self) -> dict[str, int]:
        return {
            "search_sessions": self.sessions.num_rows,
            "impressions": self.impressions.num_rows,
            "interactions": self.interactions.num_rows,
        }


class _Groups:
    """Products grouped by a code, to draw members of a given group with numpy."""

    def __init__(self, codes: np.ndarray) -> None:
        self.order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes)
        self.count = counts
        self.start = np.concatenate(([0], np.cumsum(counts)[:-1]))

    def draw(self, rng: np.random.Generator, groups: np.ndarray, k: int) -> np.ndarray:
        offset = (rng.random((len(groups), k)) * self.count[groups][:, None]).astype(np.int64)
        return self.order[self.start[groups][:, None] + offset]


def _duplicates(cand: np.ndarray) -> np.ndarray:
    """Mask of repeated products within each row (the first occurrence is kept)."""
    order = np.argsort(cand, axis=1, kind="stable")
    ordered = np.take_along_axis(cand, order, axis=1)
    dup_sorted = np.zeros(cand.shape, dtype=bool)
    dup_sorted[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    dup = np.empty_like(dup_sorted)
    np.put_along_axis(dup, order, dup_sorted, axis=1)
    return dup


def _candidates(
    rng: np.random.Generator, products: Products, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n_products = len(products)
    by_type = _Groups(products.type_id)
    by_cat = _Groups(products.category_id)
    cand = np.concatenate(
        [
            targets[:, None],
            by_type.draw(rng, products.type_id[targets], N_SAME_TYPE),
            by_cat.draw(rng, products.category_id[targets], N_SAME_CATEGORY),
            rng.integers(0, n_products, (len(targets), N_RANDOM)),
        ],
        axis=1,
    )
    dup = _duplicates(cand)
    # Rarely (tiny catalogs) fewer than 10 distinct candidates remain: top up from random products.
    short = np.flatnonzero((~dup).sum(axis=1) < SHOWN)
    for row in short:
        seen = set(cand[row, ~dup[row]].tolist())
        for col in np.flatnonzero(dup[row]):
            while True:
                pick = int(rng.integers(0, n_products))
                if pick not in seen:
                    break
            seen.add(pick)
            cand[row, col] = pick
            dup[row, col] = False
            if len(seen) >= SHOWN:
                break
    return cand, dup


def _lexical_overlap(products: Products, targets: np.ndarray, cand: np.ndarray, q: QueryBatch) -> np.ndarray:
    """Fraction of query words that appear verbatim in each candidate's title."""
    t = targets[:, None]
    hits = (
        q.literal["type"][:, None]
        & (products.type_id[cand] == products.type_id[t])
        & (products.title_word[cand] == q.type_word[:, None])
    ).astype(np.float64)
    n_words = np.ones(len(targets))
    for slot, has, codes in (
        ("brand", q.has_brand, products.brand_id),
        ("colour", q.has_colour, products.colour_id),
        ("size", q.has_size, products.size_id),
        ("material", q.has_material, products.material_id),
    ):
        hits += (has & q.literal[slot])[:, None] & (codes[cand] == codes[t])
        n_words += has
    return hits / n_words[:, None]


def _ids(prefix: str, day: date, n: int, width: int) -> pa.Array:
    stamp = day.strftime("%Y%m%d")
    return pa.array([f"{prefix}{stamp}-{i:0{width}d}" for i in range(1, n + 1)])


def _ts(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds.astype("datetime64[s]")).cast(pa.timestamp("s", tz="UTC"))


def _day_array(day: date, n: int) -> pa.Array:
    return pa.array(np.full(n, np.datetime64(day.isoformat(), "D")))


def _coded(names: tuple[str, ...], codes: np.ndarray, stated: np.ndarray | None = None) -> pa.Array:
    values = np.array(names, dtype=object)[codes]
    return pa.array(values, type=pa.string(), mask=None if stated is None else ~stated)


def make_day(
    seed: int,
    scale: int,
    day: date,
    products: Products,
    n_customers: int,
    defects: frozenset[str] = frozenset(),
) -> DayData:
    """Generate one day of sessions, impressions, interactions and relevance truth.

    Args:
        seed: the random seed.
        scale: sessions multiplier (see :func:`sessions_for_day`).
        day: the day (UTC).
        products: the catalog sessions search.
        n_customers: registered customers (ids ``C0000001``..).
        defects: table-level defects to inject: ``null_burst`` (search_sessions.query) and
            ``duplicated_events`` (interactions); other names are ignored here.
    """
    v = get_vocab()
    rng = stream(seed, "events", day.toordinal())
    n = sessions_for_day(scale, day, seed)

    # ---- sessions ------------------------------------------------------------------------------
    hours = rng.choice(24, size=n, p=np.array(HOUR_WEIGHTS) / sum(HOUR_WEIGHTS))
    start_s = np.minimum(hours * 3600 + rng.integers(0, 3600, n), LAST_START_SECOND)
    start_s = np.sort(start_s)
    targets = rng.choice(len(products), size=n, p=products.popularity)
    guest = rng.random(n) < 0.10
    # Skewed toward low ids: returning customers search more often.
    customer_idx = (n_customers * rng.random(n) ** 1.3).astype(np.int64)
    device_names = [d for d, _ in vocab.DEVICES]
    device_p = np.array([p for _, p in vocab.DEVICES])
    device = rng.choice(len(device_names), size=n, p=device_p / device_p.sum())
    queries = make_queries(rng, products, targets)

    base = midnight_utc(day)
    started_at = base + start_s.astype("timedelta64[s]")
    session_ids = _ids("S", day, n, 7)
    customer_ids = pa.array(
        np.array([f"C{i + 1:07d}" for i in customer_idx.tolist()], dtype=object), type=pa.string(), mask=guest
    )
    query_text = pa.array(queries.text, type=pa.string())

    # ---- ranking and impressions ---------------------------------------------------------------
    cand, dup = _candidates(rng, products, targets)
    grades = grade_matrix(
        products, targets, cand, queries.has_brand, queries.has_colour, queries.has_size, queries.has_material
    )
    lexical = _lexical_overlap(products, targets, cand, queries)
    score = (
        RANK_GRADE_WEIGHT * grades + RANK_LEXICAL_WEIGHT * lexical + rng.normal(0.0, RANK_NOISE, cand.shape)
    )
    score[dup] = -np.inf
    top = np.argsort(-score, axis=1, kind="stable")[:, :SHOWN]
    shown = np.take_along_axis(cand, top, axis=1)
    shown_grade = np.take_along_axis(grades, top, axis=1)
    page_lag = rng.integers(1, 4, n)
    shown_s = start_s + page_lag

    flat_session = np.repeat(np.arange(n), SHOWN)
    position = np.tile(np.arange(1, SHOWN + 1, dtype=np.int16), n)
    impressions = pa.table(
        {
            "session_id": session_ids.take(pa.array(flat_session)),
            "product_id": products.product_ids.take(pa.array(shown.ravel())),
            "position": pa.array(position),
            "shown_at": _ts(base + np.repeat(shown_s, SHOWN).astype("timedelta64[s]")),
            "day": _day_array(day, n * SHOWN),
        }
    )

    # ---- funnel --------------------------------------------------------------------------------
    clicked = rng.random(shown.shape) < EXAMINATION[None, :] * P_CLICK_IF_EXAMINED[shown_grade]
    carted = clicked & (rng.random(shown.shape) < P_CART_IF_CLICKED[shown_grade])
    bought = carted & (rng.random(shown.shape) < P_BUY_IF_CARTED[shown_grade])
    # Shoppers scan top-down: a click at position p comes a few seconds per position after the page.
    click_s = shown_s[:, None] + 2 + 3 * np.arange(SHOWN)[None, :] + rng.integers(0, 40, shown.shape)
    cart_s = click_s + rng.integers(10, 180, shown.shape)
    buy_s = cart_s + rng.integers(30, 600, shown.shape)
    parts = []
    for kind, mask, secs in ((0, clicked, click_s), (1, carted, cart_s), (2, bought, buy_s)):
        s_idx, p_idx = np.nonzero(mask)
        parts.append((s_idx, p_idx, np.full(len(s_idx), kind, dtype=np.int8), secs[s_idx, p_idx]))
    ev_session = np.concatenate([p[0] for p in parts])
    ev_pos = np.concatenate([p[1] for p in parts])
    ev_kind = np.concatenate([p[2] for p in parts])
    ev_s = np.concatenate([p[3] for p in parts])
    ev_order = np.lexsort((ev_kind, ev_pos, ev_s, ev_session))
    ev_session, ev_pos, ev_kind, ev_s = (
        ev_session[ev_order],
        ev_pos[ev_order],
        ev_kind[ev_order],
        ev_s[ev_order],
    )
    n_events = len(ev_session)
    interactions = pa.table(
        {
            "event_id": _ids("E", day, n_events, 8),
            "session_id": session_ids.take(pa.array(ev_session)),
            "product_id": products.product_ids.take(pa.array(shown[ev_session, ev_pos])),
            "event_type": pa.array(np.array(EVENT_TYPES, dtype=object)[ev_kind], type=pa.string()),
            "event_at": _ts(base + ev_s.astype("timedelta64[s]")),
            "day": _day_array(day, n_events),
        }
    )

    # ---- hidden truth --------------------------------------------------------------------------
    t_type = products.type_id[targets]
    truth_per_session = {
        "session_id": session_ids,
        "target_product_id": products.product_ids.take(pa.array(targets)),
        "query": query_text,
        "intent_type": _coded(tuple(t.name for t in v.types), t_type),
        "intent_category": _coded(v.category_paths, products.category_id[targets]),
        "intent_brand": _coded(v.brands, products.brand_id[targets], queries.has_brand),
        "intent_colour": _coded(v.colours, products.colour_id[targets], queries.has_colour),
        "intent_size": _coded(v.sizes, products.size_id[targets], queries.has_size),
        "intent_material": _coded(v.materials, products.material_id[targets], queries.has_material),
        "has_typo": pa.array(queries.has_typo),
        "has_synonym": pa.array(queries.has_synonym),
    }
    take = pa.array(flat_session)
    truth = pa.table(
        {
            "session_id": session_ids.take(take),
            "position": pa.array(position),
            "product_id": impressions.column("product_id"),
            "grade": pa.array(shown_grade.ravel()),
            **{k: col.take(take) for k, col in truth_per_session.items() if k != "session_id"},
        }
    )

    # ---- defects -------------------------------------------------------------------------------
    details: dict[str, dict[str, Any]] = {}
    if NULL_BURST in defects:
        d_rng = stream(seed, "defect:" + NULL_BURST, day.toordinal())
        k = math.ceil(NULL_BURST_FRACTION * n)
        nulls = np.zeros(n, dtype=bool)
        nulls[d_rng.choice(n, size=k, replace=False)] = True
        query_text = pc.if_else(pa.array(nulls), pa.scalar(None, pa.string()), query_text)
        details[NULL_BURST] = {"table": "search_sessions", "column": "query", "null_rows": k, "rows": n}

    sessions = pa.table(
        {
            "session_id": session_ids,
            "customer_id": customer_ids,
            "started_at": _ts(started_at),
            "day": _day_array(day, n),
            "query": query_text,
            "device": pa.array(np.array(device_names, dtype=object)[device], type=pa.string()),
        }
    )

    if DUPLICATED_EVENTS in defects and n_events:
        d_rng = stream(seed, "defect:" + DUPLICATED_EVENTS, day.toordinal())
        k = max(1, math.ceil(DUPLICATE_FRACTION * n_events))
        again = np.sort(d_rng.choice(n_events, size=k, replace=False))
        interactions = pa.concat_tables([interactions, interactions.take(pa.array(again))])
        details[DUPLICATED_EVENTS] = {"table": "interactions", "duplicated_rows": k, "rows_before": n_events}

    return DayData(day, sessions, impressions, interactions, truth, details)
