"""Growth readings shared by the profile and validation benches (issue #16 item 6).

A growth run measures one table at a base size (5M rows by default), grows *the same table* to N
rows (insert the extra rows, ``VACUUM ANALYZE``, no rebuild) and measures again. Each
:class:`Reading` holds the best time of the measured operation, the scan floor timed beside it,
this process's peak RSS while measuring and, when the server's processes are readable here, the
peak private memory of the PostgreSQL backends of the bench's database. :func:`judge` turns two
readings into the ratios the issue asks for:

* time per 5M rows at N / time per 5M rows at the base: linear growth is ~1.0, judged
  <= :data:`MAX_TIME_RATIO`;
* peak memory at N / peak memory at the base: flat is ~1.0, judged <= :data:`MAX_MEMORY_RATIO`
  (figures below :data:`MEMORY_FLOOR_MB` count as that much: a 5 MB -> 8 MB backend is sampling
  noise, not growth).

Memory, how it is measured: this process's peak RSS per reading is ``VmHWM`` of
``/proc/self/status`` after resetting it (``echo 5 > /proc/self/clear_refs``) before the reading
(falls back to ``ru_maxrss``, the lifetime peak, where that is refused). The backends' memory is
the peak, over samples every 0.1 s, of the summed ``RssAnon`` (private, not shared buffers) of
every server process working for the bench's database -- its client backends and their parallel
workers -- read from ``/proc`` (needs a local server; "n/a" otherwise).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Rows per unit of the per-5M figures, and the default base size.
UNIT_ROWS = 5_000_000
#: ``--rows`` at or above this runs the growth reading (or ``--growth`` at any size).
GROWTH_MIN_ROWS = 10_000_000
#: Linear: time per 5M rows at N at most this multiple of the base's.
MAX_TIME_RATIO = 1.3
#: Flat: peak memory at N at most this multiple of the base's.
MAX_MEMORY_RATIO = 1.2
#: Memory figures below this count as this much in the memory ratios (sampling noise).
MEMORY_FLOOR_MB = 64.0


@dataclass(frozen=True)
class Reading:
    """One size's figures: best seconds of the measured operation and of its floor, peak memory."""

    rows: int
    seconds: float
    floor_seconds: float
    rss_mb: float
    backend_mb: float | None = None
    load: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def per_unit(self) -> float:
        """Seconds per 5M rows."""
        return self.seconds * UNIT_ROWS / self.rows

    @property
    def floor_per_unit(self) -> float:
        """The floor's seconds per 5M rows."""
        return self.floor_seconds * UNIT_ROWS / self.rows


@dataclass(frozen=True)
class Growth:
    """Two readings of the same table and what they say."""

    base: Reading
    grown: Reading
    time_ratio: float
    floor_ratio: float
    rss_ratio: float
    backend_ratio: float | None
    missed: tuple[str, ...]
    max_time: float = MAX_TIME_RATIO
    max_memory: float = MAX_MEMORY_RATIO


def memory_ratio(base_mb: float, grown_mb: float, floor_mb: float = MEMORY_FLOOR_MB) -> float:
    """``grown / base`` with both raised to ``floor_mb`` first (small figures are noise)."""
    return max(grown_mb, floor_mb) / max(base_mb, floor_mb)


def judge(
    base: Reading,
    grown: Reading,
    max_time: float = MAX_TIME_RATIO,
    max_memory: float = MAX_MEMORY_RATIO,
    label: str = "",
) -> Growth:
    """The ratios of ``grown`` to ``base`` and the targets they miss."""
    if grown.rows <= base.rows:
        raise ValueError(f"{label or 'growth'}: grown size {grown.rows:,} is not above the base {base.rows:,}")
    time_ratio = grown.per_unit / base.per_unit
    floor_ratio = grown.floor_per_unit / base.floor_per_unit
    rss_ratio = memory_ratio(base.rss_mb, grown.rss_mb)
    backend_ratio = (
        memory_ratio(base.backend_mb, grown.backend_mb)
        if base.backend_mb is not None and grown.backend_mb is not None
        else None
    )
    prefix = f"{label}: " if label else ""
    missed = []
    if time_ratio > max_time:
        missed.append(f"{prefix}time per 5M rows grew {time_ratio:.2f}x (target <= {max_time:g}x)")
    if rss_ratio > max_memory:
        missed.append(f"{prefix}peak RSS grew {rss_ratio:.2f}x (target <= {max_memory:g}x)")
    if backend_ratio is not None and backend_ratio > max_memory:
        missed.append(f"{prefix}backend peak memory grew {backend_ratio:.2f}x (target <= {max_memory:g}x)")
    return Growth(base, grown, time_ratio, floor_ratio, rss_ratio, backend_ratio, tuple(missed), max_time, max_memory)


