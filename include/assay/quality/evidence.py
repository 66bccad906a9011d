"""The evidence suggestions rest on: profile history from the catalog, value shapes, foreign keys.

:func:`suggest_from_profiles` is what :func:`assay.quality.proposals.propose_suite` calls: it reads
the runs' ``column_metrics`` (oldest first), adds the newest partition's **value shapes** (each text
value written as its character classes, ``01234`` -> ``99999``: one aggregate statement over the
partition, pushed down to SQL, or the file read through :mod:`assay.sources.files`) and the
**confirmed foreign keys** (:mod:`assay.quality.relations`), and hands all of it to the pure rules
of :mod:`assay.quality.suggestions`.

Shapes are computed only for text columns whose values are at most :data:`MAX_SHAPE_LENGTH`
characters (codes, not prose), and only the :data:`TOP_SHAPES` most frequent shapes per column
leave the database. A shape never carries a value's characters beyond its punctuation, so a PII
column's shapes are no personal data. A profile that already carries ``shapes`` (a ``{shape:
count}`` map of the same definition) is used as it is, without a query. A source that cannot be
reached leaves the suggestions without shapes or foreign keys, and the proposal says so
(``unchecked``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from assay.catalog.db import session
from assay.catalog.models import Asset, ColumnMetrics, Source
from assay.config import Settings
from assay.errors import AssayError
from assay.names import ALL_PARTITIONS
from assay.quality.shapes import RARE, Format, candidate_formats
from assay.quality.suggestions import (
    ColumnEvidence,
    Evidence,
    ForeignKey,
    history_basis,
    non_null,
    shape_of,
    suggest_expectations,
)
from assay.sources.declarations import Declarations, FileSource, SqlSource, default_path, load

log = logging.getLogger(__name__)

#: Longest text (in characters) whose shape is summarised; longer values are prose, not codes.
MAX_SHAPE_LENGTH = 64
#: Shapes per column (most frequent first) read back from the database.
TOP_SHAPES = 50
#: Rows above which a partition's shapes come from a sample and its format is verified by a count.
SHAPE_SAMPLE = 50_000
#: A column's (fine shapes, coarse shapes, verified format); shapes are None when only the format is known.
Shapes = tuple[dict[str, int] | None, dict[str, int] | None, "Format | None"]
_ASCII = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_FINE = "9" * 10 + "A" * 26 + "a" * 26
_COARSE = "X" * 62


def _shaped(metrics: Mapping[str, Any]) -> bool:
    """Text with at least one value, none longer than :data:`MAX_SHAPE_LENGTH`."""
    length = metrics.get("length") if isinstance(metrics.get("length"), dict) else {}
    longest = (length or {}).get("max", metrics.get("max_length"))
    return (metrics.get("kind") == "text" and non_null(metrics) > 0
            and isinstance(longest, int) and longest <= MAX_SHAPE_LENGTH)


def sql_shapes(url: str, schema: str, table: str, partition_column: str | None, day: dt.date | None,
               columns: Sequence[str], *, sample: int | None = None) -> dict[str, tuple[dict[str, int], dict[str, int]]]:
    """``{column: (fine shapes, coarse shapes)}`` of a table partition, in one statement.

    One pass over the partition (its first ``sample`` rows when given) with ``GROUPING SETS`` (one
    set per column and shape kind); only the :data:`TOP_SHAPES` most frequent shapes per set return.
    """
    from assay.quality.gxrun import sql_identifier as q

    if not columns:
        return {}
    keys, selects = [], []
    for i, c in enumerate(columns):
        selects.append(f"translate(({q(c)})::text, :chars, :fine) AS s{i}")
        selects.append(f"translate(({q(c)})::text, :chars, :coarse) AS x{i}")
        keys += [f"s{i}", f"x{i}"]
    where = f" WHERE {q(partition_column)} = :day" if partition_column and day is not None else ""
    which = " ".join(f"WHEN GROUPING({k}) = 0 THEN '{k}'" for k in keys)
    limit = " LIMIT :sample" if sample is not None else ""
    sql = (
        f"WITH v AS (SELECT {', '.join(selects)} FROM {q(schema)}.{q(table)}{where}{limit}), "  # noqa: S608 - quoted
        f"g AS (SELECT CASE {which} END AS k, COALESCE({', '.join(keys)}) AS shape, count(*) AS n "
        f"FROM v GROUP BY GROUPING SETS ({', '.join(f'({k})' for k in keys)})) "
        "SELECT k, shape, n FROM (SELECT k, shape, n, row_number() OVER (PARTITION BY k ORDER BY n DESC, shape) AS rk "
        "FROM g WHERE shape IS NOT NULL) r WHERE rk <= :top"
    )
    params: dict[str, Any] = {"chars": _ASCII, "fine": _FINE, "coarse": _COARSE, "top": TOP_SHAPES}
    if where:
        params["day"] = day
    if sample is not None:
        params["sample"] = sample
    rows = _query(url, sql, params)
    out: dict[str, tuple[dict[str, int], dict[str, int]]] = {c: ({}, {}) for c in columns}
    for k, shape, n in rows:
        column = columns[int(k[1:])]
        out[column][0 if k[0] == "s" else 1][shape] = int(n)
    return out


def _query(url: str, sql: str, params: dict[str, Any]) -> list[Any]:
    from assay.sources.sql import source_engine

    engine = source_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


def verify_formats(url: str, schema: str, table: str, partition_column: str | None, day: dt.date | None,
                   candidates: Mapping[str, Sequence[str]]) -> dict[str, Format | None]:
    """Candidate regexes counted over the whole partition: the first holding for all but :data:`RARE`.

    One aggregate statement (``count(c)`` and ``count(*) FILTER (WHERE c ~ regex)`` per column and
    candidate), plus, for a column that some values break, the few most frequent shapes of those values.
    """
    from assay.quality.gxrun import sql_identifier as q

    pairs = [(c, r) for c in sorted(candidates) for r in dict.fromkeys(candidates[c])]
    if not pairs:
        return {}
    where = f" WHERE {q(partition_column)} = :day" if partition_column and day is not None else ""
    aggs = ", ".join(f"count({q(c)}), count(*) FILTER (WHERE ({q(c)})::text ~ :r{i})" for i, (c, _) in enumerate(pairs))
    params: dict[str, Any] = {f"r{i}": r for i, (_, r) in enumerate(pairs)}
    if where:
        params["day"] = day
    (row,) = _query(url, f"SELECT {aggs} FROM {q(schema)}.{q(table)}{where}", params)  # noqa: S608 - quoted
    out: dict[str, Format | None] = {}
    for i, (c, regex) in enumerate(pairs):
        total, covered = int(row[2 * i] or 0), int(row[2 * i + 1] or 0)
        if out.get(c) is not None or not total or covered < (1 - RARE) * total:
            out.setdefault(c, None)
            continue
        outliers: dict[str, int] = {}
        if covered < total:
            and_day = f" AND {q(partition_column)} = :day" if partition_column and day is not None else ""
            odd = (f"SELECT translate(({q(c)})::text, :chars, :fine) AS s, count(*) FROM {q(schema)}.{q(table)} "  # noqa: S608
                   f"WHERE {q(c)} IS NOT NULL AND NOT (({q(c)})::text ~ :r)"
                   f"{and_day} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5")
            found = _query(url, odd, {"chars": _ASCII, "fine": _FINE, "r": regex, **({"day": day} if where else {})})
            outliers = {str(shape): int(n) for shape, n in found}
        out[c] = Format(regex, covered, total, outliers)
    return out


def file_shapes(path: Path, root: Path, columns: Sequence[str]) -> dict[str, tuple[dict[str, int], dict[str, int]]]:
    """The same summary for one landing file, read with the reader profiling uses."""
    from assay.sources import files

    table = files.read_table(path, root=root)
    out: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
    for c in columns:
        if c not in table.column_names:
            continue
        values = [v for v in table.column(c).to_pylist() if isinstance(v, str)]
        fine = Counter(shape_of(v) for v in values)
        coarse = Counter(shape_of(v, coarse=True) for v in values)
        out[c] = (dict(fine.most_common(TOP_SHAPES)), dict(coarse.most_common(TOP_SHAPES)))
    return out


def _shapes(settings: Settings, decls: Declarations, asset: Asset, source: str, partition_key: str,
            rows: int | None, columns: Sequence[str]) -> dict[str, Shapes]:
    """Each column's shapes, or for a partition above :data:`SHAPE_SAMPLE` rows its verified format."""
    decl = decls.get(source)
    day = None if partition_key == ALL_PARTITIONS else dt.date.fromisoformat(partition_key)
    if isinstance(decl, SqlSource):
        url, part = decl.resolve_url(settings), asset.partition_column
        if rows is None or rows > SHAPE_SAMPLE:
            # Counting every shape of a large partition sorts every value; a sample finds the format
            # and one count over every row confirms it (rare odd values included).
            sampled = sql_shapes(url, asset.namespace, asset.name, part, day, columns, sample=SHAPE_SAMPLE)
            candidates = {c: candidate_formats(fine) + candidate_formats(coarse) for c, (fine, coarse) in sampled.items()}
            formats = verify_formats(url, asset.namespace, asset.name, part, day, candidates)
            return {c: (None, None, formats.get(c)) for c in columns}
        exact = sql_shapes(url, asset.namespace, asset.name, part, day, columns)
        return {c: (fine, coarse, None) for c, (fine, coarse) in exact.items()}
    assert isinstance(decl, FileSource)
    root = decl.resolve_root(settings)
    path = Path(asset.location or asset.name)
    found = file_shapes(path if path.is_absolute() else root / path, root, columns)
    return {c: (fine, coarse, None) for c, (fine, coarse) in found.items()}


