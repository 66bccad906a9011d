"""Least-privilege roles: assay reads sources as ``assay_reader`` and writes its catalog as ``assay_writer``.

* The reader logs in, is no superuser, cannot create databases or roles, is a member of none of
  the built-in roles that reach the server's files, programs or all data, starts every transaction
  read-only and has a ``statement_timeout``. It may CONNECT to a source database, use its schemas
  and SELECT its tables, including tables the owner creates later (default privileges).
* The writer owns the catalog's own objects (its tables, their sequences and indexes, the
  functions and types its migrations create; Alembic runs as it), may create in the catalog's
  schema, and is granted nothing on a source. Other objects in a shared catalog database are left
  to their owners.

Everything here is idempotent: attributes are altered only when they differ, GRANT and ALTER
DEFAULT PRIVILEGES do not duplicate, and the set-up runs under an advisory lock so two
``assay db up`` at once do not race. ``assay db up`` runs it on the embedded server; compose's
``airflow-init`` runs ``python -m assay.db.roles`` with ``ASSAY_ADMIN_URL`` (docs/compose.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from assay.config import READER_ROLE, WRITER_ROLE, Settings, with_session_options
from assay.errors import ConfigError

log = logging.getLogger(__name__)

#: Built-in roles that read or write server files, run programs or read/write every table.
FORBIDDEN_MEMBERSHIPS: tuple[str, ...] = (
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
    "pg_read_all_data",
    "pg_write_all_data",
)
#: Arbitrary, constant: the advisory lock that serialises role set-up on one server.
_LOCK_KEY = 0x61737361  # "assa"
#: User schemas (no ``%``: the text goes into queries with parameters).
_USER_SCHEMAS = "nspname !~ '^pg_' AND nspname <> 'information_schema'"


@contextmanager
def _connect(url: str, database: str | None = None) -> Iterator[Any]:
    """An autocommit psycopg2 connection for ``url`` (optionally on another ``database``)."""
    import psycopg2
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = psycopg2.connect(
        dbname=database or u.database,
        user=u.username,
        password=u.password,
        host=u.query.get("host", u.host),
        port=u.port,
        connect_timeout=10,
    )
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()


def with_statement_timeout(url: str, timeout: str) -> str:
    """``url`` whose sessions start with ``statement_timeout = timeout`` (libpq ``options``)."""
    return with_session_options(url, statement_timeout=timeout)


# ---- roles --------------------------------------------------------------------------------------
_ATTRIBUTES = {"rolcanlogin": True, "rolsuper": False, "rolcreatedb": False, "rolcreaterole": False,
               "rolreplication": False, "rolbypassrls": False}
_KEYWORDS = {"rolcanlogin": "LOGIN", "rolsuper": "SUPERUSER", "rolcreatedb": "CREATEDB",
             "rolcreaterole": "CREATEROLE", "rolreplication": "REPLICATION", "rolbypassrls": "BYPASSRLS"}


def _ensure_role(cur: Any, role: str, password: str | None, settings: dict[str, str]) -> None:
    """Create ``role`` or correct what differs: attributes, per-role settings, forbidden memberships."""
    from psycopg2 import sql

    name = sql.Identifier(role)
    cur.execute(f"SELECT {', '.join(_ATTRIBUTES)}, rolconfig FROM pg_roles WHERE rolname = %s", (role,))  # noqa: S608
    row = cur.fetchone()
    if row is None:
        cur.execute(sql.SQL("CREATE ROLE {} " + " ".join(
            (kw if _ATTRIBUTES[a] else f"NO{kw}") for a, kw in _KEYWORDS.items())).format(name))
        log.info("created role %s", role)
        current: dict[str, Any] = dict(_ATTRIBUTES)
        config: list[str] = []
    else:
        current = dict(zip(_ATTRIBUTES, row[:-1], strict=True))
        config = list(row[-1] or [])
    wrong = [a for a, want in _ATTRIBUTES.items() if current[a] != want]
    if wrong:
        words = " ".join(_KEYWORDS[a] if _ATTRIBUTES[a] else f"NO{_KEYWORDS[a]}" for a in wrong)
        cur.execute(sql.SQL("ALTER ROLE {} " + words).format(name))
        log.warning("role %s had %s; corrected", role, ", ".join(wrong))
    if password is not None:
        cur.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(name, sql.Literal(password)))
    for key, value in settings.items():
        if f"{key}={value}" not in config:
            cur.execute(sql.SQL("ALTER ROLE {} SET {} = {}").format(name, sql.Identifier(key), sql.Literal(value)))
    cur.execute(
        """SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
           JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = %s AND (g.rolname = ANY(%s) OR g.rolsuper)""",
        (role, list(FORBIDDEN_MEMBERSHIPS)),
    )
    for (granted,) in cur.fetchall():
        cur.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(granted), name))
        log.warning("role %s was a member of %s; revoked", role, granted)


def ensure_roles(
    cur: Any, *, statement_timeout: str, reader_password: str | None = None, writer_password: str | None = None
) -> None:
    """Create (or correct) the reader and the writer role on the server ``cur`` is connected to."""
    _ensure_role(
        cur, READER_ROLE, reader_password,
        {"default_transaction_read_only": "on", "statement_timeout": statement_timeout},
    )
    _ensure_role(cur, WRITER_ROLE, writer_password, {})


# ---- grants -------------------------------------------------------------------------------------
def grant_reader(admin_url: str, database: str, reader: str = READER_ROLE) -> None:
    """Let ``reader`` CONNECT to ``database`` and SELECT every table of its schemas, now and later.

    Tables created later are covered by default privileges for the roles that own the database's
    tables today and for the admin (who seeds on the embedded server); schemas created later by
    those roles are usable too.
    """
    from psycopg2 import sql

    who = sql.Identifier(reader)
    with _connect(admin_url, database) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), who))
        cur.execute(f"SELECT nspname FROM pg_namespace WHERE {_USER_SCHEMAS} ORDER BY 1")  # noqa: S608
        for (schema,) in cur.fetchall():
            cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), who))
            cur.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(sql.Identifier(schema), who))
        cur.execute(
            f"""SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_USER_SCHEMAS}
                UNION SELECT current_user ORDER BY 1"""  # noqa: S608
        )
        for (owner,) in cur.fetchall():
            if owner == reader:
                continue
            for what in ("SELECT ON TABLES", "USAGE ON SCHEMAS"):
                cur.execute(sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} GRANT " + what + " TO {}").format(
                    sql.Identifier(owner), who))


#: Functions assay's migrations create (``GUARD_FUNCTION`` in migrations/versions/0001_catalog_schema.py
#: and 0004_evidence_attempts.py).
CATALOG_FUNCTIONS: tuple[str, ...] = ("assay_refuse_append_only_change", "assay_refuse_finished_attempt_change")


def _catalog_names() -> tuple[list[str], list[str]]:
    """(tables, enum types) assay's migrations create: the models' tables and Alembic's, unqualified or qualified."""
    from sqlalchemy import Enum

    from assay.catalog.models import VERSION_TABLE, Base

    tables = [t.fullname for t in Base.metadata.sorted_tables] + [VERSION_TABLE]
    types = sorted({
        f"{c.type.schema}.{c.type.name}" if c.type.schema else c.type.name
        for t in Base.metadata.sorted_tables for c in t.columns
        if isinstance(c.type, Enum) and c.type.native_enum and c.type.name
    })
    return tables, types


