"""The embedded test PostgreSQL, scratch databases on it, and SQL helpers for assertions.

Each test that writes gets a database of its own (``fresh_db``, dropped afterwards); module- and
session-scoped fixtures take theirs from ``scratch_db``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from assay.config import Settings
    from assay.db.embedded import ServerState


@pytest.fixture(scope="session")
def pg_server(settings: Settings) -> ServerState:
    """The embedded server, started once (idempotent); left running for the next session."""
    from assay.db import embedded

    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return embedded.up(settings)


@contextmanager
def scratch_database(pg_server: ServerState, prefix: str = "t") -> Iterator[str]:
    """An empty database on the test server for the ``with`` block; dropped after it.

    DROP ... WITH (FORCE) ends connections a test left open (pooled engines).
    """
    import psycopg2
    from psycopg2 import sql

    name = f"t_{prefix}_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(dbname="postgres", user="postgres", host=pg_server.socket_dir)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield pg_server.url(name)
        finally:
            with admin.cursor() as cur:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        admin.close()


@pytest.fixture(scope="session")
def scratch_db(pg_server: ServerState) -> Callable[[str], AbstractContextManager[str]]:
    """For module- and session-scoped fixtures: ``with scratch_db("shop") as url: ...``."""
    return lambda prefix="t": scratch_database(pg_server, prefix)


@pytest.fixture
def fresh_db(pg_server: ServerState) -> Iterator[Callable[[str], str]]:
    """Factory: ``fresh_db("catalog")`` creates an empty database and returns its URL."""
    with ExitStack() as stack:
        yield lambda prefix="t": stack.enter_context(scratch_database(pg_server, prefix))


@pytest.fixture
def catalog_url(fresh_db: Callable[[str], str]) -> str:
    """A fresh catalog database migrated to head."""
    from assay.catalog import migrate

    url = fresh_db("catalog")
    migrate.upgrade(url, "head")
    return url


@pytest.fixture
def mlflow_uri(fresh_db: Callable[[str], str]) -> str:
    """A fresh, empty MLflow tracking + registry store (real MLflow on its own database).

    MLflow creates its tables on first use; experiments must still be created with an explicit
    ``artifact_location`` (the default is CWD-relative).
    """
    return fresh_db("mlflow")


@pytest.fixture
def isolated_settings(settings: Settings, catalog_url: str, mlflow_uri: str) -> Settings:
    """Settings whose catalog and MLflow store are fresh databases of this test (shop: the embedded one)."""
    return settings.model_copy(update={"database_url": catalog_url, "mlflow_tracking_uri": mlflow_uri})


# ---- SQL for assertions and test set-up ---------------------------------------------------------
@contextmanager
def connection(url: str, *, commit: bool = False) -> Iterator[Connection]:
    """A connection of its own engine (no pool left behind); with ``commit``, in a committed transaction."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with (engine.begin() if commit else engine.connect()) as conn:
            yield conn
    finally:
        engine.dispose()


def rows(url: str, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    """The rows of one query, as tuples (read only: nothing is committed)."""
    from sqlalchemy import text

    with connection(url) as conn:
        return [tuple(r) for r in conn.execute(text(statement), params)]


def records(url: str, statement: str, **params: Any) -> list[dict[str, Any]]:
    """The rows of one query, as dicts keyed by column name (read only)."""
    from sqlalchemy import text

    with connection(url) as conn:
        return [dict(r._mapping) for r in conn.execute(text(statement), params)]


def execute(url: str, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    """Run one statement and commit; its rows as tuples ([] for a statement that returns none)."""
    from sqlalchemy import text

    with connection(url, commit=True) as conn:
        result = conn.execute(text(statement), params)
        return [tuple(r) for r in result] if result.returns_rows else []


def statements_reading(eng: Any, table: str, schema: str = "public") -> list[str]:
    """A list that fills with every statement ``eng`` runs from ``"schema"."table"`` (EXPLAINs left out)."""
    from sqlalchemy import event

    seen: list[str] = []
    source = f'FROM "{schema}"."{table}"'

    @event.listens_for(eng, "before_cursor_execute")
    def _record(conn, cursor, statement, parameters, context, executemany):
        if source in statement and not statement.startswith("EXPLAIN"):
            seen.append(statement)

    return seen