def kind_of(runs: Sequence[Mapping[str, Any]]) -> str:
    """The column's profile kind; for metrics written without one, what its min/max values are."""
    for m in reversed(runs):
        if isinstance(m.get("kind"), str):
            return str(m["kind"])
    for m in reversed(runs):
        value = m.get("min")
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, int):
            return "integer"
        if isinstance(value, float):
            return "float"
        if isinstance(value, str):
            return "text"
        if m.get("top_values"):
            return "text"
    return "other"


def _reason(exc: BaseException) -> str:
    """The first line of an error, bounded and scrubbed (a driver may quote a value)."""
    from assay.classify.scrub import safe_value

    orig = getattr(exc, "orig", None)
    line = (str(orig if orig is not None else exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {safe_value(line, limit=200)}"


def gather(settings: Settings, asset_id: int, runs: Sequence[Any], pii: set[str] | Mapping[str, str],
           basis: Mapping[str, Any], *, declarations: Declarations | None = None) -> tuple[Evidence, list[str]]:
    """The evidence of one asset from its profile runs (``ProfileRun`` rows), and what could not be checked."""
    from assay.quality.relations import find_foreign_keys

    ordered = sorted(runs, key=lambda r: r.logical_date)
    order = {r.id: i for i, r in enumerate(ordered)}
    unchecked: list[str] = []
    with session(settings.catalog_url()) as s:
        newest = ordered[-1] if ordered else None
        # A dated file's history spans its series (one asset per file): shapes come from the newest file.
        asset = s.get(Asset, newest.asset_id if newest is not None else asset_id)
        assert asset is not None
        source = s.execute(select(Source.name).where(Source.id == asset.source_id)).scalar_one()
        rows = s.execute(
            select(ColumnMetrics.profile_run_id, ColumnMetrics.column_name, ColumnMetrics.metrics)
            .where(ColumnMetrics.profile_run_id.in_(list(order)))
        ).all()
        per_column: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for run_id, column, metrics in rows:
            per_column.setdefault(column, []).append((order[run_id], metrics or {}))
        metrics_of = {c: tuple(m for _, m in sorted(ms, key=lambda x: x[0])) for c, ms in per_column.items()}
        shapes: dict[str, Shapes] = {}
        for c, ms in metrics_of.items():
            given = ms[-1].get("shapes")
            if isinstance(given, dict):
                shapes[c] = ({str(k): int(v) for k, v in given.items()}, {}, None)
        wanted = [c for c, ms in sorted(metrics_of.items()) if c not in shapes and _shaped(ms[-1])]
        decls = declarations or load(default_path(settings))
        try:
            if newest is not None and wanted:
                shapes.update(_shapes(settings, decls, asset, source, newest.partition_key, newest.row_count, wanted))
        except (SQLAlchemyError, OSError, AssayError, ValueError) as exc:
            unchecked.append(f"value shapes: {_reason(exc)}")
        columns = {
            c: ColumnEvidence(
                name=c, kind=kind_of(ms), runs=ms,
                shapes=shapes.get(c, (None, None, None))[0], coarse_shapes=shapes.get(c, (None, None, None))[1] or None,
                format=shapes.get(c, (None, None, None))[2],
                pii=c in pii or any(m.get("pii") or m.get("masked") for m in ms),
            )
            for c, ms in metrics_of.items()
        }
        fks: list[ForeignKey] = []
        if newest is not None:
            try:
                fks, notes = find_foreign_keys(settings, s, decls, asset.id, newest.partition_key, columns)
                unchecked += notes
            except (SQLAlchemyError, AssayError, ValueError) as exc:
                unchecked.append(f"foreign keys: {_reason(exc)}")
    full_basis = {**basis, **history_basis(len(ordered))}
    counts = tuple(int(r.row_count) for r in ordered if r.row_count is not None)
    return Evidence(counts, columns, full_basis, tuple(fks)), unchecked


def suggest_from_profiles(settings: Settings, asset_id: int, runs: Sequence[Any], pii: set[str] | Mapping[str, str],
                          basis: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Suggested expectations for an asset from its profile runs, and the proposal's basis.

    Returns:
        The expectation dicts (GX suite JSON with ``meta.evidence``) and the basis for the
        proposal: ``runs``/``from``/``to`` plus ``strictness`` (loose for 1 partition, tighter with
        history), ``findings`` (suggestions that fail on the profiled data) and ``unchecked``.
    """
    evidence, unchecked = gather(settings, asset_id, runs, pii, basis)
    suggestions = suggest_expectations(evidence)
    out = dict(evidence.basis)
    findings = [e["meta"]["name"] for e in suggestions if e["meta"].get("finding")]
    if findings:
        out["findings"] = findings
    if unchecked:
        out["unchecked"] = unchecked
    return suggestions, out
