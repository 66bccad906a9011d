"""``make demo``: the main job end to end, each stage a real ``airflow dags test`` run.

The stages run in pipeline order; a stage whose DAG file does not exist yet is skipped and said so.
Everything is keyed by the logical date, so running the demo twice leaves the same catalog.
Progress is reported as events (:data:`Progress`); the CLI renders them.
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
from assay.ops.backfill import HISTORY, HistoryResult, backfill_history

log = logging.getLogger(__name__)

#: Pipeline order. DAG ids are also the DAG file names in dags/.
PIPELINE: tuple[str, ...] = ("catalog_maintenance", "seed_shop", "inventory", "profile", "quality", "train", "promote")

#: The demo's own logical date: fixed, so reruns hit the same partition keys. Only the demo uses it
#: (``assay demo`` passes it explicitly); every other command defaults to the last complete day.
DEMO_DATE = "2026-11-20"

#: Days of shop history the demo seeds (the defect schedule needs 16 or more).
DEMO_DAYS = 21


@dataclass(frozen=True)
class StageStarted:
    """The ``airflow dags test`` run of ``dag_id`` starts (or its conf is looked up first)."""

    dag_id: str
    logical_date: str


@dataclass(frozen=True)
class StageSkipped:
    """A stage with a DAG file that had nothing to run."""

    dag_id: str
    reason: str


#: What the runner reports while it runs, in order.
Progress = HistoryResult | StageStarted | StageSkipped
#: What the summary lists under the stages: backfills and skipped stages, in pipeline order.
Note = HistoryResult | StageSkipped


@dataclass
class DemoReport:
    """What one demo run did: stages with their seconds, stages without a DAG file, notes."""

    logical_date: str
    ran: list[tuple[str, float]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


def available_stages(settings: Settings) -> list[str]:
    """The stages of :data:`PIPELINE` whose DAG file exists, in pipeline order."""
    return [d for d in PIPELINE if (settings.dags_folder / f"{d}.py").exists()]


def _seed_conf(settings: Settings) -> list[str] | None:
    """``seed_shop`` seeds the whole history the backfills read."""
    return ["--conf", json.dumps({"days": DEMO_DAYS})]


def _promote_conf(settings: Settings) -> list[str] | None:
    """``promote`` judges the newest candidate; None when ``train`` registered none."""
    from assay.gate.latest import latest_candidate

    candidate = latest_candidate(settings.catalog_url())
    if candidate is None:
        return None
    return ["--conf", json.dumps({"model_name": candidate[0], "version": candidate[1]})]


#: Stages whose ``dags test`` run needs a ``--conf``; every other stage runs with none.
STAGE_CONF: dict[str, Callable[[Settings], list[str] | None]] = {
    "seed_shop": _seed_conf,
    "promote": _promote_conf,
}


def stage_conf(settings: Settings, dag_id: str) -> list[str] | None:
    """``--conf`` arguments of a stage's ``airflow dags test`` run; None: nothing to run.

    ``dags test`` has no triggering asset event, so ``promote`` is told which version the ``train``
    stage just registered (the newest candidate in the catalog).
    """
    conf = STAGE_CONF.get(dag_id)
    return [] if conf is None else conf(settings)


def _log_progress(event: Progress) -> None:
    log.info("%s", event)


def run(
    settings: Settings, logical_date: str | None = None, progress: Callable[[Progress], None] = _log_progress
) -> DemoReport:
    """Run every available stage for ``logical_date``; raise on the first failed stage.

    Args:
        progress: called with each event as it happens (the CLI prints them).
    """
    from assay.ops import airflow

    date = logical_date or DEMO_DATE
    report = DemoReport(logical_date=date)
    stages = available_stages(settings)
    report.skipped = [d for d in PIPELINE if d not in stages]
    if airflow.run_cli(settings, ["db", "migrate"]) != 0:
        raise AssayError("`airflow db migrate` failed; see the output above")
    for dag_id in stages:
        if dag_id in HISTORY:
            t0 = time.perf_counter()
            history = backfill_history(settings, dag_id, dt.date.fromisoformat(date), DEMO_DAYS - 1)
            progress(history)
            report.ran.append((f"{dag_id} history", time.perf_counter() - t0))
            report.notes.append(history)
        progress(StageStarted(dag_id, date))
        t0 = time.perf_counter()
        conf = stage_conf(settings, dag_id)
        if conf is None:
            skipped = StageSkipped(dag_id, "no model candidate registered")
            report.notes.append(skipped)
            progress(skipped)
            continue
        code = airflow.run_cli(settings, ["dags", "test", dag_id, date, *conf])
        if code != 0:
            raise AssayError(f"stage {dag_id} failed (airflow dags test exit {code}); its log is above")
        report.ran.append((dag_id, time.perf_counter() - t0))
    return report
