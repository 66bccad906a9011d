"""The relay of a child's output (``airflow dags test``) into log records, and the console filter.

No database: the child is a small Python script that prints lines in Airflow's format.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest

from assay.cli.logs import ConsoleFilter, ConsoleFormatter, command_name
from assay.ops import childlog

AIRFLOW_LINES = [
    "2026-12-05T11:46:53.137645Z [warning  ] Could not import graphviz. Rendering graph to the graphical format.",
    "Run `pip install graphviz` to attempt to install it. [py.warnings] category=UserWarning lineno=57",
    "2026-12-05T11:46:58.206036Z [info     ] [DAG TEST] starting task_id=hello map_index=-1 "
    "[airflow.sdk.definitions.dag] loc=dag.py:1501",
    "2026-12-05T11:46:58.206454Z [info     ] [DAG TEST] running task <TaskInstance: probe.hello manual__2026 "
    "[TaskInstanceState.SCHEDULED] ti_id=01a2>  [airflow.sdk.definitions.dag] loc=dag.py:1504",
    "2026-12-05T11:47:46.329746Z [info     ] probe: 1/2 items               [assay.progress.probe] loc=probe.py:8",
    "2026-12-05T11:47:46.330017Z [warning  ] a warning from assay           [assay.quality] loc=probe.py:9",
    "2026-12-05T11:47:46.330080Z [info     ] gx info                        [great_expectations] loc=probe.py:10",
    "printed line",
    "2026-12-05T11:47:46.7Z [info     ] train | 2026-12-05 12:00:01,123 INFO assay.progress.train: train: 100/1000 "
    "steps [assay.training.process] loc=process.py:56",
    "2026-12-05T11:47:46.790049Z [info     ] [DAG TEST] end task task_id=hello map_index=-1 "
    "[airflow.sdk.definitions.dag] loc=dag.py:1563",
]


def test_airflow_lines_become_records_of_their_own_logger_and_level() -> None:
    parsed: list[childlog.Line] = []
    for raw in AIRFLOW_LINES:
        parsed.append(childlog.parse(raw, parsed[-1] if parsed else None))
    got = [(p.logger, logging.getLevelName(p.level)) for p in parsed]
    assert got == [
        ("airflow", "WARNING"), ("airflow", "WARNING"),  # multi-line: the tag comes on the last line
        ("airflow.sdk.definitions.dag", "INFO"),
        ("airflow.sdk.definitions.dag", "INFO"),  # a repr in brackets inside the message is not the logger
        ("assay.progress.probe", "INFO"), ("assay.quality", "WARNING"), ("great_expectations", "INFO"),
        ("great_expectations", "INFO"),  # a print continues the record before it
        ("assay.progress.train", "INFO"),  # assay's own format nested in a task's record
        ("airflow.sdk.definitions.dag", "INFO"),
    ]
    assert parsed[4].message == "probe: 1/2 items"  # progress: the message alone, no key=value tail
    assert parsed[8].message == "train: 100/1000 steps"
    assert parsed[6].message == "gx info loc=probe.py:10"


def test_console_shows_progress_and_problems_only_unless_verbose() -> None:
    flt = ConsoleFilter()

    def shown(name: str, level: int) -> bool:
        return flt.filter(logging.LogRecord(name, level, "x", 0, "m", None, None))

    assert shown("assay.progress.profile", logging.INFO)
    assert not shown("assay.quality.run", logging.INFO) and shown("assay.quality.run", logging.WARNING)
    assert not shown("airflow.models.dagrun", logging.WARNING) and shown("airflow.models.dagrun", logging.ERROR)
    assert not shown("assayer", logging.WARNING)  # a library whose name starts like ours is a library
    flt.verbose = True
    assert shown("great_expectations", logging.INFO)
    record = logging.LogRecord("assay.progress.profile", logging.INFO, "x", 0, "profile: 3/10", None, None)
    assert ConsoleFormatter(ConsoleFilter()).format(record) == "  profile: 3/10"


def test_command_name_is_the_leading_words() -> None:
    assert command_name(["-v", "catalog", "migrate", "--revision", "head"]) == "catalog-migrate"
    assert command_name(["demo", "--date", "2026-11-20"]) == "demo"
    assert command_name(["db", "url", "shop"]) == "db-url"
    assert command_name(["../x"]) == "assay"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def collected() -> Iterator[_Collect]:
    root = logging.getLogger()
    handler, level = _Collect(), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_run_relays_records_tasks_and_a_heartbeat(collected: _Collect) -> None:
    script = (
        "import time\n"
        f"lines = {AIRFLOW_LINES[2:5]!r}\n"
        "for l in lines: print(l, flush=True)\n"
        "time.sleep(1.6)\n"  # silence: the relay says which task runs
        f"print({AIRFLOW_LINES[-1]!r}, flush=True)\n"
        "raise SystemExit(3)\n"
    )
    code, tail = childlog.run([sys.executable, "-c", script], {}, "probe", heartbeat_s=0.5)
    assert code == 3 and tail[-1].startswith("[DAG TEST] end task")
    progress = [r.getMessage() for r in collected.records if r.name.startswith("assay.progress")]
    assert progress[0] == "probe: task hello started"
    assert "probe: 1/2 items" in progress
    assert any(m.startswith("probe: task hello running for") for m in progress), progress
    assert progress[-1].startswith("probe: task hello done (")
    assert any(r.name == "airflow.sdk.definitions.dag" for r in collected.records)


def test_demo_events_survive_the_trip_through_airflows_log_format() -> None:
    import datetime as dt

    from assay.ops import demo
    from assay.ops.backfill import HistoryResult

    events: list[demo.Event] = [
        demo.StageStarted("profile", "2026-11-20"),
        demo.StageFinished("profile history", 12.5),
        demo.StageSkipped("promote", "no model candidate registered"),
        demo.HistoryDay("quality", dt.date(2026, 11, 7), 7, 20, 3.25, True),
        HistoryResult("quality", dt.date(2026, 11, 20), 20, "critical failures", ("2026-11-07", "2026-11-08")),
        HistoryResult("profile", dt.date(2026, 11, 20), 20, "anomalies", ()),
    ]
    for event in events:
        raw = f"2026-12-05T12:00:00.1Z [info     ] {demo.encode(event)} [{demo.EVENT_LOGGER}] loc=demo.py:180"
        line = childlog.parse(raw)
        assert line.logger == demo.EVENT_LOGGER, raw
        assert demo.decode(line.message) == event
