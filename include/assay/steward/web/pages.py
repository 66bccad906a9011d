"""The steward pages (read side): assets, one asset, quality, review queue, waivers, suites, models, audit.

Each function returns the page's body HTML built from :mod:`assay.steward.queries`; every value is
escaped by :mod:`assay.steward.web.html` and free text is PII-screened first. Action forms post to
:mod:`assay.steward.web.actions` with the request's CSRF token.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

from assay.config import Settings
from assay.steward import queries as q
from assay.steward.web import svg
from assay.steward.web.html import e, form, link, pager, query, select, status_class, t, table

PAGE_SIZE = 50
CALENDAR_ROWS = 40
REVIEW_KINDS = ("quality_failure", "anomaly", "schema_change", "classification", "suggested_suite", "pii_finding")
REASONS = ("expected", "false_positive", "missing_data", "duplicates", "out_of_bounds", "fixed", "other")


def docs_href(settings: Settings, url: str | None) -> str | None:
    """A result's Data Docs page as a link under this app (``data-docs/...``), or None."""
    if not url:
        return None
    path = Path(unquote(urlparse(url).path))
    try:
        rel = path.relative_to(settings.data_docs_dir)
    except ValueError:
        return None
    return "data-docs/" + quote(rel.as_posix())


def assets_page(settings: Settings, f: q.AssetFilter, offset: int, base: str) -> str:
    """Searchable, filterable, paged list of assets."""
    got = q.assets(settings, f, limit=PAGE_SIZE, offset=offset)
    choices = q.filter_choices(settings)
    params = {k: getattr(f, k) for k in ("q", "source", "tag", "owner", "pii", "status", "quality", "open_items")}
    filters = (
        f'<form method="get" action="{base}assets">Search <input name="q" value="{e(f.q)}"> '
        + " ".join(f"{k} {select(k, choices[k], getattr(f, k))}" for k in ("source", "tag", "owner", "status"))
        + f" PII {select('pii', ('yes', 'no'), f.pii)} last quality "
        f"{select('quality', ('ok', 'failed', 'error', 'none'), f.quality)} open items "
        f"{select('open_items', ('yes', 'no'), f.open_items)} <button>Filter</button></form>"
    )
    rows = [
        [e(r["source"]), link(f"{base}assets/{r['id']}", f"{r['namespace']}.{r['name']}"), e(r["kind"]),
         e(r["owner"]), e(", ".join(map(str, r["tags"] or []))), "PII" if r["pii"] else "",
         e(r["status"]), f'<span class="{status_class(r["quality"])}">{e(r["quality"] or "—")}</span> '
         f'{e(r["quality_day"] or "")}', e(r["open_items"]), e(r["freshness_at"] or "")]
        for r in got.rows
    ]
    heads = ("source", "asset", "kind", "owner", "tags", "PII", "status", "last quality", "open items", "fresh as of")
    return filters + pager(f"{base}assets", params, offset=offset, limit=PAGE_SIZE, total=got.total) + table(
        heads, rows, empty="No asset matches.")


def _profile_charts(settings: Settings, asset_id: int) -> str:
    hist = q.profile_history(settings, asset_id)
    runs = {r["id"]: r for r in hist["runs"]}
    marks: dict[tuple[str, str], dict[dt.date, dict[str, Any]]] = defaultdict(dict)
    for a in hist["anomalies"]:
        marks[(a["column_name"], a["metric"])][a["logical_date"]] = a
    out = [svg.series_chart("row count", _points(
        [(r["logical_date"], r["row_count"]) for r in hist["runs"]], marks.get(("", "row_count"), {})))]
    per_col: dict[str, dict[str, list[tuple[dt.date, Any]]]] = defaultdict(lambda: defaultdict(list))
    for m in hist["metrics"]:
        day = runs[m["profile_run_id"]]["logical_date"]
        for metric in ("null_ratio", "distinct", "mean"):
            per_col[m["column_name"]][metric].append((day, m[metric]))
        for p in ("p05", "p50", "p95"):
            qs = m["quantiles"] if isinstance(m["quantiles"], dict) else {}
            per_col[m["column_name"]][p].append((day, qs.get(p)))
    for col in sorted(per_col):
        charts = [svg.series_chart(f"{col}: {metric}", _points(sorted(series), marks.get((col, metric), {})))
                  for metric, series in per_col[col].items() if any(isinstance(v, int | float) for _, v in series)]
        if charts:
            out.append(f"<h3>{e(col)}</h3>" + "".join(charts))
    return "".join(out)


