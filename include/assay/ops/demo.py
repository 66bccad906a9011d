"""``make demo``: the main job end to end, each stage a real ``airflow dags test`` run.

The stages run in pipeline order; a stage whose DAG file does not exist yet is skipped and said so.
Everything is keyed by the logical date, so running the demo twice leaves the same catalog.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from assay.config import Settings
from assay.errors import AssayError

log = logging.getLogger(__name__)

#: Pipeline order. DAG ids are also the DAG file names in dags/.
PIPELINE: tuple[str, ...] = ("catalog_maintenance", "seed_shop", "inventory", "profile", "quality", "train", "promote")

#: The demo's default logical date: fixed, so reruns hit the same partition keys.
DEFAULT_DATE = "2026-11-20"

#: Days of shop history the demo seeds (the defect schedule needs 16 or more).
DEMO_DAYS = 21

#: Stages whose earlier days the demo backfills in-process before the DAG run of the last day:
#: `airflow dags backfill` only queues runs for a running scheduler, and 20 `dags test` runs per
#: stage would take minutes. The functions are the ones the DAG tasks call.
HISTORY_STAGES: tuple[str, ...] = ("profile", "quality")


@dataclass
class DemoReport:
    logical_date: str
    ran: list[tuple[str, float]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def backfill_history(
    settings: Settings, stage: str, last: dt.date, days: int, echo: Callable[[str], None]
) -> str:
    """Run ``stage`` in-process for the ``days`` days before ``last``; return a one-line note.

    Failures of the data (critical expectations, anomalies) are expected on the demo's defect
    days: they are persisted and counted, not raised.
    """
    from assay.errors import AssayError

    failed: list[str] = []
    for i in range(days, 0, -1):
        day = last - dt.timedelta(days=i)
        key = f"demo-history/{day.isoformat()}"
        try:
            if stage == "profile":
                from assay.profiling import run_profile

                if run_profile(settings, day, key).anomaly_count:
                    failed.append(day.isoformat())
            else:
                from assay.quality import run_quality

                run_quality(settings, day, key)
        except AssayError as exc:
            failed.append(day.isoformat())
            log.info("%s %s: %s", stage, day, str(exc).splitlines()[0])
    note = f"{stage} history: {days} days before {last}" + (
        f"; {'anomalies' if stage == 'profile' else 'critical failures'} on {', '.join(failed)}"
        if failed
        else "; all clean"
    )
    echo(f"==> {note}")
    return note


def available_stages(settings: Settings) -> list[str]:
    return [d for d in PIPELINE if (settings.dags_folder / f"{d}.py").exists()]


def run(settings: Settings, logical_date: str | None = None, echo: Callable[[str], None] = log.info) -> DemoReport:
    """Run every available stage for ``logical_date``; raise on the first failed stage.

    Args:
        echo: where progress lines and the final summary go (the CLI passes ``typer.echo``).
    """
    from assay.ops import airflow

    date = logical_date or DEFAULT_DATE
    report = DemoReport(logical_date=date)
    stages = available_stages(settings)
    report.skipped = [d for d in PIPELINE if d not in stages]
    if airflow.run_cli(settings, ["db", "migrate"]) != 0:
        raise AssayError("`airflow db migrate` failed; see the output above")
    for dag_id in stages:
        if dag_id in HISTORY_STAGES:
            t0 = time.perf_counter()
            note = backfill_history(settings, dag_id, dt.date.fromisoformat(date), DEMO_DAYS - 1, echo)
            report.ran.append((f"{dag_id} history", time.perf_counter() - t0))
            report.notes.append(note)
        echo(f"==> {dag_id} ({date})")
        t0 = time.perf_counter()
        conf = stage_conf(settings, dag_id)
        if conf is None:
            report.notes.append(f"{dag_id} skipped: no model candidate registered")
            echo(f"==> {dag_id} skipped: no model candidate registered")
            continue
        code = airflow.run_cli(settings, ["dags", "test", dag_id, date, *conf])
        if code != 0:
            raise AssayError(f"stage {dag_id} failed (airflow dags test exit {code}); its log is above")
        report.ran.append((dag_id, time.perf_counter() - t0))
    echo(summary(settings, report))
    return report


def stage_conf(settings: Settings, dag_id: str) -> list[str] | None:
    """``--conf`` arguments of a stage's ``airflow dags test`` run; None: nothing to run.

    ``dags test`` has no triggering asset event, so ``promote`` is told which version the ``train``
    stage just registered (the newest candidate in the catalog).
    """
    if dag_id == "seed_shop":
        return ["--conf", json.dumps({"days": DEMO_DAYS})]
    if dag_id == "promote":
        candidate = latest_candidate(settings.catalog_url())
        if candidate is None:
            return None
        return ["--conf", json.dumps({"model_name": candidate[0], "version": candidate[1]})]
    return []


def latest_candidate(url: str) -> tuple[str, str] | None:
    """(model name, version) of the newest registered candidate, if any."""
    from sqlalchemy import select

    from assay.catalog.db import session
    from assay.catalog.models import ModelCandidate

    with session(url) as s:
        row = s.execute(
            select(ModelCandidate.model_name, ModelCandidate.version).order_by(ModelCandidate.id.desc()).limit(1)
        ).first()
    return None if row is None else (row[0], row[1])


def model_summary(settings: Settings) -> list[str]:
    """The newest training run against its baselines, and the newest gate decision, check by check."""
    from sqlalchemy import select

    from assay import names
    from assay.catalog.db import session
    from assay.catalog.models import GateDecision, TrainingRun

    lines: list[str] = []
    with session(settings.catalog_url()) as s:
        run = s.execute(
            select(TrainingRun).where(TrainingRun.status == "success").order_by(TrainingRun.id.desc()).limit(1)
        ).scalar_one_or_none()
        decision = s.execute(select(GateDecision).order_by(GateDecision.id.desc()).limit(1)).scalar_one_or_none()
        if run is not None:
            m = run.metrics or {}
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
            for check in decision.checks or []:
                observed = check.get("observed")
                shown = f"{observed:.4g}" if isinstance(observed, float) else str(observed)
                lines.append(
                    f"  {check.get('verdict', '?'):5} {check.get('name', '?'):34} "
                    f"observed {shown:>10}  needs {check.get('threshold', '')}"
                )
    return lines


def summary(settings: Settings, report: DemoReport) -> str:
    """What ran, what the catalog now holds, and where to look next."""
    lines = ["", f"assay demo — logical date {report.logical_date}", ""]
    for dag_id, seconds in report.ran:
        lines.append(f"  ran      {dag_id:22} {seconds:6.1f} s")
    for dag_id in report.skipped:
        lines.append(f"  not yet  {dag_id:22} (no DAG file)")
    lines.extend(f"  {note}" for note in report.notes)
    lines.append("")
    lines.extend(f"  {name:24} {count}" for name, count in catalog_counts(settings.catalog_url()))
    lines.append("")
    lines.extend(quality_summary(settings, dt.date.fromisoformat(report.logical_date)))
    model_lines = model_summary(settings)
    if model_lines:
        lines += ["", *model_lines]
    lines += [
        "",
        "Where to look next:",
        f"  Airflow UI      make airflow   -> http://127.0.0.1:{settings.airflow_port} (user admin; password printed)",
        f"  MLflow UI       make mlflow    -> http://127.0.0.1:{settings.mlflow_port}",
        f"  Data Docs       {settings.data_docs_dir / 'index.html'}"
        " (also under Airflow's Browse menu)",
        f"  catalog         {settings.catalog_url()}",
        "  stop everything make stop",
    ]
    return "\n".join(lines)


def quality_summary(settings: Settings, logical_date: dt.date, days: int = DEMO_DAYS) -> list[str]:
    """The catalog's quality state: the logical date's validated partitions, the history window's
    validated vs failed partitions, the date's scorecards, and the critical failures of failed days.

    Read from ``quality_runs``/``expectation_results``/``scorecards``, so it holds after a re-run.
    """
    from sqlalchemy import inspect

    from assay.catalog.db import engine
    from assay.quality.overview import overview, render

    url = settings.catalog_url()
    if "quality_runs" not in set(inspect(engine(url)).get_table_names()):
        return [f"Quality of {logical_date}: the catalog has no quality tables (not migrated?)"]
    return render(overview(url, logical_date, days))


def catalog_counts(url: str) -> list[tuple[str, int]]:
    """Row counts of the catalog's main tables (those that exist)."""
    from sqlalchemy import func, inspect, select, table

    from assay.catalog.db import engine

    eng = engine(url)
    present = set(inspect(eng).get_table_names())
    wanted = [
        "sources", "assets", "asset_columns", "schema_events", "classifications", "profile_runs",
        "anomalies", "quality_runs", "expectation_results", "training_runs", "gate_decisions",
    ]
    out = []
    with eng.connect() as conn:
        for name in wanted:
            if name in present:
                out.append((name, int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())))
    return out
