"""Engines and sessions for the catalog database.

One engine per URL per process (connection pools are expensive and Airflow task processes are
short-lived, so the cache is small). ``pool_pre_ping`` replaces connections the server closed
while the process slept between tasks. URLs shown, logged or stored go through
:func:`masked` / :func:`without_password` (one parser, in :mod:`assay.catalog.urls`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Connection, Engine, create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

# URL masking lives in assay.catalog.urls (no SQLAlchemy, so the CLI and ops import it cheaply);
# re-exported because every catalog user reaches for it here.
from assay.catalog.urls import masked, scrub, without_password

#: Seconds libpq waits for a server before giving up; a hung connect must not hang a task.
CONNECT_TIMEOUT_S = 5


def connect_args(url: str) -> dict[str, object]:
    """Driver options every catalog connection uses (a short connect timeout on PostgreSQL)."""
    if make_url(url).get_backend_name() == "postgresql":
        return {"connect_timeout": CONNECT_TIMEOUT_S}
    return {}


@lru_cache(maxsize=8)
def engine(url: str) -> Engine:
    """The process-wide engine for ``url`` (cached per URL)."""
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args(url), hide_parameters=True)


@contextmanager
def session(url: str) -> Iterator[Session]:
    """A session inside one transaction: committed when the block ends, rolled back on error.

    Example::

        with session(url) as s:
            upsert(s, Asset, rows, key=["source_id", "namespace", "name"])
    """
    with Session(engine(url), expire_on_commit=False) as s, s.begin():
        yield s


def advisory_key(text: str) -> int:
    """The signed 64-bit PostgreSQL advisory-lock key of ``text`` (sha256, stable across processes)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


@contextmanager
def advisory_lock(bind: Engine, name: str | int, *, shared: bool = False) -> Iterator[Connection]:
    """Hold a session-level advisory lock on ``name`` (or a ready key) for the ``with`` block.

    Yields the locked connection: commits made on it keep the lock, which is released when the
    block ends, or by the server if the process dies. Exclusive by default ("two runs of one
    source take turns", "one gate decision per model at a time"); ``shared`` for "a live process
    owns this attempt" (:func:`assay.catalog.runs.held`).
    """
    key = name if isinstance(name, int) else advisory_key(name)
    lock, unlock = (
        (func.pg_advisory_lock_shared, func.pg_advisory_unlock_shared)
        if shared
        else (func.pg_advisory_lock, func.pg_advisory_unlock)
    )
    conn = bind.connect()
    try:
        conn.execute(select(lock(key)))
        conn.commit()
        yield conn
        conn.rollback()
        conn.execute(select(unlock(key)))
        conn.commit()
    except BaseException:
        # A connection that may still hold the lock must not go back to the pool: discarding it
        # ends its session, which releases the lock.
        conn.invalidate()
        raise
    finally:
        conn.close()


__all__ = ["CONNECT_TIMEOUT_S", "advisory_key", "advisory_lock", "connect_args", "engine", "masked", "scrub", "session", "without_password"]