def _points(series: list[tuple[dt.date, Any]], marks: dict[dt.date, dict[str, Any]]) -> list[svg.Point]:
    pts = []
    for day, v in sorted(series, key=lambda p: p[0]):
        m = marks.get(day)
        num = float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
        pts.append(svg.Point(day, num, m["lower"] if m else None, m["upper"] if m else None, m is not None))
    return pts


def asset_page(settings: Settings, asset_id: int, base: str, csrf: str) -> str | None:
    """Schema, versions and events, classifications with (masked) evidence, freshness, profile charts."""
    a = q.asset(settings, asset_id)
    if a is None:
        return None
    head = table(("source", "namespace", "name", "kind", "location", "owner", "rows", "status", "fresh as of",
                  "last seen"),
                 [[e(a["source"]), e(a["namespace"]), e(a["name"]), e(a["kind"]), e(a["location"]), e(a["owner"]),
                   e(a["row_count"]), e(a["status"]), e(a["freshness_at"] or "unknown"), e(a["last_seen_at"])]])
    cols = table(("#", "column", "type", "nullable", "present"),
                 [[e(c["ordinal"]), e(c["name"]), e(c["data_type"]), e(c["nullable"]), e(c["is_present"])]
                  for c in a["columns"]])
    override = form(f"{base}assets/{asset_id}/classify", csrf,
                    f'column {select("column", [c["name"] for c in a["columns"]], None, blank="—")} '
                    f'kind {select("kind", ("pii", "semantic"), "pii", blank="—")} '
                    'label <input name="label" placeholder="none = no label" size="12"> ', "Override")
    classes = table(("column", "kind", "label", "score", "method", "by", "evidence (masked)", "decided"),
                    [[e(k["column_name"]), e(k["kind"]), e(k["label"]), e(f"{k['score']:.2f}"), e(k["method"]),
                      e(k["source"]) + (f" ({e(k['decided_by'])})" if k["decided_by"] else ""),
                      f"<pre>{t(k['evidence'])}</pre>", e(k["decided_at"])] for k in a["classifications"]]
                    + [[e(p["column_name"]), e("semantic"), e("classifying"), "", "", e("auto"), "",
                        e(p["marked_at"])] for p in a["classifying"]])
    versions = table(("version", "columns", "first seen", "last seen", "run"),
                     [[e(v["version"]), e(v["n_columns"]), e(v["observed_at"]), e(v["last_observed_at"]),
                       e(v["run_key"])] for v in a["versions"]])
    events = table(("when", "version", "event", "column", "old", "new"),
                   [[e(v["observed_at"]), e(v["version"]), e(v["event_type"]), e(v["column_name"]), t(v["old"]),
                     t(v["new"])] for v in a["events"]], empty="No schema events.")
    items = table(("item", "kind", "summary", "opened"),
                  [[link(f"{base}review{query({'asset': asset_id})}", f"#{i['id']}"), e(i["kind"]), t(i["summary"]),
                    e(i["created_at"])] for i in a["open_items"]], empty="No open items.")
    return (f"{head}<p>{link(f'{base}quality' + query({'asset': asset_id}), 'Quality results of this asset')}</p>"
            f"<h2>Schema</h2>{cols}<h2>Classifications</h2>{classes}<p>{override}</p>"
            f"<h2>Schema versions</h2>{versions}<h2>Schema events</h2>{events}<h2>Open review items</h2>{items}"
            f"<h2>Profile history</h2><p class=\"muted\">Shaded: anomaly bounds; red: anomalies.</p>"
            f"{_profile_charts(settings, asset_id)}")


