"""Shared fixtures: one real embedded PostgreSQL for the whole test session.

The test server lives in ``.assay/test`` (ASSAY_TEST_HOME overrides), apart from the demo's
``.assay``, so ``make test`` never touches demo state. Each test that writes gets a database of
its own from ``fresh_db``; it is dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
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


#: Variables that code under test may set in-process (``mlflow.set_tracking_uri`` exports
#: MLFLOW_TRACKING_URI to the environment); restored after every test so none leaks into the next.
_LEAKY_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@pytest.fixture(autouse=True)
def _restore_leaky_env() -> Iterator[None]:
    before = {var: os.environ.get(var) for var in _LEAKY_ENV}
    yield
    for var, value in before.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value


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


@contextmanager
def scratch_database(pg_server, prefix: str = "t") -> Iterator[str]:
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
def scratch_db(pg_server) -> Callable[[str], AbstractContextManager[str]]:
    """For module-scoped fixtures: ``with scratch_db("shop") as url: ...``."""
    return lambda prefix="t": scratch_database(pg_server, prefix)


@pytest.fixture
def fresh_db(pg_server) -> Iterator[Callable[[str], str]]:
    """Factory: ``fresh_db("catalog")`` creates an empty database and returns its URL."""
    with ExitStack() as stack:
        yield lambda prefix="t": stack.enter_context(scratch_database(pg_server, prefix))


@pytest.fixture
def catalog_url(fresh_db) -> str:
    """A fresh catalog database migrated to head."""
    from assay.catalog import migrate

    url = fresh_db("catalog")
    migrate.upgrade(url, "head")
    return url


@pytest.fixture
def mlflow_uri(fresh_db) -> str:
    """A fresh, empty MLflow tracking + registry store (real MLflow on its own database).

    MLflow creates its tables on first use; experiments must still be created with an explicit
    ``artifact_location`` (the default is CWD-relative).
    """
    return fresh_db("mlflow")


@pytest.fixture
def isolated_settings(settings, catalog_url, mlflow_uri):
    """Settings whose catalog and MLflow store are fresh databases of this test (shop: the embedded one)."""
    return settings.model_copy(update={"database_url": catalog_url, "mlflow_tracking_uri": mlflow_uri})
