"""Least-privilege roles: sources are read as ``assay_reader``, the catalog written as ``assay_writer``.

The hostile-review finding (issue 12): suite SQL ran as the superuser, so an
``unexpected_rows_query`` calling ``pg_read_file()`` stored a server file in the catalog. Each test
here fails without the roles; the database tests run on the embedded test server.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from psycopg2 import errors
from support.db import execute, rows

from assay.config import READER_ROLE, WRITER_ROLE, Settings
from assay.db import roles

DAY = date(2026, 11, 1)


def as_role(url: str, role: str) -> str:
    """``url`` with ``role`` as its user and no password (the test server trusts the socket)."""
    from sqlalchemy.engine import make_url

    return make_url(url)._replace(username=role, password=None).render_as_string(hide_password=False)


# ---- settings (no database) ---------------------------------------------------------------------
def test_embedded_urls_name_the_reader_and_the_writer(tmp_path: Path) -> None:
    (tmp_path / "pg.json").write_text(json.dumps({"socket_dir": "/s/pg"}))
    s = Settings(home=tmp_path)
    assert s.catalog_url() == f"postgresql+psycopg2://{WRITER_ROLE}@localhost/assay?host=/s/pg"
    assert s.source_reader_url() == f"postgresql+psycopg2://{READER_ROLE}@localhost/shop?host=/s/pg"
    # the seed still writes the shop as its owner
    assert s.shop_database_url() == "postgresql+psycopg2://postgres@localhost/shop?host=/s/pg"
    assert s.airflow_env()["ASSAY_SHOP_READER_URL"] == s.source_reader_url()


def test_external_reader_url_wins_and_a_bad_timeout_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ASSAY_SHOP_URL", "postgresql+psycopg2://owner@db.example/shop")
    assert Settings(home=tmp_path).source_reader_url() == "postgresql+psycopg2://owner@db.example/shop"
    monkeypatch.setenv("ASSAY_SHOP_READER_URL", "postgresql+psycopg2://assay_reader@db.example/shop")
    assert Settings(home=tmp_path).source_reader_url() == "postgresql+psycopg2://assay_reader@db.example/shop"
    monkeypatch.setenv("ASSAY_READER_STATEMENT_TIMEOUT", "10min'; DROP ROLE x; --")
    with pytest.raises(ValueError, match="not a PostgreSQL duration"):
        Settings(home=tmp_path)


def test_suite_urls_carry_the_suite_statement_timeout() -> None:
    url = roles.with_statement_timeout("postgresql+psycopg2://r@h/db?host=/s", "90s")
    assert "options=-c+statement_timeout%3D90s" in url or "options=-c%20statement_timeout%3D90s" in url
    again = roles.with_statement_timeout("postgresql+psycopg2://r@h/db?options=-c%20work_mem%3D4MB", "1s")
    assert "work_mem" in again and "statement_timeout" in again


# ---- the embedded server -------------------------------------------------------------------------
@pytest.fixture
def source(pg_server, fresh_db: Callable[[str], str]) -> tuple[str, str]:
    """A scratch source database (owner: postgres) granted to the reader: (owner URL, reader URL)."""
    url = fresh_db("src")
    execute(url, "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'a'), (2, 'b')")
    roles.grant_reader(pg_server.url("postgres"), _database(url))
    # created after the grant: default privileges make it readable too
    execute(url, "CREATE SCHEMA late; CREATE TABLE late.things AS SELECT 1 AS x")
    return url, as_role(url, READER_ROLE)


def _database(url: str) -> str:
    from sqlalchemy.engine import make_url

    return str(make_url(url).database)


def _connect(url: str) -> Any:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = psycopg2.connect(dbname=u.database, user=u.username, host=u.query["host"],
                            options=u.query.get("options"))
    conn.autocommit = True
    return conn


def _fails(url: str, statement: str, error: type[Exception] = errors.InsufficientPrivilege) -> str:
    """The error message of the last of ``statement``'s ``;``-separated statements (each its own transaction)."""
    *before, last = [s for s in statement.split("; ") if s]
    conn = _connect(url)
    try:
        with conn.cursor() as cur:
            for s in before:
                cur.execute(s)
            with pytest.raises(error) as exc:
                cur.execute(last)
        return str(exc.value)
    finally:
        conn.close()


@pytest.mark.integration
def test_reader_reads_every_table_now_and_later_but_writes_nothing(source) -> None:
    _, reader = source
    assert rows(reader, "SELECT count(*) FROM items") == [(2,)]
    assert rows(reader, "SELECT x FROM late.things") == [(1,)]
    assert "read-only transaction" in _fails(reader, "INSERT INTO items VALUES (3, 'c')", errors.ReadOnlySqlTransaction)
    # read-only is a default a session may lift; the missing privileges are what really stop it
    _fails(reader, "SET default_transaction_read_only = off; INSERT INTO items VALUES (3, 'c')")
    _fails(reader, "SET default_transaction_read_only = off; CREATE TABLE public.evil (x int)")
    _fails(reader, "SET default_transaction_read_only = off; CREATE SCHEMA evil")
    _fails(reader, "SET default_transaction_read_only = off; DROP TABLE items")
    assert rows(source[0], "SELECT count(*) FROM items") == [(2,)]