def report(growth: Growth, what: str, floor: str) -> list[str]:
    """The lines a bench prints for one growth reading."""
    lines = [
        f"growth of {what}: {growth.base.rows:,} -> {growth.grown.rows:,} rows (the same table, grown)",
        f"  {'rows':>12} {'seconds':>9} {'s per 5M':>9} {floor + ' s':>12} {'floor per 5M':>13} "
        f"{'peak RSS':>9} {'backends':>9}  load (1/5/15 min, start -> end)",
    ]
    for r in (growth.base, growth.grown):
        backend = f"{r.backend_mb:6.1f} MB" if r.backend_mb is not None else "      n/a"
        lines.append(
            f"  {r.rows:>12,} {r.seconds:9.2f} {r.per_unit:9.2f} {r.floor_seconds:12.2f} {r.floor_per_unit:13.2f} "
            f"{r.rss_mb:6.1f} MB {backend}  {r.load}"
        )
        if r.extra:
            lines.append("  " + " " * 12 + " " + ", ".join(f"{k} {v:,.1f}" for k, v in r.extra.items()))
    backend = f"{growth.backend_ratio:.2f}x" if growth.backend_ratio is not None else "n/a"
    lines += [
        f"  time per 5M rows, {growth.grown.rows:,} / {growth.base.rows:,}: {growth.time_ratio:.2f}x "
        f"(linear ~1.0, target <= {growth.max_time:g}x); the floor's: {growth.floor_ratio:.2f}x (context)",
        f"  peak RSS ratio {growth.rss_ratio:.2f}x, backends' peak ratio {backend} "
        f"(flat ~1.0, target <= {growth.max_memory:g}x; below {MEMORY_FLOOR_MB:.0f} MB counts as {MEMORY_FLOOR_MB:.0f} MB)",
    ]
    lines += [f"  MISSED {m}" for m in growth.missed] or ["  met: linear time, flat memory"]
    return lines


def add_tolerances(parser: argparse.ArgumentParser) -> None:
    """``--max-time-ratio`` and ``--max-memory-ratio``: the growth targets, stated on the command line."""
    parser.add_argument("--max-time-ratio", type=float, default=MAX_TIME_RATIO,
                        help=f"growth: most time per 5M rows at --rows / at the base (default {MAX_TIME_RATIO:g})")
    parser.add_argument("--max-memory-ratio", type=float, default=MAX_MEMORY_RATIO,
                        help=f"growth: most peak memory at --rows / at the base (default {MAX_MEMORY_RATIO:g})")


def wanted(rows: int, flag: bool, base: int) -> bool:
    """Whether a run at ``rows`` takes the growth reading (``--growth`` or ``rows`` >= 10M)."""
    return (flag or rows >= GROWTH_MIN_ROWS) and rows > base


def loadavg() -> str:
    """The machine's 1/5/15-minute load, as text."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def _status_kb(path: str, key: str) -> int | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


@contextlib.contextmanager
def peak_rss() -> Iterator[list[float]]:
    """This process's peak RSS (MB) inside the block, in ``box[0]`` after it (see the module doc)."""
    box = [0.0]
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    try:
        yield box
    finally:
        hwm = _status_kb("/proc/self/status", "VmHWM") if reset else None
        box[0] = hwm / 1024 if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class BackendMemory:
    """Samples the summed private memory of the server processes working for one database.

    ``pid`` is one backend of that database (``pg_backend_pid()``); its parent is the postmaster.
    Client backends are recognised by the database name in their process title, parallel
    workers by "parallel worker for PID <leader>" with a leader among them.
    """

    def __init__(self, backend_pid: int, database: str, interval: float = 0.1) -> None:
        self.database = database
        self.interval = interval
        self.postmaster = self._ppid(backend_pid)
        self.peak_mb: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _ppid(pid: int) -> int | None:
        try:
            return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None

    def sample(self) -> float | None:
        """Summed ``RssAnon`` (MB) of the database's backends now; None when /proc is not readable."""
        if self.postmaster is None:
            return None
        titles: dict[int, str] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            if self._ppid(pid) != self.postmaster:
                continue
            try:
                titles[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
        mine = {pid for pid, title in titles.items() if f" {self.database} " in title}
        mine |= {
            pid for pid, title in titles.items()
            if "parallel worker for PID" in title and any(f"PID {leader}" in title for leader in mine)
        }
        total_kb = sum(_status_kb(f"/proc/{pid}/status", "RssAnon") or 0 for pid in mine)
        return total_kb / 1024

    def _run(self) -> None:
        while not self._stop.is_set():
            mb = self.sample()
            if mb is not None:
                self.peak_mb = mb if self.peak_mb is None else max(self.peak_mb, mb)
            self._stop.wait(self.interval)

    def __enter__(self) -> BackendMemory:
        self.peak_mb = None
        if self.postmaster is not None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None


def interleaved(rounds: int, floor: Callable[[], object], operation: Callable[[], object]) -> tuple[float, float]:
    """Best-of-``rounds`` seconds of ``floor()`` and of ``operation()``, alternating (load hits both alike)."""
    floors: list[float] = []
    operations: list[float] = []
    for _ in range(max(1, rounds)):
        for fn, times in ((floor, floors), (operation, operations)):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
    return min(floors), min(operations)
