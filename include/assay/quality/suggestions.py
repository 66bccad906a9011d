"""Suggested expectations worth accepting: pure rules from profile evidence to GX 1.x suite JSON.

:func:`suggest_expectations` turns an asset's :class:`Evidence` (per-run row counts, per-column
metrics of each profiled partition, value shapes of the newest partition, confirmed foreign keys)
into expectation dicts in the suite format of ``expectations/*.json``. Every suggestion has
``meta.name`` (unique), ``meta.dimension``, ``meta.severity`` (``warning``: a steward raises what
should block), ``meta.proposed_from`` (the basis), ``meta.evidence`` (the profile counts it rests
on) and, when the data it was derived from already breaks the rule, ``meta.finding`` (a sentence
for the steward; such a suggestion fails on that data on purpose, so the defect stays visible).

The rules, and why they are shaped so (docs/quality.md, "Suggestions"):

* **basis**: one profiled partition is enough. Facts the data proves row by row (complete, unique,
  one format, one sign) become exact rules once at least :data:`MIN_VALUES` values back them;
  bounds that extrapolate (row counts, magnitudes, null tolerances) are looser the less history
  there is (:func:`history_basis`).
* **edge values stay visible**: a zero (or a negative) among values otherwise all > 0 is never
  absorbed into a wider range. Rare ones (<= :data:`RARE` of the values) give the strict bound with
  ``mostly`` and a finding; common ones make the bound ``>= 0`` (or none).
* **formats**: value shapes become a regex (:mod:`assay.quality.shapes`: ``99999`` -> ``^\\d{5}$``).
* **an all-null column** (in the newest partition) is a finding: a non-null-proportion check that
  fails until the column is filled or the steward rejects it.
* **foreign keys** come confirmed (containment counted by :mod:`assay.quality.relations`) and
  become ``unexpected_rows_expectation`` queries that return the orphans of a partition.

Nothing here does I/O; :mod:`assay.quality.evidence` gathers the evidence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assay.quality.column_facts import (
    KEY_HINTS,
    MIN_VALUES,
    ColumnEvidence,
    duplicates,
    is_key_like,
    is_unique,
    name_hints_key,
    non_null,
)
from assay.quality.column_facts import count as _count
from assay.quality.column_facts import fixed_length as _fixed_length
from assay.quality.column_facts import null_ratio as _null_ratio
from assay.quality.column_facts import number as _number
from assay.quality.shapes import RARE, find_format, regex_of, shape_of

__all__ = [
    "KEY_HINTS", "MIN_VALUES", "RARE", "ColumnEvidence", "Evidence", "ForeignKey", "duplicates", "find_format",
    "is_key_like", "is_unique", "name_hints_key", "non_null", "regex_of", "shape_of", "suggest_expectations",
]

#: Largest number of distinct values a value-set suggestion lists.
MAX_SET = 25
#: Each value of a set must be seen this many times on average, or a rare value may be missing.
SET_SUPPORT = 20


@dataclass(frozen=True)
class ForeignKey:
    """A confirmed containment: ``column``'s values are (almost) all in ``parent_column`` of ``parent``.

    Attributes:
        parent: the parent as ``source:schema.table`` (for people).
        parent_table: ``(schema, table)`` as the child's database sees it.
        checked: non-null child values counted in the newest partition.
        orphans: of those, how many have no parent row.
    """

    column: str
    parent: str
    parent_table: tuple[str, str]
    parent_column: str
    checked: int
    orphans: int
    parent_key: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Evidence:
    """What the suggestions of one asset rest on."""

    row_counts: tuple[int, ...]
    columns: Mapping[str, ColumnEvidence]
    basis: Mapping[str, Any]
    foreign_keys: tuple[ForeignKey, ...] = ()


def history_basis(runs: int) -> dict[str, Any]:
    """How strict bounds are for ``runs`` profiled partitions (stored in the proposal)."""
    if runs <= 1:
        return {"strictness": "loose", "why": "1 profiled partition: bounds widened, ranges and tolerances with mostly"}
    if runs < 7:
        return {"strictness": "medium", "why": f"{runs} profiled partitions: bounds widened by half the spread"}
    return {"strictness": "tight", "why": f"{runs} profiled partitions: bounds widened by a tenth of the spread"}


def _margin(runs: int) -> float:
    """Share of the observed spread added to each side of a bound."""
    return 1.0 if runs <= 1 else (0.5 if runs < 7 else 0.1)


def _round(value: float, up: bool) -> float:
    """Round outwards to 2 decimals (a bound must never shrink onto the data)."""
    cents = round(value * 100, 6)
    out = (math.ceil(cents) if up else math.floor(cents)) / 100
    return int(out) if out == int(out) else out


def _tolerate(bad: int, values: int, runs: int) -> float:
    """``mostly`` for a rule ``bad`` of ``values`` already break: their share with slack, rounded down.

    The slack (2x the share seen for 1 partition, 1.5x with more history) keeps a clean day with a
    few more such values from failing; the finding shows the steward what was tolerated.
    """
    slack = 2.0 if runs <= 1 else 1.5
    return max(0.01, math.floor((1 - slack * bad / values) * 100 + 1e-9) / 100)


class _Out:
    """The suggestions being built, with unique names."""

    def __init__(self, basis: Mapping[str, Any]) -> None:
        self.items: list[dict[str, Any]] = []
        self.names: set[str] = set()
        self.basis = dict(basis)

    def add(self, type_: str, name: str, dimension: str, evidence: Mapping[str, Any],
            finding: str | None = None, notes: str | None = None, **kwargs: Any) -> None:
        base, i = re.sub(r"[^A-Za-z0-9_]+", "_", name), 2
        name = base
        while name in self.names:
            name, i = f"{base}_{i}", i + 1
        self.names.add(name)
        meta: dict[str, Any] = {"name": name, "dimension": dimension, "severity": "warning",
                                "proposed_from": self.basis, "evidence": dict(evidence)}
        if finding:
            meta["finding"] = finding
        if notes:
            meta["notes"] = notes
        self.items.append({"type": type_, "kwargs": kwargs, "meta": meta})


def suggest_expectations(evidence: Evidence) -> list[dict[str, Any]]:
    """Suggested expectations (GX suite JSON, each with its evidence) for one asset."""
    out = _Out(evidence.basis)
    runs = max(1, len(evidence.row_counts))
    counts = [c for c in evidence.row_counts if c is not None]
    if counts:
        lo, hi = min(counts), max(counts)
        m = {1: 0.75}.get(runs, 0.5 if runs < 7 else 0.25)
        out.add("expect_table_row_count_to_be_between", "proposed_row_count", "volume",
                {"runs": len(counts), "min_rows": lo, "max_rows": hi},
                min_value=int(lo * (1 - m)), max_value=int(math.ceil(hi * (1 + m))))
    for name in sorted(evidence.columns):
        col = evidence.columns[name]
        if not col.runs:
            continue
        if _completeness(out, col, runs):
            continue  # all null now: nothing else can be said about its values
        key = is_key_like(col)
        nn = sum(non_null(m) for m in col.runs)
        if key:
            out.add("expect_column_values_to_be_unique", f"proposed_{name}_unique", "uniqueness",
                    {"runs": len(col.runs), "values": nn, "distinct": nn, "nulls": 0,
                     "name_hint": name_hints_key(name)}, column=name)
        elif (dupes := duplicates(col)) is not None:
            out.add("expect_column_values_to_be_unique", f"proposed_{name}_unique", "uniqueness",
                    {"runs": len(col.runs), "values": nn, "duplicates": dupes, "name_hint": True},
                    f"{name} reads like a key but {dupes} of its {nn} values repeat another", column=name)
        if col.kind in ("integer", "float", "decimal"):
            _numeric(out, col, runs, key)
        elif col.kind == "text":
            if not _format(out, col, runs):
                _blanks(out, col, runs)
            if not col.pii and not key:
                _value_set(out, col)
        elif col.kind == "boolean":
            continue
    for fk in evidence.foreign_keys:
        _foreign_key(out, fk)
    return out.items


def _completeness(out: _Out, col: ColumnEvidence, runs: int) -> bool:
    """Not-null / null tolerance / all-null finding; True when the newest run has no value at all."""
    name, newest = col.name, col.runs[-1]
    rows = _count(newest, "row_count") or 0
    if rows and not non_null(newest):
        before = sum(non_null(m) for m in col.runs[:-1])
        finding = (f"{name} is null in all {rows} rows of the newest partition"
                   + (f" (earlier partitions had {before} values)" if before else ""))
        out.add("expect_column_proportion_of_non_null_values_to_be_between", f"proposed_{name}_has_values",
                "completeness", {"rows": rows, "non_null": 0, "earlier_non_null": before}, finding,
                column=name, min_value=0, strict_min=True)
        return True
    ratios = [r for r in (_null_ratio(m) for m in col.runs) if r is not None]
    if not ratios:
        return False
    worst = max(ratios)
    ev = {"runs": len(ratios), "worst_null_ratio": round(worst, 6),
          "nulls": sum(_count(m, "null_count") or 0 for m in col.runs)}
    if worst == 0:
        out.add("expect_column_values_to_not_be_null", f"proposed_{name}_not_null", "completeness", ev, column=name)
    elif worst < 0.5:
        slack = 2.0 if runs <= 1 else 1.5
        mostly = max(0.0, _round(1 - worst * slack - 0.01, False))
        if mostly > 0:
            out.add("expect_column_values_to_not_be_null", f"proposed_{name}_mostly_not_null", "completeness", ev,
                    column=name, mostly=mostly)
    return False


def _signs(m: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """(zeros, negatives) of one run: the profile's counts, else what its min tells."""
    zeros, negatives = _count(m, "zero_count", "zeros"), _count(m, "negative_count", "negatives")
    lo = _number(m.get("min"))
    if lo is not None:
        if lo > 0:
            zeros, negatives = 0, 0
        elif lo == 0 and negatives is None:
            negatives = 0
    return zeros, negatives


