"""Reading the shop: (query, product) examples with their ESCI-style labels, and the product corpus.

One example per (raw query, product) shown on the given days, labelled with the best event of any
of its sessions: purchase 3, add to cart 2, click 1, impression without a click 0. Duplicated events
cannot inflate a label (max, not count).

Queries and product texts are free text that people type or suppliers send, and a training set is
stored (parquet under the state folder, then read by the trainer): both go through the value-level
PII screen (:func:`assay.classify.scrub.scrub_text`) as they are read, so an e-mail, phone, card
number, IBAN or IP address quoted in a search query is kept masked, never raw. Queries that become
equal once masked are merged (labels max, sessions summed).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from assay.config import Settings
from assay.training import text as txt

if TYPE_CHECKING:
    import pandas as pd

#: ESCI-style grade of the best event of a (session, product).
EVENT_LABELS: dict[str, int] = {"click": 1, "add_to_cart": 2, "purchase": 3}


def _shop_engine(settings: Settings) -> Any:
    """A pool-less engine on the shop database (one short read per call)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from assay.catalog.db import connect_args

    url = settings.source_reader_url()
    return create_engine(url, poolclass=NullPool, connect_args=connect_args(url), hide_parameters=True)


def read_rows(settings: Settings, days: list[dt.date]) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(raw query, product) examples, sessions per raw query, and NULL-query sessions on ``days``.

    The label is computed per (session, product) in SQL (best event of that impression), then the
    max over sessions and the number of sessions are taken per (raw query, product).
    """
    import pandas as pd
    from sqlalchemy import Integer, and_, case, func, select

    from assay.seed.schema import impressions, interactions, search_sessions

    s, i, e = search_sessions.c, impressions.c, interactions.c
    grade = case(*[(e.event_type == name, value) for name, value in EVENT_LABELS.items()], else_=0)
    per_session = (
        select(
            s.query.label("query"),
            i.product_id.label("product_id"),
            i.session_id.label("session_id"),
            func.coalesce(func.max(grade), 0).cast(Integer).label("label"),
        )
        .select_from(
            impressions.join(search_sessions, s.session_id == i.session_id).outerjoin(
                interactions,
                and_(e.session_id == i.session_id, e.product_id == i.product_id, e.day.in_(days)),
            )
        )
        .where(i.day.in_(days), s.day.in_(days), s.query.is_not(None))
        .group_by(s.query, i.product_id, i.session_id)
        .subquery("per_session")
    )
    p = per_session.c
    examples = (
        select(p.query, p.product_id, func.max(p.label).label("label"),
               func.count(p.session_id).label("n_sessions"),
               func.count(p.session_id).filter(p.label > 0).label("n_interacted"))
        .group_by(p.query, p.product_id)
    )
    sessions = (
        select(s.query, func.count().label("n"))
        .where(s.day.in_(days), s.query.is_not(None))
        .group_by(s.query)
    )
    nulls = select(func.count()).select_from(search_sessions).where(s.day.in_(days), s.query.is_(None))
    engine = _shop_engine(settings)
    try:
        with engine.connect() as conn:
            rows = pd.DataFrame(conn.execute(examples).all(),
                                columns=["query", "product_id", "label", "n_sessions", "n_interacted"])
            freq = pd.DataFrame(conn.execute(sessions).all(), columns=["query", "n"])
            null_queries = int(conn.execute(nulls).scalar_one())
    finally:
        engine.dispose()
    return _screened(rows, ["query", "product_id"]), _screened(freq, ["query"]), null_queries


def _screened(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``frame`` with its ``query`` column PII-screened; rows whose keys became equal are merged.

    A frame without any hit is returned as it is (same rows, same order), so a shop without PII in
    its queries keeps its dataset digests.
    """
    from assay.classify.scrub import scrub_text

    unique = frame["query"].unique()
    masked = {q: scrub_text(q) for q in unique}
    if all(masked[q] == q for q in unique):
        return frame
    out = frame.assign(query=frame["query"].map(masked))
    merge = {c: ("max" if c == "label" else "sum") for c in out.columns if c not in keys}
    return out.groupby(keys, as_index=False, sort=False).agg(merge)[list(frame.columns)]


def read_products(settings: Settings) -> pd.DataFrame:
    """The whole product catalogue: ``product_id, product_text, slice_category, price, currency``."""
    import pandas as pd
    from sqlalchemy import select

    from assay.classify.scrub import scrub_text
    from assay.seed.schema import products

    c = products.c
    stmt = select(c.product_id, c.title, c.brand, c.category_path, c.colour, c.size, c.material, c.price,
                  c.currency).order_by(c.product_id)
    engine = _shop_engine(settings)
    try:
        with engine.connect() as conn:
            raw = [dict(r._mapping) for r in conn.execute(stmt)]
    finally:
        engine.dispose()
    return pd.DataFrame(
        {
            "product_id": [r["product_id"] for r in raw],
            "product_text": [scrub_text(txt.product_text(r)) for r in raw],
            "slice_category": [txt.category_slug(r["category_path"]) for r in raw],
            "price": [float(r["price"]) if r["price"] is not None else None for r in raw],
            "currency": [r["currency"] for r in raw],
        },
        columns=["product_id", "product_text", "slice_category", "price", "currency"],
    )
