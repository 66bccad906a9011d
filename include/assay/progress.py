"""Progress lines for long stages (inventory, profile, quality, training, the demo).

Product code never prints (only ``assay.cli`` does); it logs progress on the ``assay.progress``
logger family instead. The CLI shows these records on the console and sends every other library
record (Airflow, GX, MLflow, transformers) to the log file, so a run prints stages, progress and its
summary, and nothing else unless asked (``-v``).

:class:`Ticker` rate-limits the lines: a long loop calls :meth:`Ticker.update` as often as it likes
and a line is logged at most every ``every_s`` seconds, with done/total, rate and ETA.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

#: Root of the progress loggers; the CLI's console handler shows this family at INFO.
PROGRESS_LOGGER = "assay.progress"

#: Seconds between two progress lines of one :class:`Ticker` (the issue asks for ~10 s).
DEFAULT_EVERY_S = 10.0


def logger(stage: str) -> logging.Logger:
    """The progress logger of ``stage`` (``assay.progress.<stage>``)."""
    return logging.getLogger(f"{PROGRESS_LOGGER}.{stage}")


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Ticker:
    """Logs ``<stage>: done/total unit, rate/s, ETA`` at most every ``every_s`` seconds."""

    def __init__(
        self,
        stage: str,
        total: int | None = None,
        unit: str = "items",
        every_s: float = DEFAULT_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stage = stage
        self.total = total
        self.unit = unit
        self.every_s = every_s
        self._clock = clock
        self._log = logger(stage)
        self._started = clock()
        self._last = self._started
        self.lines = 0

    def line(self, done: int, **extra: object) -> str:
        """The progress line for ``done`` units so far (``extra`` appended as ``key=value``)."""
        elapsed = self._clock() - self._started
        rate = done / elapsed if elapsed > 0 else 0.0
        parts = [f"{done:,}/{self.total:,} {self.unit}" if self.total else f"{done:,} {self.unit}"]
        parts.append(f"{rate:,.1f} {self.unit}/s")
        if self.total and rate > 0 and done < self.total:
            parts.append(f"ETA {_duration((self.total - done) / rate)}")
        parts.extend(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                     for key, value in extra.items())
        return f"{self.stage}: " + ", ".join(parts)

    def update(self, done: int, **extra: object) -> bool:
        """Log a line if ``every_s`` has passed since the last one; True if one was logged."""
        now = self._clock()
        if now - self._last < self.every_s:
            return False
        self._last = now
        self._log.info("%s", self.line(done, **extra))
        self.lines += 1
        return True

    def finish(self, done: int, **extra: object) -> None:
        """Log the closing line (always), with the elapsed time."""
        elapsed = self._clock() - self._started
        self._log.info("%s (done in %s)", self.line(done, **extra), _duration(elapsed))
        self.lines += 1