def _rare_by_quantile(runs: Sequence[Mapping[str, Any]]) -> bool:
    """Without zero/negative counts (older profiles): values <= 0 stay below every run's 1st percentile.

    The first percentile above 0 means at most about 1 % of the values are <= 0, so they are rare
    edge values; exact quantiles (small partitions) make this exact, sampled ones approximate.
    """
    for m in runs:
        q = m.get("quantiles") if isinstance(m.get("quantiles"), dict) else None
        p01 = _number((q or {}).get("p01"))
        if p01 is None or p01 <= 0:
            return False
    return bool(runs)


def _numeric(out: _Out, col: ColumnEvidence, runs: int, key: bool) -> None:
    """Sign bound (with rare edge values kept visible) and a magnitude range."""
    name = col.name
    measured = [m for m in col.runs if non_null(m)]
    lows = [_number(m.get("min")) for m in measured]
    highs = [_number(m.get("max")) for m in measured]
    if col.pii or not measured or None in lows or None in highs:
        return
    nn = sum(non_null(m) for m in measured)
    signs = [_signs(m) for m in measured]
    zeros = None if any(z is None for z, _ in signs) else sum(z or 0 for z, _ in signs)
    negs = None if any(n is None for _, n in signs) else sum(n or 0 for _, n in signs)
    lo, hi = min(v for v in lows if v is not None), max(v for v in highs if v is not None)
    ev: dict[str, Any] = {"runs": len(measured), "values": nn, "min": lo, "max": hi, "zeros": zeros, "negatives": negs}
    sign_bound = False
    if nn >= MIN_VALUES and hi > 0:
        edge = (zeros or 0) + (negs or 0)
        if zeros == 0 and negs == 0:
            out.add("expect_column_values_to_be_between", f"proposed_{name}_positive", "validity", ev,
                    column=name, min_value=0, strict_min=True)
            sign_bound = True
        elif zeros is not None and negs is not None and edge <= RARE * nn:
            what = " and ".join(f"{n} {w}" for n, w in ((zeros, "zero(s)"), (negs, "negative(s)")) if n)
            out.add("expect_column_values_to_be_between", f"proposed_{name}_positive", "validity", ev,
                    f"{what} among {nn} values of {name} otherwise > 0: kept out of the bound (mostly), to review",
                    column=name, min_value=0, strict_min=True, mostly=_tolerate(edge, nn, runs))
            sign_bound = True
        elif (zeros is None or negs is None) and _rare_by_quantile(measured):
            out.add("expect_column_values_to_be_between", f"proposed_{name}_positive", "validity", ev,
                    f"values <= 0 (down to {lo:g}) among {nn} values of {name} otherwise > 0, all below the 1st "
                    "percentile: kept out of the bound (mostly), to review",
                    column=name, min_value=0, strict_min=True, mostly=0.99)
            sign_bound = True
        elif negs == 0:
            out.add("expect_column_values_to_be_between", f"proposed_{name}_non_negative", "validity", ev,
                    column=name, min_value=0)
            sign_bound = True
        elif negs is not None and negs <= RARE * nn:
            out.add("expect_column_values_to_be_between", f"proposed_{name}_non_negative", "validity", ev,
                    f"{negs} negative(s) among {nn} values of {name} otherwise >= 0: kept out of the bound (mostly)",
                    column=name, min_value=0, mostly=_tolerate(negs, nn, runs))
            sign_bound = True
    if key or name_hints_key(name):
        return  # identifiers grow; a magnitude bound on them fails on tomorrow's new ids
    span = hi - lo
    margin = _margin(runs) * (span if span > 0 else max(abs(hi), 1.0))
    kwargs: dict[str, Any] = {"column": name, "max_value": _round(hi + margin, True)}
    if not sign_bound:
        kwargs["min_value"] = _round(lo - margin, False)
    if runs <= 1:
        kwargs["mostly"] = 0.99
    out.add("expect_column_values_to_be_between", f"proposed_{name}_range", "validity", ev, **kwargs)


