"""Engines and sessions for the catalog database.

One engine per URL per process (connection pools are expensive and Airflow task processes are
short-lived, so the cache is small). ``pool_pre_ping`` replaces connections the server closed
while the process slept between tasks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

#: Seconds libpq waits for a server before giving up; a hung connect must not hang a task.
CONNECT_TIMEOUT_S = 5


def masked(url: str) -> str:
    """The URL as safe to log or show: the password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        # An unparsable URL may still hold a password: show nothing of it.
        return "<unparsable database URL>"


def without_password(url: str) -> str:
    """The URL with its password removed, as the catalog stores source locations.

    Anything that is not a SQLAlchemy URL (an Airflow connection id, a file path) is returned
    unchanged.
    """
    if "://" not in url:
        return url
    parsed = make_url(url)
    query = {k: v for k, v in parsed.query.items() if k.lower() != "password"}
    # URL.set() treats None as "leave unchanged"; the NamedTuple's _replace really clears it.
    return parsed.set(query=query)._replace(password=None).render_as_string(hide_password=False)


def connect_args(url: str) -> dict[str, object]:
    """Driver options every catalog connection uses (a short connect timeout on PostgreSQL)."""
    if make_url(url).get_backend_name() == "postgresql":
        return {"connect_timeout": CONNECT_TIMEOUT_S}
    return {}


@lru_cache(maxsize=8)
def engine(url: str) -> Engine:
    """The process-wide engine for ``url`` (cached per URL)."""
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args(url))


@contextmanager
def session(url: str) -> Iterator[Session]:
    """A session inside one transaction: committed when the block ends, rolled back on error.

    Example::

        with session(url) as s:
            upsert(s, Asset, rows, key=["source_id", "namespace", "name"])
    """
    with Session(engine(url), expire_on_commit=False) as s, s.begin():
        yield s
