"""Discovery: what one source holds right now, as :class:`ObservedAsset` values.

Nothing here writes to the catalog. A source that cannot be listed at all raises
:class:`~assay.errors.SourceError`; an asset that cannot be read is yielded with ``error`` set
(and whatever was learnt before the failure), so the others carry on. This module observes SQL
sources; :mod:`assay.inventory.observe_files` observes file sources (re-exported here).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from assay.catalog.db import masked, scrub
from assay.catalog.models import AssetKind
from assay.errors import SourceError
from assay.inventory.observe_files import list_files, observe_file, observe_files, printable
from assay.inventory.observed import (
    SAMPLE_ROWS,
    VALUE_ERRORS,
    Listing,
    ObservedAsset,
    as_utc,
    db_error_text,
    unreadable,
)
from assay.sources.declarations import SqlSource
from assay.sources.sql import RelationInfo, RelationStats

__all__ = [
    "SAMPLE_ROWS",
    "VALUE_ERRORS",
    "Listing",
    "ObservedAsset",
    "as_utc",
    "db_error_text",
    "list_files",
    "observe_file",
    "observe_files",
    "observe_sql",
    "printable",
]

log = logging.getLogger(__name__)


# ---- SQL ----------------------------------------------------------------------------------------
def observe_sql(
    decl: SqlSource, url: str, listing: Listing, *, with_samples: bool = True
) -> Iterator[ObservedAsset]:
    """Every table and view of the declared schemas, with counts, freshness and samples.

    Reflection is batched per schema (:func:`assay.sources.sql.list_relations`). Then each
    relation costs one statement for ``count(*)`` and ``max(event_time)`` together (or only the
    ``max`` when the planner's estimate is at or above ``exact_row_count_below``) and one for the
    sample.

    Raises:
        SourceError: the database cannot be reached (nothing was listed).
    """
    from assay.sources import sql

    try:
        engine = sql.source_engine(url)
    except (SQLAlchemyError, ValueError) as exc:  # an unknown dialect or a malformed URL (a port that is no number)
        # Not chained: the parser's message may quote a piece of a password it cut in the wrong place.
        raise SourceError(f"source {decl.name}: unusable URL {masked(url)}: {scrub(str(exc), url)}") from None
    try:
        try:
            conn = engine.connect()
        except SQLAlchemyError as exc:
            raise SourceError(
                f"source {decl.name}: cannot connect to {masked(url)}: {scrub(db_error_text(exc), url)}"
            ) from exc
        with conn:
            try:
                present = set(sql.schema_names(conn))
            except SQLAlchemyError as exc:
                raise SourceError(f"source {decl.name}: cannot list schemas: {db_error_text(exc)}") from exc
            for schema in decl.schemas:
                if schema not in present:
                    listing.failed[schema] = f"schema {schema!r} does not exist in {masked(url)}"
                    continue
                try:
                    found = sql.list_relations(conn, schema, decl.wants)
                except SQLAlchemyError as exc:
                    listing.failed[schema] = f"schema {schema!r}: cannot reflect: {db_error_text(exc)}"
                    continue
                yield from _observe_relations(engine, conn, decl, found, with_samples)
    finally:
        engine.dispose()


#: Connections reading relations side by side (counts, samples) on PostgreSQL.
READERS = 3
#: Relations observed ahead of the consumer, at most.
READ_AHEAD = 4 * READERS


def _observe_relations(
    engine: Any, conn: Connection, decl: SqlSource, found: Any, with_samples: bool
) -> Iterator[ObservedAsset]:
    """Observe the relations of one schema, in order.

    Each relation costs one or two short statements whose time is mostly the round trip, so on
    PostgreSQL with many relations they run on :data:`READERS` connections side by side (measured
    on 2,000 tables: the sample statements were the inventory's critical path). A relation's
    failure stays its own (recorded on its asset), exactly as when read one by one.
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    from assay.sources.sql import is_postgres

    relations = list(found.relations)
    if not is_postgres(conn) or len(relations) <= READ_AHEAD:
        for rel in relations:
            yield _observe_relation(conn, decl, rel, found.stats.get(rel.name), with_samples)
        return
    local = threading.local()
    opened: list[Connection] = []
    lock = threading.Lock()

    def observe(rel: RelationInfo) -> ObservedAsset:
        mine: Connection | None = getattr(local, "conn", None)
        if mine is None:
            mine = engine.connect()
            local.conn = mine
            with lock:
                opened.append(mine)
        return _observe_relation(mine, decl, rel, found.stats.get(rel.name), with_samples)

    pending: deque[Future[ObservedAsset]] = deque()
    pool = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="inventory-observe")
    try:
        for rel in relations:
            pending.append(pool.submit(observe, rel))
            if len(pending) >= READ_AHEAD:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=True)
        for c in opened:
            c.close()


