"""Everything the CLI shows people: plain text built from the typed results of the package.

No colour and no terminal tricks: the output ends up in logs and CI output. Pure functions (no
I/O), so each one is testable on hand-made values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assay import names
from assay.catalog.urls import masked
from assay.ops.demo import StageSkipped, StageStarted

if TYPE_CHECKING:
    import datetime as dt
    from pathlib import Path

    from assay.config import Settings
    from assay.gate.decide import Decision
    from assay.gate.latest import LatestDecision, LatestRun
    from assay.ops.demo import DemoReport, Note, Progress
    from assay.ops.status import DemoStatus
    from assay.quality.overview import QualityOverview
    from assay.quality.proposal_review import Proposal
    from assay.quality.report import PartitionResult, QualityReport
    from assay.quality.suites import LoadedSuites, SuiteSpec

#: Column headers of the scorecard table, in :class:`assay.catalog.models.Dimension` order.
DIMENSION_HEADERS: dict[str, str] = {
    "completeness": "compl",
    "uniqueness": "uniq",
    "validity": "valid",
    "consistency": "consist",
    "timeliness": "timely",
    "volume": "volume",
}


# ---- tables (promote, registry history) ---------------------------------------------------------
def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain fixed-width table (no colour: it ends up in logs and CI output)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def render_decision(d: Decision) -> str:
    """The decision table: one line per check, then the decision and its reason."""
    head = f"{d.model_name} v{d.version}"
    if d.dry_run:
        head += " (dry run: nothing recorded, no alias moved)"
    elif d.decision_id is not None:
        head += f": decision #{d.decision_id}"
    table = render_table(
        ["check", "observed", "threshold", "verdict"],
        [[c.name, _cell(c.observed), c.threshold, c.verdict.upper() if c.verdict != "pass" else c.verdict]
         for c in d.checks],
    )
    tail = [f"decision: {d.decision}", f"reason:   {d.reason}"]
    if not d.dry_run:
        tail.append(f"{names.CHAMPION}: " + (f"v{d.champion_version}" if d.champion_version else "none"))
    return "\n".join([head, table, *tail])


def render_history(moves: list[dict[str, Any]]) -> str:
    """The alias moves of a model, one line each (``assay registry history``)."""
    if not moves:
        return "no alias moves recorded"
    return render_table(
        ["moved_at", "alias", "from", "to", "decision", "actor", "reason"],
        [
            [
                m["moved_at"][:19].replace("T", " "),
                m["alias"],
                f"v{m['from_version']}" if m["from_version"] else "-",
                f"v{m['to_version']}",
                f"#{m['decision_id']} {m['decision']}",
                m["actor"],
                m["reason"] if len(m["reason"]) <= 80 else m["reason"][:77] + "...",
            ]
            for m in moves
        ],
    )


# ---- quality overview ---------------------------------------------------------------------------
def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def render_quality(ov: QualityOverview, max_failures: int = 40) -> list[str]:
    """Lines for a terminal: the day's partitions, the window's counts, the scorecard table, and
    the critical failures of the failed days (at most ``max_failures`` lines, then a count)."""
    lines = []
    day = ov.of_day(ov.end)
    validated = ov.validated()
    if not day:
        lines.append(f"Quality of {ov.end}: no quality runs recorded for this date")
    else:
        lines.append(f"Quality of {ov.end}: {len(validated)} of {len(day)} partitions validated")
        lines.extend(f"  validated  {key}" for key in validated)
        lines.extend(f"  {p.status.upper():10} {p.key}" for p in ov.not_validated())
    counts = ov.counts()
    lines.append(
        f"History {ov.start} .. {ov.end} ({ov.days} days): {counts['validated']} partitions validated, "
        f"{counts['failed']} failed" + (f", {counts['running']} unfinished" if counts["running"] else "")
        + (f"; failed days: {', '.join(d.isoformat() for d in ov.failed_days())}" if ov.failed_days() else "")
    )
    if ov.scorecards:
        width = max(len("asset"), *(len(r.target) for r in ov.scorecards))
        heads = list(DIMENSION_HEADERS.values())
        lines.append(f"Scorecard {ov.end} (0-100; '-' = no expectation of that dimension):")
        lines.append(f"  {'asset':<{width}} {'overall':>7} " + " ".join(f"{h:>7}" for h in heads))
        for r in ov.scorecards:
            lines.append(
                f"  {r.target:<{width}} {_score(r.overall):>7} "
                + " ".join(f"{_score(r.dimensions.get(d)):>7}" for d in DIMENSION_HEADERS)
            )
    else:
        lines.append(f"Scorecard {ov.end}: none recorded")
    if ov.failures:
        lines.append("Critical failures on the failed days (day, asset, expectation, column):")
        for f in ov.failures[:max_failures]:
            extra = f" -- {f.detail}" if f.detail else ""
            lines.append(f"  {f.day}  {f.target:<{24}} {f.expectation:<28} {f.column or '-'}{extra}")
        if len(ov.failures) > max_failures:
            lines.append(f"  ... and {len(ov.failures) - max_failures} more (table expectation_results)")
    return lines


def quality_summary(ov: QualityOverview | None, logical_date: dt.date) -> list[str]:
    """The demo's quality lines; ``ov`` None: the catalog has no quality tables."""
    if ov is None:
        return [f"Quality of {logical_date}: the catalog has no quality tables (not migrated?)"]
    return render_quality(ov)


