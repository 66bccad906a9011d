"""Read-only catalog queries behind the steward pages (no writes; actions live in the service).

Quality and profile figures come from the *current* attempt of each key (``quality_current`` /
``profile_current``); superseded attempts are reached by id. Only catalog rows are read -- they
hold masked values only; no source table is ever joined. Every query is bounded (a page, a window
of days) so a catalog of thousands of assets and millions of results answers in milliseconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from assay.catalog.db import engine
from assay.catalog.models.enums import Dimension
from assay.config import Settings

#: Days shown by the charts and the calendar.
WINDOW_DAYS = 30


@dataclass(frozen=True)
class Page:
    """One page of rows and the total number of rows matching."""

    rows: list[dict[str, Any]]
    total: int


@dataclass(frozen=True)
class AssetFilter:
    """The assets list's filters (empty = any)."""

    q: str = ""
    source: str = ""
    tag: str = ""
    owner: str = ""
    pii: str = ""  # "yes" | "no"
    status: str = ""
    quality: str = ""  # last quality status: ok | failed | error | none
    open_items: str = ""  # "yes" | "no"


@contextmanager
def reading(settings: Settings) -> Iterator[Connection]:
    """A read-only transaction on the catalog."""
    with engine(settings.catalog_url()).connect() as c:
        c.execute(text("SET TRANSACTION READ ONLY"))
        yield c
        c.rollback()


def _rows(c: Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in c.execute(text(sql), params)]


# A column's effective PII label (the steward's row wins over the automatic one) is inlined below.
_ASSETS = """
WITH base AS (
  SELECT a.id, s.name AS source, a.namespace, a.name, a.kind, a.owner, a.tags, a.status, a.freshness_at,
         a.row_count,
         EXISTS (SELECT 1 FROM (  SELECT c.asset_id, c.id AS column_id, k.label FROM asset_columns c
  JOIN classifications k ON k.column_id = c.id AND k.kind = 'pii'
  WHERE k.label <> 'none' AND (k.source = 'steward' OR NOT EXISTS (
    SELECT 1 FROM classifications s WHERE s.column_id = c.id AND s.kind = 'pii' AND s.source = 'steward'))) p WHERE p.asset_id = a.id) AS pii,
         q.status AS quality, q.logical_date AS quality_day,
         (SELECT count(*) FROM review_items i WHERE i.asset_id = a.id AND i.status = 'open') AS open_items
  FROM assets a JOIN sources s ON s.id = a.source_id
  LEFT JOIN LATERAL (
    SELECT r.status, r.logical_date FROM quality_current qc JOIN quality_runs r ON r.id = qc.quality_run_id
    WHERE qc.asset_id = a.id ORDER BY qc.logical_date DESC, r.id DESC LIMIT 1) q ON true
  WHERE (:q = '' OR a.name ILIKE :like OR a.namespace ILIKE :like OR coalesce(a.location, '') ILIKE :like)
    AND (:source = '' OR s.name = :source)
    AND (:owner = '' OR coalesce(a.owner, s.owner) = :owner)
    AND (:tag = '' OR a.tags @> jsonb_build_array(CAST(:tag AS text))
         OR s.tags @> jsonb_build_array(CAST(:tag AS text)))
    AND (:status = '' OR a.status = :status)
)
SELECT *, count(*) OVER () AS total FROM base
WHERE (:pii = '' OR pii = (:pii = 'yes'))
  AND (:quality = '' OR coalesce(quality, 'none') = :quality)
  AND (:open_items = '' OR (open_items > 0) = (:open_items = 'yes'))
ORDER BY source, namespace, name, id
LIMIT :limit OFFSET :offset
"""


def assets(settings: Settings, f: AssetFilter, *, limit: int = 50, offset: int = 0) -> Page:
    """The assets matching ``f``, a page of them, with PII, last quality status and open items."""
    params = {"q": f.q, "like": f"%{f.q}%", "source": f.source, "owner": f.owner, "tag": f.tag, "pii": f.pii,
              "status": f.status, "quality": f.quality, "open_items": f.open_items, "limit": limit,
              "offset": offset}
    with reading(settings) as c:
        rows = _rows(c, _ASSETS, **params)
    total = int(rows[0].pop("total")) if rows else 0
    for r in rows[1:]:
        r.pop("total", None)
    return Page(rows, total)


