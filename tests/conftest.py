"""Shared fixtures: one real embedded PostgreSQL for the whole test session.

The test server lives in ``.assay/test`` (ASSAY_TEST_HOME overrides), apart from the demo's
``.assay``, so ``make test`` never touches demo state. Each test that writes gets a database of
its own from ``fresh_db``; it is dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_HOME = Path(os.environ.get("ASSAY_TEST_HOME", ROOT / ".assay" / "test"))

# Before any assay import reads the environment: tests never use the developer's demo state.
os.environ["ASSAY_HOME"] = str(TEST_HOME)
for var in ("ASSAY_DATABASE_URL", "ASSAY_SHOP_URL", "MLFLOW_TRACKING_URI", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
    os.environ.pop(var, None)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="session")
def settings():
    from assay.config import Settings, get_settings

    get_settings.cache_clear()
    s = get_settings()
    assert isinstance(s, Settings)
    assert s.state_dir == TEST_HOME.resolve()
    return s


@pytest.fixture(scope="session")
def pg_server(settings):
    """The embedded server, started once (idempotent); left running for the next session."""
    from assay.db import embedded

    TEST_HOME.mkdir(parents=True, exist_ok=True)
    return embedded.up(settings)


@pytest.fixture
def fresh_db(pg_server) -> Iterator[Callable[[str], str]]:
    """Factory: ``fresh_db("catalog")`` creates an empty database and returns its URL."""
    import psycopg2
    from psycopg2 import sql

    created: list[str] = []

    def make(prefix: str = "t") -> str:
        name = f"t_{prefix}_{uuid.uuid4().hex[:8]}"
        conn = psycopg2.connect(dbname="postgres", user="postgres", host=pg_server.socket_dir)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn.close()
        created.append(name)
        return pg_server.url(name)

    yield make

    # Tests may leave pooled connections open; DROP ... WITH (FORCE) ends them.
    conn = psycopg2.connect(dbname="postgres", user="postgres", host=pg_server.socket_dir)
    conn.autocommit = True
    with conn.cursor() as cur:
        for name in created:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.close()


@pytest.fixture
def catalog_url(fresh_db) -> str:
    """A fresh catalog database migrated to head."""
    from assay.catalog import migrate

    url = fresh_db("catalog")
    migrate.upgrade(url, "head")
    return url