# ---- demo ---------------------------------------------------------------------------------------
def note_line(note: Note) -> str:
    """One note of the demo: a history backfill's outcome, or why a stage had nothing to run."""
    if isinstance(note, StageSkipped):
        return f"{note.dag_id} skipped: {note.reason}"
    return f"{note.stage} history: {note.days} days before {note.last}" + (
        f"; {note.failures} on {', '.join(note.failed_days)}" if note.failed_days else "; all clean"
    )


def progress_line(event: Progress) -> str:
    """The ``==>`` line of one event of a demo run."""
    if isinstance(event, StageStarted):
        return f"==> {event.dag_id} ({event.logical_date})"
    return f"==> {note_line(event)}"


def model_summary(run: LatestRun | None, decision: LatestDecision | None) -> list[str]:
    """The newest training run against its baselines, and the newest gate decision, check by check."""
    lines: list[str] = []
    if run is not None:
        m = run.metrics
        judged = any(k.startswith(f"{names.CLICK_LABELS}.") for k in m)
        header = "judged grades | click labels" if judged else "click labels"
        lines.append(f"Training run {run.mlflow_run_id} (held-out queries, nDCG@10 / MRR / AUC on {header}):")

        def values(keys: list[str]) -> str:
            return " / ".join(f"{m[k]:.3f}" if isinstance(m.get(k), int | float) else "-" for k in keys)

        for baseline in (None, *names.BASELINES):
            keys = [names.metric_key(k) if baseline is None else names.baseline_key(baseline, k) for k in names.METRICS]
            vals = values(keys)
            if judged:
                vals += " | " + values([f"{names.CLICK_LABELS}.{k}" for k in keys])
            lines.append(f"  {baseline or 'candidate':16} {vals}")
    if decision is not None:
        lines.append(
            f"Gate decision #{decision.id} on {decision.model_name} v{decision.version}: "
            f"{decision.decision.upper()} — {decision.reason}"
        )
        for check in decision.checks:
            observed = check.get("observed")
            shown = f"{observed:.4g}" if isinstance(observed, float) else str(observed)
            lines.append(
                f"  {check.get('verdict', '?'):5} {check.get('name', '?'):34} "
                f"observed {shown:>10}  needs {check.get('threshold', '')}"
            )
    return lines


def demo_summary(settings: Settings, report: DemoReport, status: DemoStatus) -> str:
    """What ran, what the catalog now holds, and where to look next."""
    lines = ["", f"assay demo — logical date {report.logical_date}", ""]
    for dag_id, seconds in report.ran:
        lines.append(f"  ran      {dag_id:22} {seconds:6.1f} s")
    for dag_id in report.skipped:
        lines.append(f"  not yet  {dag_id:22} (no DAG file)")
    lines.extend(f"  {note_line(note)}" for note in report.notes)
    lines.append("")
    lines.extend(f"  {name:24} {count}" for name, count in status.counts)
    lines.append("")
    lines.extend(quality_summary(status.quality, status.logical_date))
    model_lines = model_summary(status.run, status.decision)
    if model_lines:
        lines += ["", *model_lines]
    lines += [
        "",
        "Where to look next:",
        f"  Airflow UI      make airflow   -> http://127.0.0.1:{settings.airflow_port} (user admin; password in"
        f" {settings.airflow_home / 'simple_auth_manager_passwords.json.generated'})",
        f"  MLflow UI       make mlflow    -> http://127.0.0.1:{settings.mlflow_port}",
        f"  Data Docs       {settings.data_docs_dir / 'index.html'}"
        " (also under Airflow's Browse menu)",
        f"  catalog         {masked(settings.catalog_url())}",
        "  stop everything make stop",
    ]
    return "\n".join(lines)


