"""Alembic, driven from code: upgrade, downgrade and inspect the catalog schema.

No ``alembic.ini`` is read: the script location is this package's ``migrations`` folder and the
connection is handed to ``env.py`` directly, so the same code works from the CLI, from an Airflow
task and from tests. Alembic's bookkeeping lives in ``alembic_version_assay`` so a database shared
with MLflow or Airflow (which both use Alembic) is safe. Concurrent upgrades serialise on a
PostgreSQL advisory lock taken in ``env.py``.

``engine`` and ``session`` are re-exported from :mod:`assay.catalog.db` for callers that only
import this module.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from assay.catalog.db import connect_args, engine, masked, scrub, session
from assay.catalog.models import VERSION_TABLE
from assay.errors import DatabaseError

__all__ = [
    "AUTOGENERATE_PLUGINS",
    "MIGRATIONS_DIR",
    "check_reachable",
    "current",
    "downgrade",
    "engine",
    "head",
    "require_head",
    "session",
    "upgrade",
]

log = logging.getLogger(__name__)
# Alembic 1.20 logs each autogenerate plugin it loads at INFO on every command.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: Alembic's default comparisons plus CHECK constraints by name (opt-in since Alembic 1.19); every
#: catalog CHECK is named by the naming convention, so additions and removals are detected.
AUTOGENERATE_PLUGINS = ["alembic.autogenerate.*", "alembic.ext.checkconstraint_byname"]

#: Alembic keeps its running context in module globals, so two threads of one process must not
#: run it at once. Other processes are kept apart by the advisory lock in ``env.py``.
_ALEMBIC_LOCK = threading.Lock()


def _config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Only used by offline (--sql) runs; configparser needs '%' doubled.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _reason(exc: BaseException, url: str) -> str:
    """The driver's message on one line, scrubbed of the URL's secrets (a driver may quote a piece)."""
    orig = getattr(exc, "orig", None) or exc
    return scrub(" ".join(str(orig).split()) or type(orig).__name__, url)


def _cause(exc: BaseException, url: str) -> BaseException | None:
    """``exc`` to chain, or None when its text quotes a secret of ``url`` (a traceback would show it)."""
    return exc if scrub(str(exc), url) == str(exc) else None


def _throwaway_engine(url: str) -> Engine:
    """An engine without a pool: migrations and probes must not leave connections behind."""
    try:
        return create_engine(url, poolclass=NullPool, connect_args=connect_args(url), hide_parameters=True)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:  # ValueError: a port that is no number
        raise DatabaseError(f"catalog database URL {masked(url)} is not valid: {_reason(exc, url)}") from _cause(exc, url)


def _with_connection(url: str, action: str, fn: Callable[[Connection], None]) -> None:
    """Run ``fn`` in one transaction on a throwaway connection; errors become DatabaseError."""
    eng = _throwaway_engine(url)
    try:
        with _ALEMBIC_LOCK, eng.begin() as conn:
            fn(conn)
    except DBAPIError as exc:
        raise DatabaseError(f"{action} on catalog {masked(url)} failed: {_reason(exc, url)}") from _cause(exc, url)
    except CommandError as exc:
        raise DatabaseError(f"{action} on catalog {masked(url)} failed: {exc}") from exc
    finally:
        eng.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the catalog schema at ``url`` to ``revision`` (idempotent).

    Raises:
        DatabaseError: the database is unreachable, the revision is unknown or a migration failed.
    """
    cfg = _config(url)

    def run(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    _with_connection(url, f"upgrade to {revision}", run)
    log.info("catalog %s upgraded to %s", masked(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Downgrade the catalog schema at ``url`` to ``revision`` (``base`` drops every catalog table).

    Raises:
        DatabaseError: as for :func:`upgrade`.
    """
    cfg = _config(url)

    def run(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)

    _with_connection(url, f"downgrade to {revision}", run)
    log.info("catalog %s downgraded to %s", masked(url), revision)


def current(url: str) -> str | None:
    """The revision the catalog at ``url`` is at; None for a database never migrated."""
    found: list[str | None] = []

    def run(conn: Connection) -> None:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        found.append(ctx.get_current_revision())

    _with_connection(url, "reading the revision", run)
    return found[0]


def head() -> str:
    """The newest revision this version of assay ships."""
    script = ScriptDirectory.from_config(_config("postgresql://"))
    rev = script.get_current_head()
    if rev is None:  # pragma: no cover - the package always ships migrations
        raise DatabaseError(f"no migrations found in {MIGRATIONS_DIR}")
    return rev


def require_head(url: str) -> None:
    """Fail early, with the fix, when the catalog is not at this code's newest revision.

    Raises:
        DatabaseError: the catalog is behind (or ahead of) this code.
    """
    at, want = current(url), head()
    if at != want:
        raise DatabaseError(
            f"catalog {masked(url)} is at revision {at or '(none)'} but this code needs {want}: "
            "run `assay catalog migrate` (or trigger the catalog_maintenance DAG)"
        )


def check_reachable(url: str) -> None:
    """Connect once and run ``SELECT 1``, waiting at most a few seconds.

    Raises:
        DatabaseError: names the URL (password masked) and the driver's reason.
    """
    eng = _throwaway_engine(url)
    try:
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        raise DatabaseError(f"catalog database {masked(url)} is not reachable: {_reason(exc, url)}") from _cause(
            exc, url
        )
    finally:
        eng.dispose()
