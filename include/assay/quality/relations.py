"""Foreign keys between assets: candidates by name, type and key-likeness, confirmed by counting orphans.

For a child table of a declared SQL source, every other active table of **any** declared SQL source
is a possible parent. A pair (child column, parent column) is a candidate when

* the parent column is key-like in the parent's newest successful profile (unique and complete,
  counted exactly, or flagged ``looks_like_key`` by the profiler);
* the names agree: the same name that is more than a bare ``id``/``key``/``code``
  (``orders.customer_id`` -> ``customers.customer_id``), or the child's ``<stem>_id`` / ``_key`` /
  ``_code`` / ``_no`` names the parent table (``<stem>``, ``<stem>s``, ``<stem>es``, ``<ste>ies``)
  whose column is ``id`` or the child's name;
* the kinds agree (both integer, both text, ...) and, for numbers, the child's profiled min/max lie
  inside the parent's.

A candidate is confirmed by **one SQL anti-join count** over the child's newest profiled partition,
run on the child's source: ``count(*)`` of its non-null values and how many have no parent row.
That needs both tables in one database (one query cannot join two databases), so a parent is only
checked when its source's URL names the same server and database as the child's (two sources
declared with different schemas of one database count). Parents in another database and file
assets are reported as not checked: GX runs an ``unexpected_rows_expectation`` on SQL only, and its
query runs on the child's connection. Containment with at most :data:`~assay.quality.suggestions.RARE`
orphans is a foreign key; the orphans already there become the suggestion's finding.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from assay.catalog.db import masked
from assay.catalog.models import Asset, ColumnMetrics, ProfileRun, RunStatus, Source
from assay.config import Settings
from assay.names import ALL_PARTITIONS
from assay.quality.suggestions import RARE, ColumnEvidence, ForeignKey, is_unique, non_null
from assay.sources.declarations import Declarations, SqlSource

log = logging.getLogger(__name__)

#: Suffixes that make a column name point at another table (``customer_id`` -> ``customer``).
FK_SUFFIXES = ("_id", "_key", "_code", "_no", "_nr", "id")
#: Names too generic to match by equality alone.
GENERIC = frozenset({"id", "key", "code", "uuid", "guid", "no", "nr", "name", "value", "type", "status"})
_KIND_FAMILY = {"integer": "int", "decimal": "num", "float": "num", "text": "text", "other": "other",
                "date": "date", "timestamp": "ts", "boolean": "bool"}


@dataclass(frozen=True)
class Table:
    """A profiled table of a declared SQL source."""

    asset_id: int
    source: str
    schema: str
    name: str
    partition_column: str | None


@dataclass(frozen=True)
class Candidate:
    """A (child column, parent column) pair worth counting."""

    column: str
    parent: Table
    parent_column: str
    parent_key: Mapping[str, Any]


def _stems(column: str) -> list[str]:
    low = column.lower()
    return [low[: -len(s)].rstrip("_") for s in FK_SUFFIXES if low.endswith(s) and len(low) > len(s)]


def _plural_forms(stem: str) -> set[str]:
    forms = {stem, stem + "s", stem + "es"}
    if stem.endswith("y"):
        forms.add(stem[:-1] + "ies")
    return forms


def names_match(column: str, parent_table: str, parent_column: str) -> bool:
    """Whether ``column`` reads like a reference to ``parent_table.parent_column`` (see module doc)."""
    col, table, pcol = column.lower(), parent_table.lower(), parent_column.lower()
    if col == pcol and col not in GENERIC and _stems(col):
        return True
    for stem in _stems(col):
        if stem and table in _plural_forms(stem) and pcol in ("id", col, "key", "code"):
            return True
    return False


def kinds_match(child: ColumnEvidence, parent_kind: str) -> bool:
    """Same kind family (integers with integers, text with text); floats and booleans never."""
    family = _KIND_FAMILY.get(child.kind)
    return family is not None and family in ("int", "text", "other") and family == _KIND_FAMILY.get(parent_kind)


def _inside(child: ColumnEvidence, parent: Mapping[str, Any]) -> bool:
    """For numbers: the bulk of the child's values (p05..p95) lies within the parent key's min/max.

    Quantiles, not min/max: a few orphans (the defect a foreign key is there to catch) must not
    hide the relation. Unknown figures let the count decide.
    """
    if child.kind != "integer":
        return True
    plo, phi = parent.get("min"), parent.get("max")
    for m in child.runs:
        q = m.get("quantiles") if isinstance(m.get("quantiles"), dict) else None
        if not q or not non_null(m):
            continue
        lo, hi = q.get("p05"), q.get("p95")
        known = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lo, hi, plo, phi))
        if known and (lo < plo or hi > phi):
            return False
    return True


def sql_tables(s: Session) -> dict[int, Table]:
    """Active tables and views of SQL sources in the catalog, by asset id."""
    rows = s.execute(
        select(Asset.id, Source.name, Asset.namespace, Asset.name, Asset.partition_column)
        .join(Source, Source.id == Asset.source_id)
        .where(Source.kind == "sql", Asset.status == "active", Asset.kind.in_(["table", "view", "partitioned"]))
    ).all()
    return {aid: Table(aid, src, ns, name, part) for aid, src, ns, name, part in rows}


def key_columns(s: Session, asset_ids: Sequence[int]) -> dict[int, dict[str, dict[str, Any]]]:
    """Key-like columns (name -> metrics) of each asset's newest successful profile attempt.

    Newest by attempt id: the latest profile finished, whichever partition it profiled (attempts are
    append-only rows; a later successful attempt of a key is also its current one).
    """
    if not asset_ids:
        return {}
    newest = (
        select(func.max(ProfileRun.id))
        .where(ProfileRun.asset_id.in_(list(asset_ids)), ProfileRun.status == RunStatus.SUCCESS.value)
        .group_by(ProfileRun.asset_id)
    )
    rows = s.execute(
        select(ProfileRun.asset_id, ColumnMetrics.column_name, ColumnMetrics.metrics)
        .join(ColumnMetrics, ColumnMetrics.profile_run_id == ProfileRun.id)
        .where(ProfileRun.id.in_(newest))
    ).all()
    out: dict[int, dict[str, dict[str, Any]]] = {}
    for aid, column, metrics in rows:
        m = metrics or {}
        if is_unique([m]) and non_null(m) > 0:
            out.setdefault(aid, {})[column] = m
    return out


def candidates(child: Table, columns: Mapping[str, ColumnEvidence], tables: Mapping[int, Table],
               keys: Mapping[int, Mapping[str, Mapping[str, Any]]]) -> list[Candidate]:
    """Pairs chosen by name, kind and the parent's key-likeness (not yet confirmed)."""
    out = []
    for name, col in sorted(columns.items()):
        if not col.runs or not non_null(col.runs[-1]):
            continue
        for aid, parent_keys in sorted(keys.items()):
            parent = tables.get(aid)
            if parent is None or aid == child.asset_id:
                continue
            for pcol, pm in sorted(parent_keys.items()):
                if (names_match(name, parent.name, pcol) and kinds_match(col, str(pm.get("kind")))
                        and _inside(col, pm)):
                    out.append(Candidate(name, parent, pcol, {"distinct": pm.get("distinct"),
                                                             "non_null": non_null(pm), "rows": pm.get("row_count")}))
    return out