def _not_owned_by(cur: Any, owner: str) -> list[tuple[str, str, str, bool, bool]]:
    """(ALTER keyword, qualified name, schema, assay's?, owner is a superuser?) of each user object ``owner`` lacks.

    Assay's objects are its catalog's tables (their indexes, owned sequences and row types follow
    them), the enum types and the functions its migrations create; the rest belongs to whoever
    shares the database.
    """
    tables, types = _catalog_names()
    cur.execute(
        f"""
        WITH ns AS (SELECT oid, nspname FROM pg_namespace WHERE {_USER_SCHEMAS}),
        ext AS (SELECT objid FROM pg_depend WHERE deptype = 'e'),
        mine_rel AS (SELECT to_regclass(t) AS oid FROM unnest(%(tables)s::text[]) t),
        mine_typ AS (SELECT to_regtype(t) AS oid FROM unnest(%(types)s::text[]) t),
        mine_ns AS (SELECT DISTINCT c.relnamespace AS oid FROM pg_class c JOIN mine_rel m ON m.oid = c.oid
                    UNION SELECT oid FROM pg_namespace WHERE nspname = current_schema()),
        objs AS (
        SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                              WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
               format('%%I.%%I', ns.nspname, c.relname) AS name, ns.nspname, c.relowner AS owner,
               c.oid IN (SELECT oid FROM mine_rel) AS mine
          FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.oid NOT IN (SELECT objid FROM ext)
           -- a sequence owned by a column follows its table
           AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid
                                                 AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
        UNION ALL
        SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, format('%%I.%%I', ns.nspname, t.typname),
               ns.nspname, t.typowner, t.oid IN (SELECT oid FROM mine_typ)
          FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
         WHERE t.typtype IN ('e', 'd', 'r') AND t.oid NOT IN (SELECT objid FROM ext)
        UNION ALL
        SELECT 'ROUTINE', p.oid::regprocedure::text, ns.nspname, p.proowner,
               p.proname = ANY(%(functions)s) AND p.pronamespace IN (SELECT oid FROM mine_ns)
          FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
         WHERE p.prokind IN ('f', 'p') AND p.oid NOT IN (SELECT objid FROM ext))
        SELECT kind, name, nspname, mine, r.rolsuper FROM objs JOIN pg_roles r ON r.oid = objs.owner
         WHERE r.rolname <> %(o)s ORDER BY 1, 2
        """,  # noqa: S608
        {"o": owner, "tables": tables, "types": types, "functions": list(CATALOG_FUNCTIONS)},
    )
    return [tuple(row) for row in cur.fetchall()]