def filter_choices(settings: Settings) -> dict[str, list[str]]:
    """Values offered by the assets list's filters (sources, owners, tags, statuses)."""
    with reading(settings) as c:
        sources = [r["name"] for r in _rows(c, "SELECT name FROM sources ORDER BY name")]
        owners = [r["o"] for r in _rows(c, "SELECT DISTINCT coalesce(a.owner, s.owner) AS o FROM assets a "
                                           "JOIN sources s ON s.id = a.source_id WHERE coalesce(a.owner, s.owner) "
                                           "IS NOT NULL ORDER BY 1")]
        tags = [r["t"] for r in _rows(c, "SELECT DISTINCT jsonb_array_elements_text(tags) AS t FROM "
                                         "(SELECT tags FROM assets UNION ALL SELECT tags FROM sources) x ORDER BY 1")]
        statuses = [r["status"] for r in _rows(c, "SELECT DISTINCT status FROM assets ORDER BY 1")]
    return {"source": sources, "owner": owners, "tag": tags, "status": statuses}


def asset(settings: Settings, asset_id: int) -> dict[str, Any] | None:
    """One asset: header, columns with classifications, schema versions and events, freshness."""
    with reading(settings) as c:
        found = _rows(c, "SELECT a.*, s.name AS source FROM assets a JOIN sources s ON s.id = a.source_id "
                         "WHERE a.id = :id", id=asset_id)
        if not found:
            return None
        out = found[0]
        out["columns"] = _rows(c, "SELECT id, name, ordinal, data_type, nullable, is_present FROM asset_columns "
                                  "WHERE asset_id = :id ORDER BY ordinal, name", id=asset_id)
        out["classifications"] = _rows(
            c, "SELECT c.name AS column_name, k.kind, k.label, k.score, k.method, k.source, k.evidence, k.reason, "
               "k.decided_by, k.decided_at FROM classifications k JOIN asset_columns c ON c.id = k.column_id "
               "WHERE c.asset_id = :id ORDER BY c.ordinal, k.kind, k.source", id=asset_id)
        # Columns whose semantic label the labelling step has yet to write (assay classify).
        out["classifying"] = _rows(c, "SELECT c.name AS column_name, p.marked_at FROM pending_labels p "
                                      "JOIN asset_columns c ON c.id = p.column_id WHERE c.asset_id = :id "
                                      "ORDER BY c.ordinal", id=asset_id)
        out["versions"] = _rows(c, "SELECT id, version, fingerprint, observed_at, last_observed_at, run_key, "
                                   "jsonb_array_length(columns) AS n_columns FROM schema_versions "
                                   "WHERE asset_id = :id ORDER BY version DESC LIMIT 50", id=asset_id)
        out["events"] = _rows(c, "SELECT e.event_type, e.column_name, e.old, e.new, e.observed_at, v.version "
                                 "FROM schema_events e JOIN schema_versions v ON v.id = e.schema_version_id "
                                 "WHERE e.asset_id = :id ORDER BY e.observed_at DESC, e.id DESC LIMIT 100",
                              id=asset_id)
        out["open_items"] = _rows(c, "SELECT id, kind, summary, created_at FROM review_items "
                                     "WHERE asset_id = :id AND status = 'open' ORDER BY id DESC LIMIT 50",
                                  id=asset_id)
    return out


def profile_history(settings: Settings, asset_id: int, *, days: int = WINDOW_DAYS) -> dict[str, Any]:
    """Current profiles of the asset's last ``days`` partitions: row counts, column metrics, anomalies."""
    with reading(settings) as c:
        runs = _rows(c, "SELECT r.id, r.logical_date, r.row_count FROM profile_current pc "
                        "JOIN profile_runs r ON r.id = pc.profile_run_id WHERE pc.asset_id = :id "
                        "AND r.status = 'success' ORDER BY pc.logical_date DESC LIMIT :days", id=asset_id, days=days)
        ids = [r["id"] for r in runs]
        metrics = _rows(
            c, "SELECT m.profile_run_id, m.column_name, m.metrics->'null_ratio' AS null_ratio, "
               "m.metrics->'distinct' AS distinct, m.metrics->'mean' AS mean, m.metrics->'quantiles' AS quantiles "
               "FROM column_metrics m WHERE m.profile_run_id = ANY(:ids)", ids=ids) if ids else []
        since = min((r["logical_date"] for r in runs), default=dt.date.today())
        anomalies = _rows(c, "SELECT column_name, metric, logical_date, observed, lower, upper, status "
                             "FROM anomalies WHERE asset_id = :id AND logical_date >= :since", id=asset_id,
                          since=since)
    return {"runs": sorted(runs, key=lambda r: r["logical_date"]), "metrics": metrics, "anomalies": anomalies}