def _result_rows(settings: Settings, rows: list[dict[str, Any]], base: str) -> list[list[str]]:
    out = []
    for r in rows:
        verdict = "pass" if r["success"] else ("waived" if r["waived"] else
                                               "fail" if r["severity"] == "critical" else "warn")
        docs = docs_href(settings, r.get("data_docs_url"))
        details = r["details"] if isinstance(r["details"], dict) else {}
        examples = details.get("partial_unexpected_list") or details.get("partial_unexpected_counts") or ""
        out.append([f'<span class="{status_class(verdict)}">{e(verdict)}</span>', e(r["expectation_id"]),
                    e(r["expectation_type"]), e(r["column_name"]), e(r["dimension"]), e(r["severity"]),
                    f"<pre>{t(r['observed_value'])}</pre>", e(r["unexpected_count"]),
                    f"<pre>{t(examples)}</pre>" if examples else "",
                    link(f"{base}{docs}", "Data Docs") if docs else '<span class="muted">no page</span>'])
    return out


RESULT_HEADS = ("verdict", "expectation", "type", "column", "dimension", "severity", "observed", "unexpected",
                "examples (masked)", "docs")


def quality_page(settings: Settings, base: str, asset_id: int | None, day: dt.date | None, offset: int = 0) -> str:
    """Heat-map calendar (asset × day, a page of assets), scorecard by dimension, one asset-day's results."""
    cal = q.quality_calendar(settings, asset_id=asset_id, limit=CALENDAR_ROWS, offset=offset)
    days = [cal["start"] + dt.timedelta(days=i) for i in range((cal["end"] - cal["start"]).days + 1)]
    cells: dict[tuple[str, dt.date], str] = {}
    links: dict[str, str] = {}
    for c in cal["cells"]:
        cells[(c["label"], c["day"])] = "fail" if c["failed"] else "warn" if c["warned"] else "pass"
        links[c["label"]] = f"{base}quality{query({'asset': c['asset_id']})}"
    labels = cal["labels"]
    score = q.scorecard(settings, cal["asset_ids"])
    series: dict[str, list[tuple[dt.date, float | None]]] = defaultdict(list)
    for s in score:
        series[s["dimension"]].append((s["day"], s["score"]))
    paging = "" if asset_id is not None else pager(f"{base}quality", {}, offset=offset, limit=CALENDAR_ROWS,
                                                    total=cal["total"])
    out = [f"<h2>Results per asset and day</h2>{paging}{svg.calendar(labels, days, cells, links)}",
           f"<h2>Scorecard by dimension</h2>{svg.lines(f'mean score by dimension, the {len(labels)} assets above', series)}"]
    if asset_id is not None:
        asset_days = sorted({c["day"] for c in cal["cells"] if c["asset_id"] == asset_id}, reverse=True)
        out.append("<p>Days: " + " ".join(link(f"{base}quality{query({'asset': asset_id, 'day': d})}", d)
                                           for d in asset_days) + "</p>")
        if day is None and asset_days:
            day = asset_days[0]
    if asset_id is not None and day is not None:
        rows = q.results(settings, asset_id=asset_id, day=day)
        out.append(f"<h2>Results of asset {e(asset_id)} on {e(day)}</h2>"
                   + table(RESULT_HEADS, _result_rows(settings, rows, base), empty="No results that day."))
        tries = q.attempts_of(settings, asset_id=asset_id, day=day)
        out.append("<h3>Attempts</h3>" + table(
            ("attempt", "suite", "status", "current", "started", "error"),
            [[link(f"{base}quality/runs/{r['id']}", f"#{r['id']}"), e(r["suite_name"]), e(r["status"]),
              "current" if r["is_current"] else "superseded", e(r["started_at"]), t(r["error"])] for r in tries]))
    return "".join(out)


def run_page(settings: Settings, run_id: int, base: str) -> str | None:
    """One attempt, current or superseded, with its results."""
    run = q.run_results(settings, run_id)
    if run is None:
        return None
    rows = [{**r, "data_docs_url": run["data_docs_url"]} for r in run["results"]]
    state = "current" if run["is_current"] else "superseded"
    return (f"<p>Suite {e(run['suite_name'])}, partition {e(run['partition_key'])}, day {e(run['logical_date'])}, "
            f"status {e(run['status'])} ({state}).</p>" + table(RESULT_HEADS, _result_rows(settings, rows, base)))


