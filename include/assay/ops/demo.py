"""``make demo``: the main job end to end, each stage a real ``airflow dags test`` run.

The stages run in pipeline order; a stage whose DAG file does not exist yet is skipped and said so.
Everything is keyed by the logical date, so running the demo twice leaves the same catalog.
Progress is reported as events (:data:`Progress`); the CLI renders them. The output of the
``airflow`` runs becomes log records of this process (:mod:`assay.ops.childlog`): their progress
and errors reach the console, the rest the command's log file.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

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
class StageFinished:
    """A stage's run ended well after ``seconds``."""

    dag_id: str
    seconds: float


@dataclass(frozen=True)
class HistoryDay:
    """One day of a stage's in-process history is done (``index`` of ``days``)."""

    stage: str
    day: dt.date
    index: int
    days: int
    seconds: float
    failed: bool


@dataclass(frozen=True)
class StageSkipped:
    """A stage with a DAG file that had nothing to run."""

    dag_id: str
    reason: str


#: What the runner reports while it runs, in order (:data:`Event` adds the timing events).
Progress = HistoryResult | StageStarted | StageSkipped
#: Every event of a run: :data:`Progress`, and a stage's or a history day's end with its seconds.
Event = Progress | StageFinished | HistoryDay
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


def _log_progress(event: Event) -> None:
    log.info("%s", event)


#: Logger of the events the stage runner reports to the demo (one JSON object per record).
EVENT_LOGGER = "assay.ops.demo.events"
_EVENTS: dict[str, type] = {c.__name__: c for c in (StageStarted, StageFinished, StageSkipped, HistoryDay, HistoryResult)}


def encode(event: Event) -> str:
    """``event`` as one JSON line (dates as ISO strings)."""
    fields = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in asdict(event).items()}
    return json.dumps({"event": type(event).__name__, **fields})


def decode(text: str) -> Event:
    """The event :func:`encode` wrote (what follows the JSON object, e.g. Airflow's ``loc=``, is ignored)."""
    data, _ = json.JSONDecoder().raw_decode(text.strip())
    kind = _EVENTS[data.pop("event")]
    for key in ("day", "last"):
        if key in data:
            data[key] = dt.date.fromisoformat(data[key])
    if "failed_days" in data:
        data["failed_days"] = tuple(data["failed_days"])
    event: Event = kind(**data)
    return event


def _airflow(settings: Settings, args: list[str], stage: str) -> int:
    """``airflow ARGS`` with assay's environment, its output relayed as log records; its exit code."""
    from assay.ops import airflow, childlog

    airflow.ensure_database(settings)
    code, tail = childlog.run([airflow.airflow_bin(), *args], airflow.child_env(settings), stage)
    if code != 0:
        log.error("`airflow %s` exited %s; its last lines:\n%s", " ".join(args[:2]), code, "\n".join(tail))
    return code


def _history(
    settings: Settings, dag_id: str, last: dt.date, days: int, progress: Callable[[Event], None]
) -> HistoryResult:
    """:func:`backfill_history` one day at a time, so each day is reported as it ends."""
    failed: list[str] = []
    for index in range(1, days + 1):
        day = last - dt.timedelta(days=days - index + 1)
        t0 = time.perf_counter()
        one = backfill_history(settings, dag_id, day + dt.timedelta(days=1), 1)
        failed.extend(one.failed_days)
        progress(HistoryDay(dag_id, day, index, days, time.perf_counter() - t0, bool(one.failed_days)))
    return HistoryResult(dag_id, last, days, HISTORY[dag_id].failures, tuple(failed))


def run_stages(
    settings: Settings, date: str, stages: list[str], progress: Callable[[Event], None],
    run_dag: Callable[[str, dict[str, object]], bool],
) -> bool:
    """Each stage in order (its history days first, if any); False at the first DAG run that failed.

    Args:
        run_dag: runs one DAG for ``date`` with a run conf; True when the run succeeded.
    """
    for dag_id in stages:
        if dag_id in HISTORY:
            t0 = time.perf_counter()
            progress(StageStarted(f"{dag_id} history", date))
            progress(_history(settings, dag_id, dt.date.fromisoformat(date), DEMO_DAYS - 1, progress))
            progress(StageFinished(f"{dag_id} history", time.perf_counter() - t0))
        progress(StageStarted(dag_id, date))
        t0 = time.perf_counter()
        conf = stage_conf(settings, dag_id)
        if conf is None:
            progress(StageSkipped(dag_id, "no model candidate registered"))
            continue
        if not run_dag(dag_id, json.loads(conf[1]) if conf else {}):
            return False
        progress(StageFinished(dag_id, time.perf_counter() - t0))
    return True


