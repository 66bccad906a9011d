"""Overlap the inventory's three stages: read the source, classify, write the catalog.

Reading and writing mostly wait on databases (the driver releases the GIL while it waits), and
classification is Python work, so they run side by side: a reader thread fills a short queue of
observed chunks (:func:`prefetch`) while the main thread classifies, and a few writer threads
store the assets (:class:`Writers`), each asset in its own transaction on its own connection.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import make_url

from assay.catalog.db import connect_args

T = TypeVar("T")

#: Threads (and catalog connections) writing assets.
WRITER_THREADS = 4


@dataclass(frozen=True)
class _End:
    error: BaseException | None = None


def prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Iterate ``items`` on a background thread, keeping up to ``depth`` items ready.

    An exception raised by ``items`` is raised again here, in the consumer, at the point the
    failing item would have been. When the consumer stops early, the producer is told to stop
    and joined (the source connection it holds is closed by its own thread).
    """
    ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_End())
        except BaseException as exc:  # handed to the consumer, which raises it
            put(_End(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="inventory-read", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        thread.join()


def writer_engine(url: str, threads: int = WRITER_THREADS) -> Engine:
    """An engine for the inventory's asset writes: a connection per writer thread.

    On PostgreSQL these sessions commit with ``synchronous_commit = off``: each asset's
    transaction stays atomic, only the wait for its WAL flush is skipped. The run's final commit
    (on a normal connection) flushes the WAL up to that point, so once a run is recorded as
    finished every asset write before it is durable; a crash in between loses at most the last
    fraction of a second of asset writes of a run that is still marked ``running``.
    """
    args = dict(connect_args(url))
    if make_url(url).get_backend_name() == "postgresql":
        args["options"] = "-c synchronous_commit=off"
    return create_engine(url, pool_size=threads, max_overflow=2, connect_args=args, hide_parameters=True)


class Writers:
    """Runs write jobs on a few threads; at most ``backlog`` jobs are in flight.

    Each thread keeps one connection for the whole run (a pool checkout per asset cost as much
    as a statement); a job receives it as its first argument and opens its own transaction on
    it. A job's exception is raised by the :meth:`submit` or :meth:`drain` call that collects it.
    """

    def __init__(self, url: str, threads: int = WRITER_THREADS, backlog: int = 256) -> None:
        self.engine = writer_engine(url, threads)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="inventory-write")
        self._pending: deque[Future[None]] = deque()
        self._backlog = backlog
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            if conn is not None:
                conn.close()
            conn = self.engine.connect()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _run(self, job: Callable[..., None], args: tuple[Any, ...]) -> None:
        job(self._connection(), *args)

    def submit(self, job: Callable[..., None], *args: Any) -> None:
        """Run ``job(connection, *args)`` on a writer thread."""
        self._pending.append(self._pool.submit(self._run, job, args))
        while len(self._pending) > self._backlog:
            self._pending.popleft().result()

    def drain(self) -> None:
        """Wait for every submitted job."""
        while self._pending:
            self._pending.popleft().result()

    def __enter__(self) -> Writers:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for conn in self._connections:
            conn.close()
        self.engine.dispose()
