"""PII masking of GX validation results, before anything is stored, rendered or logged.

GX puts failing cell values and row ids into a result even at ``SUMMARY``
(``partial_unexpected_list``, ``partial_unexpected_counts``), and more at ``COMPLETE``
(``unexpected_list``, ``unexpected_index_list``, ``unexpected_index_query``, the rows of an
``UnexpectedRowsExpectation``). :func:`mask_result` rewrites one expectation's ``result`` dict:
every value that belongs to a PII column is replaced by :func:`assay.classify.mask_value` of it;
a query that would fetch the raw values is withheld. Columns come from the catalog's
classifications and from the suite's ``meta.pii_columns`` (masking errs towards more).

:func:`scrub_text` is the net under free text (error messages, summaries): the value-level screen of
:mod:`assay.classify.scrub` masks every e-mail, phone, card number, IBAN and IP address in it.

:func:`html_text` is the other half of "safe to render": a value as HTML text, escaped once, with
bidirectional controls shown as ``[U+202E]`` (:func:`show_controls`). Results are stored as they are
(masked, never escaped); escaping happens only where HTML is written (:mod:`assay.quality.docs_view`).
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

#: Result keys holding values of the expectation's column(s).
VALUE_LIST_KEYS: tuple[str, ...] = ("partial_unexpected_list", "unexpected_list")
#: Result keys holding row-id dicts (``{id_column: value, column: value}``) or index values.
INDEX_LIST_KEYS: tuple[str, ...] = ("partial_unexpected_index_list", "unexpected_index_list")
#: Result keys holding text that reproduces the raw values (a SQL query or a pandas filter).
QUERY_KEYS: tuple[str, ...] = ("unexpected_index_query",)
WITHHELD = "[withheld: PII column]"

#: Bidirectional controls (embeddings, overrides, isolates, marks): they reorder what a reader sees
#: (``invoice\u202egnp.exe`` reads as ``invoiceexe.png``), so a page shows them by code point.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _sha_mask(label: str, value: str) -> str:
    """Fallback when :mod:`assay.classify` is not importable: a short hash, never the value."""
    return f"{label}:{hashlib.sha256(value.encode()).hexdigest()[:10]}"


def mask_text(label: str, value: Any) -> Any:
    """One value masked for its PII ``label``; ``None`` stays ``None``."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    try:
        from assay.classify import mask_value
    except ImportError:  # the classify package ships separately; a hash is still safe
        return _sha_mask(label, text)
    masked = mask_value(label, text)
    # mask_value keeps one leading character of short values; a value that comes back unchanged
    # (a one-character value, or an empty label rule) is hashed instead of shown.
    return masked if masked != text or not text else _sha_mask(label, text)


def _mask_any(label: str, value: Any) -> Any:
    """Mask every scalar inside lists, tuples and dicts (pair and multi-column expectations)."""
    if isinstance(value, dict):
        return {k: _mask_any(label, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_any(label, v) for v in value]
    return mask_text(label, value)


def _mask_row(row: Any, pii: Mapping[str, str], fallback_label: str | None) -> Any:
    """A row dict with its PII keys masked; a non-dict row is masked whole if the column is PII."""
    if isinstance(row, dict):
        return {k: (mask_text(pii[k], v) if k in pii else v) for k, v in row.items()}
    if fallback_label is not None:
        return _mask_any(fallback_label, row)
    return row


def _merged_counts(counts: Iterable[Any], label: str) -> list[dict[str, Any]]:
    """``[{value, count}]`` with values masked; values that mask alike are merged."""
    merged: dict[str, dict[str, Any]] = {}
    for item in counts:
        if not isinstance(item, dict):
            continue
        value = _mask_any(label, item.get("value"))
        key = repr(value)
        if key in merged:
            merged[key]["count"] += int(item.get("count") or 0)
        else:
            merged[key] = {"value": value, "count": int(item.get("count") or 0)}
    return sorted(merged.values(), key=lambda d: -d["count"])


def mask_result(result: Mapping[str, Any], columns: Iterable[str], pii: Mapping[str, str]) -> dict[str, Any]:
    """One expectation's ``result`` dict with PII values masked.

    Args:
        result: the ``result`` of a GX ``ExpectationValidationResult`` (as a dict).
        columns: the columns the expectation names (``column``, ``column_A``, ``column_list``...).
        pii: PII column -> label, for the asset.

    Returns:
        A new dict. Values of the expectation's column(s) are masked when any of them is PII; row
        dicts (index lists, unexpected rows) have their PII keys masked whatever the expectation;
        queries that reproduce PII values are withheld.
    """
    out = dict(result)
    pii_cols = [c for c in columns if c in pii]
    label = pii[pii_cols[0]] if pii_cols else None
    if label is not None:
        for key in VALUE_LIST_KEYS:
            if isinstance(out.get(key), list):
                out[key] = [_mask_any(label, v) for v in out[key]]
        if isinstance(out.get("partial_unexpected_counts"), list):
            out["partial_unexpected_counts"] = _merged_counts(out["partial_unexpected_counts"], label)
        for key in QUERY_KEYS:
            if out.get(key):
                out[key] = WITHHELD
        if "observed_value" in out and isinstance(out["observed_value"], str | list | dict):
            out["observed_value"] = _mask_any(label, out["observed_value"])
        details = out.get("details")
        if isinstance(details, dict) and "value_counts" in details:
            out["details"] = {**details, "value_counts": _masked_value_counts(details["value_counts"], label)}
    for key in INDEX_LIST_KEYS:
        if isinstance(out.get(key), list):
            out[key] = [_mask_row(row, pii, label) for row in out[key]]
    details = out.get("details")
    if isinstance(details, dict) and isinstance(details.get("unexpected_rows"), list):
        out["details"] = {**details, "unexpected_rows": [_mask_row(r, pii, None) for r in details["unexpected_rows"]]}
        if any(not isinstance(r, dict) for r in details["unexpected_rows"]) and pii:
            # Rows without column names cannot be masked column by column: keep the count only.
            out["details"]["unexpected_rows"] = WITHHELD
    return out


def _masked_value_counts(value_counts: Any, label: str) -> Any:
    if isinstance(value_counts, list):
        return _merged_counts(value_counts, label)
    return _mask_any(label, value_counts)


def scrub_text(text: str | None) -> str | None:
    """Free text with every PII hit masked: :func:`assay.classify.scrub.scrub_text` (e-mails, phones,
    cards, IBANs, IPs), the one value-level screen (error messages may quote values)."""
    from assay.classify.scrub import scrub_text as screen

    return screen(text)


def show_controls(text: str) -> str:
    """Bidirectional control characters replaced by a visible ``[U+XXXX]``."""
    return _BIDI.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def html_text(value: Any) -> str:
    """A value as HTML text: ``& < > " '`` escaped (once), bidi controls made visible."""
    return show_controls(html.escape(value if isinstance(value, str) else str(value), quote=True))