# ---- quality runs and suites (assay quality, suggest, suites) -----------------------------------
def quality_progress_line(p: PartitionResult) -> str:
    """The line printed as soon as one partition is validated."""
    from assay.cli.scope import rows_read

    rows = rows_read(p)
    extra = f", {rows} rows" if rows is not None else ""
    bad = len(p.critical_failures) + len(p.warning_failures)
    return f"  {p.status:<6} {p.key} [{p.suite}]" + (f" {bad} failed" if bad else "") + extra


def quality_report_lines(report: QualityReport) -> list[str]:
    """The summary of ``assay quality``: counts, then what failed and why."""
    lines = [
        f"quality of {report.logical_date} ({report.run_key}): {len(report.validated_partitions)} of "
        f"{len(report.partitions)} partitions validated in {report.elapsed_s:.1f} s"
        + ("" if report.ok else " -- FAILED")
    ]
    text = report.failure_text()
    if text:
        lines.extend(f"  {line}" for line in text.splitlines())
    warned = [p for p in report.partitions if p.warning_failures]
    lines.extend(f"  warning on {p.key}: {', '.join(o.expectation_id for o in p.warning_failures)}" for p in warned)
    if report.data_docs_index:
        lines.append(f"Data Docs: {report.data_docs_index}")
    return lines


def _kwargs(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def suite_lines(spec: SuiteSpec) -> list[str]:
    """``assay suites show`` of a live suite: its target, then one line per expectation."""
    t = spec.target
    what = f"table {t.table}" if t.table else f"files {t.files}"
    lines = [f"suite {spec.gx_name} ({spec.path}): {what} of source {spec.source}, {len(spec.expectations)} expectations"]
    rows = [[e.expectation_id, e.dimension, e.severity, e.type, _kwargs(e.kwargs)] for e in spec.expectations]
    lines.append(render_table(["name", "dimension", "severity", "type", "arguments"], rows))
    return lines


def _meta(e: dict[str, Any]) -> dict[str, Any]:
    meta = e.get("meta")
    return meta if isinstance(meta, dict) else {}


def proposal_lines(p: Proposal, live: dict[str, Any] | None) -> list[str]:
    """``assay suites show`` of a proposal: each pending suggestion, what it adds or changes, its evidence."""
    live_by = {_meta(e).get("name"): e for e in (live or {}).get("expectations", [])}
    added, changed = p.meta.get("added", []), p.meta.get("changed", [])
    basis = ", ".join(f"{k} {p.meta[k]}" for k in ("runs", "from", "to") if k in p.meta)
    lines = [f"proposal {p.qualified} ({p.path}): {len(added)} new, {len(changed)} changed"
             + (f"; from profiles: {basis}" if basis else "")
             + ("" if live is not None else "; no live suite yet (accepting starts one)")]
    for name in [*added, *changed]:
        e = p.expectation(name)
        meta = _meta(e)
        mark = "+" if name in added else "~"
        lines.append(f"  {mark} {name}  {meta.get('dimension')}/{meta.get('severity')}  {e.get('type')}({_kwargs(e.get('kwargs') or {})})")
        if name in changed and name in live_by:
            lines.append(f"      live: {live_by[name].get('type')}({_kwargs(live_by[name].get('kwargs') or {})})")
        evidence = meta.get("evidence")
        if isinstance(evidence, dict) and evidence:
            lines.append(f"      evidence: {_kwargs(evidence)}")
    decided = p.meta.get("decided", [])
    lines.extend(f"  decided: {d.get('decision')} {d.get('name')} by {d.get('by')}" for d in decided)
    return lines


def suites_lines(folder: Path, loaded: LoadedSuites, proposals: list[Proposal], source: str | None) -> list[str]:
    """``assay suites list``: per source, its live suites and open proposals; then broken files."""
    sources = sorted({s.source for s in loaded.suites} | {p.source for p in proposals})
    if source is not None:
        sources = [s for s in sources if s == source]
    lines = [f"suites in {folder}"]
    if not sources:
        lines.append("  (none)" if source is None else f"  (none of source {source})")
    for src in sources:
        lines.append(f"source {src}:")
        for s in (s for s in loaded.suites if s.source == src):
            t = s.target
            lines.append(f"  suite     {s.gx_name:<32} {len(s.expectations):>3} expectations  "
                         + (t.table or t.files or ""))
        for p in (p for p in proposals if p.source == src):
            lines.append(f"  proposal  {p.qualified:<32} {len(p.pending):>3} pending       {p.path}")
    lines.extend(f"  BROKEN    {e}" for e in loaded.errors if source is None or e.source in (source, None))
    return lines