@pytest.mark.integration
def test_reader_cannot_reach_server_files_or_programs(source, pg_server) -> None:
    _, reader = source
    assert "pg_read_file" in _fails(reader, "SELECT pg_read_file('/etc/hostname')")
    assert "pg_ls_dir" in _fails(reader, "SELECT pg_ls_dir('.')")
    _fails(reader, "SELECT pg_read_binary_file('/etc/passwd')")
    _fails(reader, "SET default_transaction_read_only = off; COPY items TO PROGRAM 'true'")
    _fails(reader, "SELECT lo_import('/etc/hostname')")
    admin = pg_server.url("postgres")
    for role in (READER_ROLE, WRITER_ROLE):
        attrs = rows(admin, "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin "
                            "FROM pg_roles WHERE rolname = :r", r=role)
        assert attrs == [(False, False, False, False, False, True)], role
        member_of = rows(admin, "SELECT g FROM unnest(CAST(:g AS text[])) g WHERE pg_has_role(:r, g, 'MEMBER')",
                         g=list(roles.FORBIDDEN_MEMBERSHIPS), r=role)
        assert member_of == [], role


@pytest.mark.integration
def test_reader_has_a_statement_timeout_and_read_only_default(source, settings) -> None:
    _, reader = source
    assert rows(reader, "SHOW statement_timeout") == [(settings.reader_statement_timeout,)]
    assert rows(reader, "SHOW default_transaction_read_only") == [("on",)]
    suite = roles.with_statement_timeout(reader, settings.suite_statement_timeout)
    assert rows(suite, "SHOW statement_timeout") == [(settings.suite_statement_timeout,)]
    assert "statement timeout" in _fails(roles.with_statement_timeout(reader, "200ms"), "SELECT pg_sleep(2)",
                                         errors.QueryCanceled)


@pytest.mark.integration
def test_writer_cannot_read_a_source(source, pg_server) -> None:
    owner, _ = source
    writer = as_role(owner, WRITER_ROLE)
    _fails(writer, "SELECT * FROM items")
    _fails(writer, "INSERT INTO items VALUES (3, 'c')")
    _fails(writer, "SELECT * FROM late.things")
    # nor the embedded shop: nothing there is granted to it
    assert rows(pg_server.url("shop"), """
        SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = :w""", w=WRITER_ROLE) == [(0,)]


@pytest.mark.integration
def test_catalog_migrated_by_the_superuser_is_handed_to_the_writer(pg_server, catalog_url) -> None:
    from assay.catalog import migrate

    database = _database(catalog_url)
    owners = "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " \
             "WHERE n.nspname = 'public'"
    assert rows(catalog_url, owners) == [("postgres",)]
    roles.grant_writer(pg_server.url("postgres"), database)
    assert rows(catalog_url, owners) == [(WRITER_ROLE,)]
    writer = as_role(catalog_url, WRITER_ROLE)
    # Alembic as the writer: every migration down and up again (drops and creates tables)
    migrate.downgrade(writer, "base")
    migrate.upgrade(writer, "head")
    assert rows(catalog_url, owners) == [(WRITER_ROLE,)]
    _fails(writer, "CREATE DATABASE nope", errors.InsufficientPrivilege)


@pytest.fixture
def hostile_world(pg_server, fresh_db, catalog_url, tmp_path: Path) -> tuple[Settings, Path, str]:
    """A source with one table and a suite whose SQL reads a server file holding a unique secret."""
    src = fresh_db("hostile")
    execute(src, "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'a')")
    roles.grant_reader(pg_server.url("postgres"), _database(src))
    secret = f"secret-{uuid.uuid4().hex}"
    target = Path("/tmp") / f"assay-roles-{uuid.uuid4().hex[:8]}.txt"
    target.write_text(secret)
    target.chmod(0o644)
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "items.json").write_text(json.dumps({
        "name": "items",
        "meta": {"assay": {"source": "src", "table": "public.items"}},
        "expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"},
             "meta": {"name": "id_not_null", "dimension": "completeness", "severity": "critical"}},
            {"type": "unexpected_rows_expectation",
             "kwargs": {"unexpected_rows_query":
                        f"SELECT pg_read_file('{target}') AS leak FROM {{batch}} WHERE pg_read_file('{target}') <> ''"},
             "meta": {"name": "reads_a_server_file", "dimension": "validity", "severity": "critical"}},
        ],
    }))
    settings = Settings(home=tmp_path / "state", database_url=catalog_url, shop_url=src,
                        shop_reader_url=as_role(src, READER_ROLE), landing_dir=tmp_path / "landing")
    yield settings, suites, secret
    target.unlink(missing_ok=True)


