"""HTML building blocks of the steward pages: every value goes through :func:`e` (escaped once).

The pages are plain server-rendered HTML with one inline ``<style>`` element allowed by the CSP
through its hash (:data:`STYLE_HASH`): no script, no external file, no CDN, so they work offline.
Free text read from the catalog (summaries, evidence, observed values, comments) also goes through
:func:`assay.quality.masking.scrub_text` before escaping -- the catalog only holds masked values,
this screen is the second line should a raw value ever reach a row.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from assay.quality.masking import html_text, scrub_text

STYLE = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222}"
    "nav{background:#17324d;padding:.5em 1em}nav a{color:#fff;margin-right:1.2em;text-decoration:none}"
    "main{padding:1em 1.5em}table{border-collapse:collapse;margin:.5em 0}"
    "th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}"
    "th{background:#f0f3f6}.pass,.ok{background:#cdeccd}.warn{background:#fbe7a6}"
    ".fail,.failed,.error{background:#f6c1c1}.muted{color:#777}form.inline{display:inline}"
    "pre{white-space:pre-wrap;max-width:60em;margin:0}.diff-add{background:#dff5df}"
    ".diff-del{background:#fadcdc}fieldset{margin:.5em 0}svg{background:#fff}"
    ".flash{background:#e8f0fe;padding:.5em;border:1px solid #9bb7e8}"
)
#: CSP source of the one inline style element (a hash: no 'unsafe-inline').
STYLE_HASH = "'sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode() + "'"

NAV = (("assets", "Assets"), ("quality", "Quality"), ("review", "Review queue"), ("waivers", "Waivers"),
       ("suites", "Suites"), ("models", "Models"), ("audit", "Audit"), ("data-docs/index.html", "Data Docs"))


def e(value: Any) -> str:
    """A value as HTML text (``& < > " '`` escaped once, bidi controls visible); None is empty."""
    return "" if value is None else html_text(value)


def t(value: Any) -> str:
    """Free text from the catalog: PII-screened, then escaped (:func:`e`)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return e(scrub_text(text))


def page(title: str, body: str, *, user: str, base: str, flash: str | None = None) -> str:
    """A whole page: the nav bar, the signed-in user, ``body`` (already HTML)."""
    links = "".join(f'<a href="{base}{href}">{label}</a>' for href, label in NAV)
    note = f'<p class="flash">{e(flash)}</p>' if flash else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)} · assay steward</title>'
        f"<style>{STYLE}</style></head><body><nav>{links}</nav>"
        f"<main><p class=\"muted\">Signed in as {e(user)}</p><h1>{e(title)}</h1>{note}{body}</main></body></html>"
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str = "Nothing here.") -> str:
    """A table; ``rows`` hold HTML cells already escaped by the caller."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    if not body:
        return f'<p class="muted">{e(empty)}</p>'
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def link(href: str, text: Any) -> str:
    """An anchor to one of assay's own relative URLs (built from escaped/encoded parts)."""
    return f'<a href="{e(href)}">{e(text)}</a>'


def query(params: Mapping[str, Any]) -> str:
    """``?a=1&b=2`` for the non-empty params (URL-encoded)."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return "?" + urlencode(kept) if kept else ""


def pager(path: str, params: Mapping[str, Any], *, offset: int, limit: int, total: int) -> str:
    """Previous/next links and "rows a–b of n"."""
    parts = [f"{min(offset + 1, total)}–{min(offset + limit, total)} of {total}"]
    if offset > 0:
        parts.append(link(path + query({**params, "offset": max(0, offset - limit)}), "← previous"))
    if offset + limit < total:
        parts.append(link(path + query({**params, "offset": offset + limit}), "next →"))
    return f"<p>{' · '.join(parts)}</p>"


def select(name: str, options: Iterable[str], chosen: str | None, *, blank: str = "any") -> str:
    """A ``<select>`` with a blank first option."""
    opts = [f'<option value="">{e(blank)}</option>']
    for o in options:
        sel = " selected" if o == chosen else ""
        opts.append(f'<option value="{e(o)}"{sel}>{e(o)}</option>')
    return f'<select name="{e(name)}">{"".join(opts)}</select>'


def form(action: str, csrf: str, fields: str, button: str) -> str:
    """A POST form with the CSRF token (see :mod:`assay.steward.web.app`)."""
    return (
        f'<form class="inline" method="post" action="{e(action)}">'
        f'<input type="hidden" name="csrf" value="{e(csrf)}">{fields}<button>{e(button)}</button></form>'
    )


def status_class(status: str | None) -> str:
    """CSS class of a status word (ok/pass, warn, fail)."""
    return {"ok": "pass", "success": "pass", "pass": "pass", "warn": "warn", "failed": "fail",
            "fail": "fail", "error": "fail"}.get(status or "", "")
