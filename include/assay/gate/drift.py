"""Train-vs-serving drift of the declared features: PSI and Jensen–Shannon divergence.

Features (a fixed list, :data:`assay.gate.policy.FEATURES`), read through the search-log contract
(:mod:`assay.training.contract`: the source, tables and columns of ``config/search_log.yaml``,
identifiers quoted):

* ``query_length``: characters of the sessions' ``query`` (NULL queries left out);
* ``category_mix``: top-level category (the products' ``category`` before the first ``>``) of the
  shown products (impressions);
* ``price``: the products' ``price`` of the shown products.

A feature whose contract column the mapping leaves out (no ``category`` or ``price``) is reported
with an ``error``, never silently skipped.

The training side covers the dataset's days ``[window_start, window_end]``; the serving side the
``recent_days`` days before the decision time. Numeric features are binned on the training side's
quantiles (the usual PSI practice, so every training bin holds mass); categories are their own bins.
The SQL returns one row per distinct value with its count, so the data never leaves PostgreSQL
row by row.

Pure functions (:func:`psi`, :func:`js_divergence`, :func:`binned`) take plain count maps and are
unit-tested without a database.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from assay.errors import AssayError

if TYPE_CHECKING:
    from assay.config import Settings
    from assay.training.contract import SearchLogContract

#: Probability floor in PSI, so a bin empty on one side yields a large finite value, not infinity.
EPSILON = 1e-4

Counts = Mapping[Any, float]


@dataclass(frozen=True)
class DriftResult:
    """Drift of one feature; ``error`` set (and the figures ``None``) when it could not be measured."""

    feature: str
    psi: float | None
    js: float | None
    n_train: int
    n_serving: int
    train_window: tuple[str, str]
    serving_window: tuple[str, str]
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _probabilities(counts: Counts, keys: list[Any]) -> list[float]:
    total = float(sum(counts.get(k, 0) for k in keys))
    return [counts.get(k, 0) / total if total else 0.0 for k in keys]


def psi(expected: Counts, actual: Counts) -> float:
    """Population stability index of ``actual`` against ``expected`` (bins = union of keys).

    ``sum((a - e) * ln(a / e))`` with both probabilities floored at :data:`EPSILON`.
    """
    keys = sorted(set(expected) | set(actual), key=str)
    e, a = _probabilities(expected, keys), _probabilities(actual, keys)
    return float(sum((max(ai, EPSILON) - max(ei, EPSILON)) * math.log(max(ai, EPSILON) / max(ei, EPSILON))
                     for ei, ai in zip(e, a, strict=True)))


def js_divergence(p_counts: Counts, q_counts: Counts) -> float:
    """Jensen–Shannon divergence in bits (0 = same distribution, 1 = disjoint)."""
    keys = sorted(set(p_counts) | set(q_counts), key=str)
    p, q = _probabilities(p_counts, keys), _probabilities(q_counts, keys)
    m = [(pi + qi) / 2 for pi, qi in zip(p, q, strict=True)]

    def kl(x: list[float]) -> float:
        return sum(xi * math.log2(xi / mi) for xi, mi in zip(x, m, strict=True) if xi > 0)

    return float(max(0.0, min(1.0, (kl(p) + kl(q)) / 2)))


def quantile_edges(reference: Counts, bins: int) -> list[float]:
    """Inner bin edges at the reference's quantiles (deduplicated, so ties merge bins)."""
    items = sorted((float(v), float(c)) for v, c in reference.items() if c > 0)
    total = sum(c for _, c in items)
    if not items:
        return []
    edges: list[float] = []
    cumulative, i = 0.0, 0
    for k in range(1, bins):
        target = total * k / bins
        while i < len(items) and cumulative + items[i][1] <= target:
            cumulative += items[i][1]
            i += 1
        if i < len(items):
            edge = items[i][0]
            if not edges or edge > edges[-1]:
                edges.append(edge)
    # The smallest value is never an inner edge: bin 0 would stay empty.
    return [e for e in edges if e > items[0][0]]


def binned(counts: Counts, edges: list[float]) -> dict[int, float]:
    """Counts of a numeric distribution per bin: bin i holds values in ``[edges[i-1], edges[i])``."""
    out: dict[int, float] = {}
    for value, c in counts.items():
        b = bisect.bisect_right(edges, float(value))
        out[b] = out.get(b, 0.0) + float(c)
    return out


def compare(feature: str, train: Counts, serving: Counts, bins: int, numeric: bool) -> tuple[float, float]:
    """(PSI, JS) of serving against train; numeric features binned on train's quantiles."""
    if numeric:
        edges = quantile_edges(train, bins)
        train, serving = binned(train, edges), binned(serving, edges)
    return psi(train, serving), js_divergence(train, serving)


# ---- reading the shop -------------------------------------------------------------------------
NUMERIC: dict[str, bool] = {"query_length": True, "category_mix": False, "price": True}


#: Contract product column each product feature needs.
NEEDS: dict[str, str] = {"category_mix": "category", "price": "price"}