def review_page(settings: Settings, base: str, csrf: str, *, status: str, kind: str, asset_id: int | None,
                offset: int) -> str:
    """The review queue (the service's listing) with acknowledge / assign / resolve forms."""
    from assay.steward.web.service import steward_service

    got = steward_service().list_items(settings, status=status or "open", kind=kind or None, asset=asset_id,
                                       limit=PAGE_SIZE, offset=offset)
    states = ("open", "new", "acknowledged", "assigned", "closed", "all")
    filters = (f'<form method="get" action="{base}review">status {select("status", states, status)} '
               f'kind {select("kind", REVIEW_KINDS, kind)} <button>Filter</button></form>')
    rows = []
    for i in got.items:
        acts = ""
        if i.status == "open":
            act = f"{base}review/{i.id}"
            acts = (form(f"{act}/acknowledge", csrf, '<input name="comment" placeholder="comment" size="10">',
                         "Acknowledge") + "<br>"
                    + form(f"{act}/assign", csrf, '<input name="assignee" placeholder="user" size="8" required>',
                           "Assign") + "<br>"
                    + form(f"{act}/resolve", csrf,
                           f'{select("reason", REASONS, None, blank="reason…")} '
                           '<input name="comment" placeholder="comment" size="12"> '
                           'waiver until <input name="waive_until" type="date"> ', "Resolve"))
        who = i.assigned_to or (f"ack. by {i.acknowledged_by}" if i.acknowledged_by else "")
        closed = f"{i.resolution_reason or ''} {i.resolution or ''} {('by ' + i.closed_by) if i.closed_by else ''}"
        rows.append([e(f"#{i.id}"), e(i.kind), link(f"{base}assets/{i.asset_id}", i.asset), t(i.summary),
                     e(i.state), e(who), t(closed.strip()), e(i.created_at), acts])
    heads = ("item", "kind", "asset", "summary", "state", "assignee", "resolution", "opened", "actions")
    note = ('<p class="muted">Resolving with reason <b>expected</b> and a waiver date waives the item\'s '
            "expectation for its partition until that date, in the same step.</p>")
    return filters + note + pager(f"{base}review", {"status": status, "kind": kind, "asset": asset_id},
                                  offset=offset, limit=PAGE_SIZE, total=got.total) + table(heads, rows)


def waivers_page(settings: Settings, base: str, csrf: str, include_revoked: bool) -> str:
    """Waivers with the results each covered; create and revoke forms."""
    rows = []
    for w in q.waivers(settings, include_revoked=include_revoked):
        ids = ", ".join(str(i) for i in (w["covered_ids"] or []))
        revoke = "" if w["revoked_at"] else form(f"{base}waivers/{w['id']}/revoke", csrf,
                                                 '<input name="comment" placeholder="comment" size="10">', "Revoke")
        rows.append([e(f"#{w['id']}"), link(f"{base}assets/{w['asset_id']}", w["asset"]), e(w["suite_name"]),
                     e(w["expectation_id"]), e(w["valid_from"]), e(w["valid_until"] or "open-ended"), t(w["reason"]),
                     e(w["created_by"]), e(f"{w['revoked_at']} by {w['revoked_by']}" if w["revoked_at"] else ""),
                     e(f"{w['covered'] or 0}") + (f" <span class=\"muted\">({e(ids)})</span>" if ids else ""), revoke])
    create = form(f"{base}waivers", csrf,
                  'asset <input name="asset" required size="14"> suite <input name="suite" required size="12"> '
                  'expectation <input name="expectation" required size="14"> partitions from '
                  '<input name="partition_from" type="date" required> to <input name="partition_to" type="date" '
                  'required> expires <input name="expires_at" type="date" required> reason '
                  '<input name="reason" required size="16"> ', "Create waiver")
    toggle = link(f"{base}waivers{query({'revoked': '' if include_revoked else '1'})}",
                  "hide revoked" if include_revoked else "show revoked")
    heads = ("waiver", "asset", "suite", "expectation", "from", "until", "reason", "by", "revoked", "covered results",
             "")
    return f"<h2>New waiver</h2><p>{create}</p><p>{toggle}</p>" + table(heads, rows, empty="No waivers.")