def _format(out: _Out, col: ColumnEvidence, runs: int) -> bool:
    """A regex from the value shapes, else a fixed length; True when one was suggested."""
    name = col.name
    nn = sum(non_null(m) for m in col.runs)
    if nn < MIN_VALUES:
        return False
    fmt = col.format or find_format(col.shapes) or find_format(col.coarse_shapes)
    if fmt is not None:
        ev: dict[str, Any] = {"values": fmt.total, "matching": fmt.covered, "distinct_shapes": len(col.shapes or {})}
        kwargs: dict[str, Any] = {"column": name, "regex": fmt.regex}
        finding = None
        if fmt.covered < fmt.total:
            odd = ", ".join(f"{n} x {s!r}" for s, n in sorted(fmt.outliers.items(), key=lambda kv: -kv[1])[:5])
            ev["other_shapes"] = dict(sorted(fmt.outliers.items(), key=lambda kv: -kv[1])[:5])
            finding = f"{fmt.total - fmt.covered} of {fmt.total} values of {name} do not match {fmt.regex} ({odd})"
            kwargs["mostly"] = _tolerate(fmt.total - fmt.covered, fmt.total, runs)
        out.add("expect_column_values_to_match_regex", f"proposed_{name}_format", "validity", ev, finding, **kwargs)
        return True
    length = _fixed_length(col.runs)
    if length is not None:
        out.add("expect_column_value_lengths_to_equal", f"proposed_{name}_length", "validity",
                {"values": nn, "min_length": length, "max_length": length}, column=name, value=length)
        return True
    return False


