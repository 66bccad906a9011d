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

The proposal is the live suite (if any) plus the suggestions it does not already cover, written to
``expectations/proposed/<suite>.json``. :func:`accept_proposal` checks it (assay's conventions and
GX) and moves it into ``expectations/``; :func:`reject_proposal` deletes it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assay.catalog.db import session
from assay.catalog.models import Asset, ColumnMetrics, ProfileRun, RunStatus, Source
from assay.config import Settings
from assay.errors import ConfigError
from assay.quality import store
from assay.quality.suites import SuiteError, build_gx_suite, load_suites, parse_suite, suites_dir

#: Fewest profiled partitions a suggestion is based on.
MIN_RUNS = 3
#: Largest number of distinct values a value-set suggestion lists.
MAX_SET = 25
PROPOSED = "proposed"


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


def propose_suite(
    settings: Settings,
    asset: str,
    *,
    lookback_days: int = 28,
    end: dt.date | None = None,
    folder: Path | None = None,
) -> Path:
    """Write ``expectations/proposed/<suite>.json`` for ``asset`` from its profile history.

    Args:
        asset: a table name (``interactions``) or ``schema.table``.
        lookback_days: how many days of profiles to use, ending at ``end`` (default: the newest).

    Returns:
        The proposal's path.

    Raises:
        ConfigError: unknown asset, or fewer than :data:`MIN_RUNS` successful profiles in the window.
    """
    folder = folder or suites_dir(settings)
    live = {s.target.relation: s for s in load_suites(folder).suites if s.target.table is not None}
    existing = live.get(asset.rsplit(".", 1)[-1])
    with session(settings.catalog_url()) as s:
        ids = store.find_assets(s, asset)
        if len(ids) != 1:
            raise ConfigError(f"{asset!r} names {len(ids)} assets in the catalog; name one table")
        (asset_id,) = ids
        a = s.get(Asset, asset_id)
        assert a is not None
        source_name = s.execute(select(Source.name).where(Source.id == a.source_id)).scalar_one()
        q = select(ProfileRun).where(ProfileRun.asset_id == asset_id, ProfileRun.status == RunStatus.SUCCESS.value)
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
    suggestions = suggest([r.row_count for r in runs if r.row_count is not None], dict(columns), pii, basis)

    if existing is not None:
        doc = json.loads(existing.path.read_text())
        name = existing.name
    else:
        name = a.name
        doc = {
            "name": name,
            "meta": {"assay": {"source": source_name, "table": f"{a.namespace}.{a.name}",
                               **({"partition_column": a.partition_column} if a.partition_column else {})},
                     "pii_columns": sorted(pii)},
            "expectations": [],
        }
    have = _covered(doc)
    names = {e.get("meta", {}).get("name") for e in doc["expectations"]}
    added = [
        e for e in suggestions
        if (e["type"], e["kwargs"].get("column")) not in have and e["meta"]["name"] not in names
    ]
    doc["expectations"] = list(doc["expectations"]) + added
    doc.setdefault("meta", {})["proposal"] = {"added": [e["meta"]["name"] for e in added], **basis}
    path = folder / PROPOSED / f"{name}.json"
    _write(path, doc)
    return path


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def accept_proposal(settings: Settings, suite: str, *, folder: Path | None = None) -> Path:
    """Check the proposal for ``suite`` and make it the live suite; returns the live path.

    Raises:
        ConfigError: no proposal, or it breaks the suite conventions or GX refuses it (the proposal
            stays in place to be fixed).
    """
    folder = folder or suites_dir(settings)
    proposal = folder / PROPOSED / f"{suite}.json"
    if not proposal.exists():
        raise ConfigError(f"no proposal for suite {suite!r} in {proposal.parent}")
    doc = json.loads(proposal.read_text())
    doc.get("meta", {}).pop("proposal", None)
    data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()
    try:
        build_gx_suite(parse_suite(proposal, data))
    except SuiteError as exc:
        raise ConfigError(f"proposal not accepted: {exc}") from None
    live = folder / f"{suite}.json"
    _write(live, doc)
    proposal.unlink()
    return live


def reject_proposal(settings: Settings, suite: str, *, folder: Path | None = None) -> None:
    """Delete the proposal for ``suite``.

    Raises:
        ConfigError: there is none.
    """
    proposal = (folder or suites_dir(settings)) / PROPOSED / f"{suite}.json"
    if not proposal.exists():
        raise ConfigError(f"no proposal for suite {suite!r}")
    proposal.unlink()
