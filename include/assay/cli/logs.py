"""Where a command's log records go: progress and problems to the console, everything to a file.

The console (stderr) shows the ``assay.progress`` family at INFO, WARNING and above from assay
itself, and ERROR and above from libraries. Every record at the configured level (INFO by
default: Airflow, GX, MLflow, transformers, the ``airflow dags test`` runs the demo starts) goes
to ``<state_dir>/logs/<command>-<timestamp>.log``, created on the first record. ``-v`` (or
``ASSAY_VERBOSE=1``) shows every record on the console too. Python warnings printed by libraries
at import become log records (``py.warnings``), so they land in the file instead of the terminal.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.progress import PROGRESS_LOGGER

#: Full record format: the log file, and the console under ``-v``.
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Console format of progress records: the message only, indented under the stage lines.
PROGRESS_FORMAT = "  %(message)s"
#: Console format of warnings and errors.
PROBLEM_FORMAT = "%(levelname)s %(name)s: %(message)s"

_WORD = re.compile(r"^[A-Za-z][\w-]*$")


def _is_assay(name: str) -> bool:
    return name == "assay" or name.startswith("assay.")


def _is_progress(name: str) -> bool:
    return name == PROGRESS_LOGGER or name.startswith(PROGRESS_LOGGER + ".")


class ConsoleFilter(logging.Filter):
    """Lets through progress (INFO+), assay's warnings, libraries' errors; everything when verbose."""

    def __init__(self, verbose: bool = False) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if self.verbose or _is_progress(record.name):
            return True
        if _is_assay(record.name):
            return record.levelno >= logging.WARNING
        return record.levelno >= logging.ERROR


class ConsoleFormatter(logging.Formatter):
    """Progress records as their message; the rest as ``LEVEL logger: message`` (full format when verbose)."""

    def __init__(self, flt: ConsoleFilter) -> None:
        super().__init__(FILE_FORMAT)
        self._filter = flt
        self._progress = logging.Formatter(PROGRESS_FORMAT)
        self._problem = logging.Formatter(PROBLEM_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        if self._filter.verbose:
            return super().format(record)
        if _is_progress(record.name) and record.levelno < logging.WARNING:
            return self._progress.format(record)
        return self._problem.format(record)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (a test's capture, then the real one)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> Any:
        return sys.stderr


@dataclass
class CommandLog:
    """The logging set-up of one command: its log file and its console filter."""

    path: Path | None
    console: ConsoleFilter
    handlers: tuple[logging.Handler, ...]

    def written(self) -> bool:
        """True when the log file exists and holds at least one record."""
        return self.path is not None and self.path.exists() and self.path.stat().st_size > 0


#: The set-up of this process (None until :func:`setup` runs: tests calling the app directly).
_current: CommandLog | None = None


def command_name(argv: list[str]) -> str:
    """``catalog-migrate`` for ``assay catalog migrate --x``: up to two leading words, options skipped."""
    words: list[str] = []
    for token in argv:
        if token.startswith("-"):
            if words:
                break
            continue
        if not _WORD.match(token) or len(words) == 2:
            break
        words.append(token)
    return "-".join(words) or "assay"


def log_path(folder: Path, command: str, now: dt.datetime | None = None) -> Path:
    """``<folder>/<command>-<UTC timestamp>.log``, numbered when two commands start in one second."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{command}-{stamp}.log"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{command}-{stamp}-{n}.log"
    return path


def _file_handler(folder: Path, command: str) -> tuple[Path | None, logging.Handler | None]:
    """A lazily opened file handler under ``folder`` (0700; the file 0600); (None, None) if unwritable."""
    import os

    try:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)  # library records may quote hosts, paths and SQL
        path = log_path(folder, command)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError:
        return None, None
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    return path, handler


def setup(folder: Path, level: str, argv: list[str], verbose: bool = False) -> CommandLog:
    """Route this process's log records: console (stderr) and ``<folder>/<command>-<ts>.log``.

    Replaces an earlier set-up of this module (idempotent); handlers others added stay.
    """
    global _current
    root = logging.getLogger()
    if _current is not None:
        for handler in _current.handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level.upper())
    console_filter = ConsoleFilter(verbose)
    console = StderrHandler()
    console.addFilter(console_filter)
    console.setFormatter(ConsoleFormatter(console_filter))
    handlers: list[logging.Handler] = [console]
    path, file_handler = _file_handler(folder, command_name(argv))
    if file_handler is not None:
        handlers.append(file_handler)
    for handler in handlers:
        root.addHandler(handler)
    logging.captureWarnings(True)  # library warnings at import: records (file), not terminal lines
    if _current is None:
        atexit.register(finish)  # runs before logging's own shutdown (atexit is last in, first out)
    _current = CommandLog(path, console_filter, tuple(handlers))
    return _current


def current() -> CommandLog | None:
    """This process's set-up, if :func:`setup` ran."""
    return _current


def current_path() -> Path | None:
    """This process's log file, if it has one."""
    return _current.path if _current is not None else None


def set_verbose(verbose: bool) -> None:
    """Show (or stop showing) every record on the console (``assay -v``)."""
    if _current is not None and verbose:
        _current.console.verbose = True


def finish() -> None:
    """Close the log file; remove it when nothing was written to it (a quiet command leaves no file)."""
    if _current is None:
        return
    for handler in _current.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.close()
    if _current.path is not None and not _current.written():
        _current.path.unlink(missing_ok=True)
