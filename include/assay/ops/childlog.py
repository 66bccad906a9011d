"""Run a child process (``airflow dags test``) and turn each line of its output into a log record.

The child's lines become records of this process, under the child's own logger name and level,
so the CLI's logging decides where they go (the log file; the console for progress and errors).
Two line formats are understood: Airflow's console format (``<ts> [info     ] message
[logger] key=value``) and assay's own (``<date> <time> INFO logger: message``, also when it is
nested in another record, as a task relays a subprocess). A line in neither format (a traceback,
a ``print``) continues the record before it.

Airflow's ``[DAG TEST]`` records of a task starting and ending become progress lines of the stage,
and a stage that shows nothing for :data:`HEARTBEAT_S` seconds gets a line saying which task runs.
"""

from __future__ import annotations

import logging
import queue
import re
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from assay import progress

#: Seconds without a progress line after which a running stage says which task it is in.
HEARTBEAT_S = 30.0
#: Lines of the child's output kept for the error message of a failed run.
TAIL_LINES = 40

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_AIRFLOW_HEAD = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z? \[(?P<level>[a-z]+)\s*\] (?P<rest>.*)$")
# The logger tag after the event: a module-style name (lower case first, so a repr such as
# ``[TaskInstanceState.SCHEDULED]`` inside the event is not taken for it), then key=value pairs.
_AIRFLOW_TAIL = re.compile(r"^(?P<event>.*?)\s\[(?P<logger>[a-z_][\w.]*)\](?:\s+(?P<kv>[A-Za-z_]\w*=.*))?$")
_ASSAY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (?P<level>[A-Z]+) (?P<logger>[\w.]+): (?P<event>.*)$")
_NESTED_PROGRESS = re.compile(
    r"(?:^|\s)(?:INFO|WARNING) (?P<logger>" + re.escape(progress.PROGRESS_LOGGER) + r"(?:\.[\w-]+)*): (?P<event>.*)$"
)
_TASK_START = re.compile(r"^\[DAG TEST\] starting task_id=(?P<task>\S+)")
_TASK_END = re.compile(r"^\[DAG TEST\] end task task_id=(?P<task>\S+)")


@dataclass(frozen=True)
class Line:
    """One line of the child's output as a record: logger name, level and message."""

    logger: str
    level: int
    message: str


def _level(name: str) -> int:
    value = logging.getLevelName(name.upper())
    if name.lower() == "exception":
        return logging.ERROR
    return value if isinstance(value, int) else logging.INFO


def parse(raw: str, previous: Line | None = None, default_logger: str = "airflow") -> Line:
    """The record a line of child output stands for (a line in no known format continues ``previous``)."""
    text = _ANSI.sub("", raw.rstrip("\r\n"))
    head = _AIRFLOW_HEAD.match(text)
    if head is not None:
        m = _AIRFLOW_TAIL.match(head["rest"])
        if m is None:  # the first line of a multi-line record: its tag comes on its last line
            return Line(default_logger, _level(head["level"]), head["rest"].rstrip())
        event, logger = m["event"].rstrip(), m["logger"]
        nested = _NESTED_PROGRESS.search(event)
        if nested is not None:
            return Line(nested["logger"], logging.INFO, nested["event"].strip())
        # assay's own records carry only Airflow's ``loc=`` there; a library's key=value pairs are its message.
        message = event if logger.startswith("assay.") or not m["kv"] else f"{event} {m['kv']}"
        return Line(logger, _level(head["level"]), message)
    m = _ASSAY.match(text)
    if m is not None:
        return Line(m["logger"], _level(m["level"]), m["event"])
    if previous is not None:
        return Line(previous.logger, previous.level, text)
    return Line(default_logger, logging.INFO, text)


def emit(line: Line) -> None:
    """Hand ``line`` to this process's handlers as a record of its own logger (root's level applies)."""
    if line.level < logging.getLogger().getEffectiveLevel():
        return
    logger = logging.getLogger(line.logger)
    # handle(), not log(): a library logger this process configured quieter must not drop the child's records.
    logger.handle(logger.makeRecord(line.logger, line.level, "(child)", 0, "%s", (line.message,), None))


@dataclass
class _Stage:
    """What the relay knows about the running stage, for its progress lines."""

    name: str
    task: str | None = None
    task_started: float = field(default_factory=time.monotonic)
    started: float = field(default_factory=time.monotonic)
    last_shown: float = field(default_factory=time.monotonic)


def _task_event(stage: _Stage, line: Line, now: float) -> str | None:
    """A progress line when ``line`` is Airflow's record of a task starting or ending."""
    if (m := _TASK_START.match(line.message)) is not None:
        stage.task, stage.task_started = m["task"], now
        return f"{stage.name}: task {m['task']} started"
    if (m := _TASK_END.match(line.message)) is not None:
        took = now - stage.task_started
        stage.task = None
        return f"{stage.name}: task {m['task']} done ({took:.1f} s)"
    return None


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def run(
    argv: list[str], env: dict[str, str], stage: str | Callable[[], str], heartbeat_s: float = HEARTBEAT_S,
    consume: Callable[[Line], bool] | None = None,
) -> tuple[int, list[str]]:
    """Run ``argv``, relaying its output as records; returns its exit code and its last lines.

    Args:
        stage: name of the progress logger (``assay.progress.<stage>``) for task and heartbeat lines,
            or a function returning the current one (a child running several stages).
        heartbeat_s: seconds of silence on the progress loggers after which a line says what runs.
        consume: sees each parsed line first; a line it returns True for is not relayed (the
            caller's own protocol, e.g. the demo's stage events). It counts as a progress line.
    """
    def name() -> str:
        return stage() if callable(stage) else stage

    # Unbuffered: a line reaches the console when the child writes it, not when a pipe buffer fills.
    proc = subprocess.Popen(argv, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", bufsize=1)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw)
        lines.put(None)

    reader = threading.Thread(target=pump, name=f"relay-{name()}", daemon=True)
    reader.start()
    state, previous = _Stage(name()), None
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    while True:
        try:
            raw = lines.get(timeout=1.0)
        except queue.Empty:
            raw = ""
        now = time.monotonic()
        if raw is None:
            break
        if (current := name()) != state.name:  # the child moved on to its next stage
            state.name, state.started = current, now
        if raw:
            line = parse(raw, previous)
            previous = line
            if consume is not None and consume(line):
                state.last_shown = now
                continue
            tail.append(line.message)
            emit(line)
            shown = line.logger.startswith(progress.PROGRESS_LOGGER)
            if (event := _task_event(state, line, now)) is not None:
                progress.logger(state.name).info("%s", event)
                shown = True
            if shown:
                state.last_shown = now
        if now - state.last_shown >= heartbeat_s:
            what = f"task {state.task} running for {_duration(now - state.task_started)}" if state.task else "running"
            progress.logger(state.name).info("%s: %s (stage %s)", state.name, what, _duration(now - state.started))
            state.last_shown = now
    reader.join()
    return proc.wait(), list(tail)