def _statement(feature: str, contract: SearchLogContract) -> Any:
    """SELECT value, count(*) for one feature over days [:start, :end] of the contract's tables.

    Raises:
        ValueError: an unknown feature, or one whose contract column is not mapped.
    """
    from sqlalchemy import Date, bindparam, func, select

    from assay.training.logsql import tables

    t = tables(contract)
    sessions, impressions, products = t.sessions, t.impressions, t.products
    start, end = bindparam("start", type_=Date), bindparam("end", type_=Date)
    value: Any
    if feature == "query_length":
        value = func.char_length(sessions.c.query)
        return (
            select(value, func.count())
            .select_from(sessions.clause)
            .where(sessions.c.day.between(start, end), sessions.c.query.is_not(None))
            .group_by(value)
        )
    if feature not in NEEDS:
        raise ValueError(f"unknown feature {feature!r}")
    if NEEDS[feature] not in products.c:
        raise ValueError(f"{feature}: the search-log contract maps no products.{NEEDS[feature]} column "
                         f"(source {contract.source!r}, table {contract.table('products').table!r})")
    joined = impressions.clause.join(products.clause, products.c.product_id == impressions.c.product_id)
    if feature == "category_mix":
        value = func.trim(func.split_part(products.c.category, ">", 1))
    else:
        value = products.c.price
    return select(value, func.count()).select_from(joined).where(impressions.c.day.between(start, end)).group_by(value)


def measure_declared(
    settings: Settings,
    features: list[tuple[str, int]],
    train_window: tuple[dt.date, dt.date],
    serving_window: tuple[dt.date, dt.date],
) -> dict[str, DriftResult]:
    """:func:`measure` on the source and tables of the settings' search-log contract.

    A contract that cannot be loaded or resolved gives every feature a result with ``error``.
    """
    from assay.training import contract as search_log

    try:
        contract = search_log.load_default(settings)
        url = search_log.source_url(settings, contract)
    except AssayError as exc:
        tw = (train_window[0].isoformat(), train_window[1].isoformat())
        sw = (serving_window[0].isoformat(), serving_window[1].isoformat())
        return {name: DriftResult(name, None, None, 0, 0, tw, sw, str(exc)) for name, _ in features}
    return measure(url, features, train_window, serving_window, contract)


def measure(
    shop_url: str,
    features: list[tuple[str, int]],
    train_window: tuple[dt.date, dt.date],
    serving_window: tuple[dt.date, dt.date],
    contract: SearchLogContract | None = None,
) -> dict[str, DriftResult]:
    """Drift of each ``(feature, bins)`` between two inclusive day windows of the search log at ``shop_url``.

    ``contract`` maps the tables (default: the demo's mapping, ``config/search_log.yaml`` of the
    project). A feature whose side is empty or whose column is not mapped, or a source that cannot
    be read, gives a result with ``error``.
    """
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError
    from sqlalchemy.pool import NullPool

    from assay.catalog.db import connect_args, masked, scrub

    tw = (train_window[0].isoformat(), train_window[1].isoformat())
    sw = (serving_window[0].isoformat(), serving_window[1].isoformat())
    out: dict[str, DriftResult] = {}

    def failed(name: str, msg: str, n_train: int = 0, n_serving: int = 0) -> DriftResult:
        return DriftResult(name, None, None, n_train, n_serving, tw, sw, msg)

    try:
        engine = create_engine(
            shop_url, poolclass=NullPool, connect_args=connect_args(shop_url), hide_parameters=True
        )
    except (ArgumentError, ImportError, ValueError) as exc:  # unparsable URL: evidence, recorded per feature
        return {name: failed(name, f"shop database {masked(shop_url)}: {scrub(str(exc), shop_url)}") for name, _ in features}
    if contract is None:
        from assay.config import get_settings
        from assay.training import contract as search_log

        contract = search_log.load_default(get_settings())
    try:
        with engine.connect() as conn:
            for name, bins in features:
                try:
                    stmt = _statement(name, contract)
                except ValueError as exc:
                    out[name] = failed(name, str(exc))
                    continue
                train = {v: float(c) for v, c in conn.execute(stmt, {"start": train_window[0], "end": train_window[1]})}
                serving = {
                    v: float(c) for v, c in conn.execute(stmt, {"start": serving_window[0], "end": serving_window[1]})
                }
                n_t, n_s = int(sum(train.values())), int(sum(serving.values()))
                if not n_t or not n_s:
                    side = "training window " + "..".join(tw) if not n_t else "serving window " + "..".join(sw)
                    out[name] = failed(name, f"{name}: no shop data in the {side}", n_t, n_s)
                    continue
                p, j = compare(name, train, serving, bins, NUMERIC[name])
                out[name] = DriftResult(name, round(p, 6), round(j, 6), n_t, n_s, tw, sw)
    except SQLAlchemyError as exc:
        first = scrub(str(exc).splitlines()[0], shop_url)
        msg = f"shop database {masked(shop_url)} unreadable: {type(exc).__name__}: {first}"
        for name, _ in features:
            out.setdefault(name, failed(name, msg))
    finally:
        engine.dispose()
    return out
