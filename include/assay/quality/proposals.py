"""Suggested expectations from profile history, written as a proposal a steward accepts or rejects.

:func:`propose_suite` reads the asset's successful ``profile_runs`` and their ``column_metrics`` over
a look-back window and suggests, with margins:

* **row-count bounds** (volume): half the smallest to 1.5x the largest row count seen;
* **null tolerances** (completeness): not-null where no null was ever seen, else ``mostly`` below
  the worst null ratio seen (ratio x 1.5 + 1 point of slack);
* **ranges** (validity) for numeric columns: the min/max seen widened by 10 % of the span;
* **value sets** (validity) for low-cardinality columns whose top values (counted exactly, not on
  a sample) covered every row.

Values of PII columns (catalog classifications or the suite's ``pii_columns``) never become ranges
or value sets: a suite file is not a place for personal data. Every suggestion is ``warning``
severity with ``meta.proposed_from`` (runs, window); a steward raises what should block.

The proposal is the live suite of the asset's own source (if any) plus the suggestions it does not
already cover (``meta.proposal.added``) or would change (``meta.proposal.changed``: same
``meta.name``, other arguments), written to ``<expectations>/<source>/proposed/<asset>.json``
(:func:`assay.quality.suites.proposal_path`). Every suggestion carries ``meta.name`` (unique in the
suite) and ``meta.evidence``. A review item of kind ``suggested_suite`` tells the steward, who
accepts or rejects each suggestion by name (:mod:`assay.quality.proposal_review`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assay.catalog.db import session
from assay.catalog.models import Asset, AssetKind, ColumnMetrics, ProfileRun, RunStatus, Source
from assay.catalog.runs import PROFILE, is_current
from assay.config import Settings
from assay.errors import ConfigError
from assay.quality import store
from assay.quality.proposal_review import (  # noqa: F401  (re-exported: the package's public names)
    accept_proposal,
    open_review_item,
    reject_proposal,
    write_json,
)
from assay.quality.suites import (
    DAY,
    SuiteSpec,
    expectation_key,
    load_suites,
    proposal_path,
    suite_path,
    suite_stem,
    suites_dir,
)

#: Fewest profiled partitions a suggestion is based on.
MIN_RUNS = 1
#: Largest number of distinct values a value-set suggestion lists.
MAX_SET = 25


def _top_values(raw: Any) -> dict[str, int] | None:
    """``top_values`` as {value: count}, from a list of {value, count}, of pairs, or a dict."""
    if isinstance(raw, dict):
        return {str(k): int(v) for k, v in raw.items() if isinstance(v, int | float)}
    if isinstance(raw, list):
        out: dict[str, int] = {}
        for item in raw:
            if isinstance(item, dict) and "value" in item:
                out[str(item["value"])] = int(item.get("count") or 0)
            elif isinstance(item, list | tuple) and len(item) == 2:
                out[str(item[0])] = int(item[1] or 0)
        return out
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _round_out(value: float, up: bool) -> float:
    """Round to 2 significant-ish decimals away from the data (bounds must not shrink)."""
    cents = round(value * 100, 6)  # 0.0999999 is 0.1 before rounding outwards
    return math.ceil(cents) / 100 if up else math.floor(cents) / 100


def _expectation(type_: str, name: str, dimension: str, basis: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return {
        "type": type_,
        "kwargs": kwargs,
        "meta": {"name": name, "dimension": dimension, "severity": "warning", "proposed_from": basis},
    }


def suggest(
    row_counts: list[int],
    columns: dict[str, list[dict[str, Any]]],
    pii: set[str],
    basis: dict[str, Any],
) -> list[dict[str, Any]]:
    """Suggested expectations (GX suite JSON) from per-run row counts and per-column metrics.

    Args:
        row_counts: the row count of each profiled partition.
        columns: column -> the metrics dict of each run that profiled it.
        pii: columns whose values must not appear in the suite.
        basis: what the suggestions are based on (runs, window), stored in each ``meta``.
    """
    out: list[dict[str, Any]] = []
    counts = [c for c in row_counts if c is not None]
    if counts:
        out.append(_expectation("expect_table_row_count_to_be_between", "proposed_row_count", "volume", basis,
                                min_value=int(min(counts) * 0.5), max_value=int(math.ceil(max(counts) * 1.5))))
    for column, runs in sorted(columns.items()):
        ratios = []
        for m in runs:
            ratio = _number(m.get("null_ratio"))
            if ratio is None and _number(m.get("null_count")) is not None and _number(m.get("row_count")):
                ratio = float(m["null_count"]) / float(m["row_count"])
            if ratio is not None:
                ratios.append(ratio)
        if ratios:
            worst = max(ratios)
            if worst == 0:
                out.append(_expectation("expect_column_values_to_not_be_null", f"proposed_{column}_not_null",
                                        "completeness", basis, column=column))
            elif worst < 0.5:
                mostly = max(0.0, _round_out(1 - worst * 1.5 - 0.01, False))
                out.append(_expectation("expect_column_values_to_not_be_null", f"proposed_{column}_mostly_not_null",
                                        "completeness", basis, column=column, mostly=mostly))
        if column in pii or any(m.get("pii") or m.get("masked") for m in runs):
            continue  # the profiler flags PII columns too; their (masked) values are no rule
        lows = [v for v in (_number(m.get("min")) for m in runs) if v is not None]
        highs = [v for v in (_number(m.get("max")) for m in runs) if v is not None]
        if lows and highs and len(lows) == len(runs):
            lo, hi = min(lows), max(highs)
            margin = 0.1 * (hi - lo) if hi > lo else (0.1 * abs(hi) or 1.0)
            floor = lo - margin
            if lo >= 0:  # data that was never negative does not get a negative bound
                floor = max(0.0, floor)
            out.append(_expectation("expect_column_values_to_be_between", f"proposed_{column}_range", "validity", basis,
                                    column=column, min_value=_round_out(floor, False),
                                    max_value=_round_out(hi + margin, True)))
            continue
        tops = [_top_values(m.get("top_values")) for m in runs]
        distinct = [_number(m.get("distinct")) for m in runs]
        sampled = any(m.get("top_values_is_approx") for m in runs)  # a rare value may be missing
        if not sampled and all(t for t in tops) and all(d is not None and d <= MAX_SET for d in distinct):
            values: set[str] = set()
            complete = True
            for m, t in zip(runs, tops, strict=True):
                assert t is not None
                values |= set(t)
                non_null = (_number(m.get("row_count")) or 0) - (_number(m.get("null_count")) or 0)
                if non_null and sum(t.values()) < non_null:
                    complete = False  # the top values did not cover the column: no closed set known
            if complete and 0 < len(values) <= MAX_SET:
                out.append(_expectation("expect_column_values_to_be_in_set", f"proposed_{column}_in_set", "validity",
                                        basis, column=column, value_set=sorted(values)))
    return out


def _covered(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """(type, column) of the suite's column expectations: a suggestion of the same kind is not added.

    Table-level checks (row counts) are never "covered": the suggestion from history is usually
    tighter than a hand-written bound, and the steward decides which one stays.
    """
    return {
        (e["type"], e["kwargs"]["column"])
        for e in doc.get("expectations", [])
        if isinstance(e.get("kwargs", {}).get("column"), str)
    }


def _named_with_evidence(suggestions: list[dict[str, Any]], basis: dict[str, Any]) -> list[dict[str, Any]]:
    """Every suggestion with a ``meta.name`` unique among them and a ``meta.evidence`` dict."""
    seen: set[str] = set()
    out = []
    for e in suggestions:
        meta = dict(e.get("meta") or {})
        name = str(meta.get("name") or expectation_key(e["type"], e.get("kwargs", {})))
        unique, n = name, 2
        while unique in seen:
            unique, n = f"{name}_{n}", n + 1
        seen.add(unique)
        evidence = meta.get("evidence")
        meta["name"], meta["evidence"] = unique, dict(evidence if isinstance(evidence, dict) else
                                                      meta.get("proposed_from") or basis)
        out.append({**e, "meta": meta})
    return out


def _files_glob(a: Asset) -> str:
    """The ``meta.assay.files`` glob of a file asset: its day folder becomes ``{day}``."""
    parts = a.namespace.split("/")
    days = [i for i, p in enumerate(parts) if len(p) == 10 and p[4] == "-" and p[7] == "-"]
    if not days or days[-1] == 0:
        raise ConfigError(f"file asset {a.namespace}/{a.name}: its day is not a folder below a folder "
                          f"(e.g. feeds/<supplier>/<day>/file.csv); write its suite by hand (docs/quality.md)")
    parts[days[-1]] = DAY
    return "/".join([*parts, a.name])


def _live_for(folder: Path, source: str, a: Asset) -> SuiteSpec | None:
    """The live suite of ``source`` that validates asset ``a`` (its table, or its files' glob)."""
    import fnmatch

    for spec in load_suites(folder).suites:
        t = spec.target
        if spec.source != source:
            continue
        if a.kind == AssetKind.TABLE.value and t.table in (f"{a.namespace}.{a.name}", a.name if a.namespace == "public" else None):
            return spec
        if a.kind != AssetKind.TABLE.value and t.files and fnmatch.fnmatch(f"{a.namespace}/{a.name}", t.files.replace(DAY, "*")):
            return spec
    return None


def _asset(s: Any, asset: str, source: str | None) -> tuple[Asset, str]:
    """The one catalog asset called ``asset`` (of ``source`` when given) and its source's name."""
    ids = store.find_assets(s, asset)
    rows = s.execute(select(Asset, Source.name).join(Source, Source.id == Asset.source_id)
                     .where(Asset.id.in_(ids))).all() if ids else []
    if source is not None:
        rows = [r for r in rows if r[1] == source]
    if len(rows) != 1:
        where = f" of source {source}" if source else ""
        found = ", ".join(sorted(f"{src}:{a.namespace}.{a.name}" for a, src in rows))
        hint = "; pick one with --source" if len(rows) > 1 else ""
        raise ConfigError(f"{asset!r}{where} names {len(rows)} assets in the catalog ({found or 'none'}){hint}")
    a, source_name = rows[0]
    return a, str(source_name)


def propose_suite(
    settings: Settings,
    asset: str,
    *,
    source: str | None = None,
    lookback_days: int = 28,
    end: dt.date | None = None,
    folder: Path | None = None,
) -> Path:
    """Write ``<expectations>/<source>/proposed/<asset>.json`` for ``asset`` from its profile history.

    The proposal builds on the live suite of the asset's own source only: a table of the same name
    in another source has its own suite and is never merged into this one.

    Args:
        asset: a table name (``interactions``), ``schema.table`` or a file asset ``folder/file``.
        source: the asset's source, needed when several sources have an asset of that name.
        lookback_days: how many days of profiles to use, ending at ``end`` (default: the newest).

    Returns:
        The proposal's path.

    Raises:
        ConfigError: unknown or ambiguous asset, or fewer than :data:`MIN_RUNS` successful profiles
            in the window.
    """
    folder = folder or suites_dir(settings)
    with session(settings.catalog_url()) as s:
        a, source_name = _asset(s, asset, source)
        asset_id = a.id
        existing = _live_for(folder, source_name, a)
        from assay.sources.declarations import default_path, load
        from assay.sources.series_assets import series_assets

        history = series_assets(s, load(default_path(settings)), asset_id)  # a dated file: its whole series
        q = select(ProfileRun).where(ProfileRun.asset_id.in_(history), ProfileRun.status == RunStatus.SUCCESS.value,
                                     is_current(PROFILE))  # one attempt per partition: the current one
        if end is not None:
            q = q.where(ProfileRun.logical_date <= end,
                        ProfileRun.logical_date > end - dt.timedelta(days=lookback_days))
        runs = list(s.execute(q.order_by(ProfileRun.logical_date.desc())).scalars())
        if end is None and runs:
            newest = runs[0].logical_date
            runs = [r for r in runs if r.logical_date > newest - dt.timedelta(days=lookback_days)]
        if len(runs) < MIN_RUNS:
            raise ConfigError(f"{asset}: {len(runs)} successful profiles in the window; at least {MIN_RUNS} needed")
        metrics = s.execute(
            select(ColumnMetrics.column_name, ColumnMetrics.metrics)
            .where(ColumnMetrics.profile_run_id.in_([r.id for r in runs]))
        ).all()
        pii = set(store.pii_columns(s, asset_id))
    columns: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for column, m in metrics:
        columns[column].append(m or {})
    if existing is not None:
        pii |= set(existing.pii_columns)
    days = sorted(r.logical_date for r in runs)
    basis = {"runs": len(runs), "from": days[0].isoformat(), "to": days[-1].isoformat()}
    # Issue 13 item 6: suggestions from 1 partition on, each with its evidence (assay.quality.suggestions).
    from assay.quality.evidence import suggest_from_profiles

    suggestions, basis = suggest_from_profiles(settings, asset_id, runs, pii, basis)
    suggestions = _named_with_evidence(suggestions, basis)

    if existing is not None:
        doc = json.loads(existing.path.read_text())
        name, live_path = existing.name, existing.path
    else:
        is_table = a.kind == AssetKind.TABLE.value
        target = (f"{a.namespace}.{a.name}" if is_table else None)
        name = suite_stem(target if target else _files_glob(a).replace(DAY, "").replace("//", "/"))
        live_path = suite_path(settings, source_name, name, folder=folder)
        spec: dict[str, Any] = {"source": source_name, **({"table": target} if target else {"files": _files_glob(a)})}
        if is_table and a.partition_column:
            spec["partition_column"] = a.partition_column
        doc = {"name": name, "meta": {"assay": spec, "pii_columns": sorted(pii)}, "expectations": []}
    have = _covered(doc)
    live_by_name = {e.get("meta", {}).get("name"): i for i, e in enumerate(doc["expectations"])}
    added, changed = [], []
    expectations = list(doc["expectations"])
    for e in suggestions:
        i = live_by_name.get(e["meta"]["name"])
        if i is not None:  # an earlier suggestion, accepted: a change only if its arguments moved
            live = expectations[i]
            if (live.get("type"), live.get("kwargs")) != (e["type"], e["kwargs"]):
                expectations[i] = e
                changed.append(e["meta"]["name"])
        elif (e["type"], e["kwargs"].get("column")) not in have:
            expectations.append(e)
            added.append(e["meta"]["name"])
    doc["expectations"] = expectations
    path = proposal_path(settings, source_name, name, folder=folder)
    doc.setdefault("meta", {})["proposal"] = {
        "added": added, "changed": changed, **basis, "live": str(live_path.relative_to(folder)),
    }
    write_json(path, doc)
    open_review_item(settings, asset_id, f"{source_name}.{name}", path, doc["meta"]["proposal"])
    return path
