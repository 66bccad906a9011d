"""``make demo``: the main job end to end, each stage a real ``airflow dags test`` run.

The stages run in pipeline order; a stage whose DAG file does not exist yet is skipped and said so.
Everything is keyed by the logical date, so running the demo twice leaves the same catalog.
"""

from __future__ import annotations

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


@dataclass
class DemoReport:
    logical_date: str
    ran: list[tuple[str, float]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


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
        echo(f"==> {dag_id} ({date})")
        t0 = time.perf_counter()
        code = airflow.run_cli(settings, ["dags", "test", dag_id, date])
        if code != 0:
            raise AssayError(f"stage {dag_id} failed (airflow dags test exit {code}); its log is above")
        report.ran.append((dag_id, time.perf_counter() - t0))
    echo(summary(settings, report))
    return report


def summary(settings: Settings, report: DemoReport) -> str:
    """What ran, what the catalog now holds, and where to look next."""
    lines = ["", f"assay demo — logical date {report.logical_date}", ""]
    for dag_id, seconds in report.ran:
        lines.append(f"  ran      {dag_id:22} {seconds:6.1f} s")
    for dag_id in report.skipped:
        lines.append(f"  not yet  {dag_id:22} (no DAG file)")
    lines.append("")
    lines.extend(f"  {name:24} {count}" for name, count in catalog_counts(settings.catalog_url()))
    lines += [
        "",
        "Where to look next:",
        f"  Airflow UI      make airflow   -> http://127.0.0.1:{settings.airflow_port} (user admin; password printed)",
        f"  MLflow UI       make mlflow    -> http://127.0.0.1:{settings.mlflow_port}",
        f"  Data Docs       {settings.state_dir / 'gx' / 'data_docs' / 'index.html'}",
        f"  catalog         {settings.catalog_url()}",
        "  stop everything make stop",
    ]
    return "\n".join(lines)


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