def _blanks(out: _Out, col: ColumnEvidence, runs: int) -> None:
    """No empty or whitespace-padded values, when the profile counted them (newer profiles do)."""
    name = col.name
    counted = [(_count(m, "empty_count", "empty"), _count(m, "whitespace_count", "whitespace")) for m in col.runs
               if non_null(m)]
    if not counted or any(e is None or w is None for e, w in counted):
        return
    nn = sum(non_null(m) for m in col.runs)
    bad = sum((e or 0) + (w or 0) for e, w in counted)
    if nn < MIN_VALUES or bad > RARE * nn:
        return
    ev = {"values": nn, "empty": sum(e or 0 for e, _ in counted), "whitespace": sum(w or 0 for _, w in counted)}
    finding = f"{bad} empty or padded values among {nn} of {name}" if bad else None
    kwargs: dict[str, Any] = {"column": name, "regex": r"^\s|\s$|^$"}
    if bad:
        kwargs["mostly"] = _tolerate(bad, nn, runs)
    out.add("expect_column_values_to_not_match_regex", f"proposed_{name}_not_blank", "validity", ev, finding, **kwargs)


def _tops(raw: Any) -> dict[str, int] | None:
    if not isinstance(raw, list):
        return None
    out: dict[str, int] = {}
    for item in raw:
        if isinstance(item, dict) and "value" in item:
            out[str(item["value"])] = int(item.get("count") or 0)
    return out


