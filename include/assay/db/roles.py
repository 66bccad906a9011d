"""Least-privilege roles: assay reads sources as ``assay_reader`` and writes its catalog as ``assay_writer``.

* The reader logs in, is no superuser, cannot create databases or roles, is a member of none of
  the built-in roles that reach the server's files, programs or all data, starts every transaction
  read-only and has a ``statement_timeout``. It may CONNECT to a source database, use its schemas
  and SELECT its tables, including tables the owner creates later (default privileges).
* The writer owns the catalog database's schemas and everything in them (Alembic runs as it), and
  is granted nothing on a source.

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

from assay.config import READER_ROLE, WRITER_ROLE, Settings
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


def as_role(url: str, role: str) -> str:
    """``url`` with ``role`` as its user and no password (for servers that trust the socket)."""
    from sqlalchemy.engine import make_url

    return make_url(url)._replace(username=role, password=None).render_as_string(hide_password=False)


def with_statement_timeout(url: str, timeout: str) -> str:
    """``url`` whose sessions start with ``statement_timeout = timeout`` (libpq ``options``)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    query = dict(u.query)
    flag = f"-c statement_timeout={timeout.replace(' ', '')}"
    existing = query.get("options")
    query["options"] = f"{existing} {flag}" if isinstance(existing, str) and existing else flag
    return u.set(query=query).render_as_string(hide_password=False)


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


def _owned_by_others(cur: Any, owner: str) -> list[tuple[str, str]]:
    """(ALTER keyword, qualified name) of every user object in this database not owned by ``owner``."""
    cur.execute(
        f"""
        WITH ns AS (SELECT oid, nspname FROM pg_namespace WHERE {_USER_SCHEMAS}),
        ext AS (SELECT objid FROM pg_depend WHERE deptype = 'e')
        SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                              WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
               format('%%I.%%I', ns.nspname, c.relname)
          FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND pg_get_userbyid(c.relowner) <> %(o)s
           AND c.oid NOT IN (SELECT objid FROM ext)
           -- a sequence owned by a column follows its table
           AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid
                                                 AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
        UNION ALL
        SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, format('%%I.%%I', ns.nspname, t.typname)
          FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
         WHERE t.typtype IN ('e', 'd', 'r') AND pg_get_userbyid(t.typowner) <> %(o)s
           AND t.oid NOT IN (SELECT objid FROM ext)
        UNION ALL
        SELECT 'ROUTINE', p.oid::regprocedure::text
          FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
         WHERE p.prokind IN ('f', 'p') AND pg_get_userbyid(p.proowner) <> %(o)s
           AND p.oid NOT IN (SELECT objid FROM ext)
        ORDER BY 1, 2
        """,  # noqa: S608
        {"o": owner},
    )
    return [(kind, name) for kind, name in cur.fetchall()]


def grant_writer(admin_url: str, database: str, writer: str = WRITER_ROLE) -> None:
    """Make ``writer`` the owner of ``database``'s schemas and every object in them.

    A catalog migrated as the superuser before the roles existed is handed over here, so Alembic
    (running as the writer) can alter the tables it did not create.
    """
    from psycopg2 import sql

    who = sql.Identifier(writer)
    with _connect(admin_url, database) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(sql.Identifier(database), who))
        cur.execute(
            f"SELECT nspname FROM pg_namespace WHERE {_USER_SCHEMAS} AND pg_get_userbyid(nspowner) <> %s ORDER BY 1",  # noqa: S608
            (writer,),
        )
        for (schema,) in cur.fetchall():
            cur.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(schema), who))
        moved = _owned_by_others(cur, writer)
        for kind, name in moved:
            # ``name`` comes from format('%I.%I') / regprocedure: already quoted by the server.
            cur.execute(sql.SQL("ALTER " + kind + " " + name + " OWNER TO {}").format(who))
        if moved:
            log.info("database %s: %d objects now owned by %s", database, len(moved), writer)


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