def _observe_relation(
    conn: Connection, decl: SqlSource, rel: RelationInfo, stats: RelationStats | None, with_samples: bool
) -> ObservedAsset:
    from assay.sources import sql

    adecl = decl.asset_decl(rel.name)
    kind = {"table": AssetKind.TABLE, "view": AssetKind.VIEW, "partitioned": AssetKind.PARTITIONED}[rel.kind]
    asset = ObservedAsset(
        namespace=rel.schema,
        name=rel.name,
        kind=kind,
        location=sql.display_name(conn, rel.schema, rel.name),
        decl=adecl,
        columns=rel.columns,
        size_bytes=stats.size_bytes if stats else None,
    )
    names = [c.name for c in rel.columns]
    event_time = adecl.event_time_column
    if event_time and event_time not in names:
        asset.notes.append(f"declared event_time_column {event_time!r} is not a column of {asset.location}")
        event_time = None
    problems: list[str] = []
    try:
        estimate = stats.row_estimate if stats else None
        if estimate is None and rel.kind == "view":
            estimate = sql.planner_estimate(conn, rel.schema, rel.name)
        newest = None
        if estimate is not None and estimate >= decl.exact_row_count_below:
            asset.row_count, asset.row_count_is_estimate = estimate, True
            if event_time:
                try:
                    newest = sql.max_of(conn, rel.schema, rel.name, event_time)
                except VALUE_ERRORS as exc:
                    problems.append(unreadable(event_time, exc))
        else:
            try:
                asset.row_count, newest = sql.count_and_max(conn, rel.schema, rel.name, event_time)
            except VALUE_ERRORS as exc:
                if not event_time:
                    raise
                problems.append(unreadable(event_time, exc))
                asset.row_count, newest = sql.count_and_max(conn, rel.schema, rel.name, None)
        try:
            asset.freshness_at = as_utc(newest)
        except TypeError as exc:
            asset.notes.append(f"event_time_column {event_time!r}: {exc}; freshness not recorded")
        if with_samples and names:
            asset.samples = _sample(conn, rel, names, problems)
    except SQLAlchemyError as exc:
        # Typically the table was dropped (or its permissions changed) after it was listed.
        asset.error = f"{asset.location}: cannot be read: {db_error_text(exc)}"
        log.warning("%s", asset.error)
    except VALUE_ERRORS as exc:  # a value of no particular column (a row count the driver refuses)
        problems.append(f"a value cannot be read: {type(exc).__name__}: {exc}")
    if problems and asset.error is None:
        asset.error = f"{asset.location}: " + "; ".join(problems)
        log.warning("%s", asset.error)
    return asset


def _sample(conn: Connection, rel: RelationInfo, names: list[str], problems: list[str]) -> dict[str, list[str | None]]:
    """The sample of every column in one statement; when a value cannot be read, column by column.

    The driver converts a whole row at once, so one unreadable value fails the statement without
    saying where; the fallback (only then) finds the columns at fault and samples the others.
    """
    from assay.sources import sql

    try:
        return sql.sample_columns(conn, rel.schema, rel.name, names, order_by=rel.primary_key, limit=SAMPLE_ROWS)
    except VALUE_ERRORS:
        pass
    samples: dict[str, list[str | None]] = {}
    for name in names:
        try:
            samples.update(
                sql.sample_columns(conn, rel.schema, rel.name, [name], order_by=rel.primary_key, limit=SAMPLE_ROWS)
            )
        except VALUE_ERRORS as exc:
            problems.append(unreadable(name, exc))
    return samples