def _pii_hits(m: Mapping[str, Any]) -> int:
    """Values the profile's value-level PII scan found in the column (``pii_values``)."""
    found = m.get("pii_values")
    if not isinstance(found, dict):
        return 0
    return sum(int(f.get("count") or 0) for f in found.values() if isinstance(f, dict))


def _value_set(out: _Out, col: ColumnEvidence) -> None:
    """A closed set of values when exact top values covered every value and each was seen often enough."""
    name = col.name
    values: set[str] = set()
    nn = 0
    for m in col.runs:
        tops = _tops(m.get("top_values"))
        distinct = _count(m, "distinct")
        if m.get("pii") or m.get("masked") or m.get("top_values_is_approx") or tops is None or distinct is None:
            return
        if m.get("scrubbed") or _pii_hits(m):
            return  # values were masked on their way into the profile: no closed set to write down
        if distinct > MAX_SET or sum(tops.values()) < non_null(m):
            return
        values |= set(tops)
        nn += non_null(m)
    if values and len(values) <= MAX_SET and nn >= SET_SUPPORT * len(values):
        out.add("expect_column_values_to_be_in_set", f"proposed_{name}_in_set", "validity",
                {"values": nn, "distinct": len(values), "runs": len(col.runs)},
                column=name, value_set=sorted(values))


def _foreign_key(out: _Out, fk: ForeignKey) -> None:
    """The orphans of a partition as an ``unexpected_rows_expectation`` query."""
    from assay.quality.gxrun import sql_identifier as q

    schema, table = fk.parent_table
    col, pcol = q(fk.column), q(fk.parent_column)
    query = (f"SELECT b.{col} FROM (SELECT * FROM {{batch}}) AS b WHERE b.{col} IS NOT NULL AND NOT EXISTS "  # noqa: S608
             f"(SELECT 1 FROM {q(schema)}.{q(table)} AS p WHERE p.{pcol} = b.{col})")
    ev = {"parent": fk.parent, "parent_column": fk.parent_column, "checked": fk.checked, "orphans": fk.orphans,
          **({"parent_key": dict(fk.parent_key)} if fk.parent_key else {})}
    finding = (f"{fk.orphans} of {fk.checked} values of {fk.column} have no {fk.parent_column} in {fk.parent}"
               if fk.orphans else None)
    out.add("unexpected_rows_expectation", f"proposed_{fk.column}_references_{table}", "consistency", ev, finding,
            notes=f"{fk.column} references {fk.parent}.{fk.parent_column}; orphans are the unexpected rows.",
            unexpected_rows_query=query)