def suites_page(settings: Settings, base: str, csrf: str) -> str:
    """Each pending proposal as a diff against the live suite, accept/reject per expectation."""
    from assay.steward.web.suite_diff import proposal_diffs

    out = []
    for p in proposal_diffs(settings):
        rows = []
        for d in p["items"]:
            acts = "".join(form(f"{base}suites/{quote(p['name'], safe='')}/{verb}", csrf,
                                f'<input type="hidden" name="only" value="{e(d["name"])}">', verb.title())
                           for verb in ("accept", "reject"))
            rows.append([e(d["name"]), e(d["change"]), f'<pre class="diff-del">{t(d["live"])}</pre>' if d["live"]
                         else "", f'<pre class="diff-add">{t(d["proposed"])}</pre>', acts])
        out.append(f"<h2>{e(p['name'])}</h2><p class=\"muted\">{e(p['path'])}</p>"
                   + table(("expectation", "change", "live", "proposed", ""), rows))
    return "".join(out) or '<p class="muted">No pending proposals (<code>assay suggest</code> writes them).</p>'


def models_page(settings: Settings, base: str, csrf: str, model: str) -> str:
    """Gate decisions with checks and evidence, alias history, rollback to a version that passed."""
    from assay.steward.web.service import steward_service

    decisions = q.decisions(settings, model_name=model)
    out = []
    for d in decisions:
        checks = table(("check", "observed", "threshold", "verdict"),
                       [[e(c.get("name")), t(c.get("observed")), t(c.get("threshold")), e(c.get("verdict"))]
                        for c in (d["checks"] or []) if isinstance(c, dict)])
        ev = d["evidence"] if isinstance(d["evidence"], dict) else {}
        runs = ev.get("quality_run_ids") or []
        evidence = " ".join(link(f"{base}quality/runs/{int(r)}", f"run #{int(r)}") for r in runs[:20]
                            if isinstance(r, int))
        out.append(f'<h3 class="{status_class(d["decision"])}">{e(d["model_name"])} v{e(d["version"])}: '
                   f'{e(d["decision"])} <span class="muted">{e(d["decided_at"])} by {e(d["actor"])}</span></h3>'
                   f"<p>{t(d['reason'])}</p>{checks}<details><summary>evidence</summary><pre>{t(ev)}</pre>"
                   f"</details><p>{evidence}</p>")
    names = sorted({d["model_name"] for d in decisions})
    aliases = q.alias_events(settings, model_name=model)
    moves = table(("when", "model", "alias", "from", "to", "decision", "by", "reason"),
                  [[e(a["moved_at"]), e(a["model_name"]), e(a["alias"]), e(a["from_version"]), e(a["to_version"]),
                    e(a["decision_id"]), e(a["actor"]), t(a["reason"])] for a in aliases], empty="No alias moves.")
    rollbacks = []
    for name in names:
        ok = steward_service().rollback_options(settings, name)
        if ok:
            rollbacks.append(form(f"{base}models/{quote(name, safe='')}/rollback", csrf,
                                  f"{e(name)} to {select('version', ok, None, blank='version…')} ", "Roll back"))
    pick = (f'<form method="get" action="{base}models">model {select("model", names, model or None)} '
            "<button>Show</button></form>")
    return (pick + "<h2>Rollback</h2><p class=\"muted\">Only versions with a passing gate decision are offered.</p>"
            + ("<br>".join(rollbacks) or '<p class="muted">No version has passed the gate.</p>')
            + f"<h2>Alias history</h2>{moves}<h2>Gate decisions</h2>"
            + ("".join(out) or '<p class="muted">No decisions.</p>'))


def audit_page(settings: Settings) -> str:
    """The last steward actions."""
    rows = [[e(a["at"]), e(a["actor"]), e(a["action"]), e(f"{a['target_kind']} {a['target_id']}"),
             f"<pre>{t(a['before'])}</pre>", f"<pre>{t(a['after'])}</pre>", t(a["comment"])]
            for a in q.audit(settings)]
    return table(("when", "who", "action", "target", "before", "after", "comment"), rows, empty="No actions yet.")