def _dag_test(date: str) -> Callable[[str, dict[str, object]], bool]:
    """``run_dag`` for :func:`run_stages`: ``DAG.test()`` in this process, as ``airflow dags test`` runs it.

    One process for every stage: Airflow's imports, its in-process execution API (tens of seconds
    of CPU to build) and the DAG parsing are paid once, not once per stage.
    """
    from airflow.providers_manager import ProvidersManager
    from airflow.utils.cli import get_bagged_dag
    from airflow.utils.state import DagRunState

    ProvidersManager().initialize_providers_configuration()
    logical_date = dt.datetime.fromisoformat(date).replace(tzinfo=dt.UTC)

    def run_dag(dag_id: str, conf: dict[str, object]) -> bool:
        dag = get_bagged_dag(bundle_names=None, dag_id=dag_id)
        dagrun = dag.test(logical_date=logical_date, run_conf=conf or None)
        if dagrun is None or dagrun.state != DagRunState.SUCCESS:
            log.error("stage %s: DAG run ended %s", dag_id, getattr(dagrun, "state", "without a run"))
            return False
        return True

    return run_dag


def main(argv: list[str] | None = None) -> int:
    """``python -m assay.ops.demo --date D STAGE...``: the stage runner, started by :func:`run`."""
    import argparse

    from assay.config import get_settings

    parser = argparse.ArgumentParser(prog="python -m assay.ops.demo")
    parser.add_argument("--date", required=True)
    parser.add_argument("stages", nargs="+")
    args = parser.parse_args(argv)
    events = logging.getLogger(EVENT_LOGGER)
    ok = run_stages(get_settings(), args.date, args.stages, lambda e: events.info("%s", encode(e)),
                    _dag_test(args.date))
    return 0 if ok else 1


def run(
    settings: Settings, logical_date: str | None = None, progress: Callable[[Event], None] = _log_progress
) -> DemoReport:
    """Run every available stage for ``logical_date``; raise on the first failed stage.

    The stages run in one child process with Airflow's environment (:func:`main`); its output
    becomes log records here, its events are handed to ``progress``.

    Args:
        progress: called with each event as it happens (the CLI prints them).
    """
    import sys

    from assay.ops import airflow, childlog

    date = logical_date or DEMO_DATE
    report = DemoReport(logical_date=date)
    stages = available_stages(settings)
    report.skipped = [d for d in PIPELINE if d not in stages]
    if _airflow(settings, ["db", "migrate"], "airflow") != 0:
        raise AssayError("`airflow db migrate` failed; its last lines are above, all of it in the log file")
    running: list[str] = []

    def consume(line: childlog.Line) -> bool:
        if line.logger != EVENT_LOGGER:
            return False
        event = decode(line.message)
        if isinstance(event, StageStarted):
            running[:] = [event.dag_id]
        elif isinstance(event, StageFinished):
            report.ran.append((event.dag_id, event.seconds))
        elif isinstance(event, HistoryResult | StageSkipped):
            report.notes.append(event)
        progress(event)
        return True

    argv = [sys.executable, "-m", "assay.ops.demo", "--date", date, *stages]
    # An assay command a task starts (`assay train`) then writes every record in the full format,
    # which the relay sorts like the others: its progress to the console, the rest to the log file.
    env = {**airflow.child_env(settings), "ASSAY_VERBOSE": "1"}
    code, tail = childlog.run(argv, env, lambda: running[0] if running else "demo", consume=consume)
    if code != 0:
        log.error("the stage runner exited %s; its last lines:\n%s", code, "\n".join(tail))
        raise AssayError(
            f"stage {running[0] if running else 'set-up'} failed (exit {code}); its last lines are above, "
            "all of it in the log file"
        )
    return report


if __name__ == "__main__":
    import sys

    sys.exit(main())