def quality_calendar(settings: Settings, *, days: int = WINDOW_DAYS, asset_id: int | None = None,
                     limit: int = 40, offset: int = 0) -> dict[str, Any]:
    """Pass/warn/fail per asset and day over the last ``days`` days with results (current attempts).

    One page of assets (``limit`` from ``offset``, by source and name) among those with results in
    the window; ``total`` is how many have results.
    """
    with reading(settings) as c:
        end = c.execute(text("SELECT max(logical_date) FROM quality_current")).scalar() or dt.date.today()
        start = end - dt.timedelta(days=days - 1)
        shown = _rows(
            c, "SELECT a.id, s.name || '.' || a.name AS label, count(*) OVER () AS total FROM assets a "
               "JOIN sources s ON s.id = a.source_id WHERE (CAST(:aid AS bigint) IS NULL OR a.id = :aid) "
               "AND EXISTS (SELECT 1 FROM quality_current qc WHERE qc.asset_id = a.id "
               "AND qc.logical_date BETWEEN :start AND :end) ORDER BY s.name, a.name, a.id LIMIT :limit OFFSET :offset",
            start=start, end=end, aid=asset_id, limit=limit, offset=offset)
        labels = {r["id"]: r["label"] for r in shown}
        cells = _rows(
            c, "SELECT qc.asset_id, qc.logical_date AS day, bool_or(r.status IN ('failed', 'error')) AS failed, "
               "bool_or(r.warning_failures > 0) AS warned FROM quality_current qc "
               "JOIN quality_runs r ON r.id = qc.quality_run_id WHERE qc.asset_id = ANY(:ids) "
               "AND qc.logical_date BETWEEN :start AND :end GROUP BY qc.asset_id, qc.logical_date",
            ids=list(labels), start=start, end=end) if labels else []
    for cell in cells:
        cell["label"] = labels[cell["asset_id"]]
    total = int(shown[0]["total"]) if shown else 0
    return {"start": start, "end": end, "cells": cells, "total": total, "labels": list(labels.values()),
            "asset_ids": list(labels)}


def results(settings: Settings, *, asset_id: int, day: dt.date, only_failed: bool = False) -> list[dict[str, Any]]:
    """Each current result of one asset and day, with its run (suite, Data Docs URL, attempt)."""
    with reading(settings) as c:
        return _rows(
            c, "SELECT e.id, e.expectation_id, e.expectation_type, e.column_name, e.dimension, e.severity, "
               "e.success, e.observed_value, e.unexpected_count, e.unexpected_percent, e.details, e.waived, e.waiver_id, "
               "r.id AS run_id, r.suite_name, r.partition_key, r.data_docs_url, r.status "
               "FROM quality_current qc JOIN quality_runs r ON r.id = qc.quality_run_id "
               "JOIN expectation_results e ON e.quality_run_id = r.id "
               "WHERE qc.asset_id = :aid AND qc.logical_date = :day AND (NOT :only OR NOT e.success) "
               "ORDER BY r.suite_name, e.success, e.severity, e.expectation_id LIMIT 500",
            aid=asset_id, day=day, only=only_failed)


def attempts_of(settings: Settings, *, asset_id: int, day: dt.date) -> list[dict[str, Any]]:
    """Every attempt (current and superseded) of one asset and day, newest first."""
    with reading(settings) as c:
        return _rows(c, "SELECT r.id, r.suite_name, r.status, r.started_at, r.finished_at, r.error, "
                        "EXISTS (SELECT 1 FROM quality_current c WHERE c.quality_run_id = r.id) AS is_current FROM quality_runs r "
                        "WHERE r.asset_id = :aid AND r.logical_date = :day ORDER BY r.id DESC LIMIT 50",
                     aid=asset_id, day=day)


def run_results(settings: Settings, run_id: int) -> dict[str, Any] | None:
    """One attempt (current or superseded) and its results."""
    with reading(settings) as c:
        run = _rows(c, "SELECT r.*, EXISTS (SELECT 1 FROM quality_current c WHERE c.quality_run_id = r.id) "
                       "AS is_current "
                       "FROM quality_runs r WHERE r.id = :id", id=run_id)
        if not run:
            return None
        out = run[0]
        out["results"] = _rows(c, "SELECT e.id, e.expectation_id, e.expectation_type, e.column_name, e.dimension, e.severity, "
                                  "e.success, e.observed_value, e.unexpected_count, e.unexpected_percent, e.details, e.waived, e.waiver_id "
                                  "FROM expectation_results e WHERE e.quality_run_id = :id "
                                  "ORDER BY e.success, e.severity, e.expectation_id LIMIT 500", id=run_id)
    return out