def grant_writer(admin_url: str, database: str, writer: str = WRITER_ROLE) -> None:
    """Make ``writer`` the owner of the catalog's objects in ``database``, and leave the rest alone.

    A catalog migrated as the superuser before the roles existed is handed over here, so Alembic
    (running as the writer) can alter the tables it did not create. The database may be shared
    (an external server): only assay's own objects move. The writer may create in the catalog's
    schema and owns it only when nothing of anyone else's lives there.
    """
    from psycopg2 import sql

    who = sql.Identifier(writer)
    with _connect(admin_url, database) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(sql.Identifier(database), who))
        found = _not_owned_by(cur, writer)
        moved = [(kind, name) for kind, name, _, mine, _ in found if mine]
        for kind, name in moved:
            # ``name`` comes from format('%I.%I') / regprocedure: already quoted by the server.
            cur.execute(sql.SQL("ALTER " + kind + " " + name + " OWNER TO {}").format(who))
        others = {schema for _, _, schema, mine, _ in found if not mine}
        foreign = [name for _, name, _, mine, superuser in found if not mine and not superuser]
        tables, _ = _catalog_names()
        cur.execute(
            """SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE oid IN (
                   SELECT relnamespace FROM pg_class WHERE oid IN (SELECT to_regclass(t) FROM unnest(%s::text[]) t))
                OR nspname = current_schema() ORDER BY 1""",
            (tables,),
        )
        for schema, schema_owner in cur.fetchall():
            name = sql.Identifier(schema)
            cur.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(name, who))
            if schema not in others and schema_owner != writer:
                cur.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(name, who))
        if moved:
            log.info("database %s: %d catalog objects now owned by %s", database, len(moved), writer)
        if foreign:
            log.warning("database %s: left %d objects of other roles alone (not assay's): %s",
                        database, len(foreign), ", ".join(foreign))


# ---- the whole set-up ---------------------------------------------------------------------------
def setup(
    admin_url: str,
    *,
    catalog_database: str,
    source_databases: Iterable[str],
    statement_timeout: str,
    reader_password: str | None = None,
    writer_password: str | None = None,
) -> None:
    """Roles, reader grants on each source database and the catalog for the writer, under one lock."""
    with _connect(admin_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            ensure_roles(cur, statement_timeout=statement_timeout,
                         reader_password=reader_password, writer_password=writer_password)
            for database in source_databases:
                grant_reader(admin_url, database)
            grant_writer(admin_url, catalog_database)
        finally:
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def setup_external(settings: Settings) -> None:
    """Set the roles up on an external server with ``ASSAY_ADMIN_URL`` (compose's ``airflow-init``).

    The catalog is the database of ``ASSAY_DATABASE_URL``, the source that of the shop's URL.
    """
    from sqlalchemy.engine import make_url

    if not settings.admin_url or not settings.database_url:
        raise ConfigError("role set-up on an external server needs ASSAY_ADMIN_URL and ASSAY_DATABASE_URL")
    catalog = make_url(settings.database_url)
    source = make_url(settings.source_reader_url())
    for url, role in ((catalog, WRITER_ROLE), (source, READER_ROLE)):
        if url.username != role:
            from assay.catalog.urls import masked

            raise ConfigError(f"{masked(url.render_as_string(hide_password=False))} should log in as {role}")
    setup(
        settings.admin_url,
        catalog_database=str(catalog.database),
        source_databases=[str(source.database)],
        statement_timeout=settings.reader_statement_timeout,
        reader_password=settings.reader_password.get_secret_value() if settings.reader_password else None,
        writer_password=settings.writer_password.get_secret_value() if settings.writer_password else None,
    )


if __name__ == "__main__":  # python -m assay.db.roles (compose's airflow-init)
    from assay.config import get_settings

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    setup_external(get_settings())