@pytest.mark.integration
def test_suite_sql_reading_a_server_file_fails_on_its_expectation_and_stores_nothing(hostile_world) -> None:
    from assay.quality import run_quality
    from assay.sources.declarations import Declarations

    settings, suites, secret = hostile_world
    decls = Declarations.model_validate({"sources": [{"name": "src", "kind": "sql", "url_from": "shop"}]})
    report = run_quality(settings, DAY, "test/roles", suites=suites, declarations=decls, raise_on_failure=False)
    p = report.partitions[0]
    assert len(report.partitions) == 1, report.summary()
    outcomes = {o.expectation_id: o for o in p.outcomes}
    assert outcomes["id_not_null"].success
    bad = outcomes["reads_a_server_file"]
    assert not bad.success and bad.error is not None
    assert "permission denied for function pg_read_file" in bad.error
    assert p.status == "error"
    # nothing of the file anywhere in the catalog or the Data Docs
    catalog = settings.catalog_url()
    for table in ("quality_runs", "expectation_results", "review_items", "assets", "sources"):
        dump = rows(catalog, f"SELECT coalesce(string_agg(row_to_json(t)::text, ''), '') FROM {table} t")[0][0]
        assert secret not in dump, table
    docs = [f.read_text(errors="replace") for f in settings.state_dir.rglob("*") if f.is_file()]
    assert docs and not any(secret in d for d in docs)


def _snapshot(pg_server) -> dict[str, Any]:
    """Roles, memberships and every grant of the roles on the embedded shop and catalog."""
    admin = pg_server.url("postgres")
    snap: dict[str, Any] = {
        "roles": rows(admin, "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolconfig "
                             "FROM pg_roles WHERE rolname IN (:r, :w) ORDER BY 1", r=READER_ROLE, w=WRITER_ROLE),
        "members": rows(admin, "SELECT roleid::regrole::text, member::regrole::text FROM pg_auth_members "
                               "WHERE member::regrole::text IN (:r, :w) ORDER BY 1, 2", r=READER_ROLE, w=WRITER_ROLE),
        "databases": rows(admin, "SELECT datname, datacl::text FROM pg_database WHERE datname IN ('shop', 'assay') "
                                 "ORDER BY 1"),
    }
    for db in ("shop", "assay"):
        url = pg_server.url(db)
        snap[db] = (
            rows(url, "SELECT nspname, nspowner::regrole::text, nspacl::text FROM pg_namespace ORDER BY 1"),
            {name: (owner, acl) for name, owner, acl in rows(
                url, "SELECT c.oid::regclass::text, c.relowner::regrole::text, c.relacl::text FROM pg_class c "
                     "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname !~ '^pg_' "
                     "AND n.nspname <> 'information_schema'")},
            rows(url, "SELECT defaclrole::regrole::text, defaclobjtype, defaclacl::text FROM pg_default_acl ORDER BY 1, 2"),
        )
    return snap


@pytest.mark.integration
def test_db_up_twice_sets_the_roles_up_and_changes_nothing_the_second_time(settings, pg_server) -> None:
    from assay.db import embedded

    embedded.up(settings)
    first = _snapshot(pg_server)
    assert [r[0] for r in first["roles"]] == [READER_ROLE, WRITER_ROLE]
    assert first["roles"][0][5] == ["default_transaction_read_only=on",
                                    f"statement_timeout={settings.reader_statement_timeout}"]
    assert f"{READER_ROLE}=c/" in dict(first["databases"])["shop"]
    assert any(owner == WRITER_ROLE for _, owner, _ in first["assay"][0])
    embedded.up(settings)
    second = _snapshot(pg_server)
    # other sessions may seed the shared test server meanwhile: compare the relations in both
    for db in ("shop", "assay"):
        common = first[db][1].keys() & second[db][1].keys()
        assert {k: first[db][1][k] for k in common} == {k: second[db][1][k] for k in common}, db
        first[db], second[db] = (first[db][0], first[db][2]), (second[db][0], second[db][2])
    assert second == first
    reader = settings.source_reader_url()
    assert rows(reader, "SELECT current_user, current_setting('transaction_read_only')") == [(READER_ROLE, "on")]
    assert rows(settings.catalog_url(), "SELECT current_user") == [(WRITER_ROLE,)]