def scorecard(settings: Settings, asset_ids: list[int], *, days: int = WINDOW_DAYS) -> list[dict[str, Any]]:
    """Mean score per dimension and day over ``asset_ids`` (the assets a page shows) from the scorecards table.

    One pass over the window's rows, one ``->>`` per dimension (the closed list of
    :class:`~assay.catalog.models.Dimension`): no row per (asset, day, dimension) is made.
    """
    dims = [d.value for d in Dimension]
    means = ", ".join(f"avg(CAST(dimension_scores->>'{d}' AS double precision)) AS \"{d}\"" for d in dims)
    with reading(settings) as c:
        end = c.execute(text("SELECT max(day) FROM scorecards WHERE asset_id = ANY(:ids)"),
                        {"ids": asset_ids}).scalar() or dt.date.today()
        per_day = _rows(
            c, "SELECT day, " + means + " FROM scorecards WHERE day > :start "  # noqa: S608 - closed enum names
               "AND asset_id = ANY(:ids) GROUP BY day ORDER BY day",
            start=end - dt.timedelta(days=days), ids=asset_ids)
    return [{"day": r["day"], "dimension": d, "score": r[d]} for r in per_day for d in dims if r[d] is not None]


def waivers(settings: Settings, *, include_revoked: bool = False, limit: int = 200) -> list[dict[str, Any]]:
    """Waivers with the asset's name and the number of results each covered (ids of the first few)."""
    with reading(settings) as c:
        return _rows(
            c, "SELECT w.*, s.name || '.' || a.name AS asset, cov.n AS covered, cov.ids AS covered_ids "
               "FROM waivers w JOIN assets a ON a.id = w.asset_id JOIN sources s ON s.id = a.source_id "
               "LEFT JOIN LATERAL (SELECT count(*) AS n, (array_agg(e.id ORDER BY e.id DESC))[1:10] AS ids "
               "FROM expectation_results e WHERE e.waiver_id = w.id) cov ON true "
               "WHERE (:all OR w.revoked_at IS NULL) ORDER BY w.id DESC LIMIT :limit",
            all=include_revoked, limit=limit)


def decisions(settings: Settings, *, model_name: str = "", limit: int = 100) -> list[dict[str, Any]]:
    """Gate decisions, newest first (checks and evidence included)."""
    with reading(settings) as c:
        return _rows(c, "SELECT * FROM gate_decisions WHERE (:m = '' OR model_name = :m) "
                        "ORDER BY decided_at DESC, id DESC LIMIT :limit", m=model_name, limit=limit)


def alias_events(settings: Settings, *, model_name: str = "", limit: int = 100) -> list[dict[str, Any]]:
    """Alias moves, newest first."""
    with reading(settings) as c:
        return _rows(c, "SELECT * FROM alias_events WHERE (:m = '' OR model_name = :m) "
                        "ORDER BY moved_at DESC, id DESC LIMIT :limit", m=model_name, limit=limit)


def audit(settings: Settings, *, limit: int = 100, target_kind: str = "", target_id: str = "") -> list[dict[str, Any]]:
    """The steward audit trail, newest first (empty when the audit table does not exist yet)."""
    with reading(settings) as c:
        exists = c.execute(text("SELECT to_regclass('steward_audit') IS NOT NULL")).scalar()
        if not exists:
            return []
        return _rows(c, "SELECT * FROM steward_audit WHERE (:k = '' OR target_kind = :k) AND "
                        "(:t = '' OR target_id = :t) ORDER BY at DESC, id DESC LIMIT :limit",
                     k=target_kind, t=target_id, limit=limit)


def counts(settings: Settings) -> Mapping[str, int]:
    """Row counts of the main tables (the bench prints them)."""
    with reading(settings) as c:
        # Planner estimates: a count(*) of a million rows costs more than the pages themselves.
        rows = _rows(c, "SELECT relname, GREATEST(reltuples, 0)::bigint AS n FROM pg_class WHERE relkind = 'r' "
                        "AND relname IN ('assets', 'quality_runs', 'expectation_results', 'review_items', 'waivers')")
        return {r["relname"]: int(r["n"]) for r in rows}