def same_database(a: str, b: str) -> bool:
    """Whether two SQLAlchemy URLs reach one database (user, password and options aside)."""
    try:
        ua, ub = make_url(a), make_url(b)
    except Exception:  # noqa: BLE001 - an unparsable URL simply matches nothing
        return False
    def where(u: Any) -> tuple[Any, ...]:
        return (u.get_backend_name(), u.host or u.query.get("host"), u.port, u.database)
    return where(ua) == where(ub)


def count_orphans(engine: Engine, child: Table, column: str, parent: Table, parent_column: str,
                  day: dt.date | None) -> tuple[int, int]:
    """(non-null child values, of them without a parent row) in one anti-join over the child partition."""
    from assay.sources.sql import relation

    parts = [child.partition_column] if child.partition_column and day is not None else []
    b = relation(child.schema, child.name, [column, *parts]).alias("b")
    p = relation(parent.schema, parent.name, [parent_column]).alias("p")
    orphan = ~exists().where(p.c[parent_column] == b.c[column])
    q = select(func.count(), func.count().filter(orphan)).select_from(b).where(b.c[column].is_not(None))
    if parts:
        q = q.where(b.c[parts[0]] == day)
    with engine.connect() as conn:
        checked, orphans = conn.execute(q).one()
    return int(checked), int(orphans)


def find_foreign_keys(settings: Settings, s: Session, decls: Declarations, child_asset_id: int,
                      partition_key: str, columns: Mapping[str, ColumnEvidence]) -> tuple[list[ForeignKey], list[str]]:
    """Confirmed foreign keys of one table's columns, and a note per candidate that could not be checked.

    Args:
        child_asset_id: the table suggestions are made for.
        partition_key: its newest profiled partition (a day, or ``__all__``): the one counted.
        columns: its columns' evidence (kind, profiled min/max).
    """
    from assay.sources.sql import source_engine

    tables = sql_tables(s)
    child = tables.get(child_asset_id)
    if child is None:
        return [], ["foreign keys: only tables of SQL sources are checked (GX runs query expectations on SQL)"]
    keys = key_columns(s, [aid for aid in tables if aid != child_asset_id])
    found = candidates(child, columns, tables, keys)
    if not found:
        return [], []
    day = None if partition_key == ALL_PARTITIONS else dt.date.fromisoformat(partition_key)
    child_decl = decls.get(child.source)
    assert isinstance(child_decl, SqlSource)
    child_url = child_decl.resolve_url(settings)
    notes: list[str] = []
    best: dict[str, ForeignKey] = {}
    engine = source_engine(child_url)
    try:
        for c in found:
            label = f"{c.parent.source}:{c.parent.schema}.{c.parent.name}"
            parent_decl = decls.get(c.parent.source)
            if not isinstance(parent_decl, SqlSource) or not same_database(child_url, parent_decl.resolve_url(settings)):
                notes.append(f"{c.column} -> {label}.{c.parent_column}: another database, not checked")
                continue
            try:
                checked, orphans = count_orphans(engine, child, c.column, c.parent, c.parent_column, day)
            except SQLAlchemyError as exc:  # the child's role may not read the parent: noted, not fatal
                reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
                notes.append(f"{c.column} -> {label}.{c.parent_column}: not checked ({reason})")
                continue
            log.info("foreign key candidate %s.%s -> %s.%s: %d of %d orphans (%s)", child.name, c.column, label,
                     c.parent_column, orphans, checked, masked(child_url))
            if checked == 0 or orphans > RARE * checked:
                continue
            fk = ForeignKey(c.column, label, (c.parent.schema, c.parent.name), c.parent_column, checked, orphans,
                            c.parent_key)
            held = best.get(c.column)
            if held is None or (fk.orphans, fk.parent) < (held.orphans, held.parent):
                best[c.column] = fk
    finally:
        engine.dispose()
    return [best[k] for k in sorted(best)], notes