# ---- review findings: the writer takes only the catalog's objects; sources read read-only ---------
@pytest.mark.integration
def test_grant_writer_leaves_other_applications_objects_in_a_shared_database_alone(
    pg_server, catalog_url, caplog
) -> None:
    other = f"other_app_{uuid.uuid4().hex[:8]}"
    admin = pg_server.url("postgres")
    execute(admin, f"CREATE ROLE {other} NOLOGIN")
    try:
        execute(catalog_url, f"""
            GRANT CREATE ON SCHEMA public TO {other};
            CREATE SCHEMA billing AUTHORIZATION {other};
            SET ROLE {other};
            CREATE TABLE public.invoices (id serial PRIMARY KEY);
            CREATE TABLE billing.payments (id int);
            CREATE TYPE billing.state AS ENUM ('open', 'paid');
            CREATE FUNCTION public.other_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';
            RESET ROLE""")
        with caplog.at_level("WARNING", logger="assay.db.roles"):
            roles.grant_writer(admin, _database(catalog_url))
        owner = "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass(:t)"
        for table in ("public.invoices", "public.invoices_id_seq", "billing.payments"):
            assert rows(catalog_url, owner, t=table) == [(other,)], table
        assert rows(catalog_url, "SELECT pg_get_userbyid(typowner) FROM pg_type WHERE typname = 'state'") == [(other,)]
        assert rows(catalog_url, "SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'other_fn'") == [(other,)]
        assert rows(catalog_url, "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'billing'") \
            == [(other,)]
        # assay's own objects did move: its tables, the Alembic table, the append-only guard function
        for table in ("public.assets", "public.alembic_version_assay", "public.gate_decisions"):
            assert rows(catalog_url, owner, t=table) == [(WRITER_ROLE,)], table
        assert rows(catalog_url, "SELECT pg_get_userbyid(proowner) FROM pg_proc "
                                 "WHERE proname = 'assay_refuse_append_only_change'") == [(WRITER_ROLE,)]
        assert "public.invoices" in caplog.text and "billing.payments" in caplog.text
        # the writer can still migrate its catalog in the shared schema
        from assay.catalog import migrate

        migrate.downgrade(as_role(catalog_url, WRITER_ROLE), "base")
        migrate.upgrade(as_role(catalog_url, WRITER_ROLE), "head")
    finally:
        execute(catalog_url, f"DROP OWNED BY {other}")
        execute(admin, f"DROP ROLE {other}")


def test_the_guard_function_name_matches_the_migration() -> None:
    versions = Path(roles.__file__).parents[1] / "catalog/migrations/versions"
    text = "".join(p.read_text() for p in sorted(versions.glob("*.py")))  # 0001's guard, 0004's attempt guard
    for name in roles.CATALOG_FUNCTIONS:
        assert f'"{name}"' in text


def test_every_postgresql_source_url_is_read_only_and_others_are_unchanged(tmp_path: Path) -> None:
    from assay.sources.declarations import SqlSource

    s = Settings(home=tmp_path, database_url="postgresql+psycopg2://w@h/assay?options=-c%20work_mem%3D4MB",
                 shop_url="postgresql://o@h/shop")
    for how in ({"url_from": "catalog"}, {"url_from": "shop"}, {"url": "postgresql+psycopg2://x@h/db"}):
        url = SqlSource.model_validate({"name": "s", "kind": "sql", **how}).resolve_url(s)
        assert "default_transaction_read_only%3Don" in url.replace("=", "%3D"), how
    merged = SqlSource.model_validate({"name": "s", "kind": "sql", "url_from": "catalog"}).resolve_url(s)
    assert "work_mem" in merged
    assert "statement_timeout" in roles.with_statement_timeout(merged, "1s") and "read_only" in merged
    sqlite = SqlSource.model_validate({"name": "s", "kind": "sql", "url": "sqlite:////tmp/x.db"}).resolve_url(s)
    assert sqlite == "sqlite:////tmp/x.db"


@pytest.mark.integration
def test_a_source_declared_on_the_catalog_cannot_write_through_its_url(pg_server, catalog_url, tmp_path) -> None:
    from assay.sources.declarations import SqlSource

    roles.grant_writer(pg_server.url("postgres"), _database(catalog_url))
    s = Settings(home=tmp_path, database_url=as_role(catalog_url, WRITER_ROLE))
    for how in ({"url_from": "catalog"}, {"url": catalog_url}):  # the writer; the superuser
        url = SqlSource.model_validate({"name": "s", "kind": "sql", **how}).resolve_url(s)
        assert rows(url, "SELECT count(*) FROM assets") == [(0,)]
        with pytest.raises(Exception, match="read-only transaction"):
            execute(url, "INSERT INTO sources (name, kind, url_or_conn_id) VALUES ('x', 'sql', 'x')")
        with pytest.raises(Exception, match="read-only transaction"):
            execute(url, "CREATE TABLE evil (x int)")
    assert rows(catalog_url, "SELECT count(*) FROM sources") == [(0,)]
