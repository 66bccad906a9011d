"""Reading the search log through its contract: (query, product) examples with labels, and the catalogue.

The tables, columns and label scale come from the source's search-log mapping
(:mod:`assay.training.contract`, ``config/search_log.yaml``); every identifier is quoted. One example
per (raw query, product) shown on the given days, labelled with the best interaction of any of its
sessions: the grade of its event (``labels.events``, e.g. purchase 3, add to cart 2, click 1) or the
interaction's ``grade`` column, clipped to 0..``labels.max``; shown without an interaction is 0.
Duplicated events cannot inflate a label (max, not count).

Queries and product texts are free text that people type or suppliers send, and a training set is
stored (parquet under the state folder, then read by the trainer): both go through the value-level
PII screen (:func:`assay.classify.scrub.scrub_text`) as they are read, so an e-mail, phone, card
number, IBAN or IP address quoted in a search query is kept masked, never raw. Queries that become
equal once masked are merged (labels max, sessions summed).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from assay.training import text as txt
from assay.training.contract import SearchLogContract
from assay.training.logsql import check, engine_for, tables

if TYPE_CHECKING:
    import pandas as pd


def read_rows(url: str, contract: SearchLogContract, days: list[dt.date]) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(raw query, product) examples, sessions per raw query, and NULL-query sessions on ``days``.

    The label is computed per (session, product) in SQL (best interaction of that impression), then
    the max over sessions and the number of sessions are taken per (raw query, product).

    Raises:
        ConfigError: the mapping does not fit the source's tables (names the contract key).
    """
    import pandas as pd
    from sqlalchemy import Integer, and_, case, cast, func, literal, select

    t = tables(contract)
    s, i, e = t.sessions.c, t.impressions.c, t.interactions.c
    top = contract.label_max
    grade: Any
    if contract.graded_by_column:
        g = cast(e.grade, Integer)
        grade = case((g < 0, literal(0)), (g > top, literal(top)), else_=g)
    else:
        grade = case(*[(e.event_type == name, value) for name, value in contract.labels.events.items()], else_=0)
    per_session = (
        select(
            s.query.label("query"),
            i.product_id.label("product_id"),
            i.session_id.label("session_id"),
            func.coalesce(func.max(grade), 0).cast(Integer).label("label"),
        )
        .select_from(
            t.impressions.clause.join(t.sessions.clause, s.session_id == i.session_id).outerjoin(
                t.interactions.clause,
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
        .select_from(t.sessions.clause)
        .where(s.day.in_(days), s.query.is_not(None))
        .group_by(s.query)
    )
    nulls = select(func.count()).select_from(t.sessions.clause).where(s.day.in_(days), s.query.is_(None))
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            check(conn, contract, f"search-log contract of source {contract.source!r}")
            rows = pd.DataFrame(conn.execute(examples).all(),
                                columns=["query", "product_id", "label", "n_sessions", "n_interacted"])
            freq = pd.DataFrame(conn.execute(sessions).all(), columns=["query", "n"])
            null_queries = int(conn.execute(nulls).scalar_one())
    finally:
        engine.dispose()
    rows = rows.astype({"query": str, "product_id": str}) if not rows.empty else rows
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


#: Contract product columns read into the product text (in this order), then price and currency.
TEXT_COLUMNS: tuple[str, ...] = ("title", "brand", "category", "colour", "size", "material")


def read_products(url: str, contract: SearchLogContract) -> pd.DataFrame:
    """The whole product catalogue: ``product_id, product_text, slice_category, price, currency``.

    Optional contract columns the mapping leaves out are empty (no price: ``None``; no category:
    slice ``unknown``).
    """
    import pandas as pd
    from sqlalchemy import select

    from assay.classify.scrub import scrub_text

    products = tables(contract).products
    c = products.c
    wanted = [n for n in (*TEXT_COLUMNS, "price", "currency") if n in c]
    stmt = (select(c.product_id.label("product_id"), *[getattr(c, n).label(n) for n in wanted])
            .select_from(products.clause).order_by(c.product_id))
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            raw = [dict(r._mapping) for r in conn.execute(stmt)]
    finally:
        engine.dispose()
    for r in raw:
        # text.product_text names the category field ``category_path`` (the demo's column name).
        r["category_path"] = r.get("category")
    return pd.DataFrame(
        {
            "product_id": [str(r["product_id"]) for r in raw],
            "product_text": [scrub_text(txt.product_text(r)) for r in raw],
            "slice_category": [txt.category_slug(r["category_path"]) for r in raw],
            "price": [float(r["price"]) if r.get("price") is not None else None for r in raw],
            "currency": [r.get("currency") for r in raw],
        },
        columns=["product_id", "product_text", "slice_category", "price", "currency"],
    )
