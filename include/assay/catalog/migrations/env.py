"""Alembic environment for the assay catalog.

Normally run through :mod:`assay.catalog.migrate`, which passes an open connection in
``config.attributes["connection"]``. Run by the ``alembic`` CLI (``alembic -c
include/assay/catalog/alembic.ini ...``, e.g. to autogenerate a revision), it connects to
``sqlalchemy.url`` from the ini file, or else to the catalog URL from assay's settings.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from assay.catalog.migrate import AUTOGENERATE_PLUGINS
from assay.catalog.models import VERSION_TABLE, Base

config = context.config
target_metadata = Base.metadata

#: pg_advisory_xact_lock key: two processes upgrading at once (two Airflow workers, a CLI run)
#: take turns instead of racing to create the same tables.
MIGRATION_LOCK_KEY = 0x61737361_7963  # "assayc"


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from assay.config import get_settings

    return get_settings().catalog_url()


def _configure(**kw: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        compare_type=True,
        compare_server_default=True,
        autogenerate_plugins=AUTOGENERATE_PLUGINS,
        **kw,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``) instead of running it."""
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url(), poolclass=NullPool, hide_parameters=True)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
