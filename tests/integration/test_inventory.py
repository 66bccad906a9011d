"""run_inventory against a real PostgreSQL source and real files: every requirement and bad input.

Each test builds its own source database (``fresh_db``) and landing folder (``tmp_path``) and
inventories them into a fresh catalog (``catalog_url``).
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from support.db import records as rows

from assay.catalog.models import RunStatus
from assay.config import Settings
from assay.errors import ConfigError, SourceError
from assay.inventory import run_inventory
from assay.sources import sql as sql_mod

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 11, 20)
MIDNIGHT = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
INVENTORY_TABLES = (
    "sources",
    "assets",
    "schema_versions",
    "schema_events",
    "asset_columns",
    "classifications",
    "inventory_runs",
)
#: Wall-clock columns: allowed to differ between reruns.
RUN_TIMESTAMPS = {"created_at", "updated_at", "started_at", "finished_at"}


# ---- helpers ------------------------------------------------------------------------------------
def qi(name: str) -> str:
    """A PostgreSQL identifier, quoted (test DDL only; the code under test quotes by itself)."""
    return '"' + name.replace('"', '""') + '"'


def ddl(url: str, *statements: str) -> None:
    """Run test DDL; psycopg2 formats ``%`` even without parameters, so it is doubled."""
    eng = create_engine(url)
    with eng.begin() as c:
        for statement in statements:
            c.exec_driver_sql(statement.replace("%", "%%"))
    eng.dispose()


def asset(url: str, name: str) -> dict[str, Any]:
    (row,) = rows(url, "SELECT * FROM assets WHERE name = :n", n=name)
    return row


def events(url: str, name: str, run_key: str | None = None) -> set[tuple[str, str]]:
    found = rows(
        url,
        "SELECT e.event_type, e.column_name, e.run_key FROM schema_events e JOIN assets a ON a.id = e.asset_id "
        "WHERE a.name = :n",
        n=name,
    )
    return {(r["event_type"], r["column_name"]) for r in found if run_key is None or r["run_key"] == run_key}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "elapsed_s"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def dump(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every inventory table in id order, without wall-clock columns and timings."""
    return {
        t: [_strip({k: v for k, v in r.items() if k not in RUN_TIMESTAMPS}) for r in rows(url, f"SELECT * FROM {t} ORDER BY id")]
        for t in INVENTORY_TABLES
    }


@contextmanager
def statements_on(database: str) -> Iterator[list[str]]:
    """Every SQL statement sent to ``database`` by any engine while the block runs."""
    seen: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if conn.engine.url.database == database:
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", listener)


@dataclass
class Env:
    catalog: str
    src: str
    tmp: Path
    fresh_db: Any

    @property
    def landing(self) -> Path:
        path = self.tmp / "landing"
        path.mkdir(exist_ok=True)
        return path

    def sql_source(self, name: str = "src", url: str | None = None, **kw: Any) -> dict[str, Any]:
        return {"name": name, "kind": "sql", "url": url or self.src, "owner": "data@x", "tags": ["shop"], **kw}

    def file_source(self, name: str = "feeds", **kw: Any) -> dict[str, Any]:
        return {"name": name, "kind": "files", "root": str(self.landing), "patterns": ["**/*.*"], **kw}

    def settings(self, *sources: dict[str, Any]) -> Settings:
        path = self.tmp / "sources.yaml"
        path.write_text(yaml.safe_dump({"sources": list(sources)}, allow_unicode=True))
        return Settings(database_url=self.catalog, sources_file=path)


@pytest.fixture
def env(catalog_url, fresh_db, tmp_path) -> Env:
    return Env(catalog=catalog_url, src=fresh_db("src"), tmp=tmp_path, fresh_db=fresh_db)


def run(settings: Settings, run_key: str = "test/run", day: dt.date = DAY, **kw: Any):
    kw.setdefault("use_embeddings", False)
    return run_inventory(settings, day, run_key, **kw)


# ---- discovery ----------------------------------------------------------------------------------
def test_reflection_is_batched_per_schema(env):
    """Catalog queries stay constant with the number of tables; each table costs two statements."""

    def measure(n: int) -> tuple[int, int]:
        url = env.fresh_db("refl")
        ddl(url, *(f"CREATE TABLE t{i} (id int PRIMARY KEY, a text, b numeric(10, 2))" for i in range(n)))
        database = make_url(url).database
        with statements_on(database) as seen:
            report = run(env.settings(env.sql_source(url=url)), run_key=f"refl/{n}")
        assert report.source("src").seen == n
        catalog = [s for s in seen if "pg_catalog" in s or "information_schema" in s]
        return len(catalog), len(seen)

    few_catalog, few_total = measure(3)
    many_catalog, many_total = measure(40)
    assert few_catalog == many_catalog
    assert few_catalog <= 10
    # count(*)+max() in one statement, and one sample statement, per table
    assert many_total - few_total == 2 * (40 - 3)


def test_exact_counts_below_threshold_estimates_above(env):
    ddl(
        env.src,
        "CREATE TABLE big (id int PRIMARY KEY, ts timestamptz NOT NULL)",
        "INSERT INTO big SELECT i, TIMESTAMPTZ '2026-11-19 00:00+00' + i * INTERVAL '1 minute' "
        "FROM generate_series(1, 500) i",
        "CREATE TABLE small (id int)",
        "INSERT INTO small SELECT generate_series(1, 5)",
        "CREATE TABLE unanalysed (id int) WITH (autovacuum_enabled = false)",
        "INSERT INTO unanalysed SELECT generate_series(1, 300)",
        "CREATE VIEW big_view AS SELECT * FROM big",
        "ANALYZE big",
        "ANALYZE small",
    )
    source = env.sql_source(
        exact_row_count_below=100,
        assets={
            "big": {"event_time_column": "ts", "owner": "owner@x", "tags": ["events"], "description": "Big one"},
            "big_view": {"event_time_column": "ts"},
        },
    )
    report = run(env.settings(source))
    assert report.status == "success"
    big = asset(env.catalog, "big")
    assert (big["row_count"], big["row_count_is_estimate"]) == (500, True)
    assert big["size_bytes"] > 0
    assert big["freshness_at"] == dt.datetime(2026, 11, 19, 8, 20, tzinfo=dt.UTC)  # max(ts) even when estimated
    assert (big["owner"], big["tags"], big["description"]) == ("owner@x", ["shop", "events"], "Big one")
    assert big["event_time_column"] == "ts"
    assert (big["first_seen_at"], big["last_seen_at"]) == (MIDNIGHT, MIDNIGHT)
    small = asset(env.catalog, "small")
    assert (small["row_count"], small["row_count_is_estimate"], small["owner"], small["tags"]) == (5, False, "data@x", ["shop"])
    assert small["freshness_at"] is None  # no event-time column declared
    # Never analysed: no estimate to trust, so it is counted.
    un = asset(env.catalog, "unanalysed")
    assert (un["row_count"], un["row_count_is_estimate"]) == (300, False)
    view = asset(env.catalog, "big_view")
    assert view["kind"] == "view"
    assert view["row_count_is_estimate"] is True  # the planner's estimate for a view
    assert view["row_count"] >= 100
    assert view["size_bytes"] is None
    assert view["freshness_at"] == big["freshness_at"]


def test_partitioned_table_is_one_asset(env):
    ddl(
        env.src,
        "CREATE TABLE ev (id int, day date NOT NULL) PARTITION BY RANGE (day)",
        "CREATE TABLE ev_2026_11 PARTITION OF ev FOR VALUES FROM ('2026-11-01') TO ('2026-12-01')",
        "CREATE TABLE ev_2026_12 PARTITION OF ev FOR VALUES FROM ('2026-12-01') TO ('2027-01-01')",
        "INSERT INTO ev SELECT i, DATE '2026-11-01' + mod(i, 50) FROM generate_series(1, 40) i",
    )
    run(env.settings(env.sql_source(assets={"ev": {"event_time_column": "day", "partition_column": "day"}})))
    names = {r["name"]: r for r in rows(env.catalog, "SELECT * FROM assets")}
    assert set(names) == {"ev"}
    ev = names["ev"]
    assert (ev["kind"], ev["row_count"], ev["row_count_is_estimate"]) == ("partitioned", 40, False)
    assert ev["partition_column"] == "day"
    assert ev["size_bytes"] > 0
    assert ev["freshness_at"] == dt.datetime(2026, 12, 11, tzinfo=dt.UTC)


# ---- schema versions and events ---------------------------------------------------------------
def test_schema_events_for_each_kind_of_change(env):
    ddl(env.src, "CREATE TABLE t (id int PRIMARY KEY, a text, b int, c text)")
    settings = env.settings(env.sql_source())
    first = run(settings, "r1")
    assert (first.source("src").new, first.source("src").changed) == (1, 0)
    assert events(env.catalog, "t") == {("asset_created", "")}

    ddl(
        env.src,
        "ALTER TABLE t ADD COLUMN d text",
        "ALTER TABLE t DROP COLUMN c",
        "ALTER TABLE t ALTER COLUMN b TYPE bigint",
        "UPDATE t SET a = 'x'",
        "ALTER TABLE t ALTER COLUMN a SET NOT NULL",
    )
    second = run(settings, "r2", DAY + dt.timedelta(days=1))
    assert (second.source("src").new, second.source("src").changed, second.source("src").schema_events) == (0, 1, 4)
    assert events(env.catalog, "t", "r2") == {
        ("column_added", "d"),
        ("column_removed", "c"),
        ("type_changed", "b"),
        ("nullability_changed", "a"),
    }
    details = {
        r["event_type"]: r
        for r in rows(env.catalog, "SELECT * FROM schema_events WHERE run_key = 'r2'")
    }
    assert (details["type_changed"]["old"], details["type_changed"]["new"]) == ("integer", "bigint")
    assert (details["nullability_changed"]["old"], details["nullability_changed"]["new"]) == (True, False)
    assert details["column_added"]["new"] == {"name": "d", "ordinal": 4, "data_type": "text", "nullable": True}
    assert details["column_removed"]["old"]["name"] == "c"

    versions = rows(env.catalog, "SELECT id, version, columns, run_key FROM schema_versions ORDER BY version")
    assert [(v["version"], v["run_key"]) for v in versions] == [(1, "r1"), (2, "r2")]
    t = asset(env.catalog, "t")
    assert t["current_schema_version_id"] == versions[1]["id"]
    assert {e["schema_version_id"] for e in rows(env.catalog, "SELECT * FROM schema_events WHERE run_key = 'r2'")} == {
        versions[1]["id"]
    }
    present = {r["name"]: r["is_present"] for r in rows(env.catalog, "SELECT name, is_present FROM asset_columns")}
    assert present == {"id": True, "a": True, "b": True, "c": False, "d": True}

    # The old schema comes back: its version is reused and the changes are recorded again.
    ddl(
        env.src,
        "ALTER TABLE t DROP COLUMN d",
        "ALTER TABLE t ADD COLUMN c text",
        "ALTER TABLE t ALTER COLUMN b TYPE int",
        "ALTER TABLE t ALTER COLUMN a DROP NOT NULL",
    )
    run(settings, "r3", DAY + dt.timedelta(days=2))
    assert asset(env.catalog, "t")["current_schema_version_id"] == versions[0]["id"]
    assert len(rows(env.catalog, "SELECT id FROM schema_versions")) == 2
    assert events(env.catalog, "t", "r3") == {
        ("column_added", "c"),
        ("column_removed", "d"),
        ("type_changed", "b"),
        ("nullability_changed", "a"),
    }


def test_soft_delete_and_restore(env):
    ddl(env.src, "CREATE TABLE keep (id int)", "CREATE TABLE flaky (id int, v text)")
    settings = env.settings(env.sql_source())
    run(settings, "r1")
    ddl(env.src, "DROP TABLE flaky")
    day2 = DAY + dt.timedelta(days=1)
    report = run(settings, "r2", day2)
    assert report.source("src").deleted == 1
    gone = asset(env.catalog, "flaky")
    assert gone["status"] == "deleted"
    assert gone["deleted_at"] == dt.datetime.combine(day2, dt.time(), dt.UTC)
    assert events(env.catalog, "flaky", "r2") == {("asset_deleted", "")}
    assert asset(env.catalog, "keep")["status"] == "active"
    # A rerun of the deleting run changes nothing.
    before = dump(env.catalog)
    assert run(settings, "r2", day2).source("src").deleted == 1
    assert dump(env.catalog) == before

    ddl(env.src, "CREATE TABLE flaky (id int, v text)")
    report = run(settings, "r3", DAY + dt.timedelta(days=2))
    assert (report.source("src").restored, report.source("src").new) == (1, 0)
    back = asset(env.catalog, "flaky")
    assert (back["status"], back["deleted_at"]) == ("active", None)
    assert back["current_schema_version_id"] == gone["current_schema_version_id"]
    assert events(env.catalog, "flaky", "r3") == {("asset_restored", "")}


# ---- idempotence --------------------------------------------------------------------------------
def _mixed_source(env: Env) -> Settings:
    ddl(
        env.src,
        "CREATE TABLE customers (id int PRIMARY KEY, email text, created_at timestamptz NOT NULL)",
        "INSERT INTO customers SELECT i, 'user' || i || '@example.com', TIMESTAMPTZ '2026-11-01 00:00+00' + i * "
        "INTERVAL '1 hour' FROM generate_series(1, 250) i",
        "CREATE TABLE products (sku text PRIMARY KEY, title text, price numeric(12, 2))",
        "INSERT INTO products VALUES ('A-1', 'Grey sofa', 199.90), ('A-2', 'Brass lamp', 19.50)",
        "CREATE VIEW cheap AS SELECT * FROM products WHERE price < 50",
    )
    (env.landing / "good.csv").write_text("sku,price\nA-1,1.5\nA-2,2.5\n")
    (env.landing / "ragged.csv").write_text("sku,price\nA-1,1.5,extra\n")
    return env.settings(
        env.sql_source(assets={"customers": {"event_time_column": "created_at", "tags": ["pii"]}}),
        env.file_source(),
    )


def test_three_runs_of_one_logical_date_leave_identical_rows(env):
    settings = _mixed_source(env)
    reports = [run(settings, "dag/manual__2026-11-20") for _ in range(3)]
    first = dump(env.catalog)
    assert first["assets"] and first["schema_events"] and first["classifications"]
    for _ in range(2):
        run(settings, "dag/manual__2026-11-20")
        assert dump(env.catalog) == first
    figures = [{k: v for k, v in r.source("src").as_dict().items() if k != "elapsed_s"} for r in reports]
    assert figures[0] == figures[1] == figures[2]
    assert figures[0]["new"] == 3
    (inv,) = first["inventory_runs"]
    assert (inv["run_key"], inv["logical_date"], inv["status"]) == ("dag/manual__2026-11-20", DAY, "partial")
    assert inv["stats"]["totals"]["errors"] == 1


# ---- identifiers and edge cases -----------------------------------------------------------------
WEIRD = ['a"b', "my table", "größe", "x; DROP TABLE y--", "50% off", "a:b %(x)s"]


def test_identifiers_with_quotes_spaces_unicode_and_sql(env):
    statements = ["CREATE TABLE y (id int)", "INSERT INTO y VALUES (1)"]
    for name in WEIRD:
        statements += [
            f"CREATE TABLE {qi(name)} (id int PRIMARY KEY, {qi('e-mail; --')} text, {qi('Größe')} numeric, "
            f"{qi('event time')} timestamptz)",
            f"INSERT INTO {qi(name)} VALUES (1, 'a@example.com', 1.5, '2026-11-02 00:00+00'), (2, NULL, NULL, NULL)",
        ]
    statements.append(f"CREATE VIEW {qi('view ' + WEIRD[0])} AS SELECT * FROM {qi(WEIRD[0])}")
    ddl(env.src, *statements)
    assets_decl = {name: {"event_time_column": "event time", "owner": f"{name}@x"} for name in WEIRD}
    report = run(env.settings(env.sql_source(assets=assets_decl)))
    assert report.status == "success", report.summary()
    for name in WEIRD:
        a = asset(env.catalog, name)
        assert (a["status"], a["row_count"], a["owner"]) == ("active", 2, f"{name}@x")
        assert a["freshness_at"] == dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
        cols = rows(env.catalog, "SELECT name FROM asset_columns WHERE asset_id = :a ORDER BY ordinal", a=a["id"])
        assert [c["name"] for c in cols] == ["id", "e-mail; --", "Größe", "event time"]
    assert asset(env.catalog, 'x; DROP TABLE y--')["location"] == 'public."x; DROP TABLE y--"'
    assert asset(env.catalog, 'a"b')["location"] == 'public."a""b"'
    assert asset(env.catalog, "50% off")["location"] == 'public."50% off"'
    assert asset(env.catalog, "view a\"b")["row_count"] == 2
    assert rows(env.src, "SELECT count(*) AS n FROM y") == [{"n": 1}]  # nothing was injected


def test_empty_table_all_null_column_and_500_columns(env):
    wide = ", ".join(f"c{i:03d} int" for i in range(500))
    ddl(
        env.src,
        "CREATE TABLE empty (id int PRIMARY KEY, ts timestamptz)",
        "CREATE TABLE nulls (id int, nothing text, never timestamptz)",
        "INSERT INTO nulls SELECT i, NULL, NULL FROM generate_series(1, 10) i",
        f"CREATE TABLE wide ({wide})",
        "INSERT INTO wide (c000, c499) VALUES (1, 2)",
        "CREATE TABLE no_columns ()",
    )
    source = env.sql_source(assets={"empty": {"event_time_column": "ts"}, "nulls": {"event_time_column": "never"}})
    report = run(env.settings(source))
    assert report.status == "success", report.summary()
    empty = asset(env.catalog, "empty")
    assert (empty["row_count"], empty["freshness_at"], empty["status"]) == (0, None, "active")
    nulls = asset(env.catalog, "nulls")
    assert (nulls["row_count"], nulls["freshness_at"]) == (10, None)
    wide_row = asset(env.catalog, "wide")
    assert wide_row["row_count"] == 1
    (version,) = rows(env.catalog, "SELECT columns FROM schema_versions WHERE asset_id = :a", a=wide_row["id"])
    assert len(version["columns"]) == 500
    assert version["columns"][499] == {"name": "c499", "ordinal": 500, "data_type": "integer", "nullable": True}
    n_cols = rows(env.catalog, "SELECT count(*) AS n FROM asset_columns WHERE asset_id = :a", a=wide_row["id"])
    assert n_cols == [{"n": 500}]
    labelled = rows(
        env.catalog,
        "SELECT count(DISTINCT k.column_id) AS n FROM classifications k JOIN asset_columns c ON c.id = k.column_id "
        "WHERE c.asset_id = :a",
        a=wide_row["id"],
    )
    assert labelled == [{"n": 500}]
    assert asset(env.catalog, "no_columns")["row_count"] == 0


def test_table_dropped_between_listing_and_counting(env, monkeypatch):
    ddl(env.src, "CREATE TABLE doomed (id int)", "CREATE TABLE fine (id int)", "INSERT INTO fine VALUES (1)")
    original = sql_mod.count_and_max

    def drop_first(conn, schema, name, event_time_column):
        if name == "doomed":
            ddl(env.src, "DROP TABLE doomed")
        return original(conn, schema, name, event_time_column)

    monkeypatch.setattr(sql_mod, "count_and_max", drop_first)
    settings = env.settings(env.sql_source())
    report = run(settings, "r1")  # does not raise: one asset failed, the source did not
    src = report.source("src")
    assert (src.status, src.errors, src.seen) == ("partial", 1, 2)
    assert report.status == RunStatus.PARTIAL.value
    doomed = asset(env.catalog, "doomed")
    assert doomed["status"] == "error"
    assert "public.doomed" in doomed["error"]
    assert "does not exist" in doomed["error"]
    assert src.asset_errors == (doomed["error"],)
    assert doomed["current_schema_version_id"] is not None  # its columns were reflected before it went
    assert (asset(env.catalog, "fine")["status"], asset(env.catalog, "fine")["row_count"]) == ("active", 1)
    monkeypatch.setattr(sql_mod, "count_and_max", original)
    run(settings, "r2", DAY + dt.timedelta(days=1))
    assert asset(env.catalog, "doomed")["status"] == "deleted"


def test_unreachable_source_is_recorded_and_others_carry_on(env, tmp_path):
    ddl(env.src, "CREATE TABLE t (id int)")
    other = env.fresh_db("other")
    ddl(other, "CREATE TABLE kept (id int)")
    (env.landing / "f.csv").write_text("a\n1\n")
    run(env.settings(env.sql_source(), env.sql_source("flaky", url=other), env.file_source()), "r1")
    assert asset(env.catalog, "kept")["status"] == "active"

    nowhere = f"postgresql+psycopg2://postgres@localhost/nodb?host={tmp_path / 'no-such-socket-dir'}"
    settings = env.settings(env.sql_source(), env.sql_source("flaky", url=nowhere), env.file_source())
    ddl(env.src, "CREATE TABLE t2 (id int)")
    with pytest.raises(SourceError) as err:
        run(settings, "r2", DAY + dt.timedelta(days=1))
    message = str(err.value)
    assert "flaky: failed" in message
    assert "no-such-socket-dir" in message
    assert "src: success" in message and "feeds: success" in message
    # Evidence was persisted before raising: the other sources' news, the run's status and error.
    assert asset(env.catalog, "t2")["status"] == "active"
    (inv,) = rows(env.catalog, "SELECT * FROM inventory_runs WHERE run_key = 'r2'")
    assert inv["status"] == "failed"
    assert "cannot connect" in inv["error"]
    assert inv["stats"]["sources"]["flaky"]["status"] == "failed"
    assert inv["finished_at"] is not None
    # Not reachable is not vanished: its assets are kept as they were.
    kept = asset(env.catalog, "kept")
    assert kept["status"] == "active"
    assert kept["last_seen_at"] == MIDNIGHT


def test_missing_schema_fails_the_source_but_not_the_rest(env):
    ddl(env.src, "CREATE TABLE t (id int)")
    with pytest.raises(SourceError, match="schema 'nope' does not exist"):
        run(env.settings(env.sql_source(schemas=["public", "nope"])))
    assert asset(env.catalog, "t")["status"] == "active"


def test_missing_landing_folder_fails_the_source(env):
    ddl(env.src, "CREATE TABLE t (id int)")
    source = {**env.file_source(), "root": str(env.tmp / "missing")}
    with pytest.raises(SourceError, match="landing folder .*missing does not exist"):
        run(env.settings(env.sql_source(), source))
    assert asset(env.catalog, "t")["status"] == "active"


def test_unknown_source_name_is_a_config_error(env):
    with pytest.raises(ConfigError, match="no source named 'nope'"):
        run(env.settings(env.sql_source()), sources=["nope"])


def test_only_the_requested_sources_run(env):
    ddl(env.src, "CREATE TABLE t (id int)")
    (env.landing / "f.csv").write_text("a\n1\n")
    report = run(env.settings(env.sql_source(), env.file_source()), sources=["feeds"])
    assert [s.name for s in report.sources] == ["feeds"]
    assert {r["name"] for r in rows(env.catalog, "SELECT name FROM assets")} == {"f.csv"}


# ---- files --------------------------------------------------------------------------------------
def test_bad_files_are_recorded_and_the_rest_carry_on(env):
    land = env.landing
    (land / "2026-11-20").mkdir()
    day = land / "2026-11-20"
    (day / "good.csv").write_text("sku,price,updated_at\nA-1,1.5,2026-11-19T10:00:00Z\nA-2,2.5,2026-11-19T12:00:00Z\n")
    (day / "ragged.csv").write_text("sku,price\nA-1,1.5\nA-2,2.5\nA-3,3.5,oops\n")
    (day / "bom.csv").write_bytes(codecs.BOM_UTF8 + b"sku,price\nA-1,1.5\n")
    (day / "tabs.csv").write_text("sku\tprice\nA-1\t1.5\n")
    latin = "sku,title\nA-1,Caf\xe9\n".encode("latin-1")
    (day / "latin.csv").write_bytes(latin)
    (day / "empty.csv").write_bytes(b"")
    (day / "header.csv").write_text("sku,price\n")
    (day / "p.jsonl").write_text('{"sku": "A-1", "updated_at": "2026-11-19T09:00:00+00:00"}\n')
    (day / "bad.jsonl").write_text('{"sku": "A-1"}\n{"sku": \n')
    pq.write_table(pa.table({"sku": ["A-1"], "price": [1.5]}), day / "p.parquet")
    source = env.file_source(
        patterns=["*/*.csv", "*/*.jsonl", "*/*.parquet"],
        assets={"good.csv": {"event_time_column": "updated_at", "owner": "feeds@x"}, "*/p.jsonl": {"event_time_column": "updated_at"}},
    )
    report = run(env.settings(source))
    feeds = report.source("feeds")
    assert (feeds.status, feeds.seen, feeds.errors) == ("partial", 10, 3)
    by_name = {r["name"]: r for r in rows(env.catalog, "SELECT * FROM assets")}
    assert all(r["namespace"] == "2026-11-20" for r in by_name.values())

    good = by_name["good.csv"]
    assert (good["status"], good["row_count"], good["owner"], good["error"]) == ("active", 2, "feeds@x", None)
    assert good["freshness_at"] == dt.datetime(2026, 11, 19, 12, tzinfo=dt.UTC)
    assert good["location"] == "2026-11-20/good.csv"
    assert good["size_bytes"] == (day / "good.csv").stat().st_size

    ragged = by_name["ragged.csv"]
    assert ragged["status"] == "error"
    assert "ragged.csv: line 4 has 3 fields, expected 2" in ragged["error"]
    assert ragged["size_bytes"] == (day / "ragged.csv").stat().st_size  # what is known is kept

    bad_enc = by_name["latin.csv"]
    assert bad_enc["status"] == "error"
    assert f"latin.csv: not valid UTF-8: byte 0xE9 at offset {latin.index(0xE9)}" in bad_enc["error"]

    assert "bad.jsonl: line 2 is not valid JSON" in by_name["bad.jsonl"]["error"]

    bom = by_name["bom.csv"]
    assert (bom["status"], bom["row_count"]) == ("active", 1)
    assert "encoding:utf-8-sig" in bom["tags"]
    bom_cols = rows(env.catalog, "SELECT name FROM asset_columns WHERE asset_id = :a ORDER BY ordinal", a=bom["id"])
    assert [c["name"] for c in bom_cols] == ["sku", "price"]

    tabs = by_name["tabs.csv"]
    assert (tabs["status"], tabs["row_count"]) == ("active", 1)
    assert "format:tsv" in tabs["tags"]
    assert "named .csv but the content is TSV" in tabs["error"]

    empty = by_name["empty.csv"]
    assert (empty["status"], empty["row_count"]) == ("active", 0)
    assert "empty file (0 bytes)" in empty["error"]
    assert by_name["header.csv"]["row_count"] == 0

    assert by_name["p.jsonl"]["freshness_at"] == dt.datetime(2026, 11, 19, 9, tzinfo=dt.UTC)
    assert (by_name["p.parquet"]["row_count"], by_name["p.parquet"]["tags"]) == (1, ["format:parquet"])

    # The file is fixed: the asset is active again, and its first schema is recorded.
    (day / "ragged.csv").write_text("sku,price\nA-1,1.5\n")
    run(env.settings(source), "r2", DAY + dt.timedelta(days=1))
    fixed = asset(env.catalog, "ragged.csv")
    assert (fixed["status"], fixed["error"], fixed["row_count"]) == ("active", None, 1)
    assert events(env.catalog, "ragged.csv") == {("asset_created", "")}


def test_vanished_file_is_soft_deleted(env):
    (env.landing / "a.csv").write_text("x\n1\n")
    (env.landing / "b.csv").write_text("x\n1\n")
    settings = env.settings(env.file_source())
    run(settings, "r1")
    (env.landing / "b.csv").unlink()
    report = run(settings, "r2", DAY + dt.timedelta(days=1))
    assert report.source("feeds").deleted == 1
    assert asset(env.catalog, "b.csv")["status"] == "deleted"
    assert asset(env.catalog, "a.csv")["status"] == "active"


# ---- classification -----------------------------------------------------------------------------
def test_classification_pii_is_masked_and_steward_overrides_survive(env):
    emails = [f"customer.{i}@shop-example.com" for i in range(1, 301)]
    phones = [f"+49 30 {1000000 + i}" for i in range(1, 301)]
    values = ", ".join(f"({i}, '{e}', '{p}', 'Grey sofa {i}')" for i, (e, p) in enumerate(zip(emails, phones, strict=True), 1))
    ddl(
        env.src,
        "CREATE TABLE customers (id int PRIMARY KEY, contact text, telephone text, note text)",
        f"INSERT INTO customers VALUES {values}",
    )
    (env.landing / "leads.csv").write_text("mail,phone\n" + "".join(f"{e},{p}\n" for e, p in zip(emails, phones, strict=True)))
    settings = env.settings(env.sql_source(), env.file_source())
    run(settings, "r1", use_embeddings=True)

    labels = {
        (r["column"], r["kind"]): r
        for r in rows(
            env.catalog,
            "SELECT c.name AS column, k.* FROM classifications k JOIN asset_columns c ON c.id = k.column_id "
            "JOIN assets a ON a.id = c.asset_id WHERE a.name = 'customers'",
        )
    }
    assert labels["contact", "pii"]["label"] == "email"
    assert labels["telephone", "pii"]["label"] == "phone"
    assert labels["contact", "pii"]["source"] == "auto"
    assert labels["contact", "pii"]["decided_at"] == MIDNIGHT
    assert labels["contact", "pii"]["evidence"]["examples_masked"]
    assert ("note", "pii") not in labels

    # A steward says the contact column is not PII; the next run must leave that row alone.
    column_id = labels["contact", "pii"]["column_id"]
    ddl(
        env.catalog,
        "INSERT INTO classifications (column_id, kind, label, score, method, evidence, source, reason, decided_by) "
        f"VALUES ({column_id}, 'pii', 'none', 1.0, 'override', '{{}}', 'steward', 'test data only', 'steward@x')",
    )
    (steward_before,) = rows(env.catalog, "SELECT * FROM classifications WHERE source = 'steward'")
    run(settings, "r2", DAY + dt.timedelta(days=1), use_embeddings=True)
    (steward_after,) = rows(env.catalog, "SELECT * FROM classifications WHERE source = 'steward'")
    assert steward_after == steward_before
    auto = rows(env.catalog, "SELECT label FROM classifications WHERE column_id = :c AND source = 'auto' AND kind = 'pii'", c=column_id)
    assert auto == [{"label": "email"}]

    everything = json.dumps(dump(env.catalog), default=str)
    for raw in emails + phones:
        assert raw not in everything
    assert "customer." not in everything


def test_auto_labels_that_no_longer_apply_are_dropped(env):
    ddl(
        env.src,
        "CREATE TABLE people (id int PRIMARY KEY, contact text)",
        "INSERT INTO people SELECT i, 'p' || i || '@example.com' FROM generate_series(1, 50) i",
    )
    settings = env.settings(env.sql_source())
    run(settings, "r1")
    query = "SELECT k.kind, k.label FROM classifications k JOIN asset_columns c ON c.id = k.column_id WHERE c.name = 'contact'"
    assert {"kind": "pii", "label": "email"} in rows(env.catalog, query)
    ddl(env.src, "UPDATE people SET contact = 'Grey sofa'")
    run(settings, "r2", DAY + dt.timedelta(days=1))
    assert all(r["kind"] != "pii" for r in rows(env.catalog, query))


def test_unchanged_columns_are_not_classified_again(env, monkeypatch):
    import assay.classify as classify

    ddl(
        env.src,
        "CREATE TABLE people (id int PRIMARY KEY, contact text, city text)",
        "INSERT INTO people SELECT i, 'p' || i || '@example.com', 'Berlin' FROM generate_series(1, 30) i",
    )
    sent: list[str] = []
    real = classify.classify_columns

    def spy(samples, **kw):
        sent.extend(s.name for s in samples)
        return real(samples, **kw)

    monkeypatch.setattr(classify, "classify_columns", spy)
    settings = env.settings(env.sql_source())
    run(settings, "r1")
    assert sorted(sent) == ["city", "contact", "id"]
    before = rows(env.catalog, "SELECT id, label, evidence FROM classifications ORDER BY id")
    assert all(len(r["evidence"]["inventory_sample_sha256"]) == 64 for r in before)

    sent.clear()
    run(settings, "r2", DAY + dt.timedelta(days=1))
    assert sent == []  # same sample, type and settings: the stored labels stand
    assert rows(env.catalog, "SELECT id, label, evidence FROM classifications ORDER BY id") == before

    ddl(env.src, "UPDATE people SET city = 'Hamburg' WHERE id = 1")
    run(settings, "r3", DAY + dt.timedelta(days=2))
    assert sent == ["city"]  # only the column whose sample changed

    sent.clear()
    run(settings, "r4", DAY + dt.timedelta(days=3), reclassify=True)
    assert sorted(sent) == ["city", "contact", "id"]


def test_source_by_airflow_connection_id(env, monkeypatch):
    from urllib.parse import quote

    src = make_url(env.src)
    uri = f"postgresql://postgres@localhost/{src.database}?host={quote(str(src.query['host']), safe='')}"
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_READONLY", uri)
    ddl(env.src, "CREATE TABLE t (id int)")
    ok = {"name": "src", "kind": "sql", "conn_id": "shop_readonly"}
    missing = {"name": "ghost", "kind": "sql", "conn_id": "no_such_connection"}
    with pytest.raises(SourceError, match="cannot resolve connection 'no_such_connection'"):
        run(env.settings(ok, missing))
    assert asset(env.catalog, "t")["status"] == "active"
    (row,) = rows(env.catalog, "SELECT url_or_conn_id FROM sources WHERE name = 'src'")
    assert row == {"url_or_conn_id": "shop_readonly"}


def test_a_write_the_catalog_refuses_is_recorded_as_the_assets_error(env):
    # PostgreSQL cannot store U+0000 in text or jsonb: the asset's full write is rolled back.
    # (Delimited text with a NUL is refused by the reader, naming its line; Parquet names are not.)
    pq.write_table(pa.table({"sku": ["A-1"], "ti\x00tle": ["Sofa"]}), env.landing / "nul.parquet")
    (env.landing / "fine.csv").write_text("sku\nA-1\n")
    report = run(env.settings(env.file_source()))
    assert (report.source("feeds").status, report.source("feeds").errors) == ("partial", 1)
    nul = asset(env.catalog, "nul.parquet")
    assert nul["status"] == "error"
    assert nul["error"].startswith("nul.parquet: catalog write failed:")
    assert nul["current_schema_version_id"] is None
    assert rows(env.catalog, "SELECT count(*) AS n FROM asset_columns WHERE asset_id = :a", a=nul["id"]) == [{"n": 0}]
    assert asset(env.catalog, "fine.csv")["status"] == "active"


# ---- file series ---------------------------------------------------------------------------------
SERIES_REGEX = r"(?P<partition>\d{4}-\d{2}-\d{2})"


def _feed(env: Env, supplier: str, day: dt.date, header: str, row: str) -> None:
    folder = env.landing / supplier / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "products.csv").write_text(f"{header}\n{row}\n")


def _series_events(url: str) -> list[dict[str, Any]]:
    return rows(
        url,
        "SELECT a.location, e.event_type, e.column_name, e.old, e.new, e.run_key FROM schema_events e "
        "JOIN assets a ON a.id = e.asset_id WHERE e.event_type <> 'asset_created' ORDER BY a.location, e.column_name",
    )


def test_a_column_added_to_one_days_file_is_a_schema_event_of_its_series(env):
    d1, d2, d3 = DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)
    settings = env.settings(env.file_source(partition_regex=SERIES_REGEX))
    _feed(env, "a", d1, "sku,price", "s1,1.5")
    _feed(env, "b", d1, "sku,price", "s1,1.5")
    run(settings, "r1", d1)
    # Day 2: supplier a adds a column and turns price into text; supplier b is unchanged.
    _feed(env, "a", d2, "sku,price,promo", "s1,cheap,X")
    _feed(env, "b", d2, "sku,price", "s2,2.5")
    report = run(settings, "r2", d2)
    found = {(e["location"], e["event_type"], e["column_name"]) for e in _series_events(env.catalog)}
    assert found == {
        ("a/2026-11-21/products.csv", "column_added", "promo"),
        ("a/2026-11-21/products.csv", "type_changed", "price"),
    }
    assert report.source("feeds").changed == 1
    (added,) = [e for e in _series_events(env.catalog) if e["event_type"] == "column_added"]
    (first,) = rows(env.catalog, "SELECT id FROM assets WHERE location = 'a/2026-11-20/products.csv'")
    assert added["old"] == {
        "value": None,
        "predecessor": {"asset_id": first["id"], "location": "a/2026-11-20/products.csv", "schema_version": 1},
    }
    assert added["new"]["name"] == "promo" and added["run_key"] == "r2"
    # A rerun of the same run records nothing new; the next day is diffed against day 2 (the
    # column goes away again), and files seen before are not diffed again.
    before = _series_events(env.catalog)
    run(settings, "r2", d2)
    assert _series_events(env.catalog) == before
    _feed(env, "a", d3, "sku,price", "s3,3.5")
    _feed(env, "b", d3, "sku,price", "s3,3.5")
    run(settings, "r3", d3)
    new = {(e["location"], e["event_type"], e["column_name"]) for e in _series_events(env.catalog) if e["run_key"] == "r3"}
    assert new == {
        ("a/2026-11-22/products.csv", "column_removed", "promo"),
        ("a/2026-11-22/products.csv", "type_changed", "price"),
    }


def test_a_backfill_diffs_each_day_against_the_day_before(env):
    settings = env.settings(env.file_source(partition_regex=SERIES_REGEX))
    for i, header in enumerate(["sku", "sku,x", "sku,x", "sku"]):
        _feed(env, "a", DAY + dt.timedelta(days=i), header, ",".join(["v"] * len(header.split(","))))
    (env.landing / "a" / "notes.csv").write_text("sku,other\n1,2\n")  # no partition: no series
    run(settings, "backfill", DAY + dt.timedelta(days=3))  # a run records the files up to its date
    found = {(e["location"], e["event_type"], e["column_name"]) for e in _series_events(env.catalog)}
    assert found == {
        ("a/2026-11-21/products.csv", "column_added", "x"),
        ("a/2026-11-23/products.csv", "column_removed", "x"),
    }


def test_files_declared_not_partitioned_are_not_a_series(env):
    settings = env.settings(env.file_source(partitioned=False))
    _feed(env, "a", DAY, "sku", "s1")
    _feed(env, "a", DAY + dt.timedelta(days=1), "sku,x", "s1,1")
    run(settings, "r1", DAY)
    assert _series_events(env.catalog) == []


def test_catalog_writes_are_batched_per_chunk_of_assets(env):
    """The catalog statements of a run do not grow with the number of assets (one chunk here)."""
    database = make_url(env.catalog).database

    def measure(n: int, key: str) -> int:
        for i in range(n):
            (env.landing / key / f"f{i:03d}.csv").parent.mkdir(parents=True, exist_ok=True)
            (env.landing / key / f"f{i:03d}.csv").write_text("sku,price\nA-1,1.5\n")
        settings = env.settings(env.file_source(name=key, patterns=[f"{key}/*.csv"]))
        with statements_on(database) as seen:
            report = run(settings, run_key=f"batch/{key}")
        assert report.source(key).new == n
        return len(seen)

    assert measure(40, "many") == measure(3, "few")


def test_relations_read_side_by_side_keep_their_order_and_their_own_errors(env, monkeypatch):
    """More relations than the read-ahead: read on several connections, one failure stays its own."""
    from assay.inventory import observe

    n = observe.READ_AHEAD * 2
    ddl(env.src, *(f"CREATE TABLE t{i:02d} (id int PRIMARY KEY, v text)" for i in range(n)),
        *(f"INSERT INTO t{i:02d} SELECT g, 'v' || g FROM generate_series(1, {i + 1}) g" for i in range(n)))
    original = sql_mod.count_and_max
    threads: set[str] = set()

    def drop_one(conn, schema, name, event_time_column):
        import threading

        threads.add(threading.current_thread().name)
        if name == "t05":
            ddl(env.src, "DROP TABLE t05")
        return original(conn, schema, name, event_time_column)

    monkeypatch.setattr(sql_mod, "count_and_max", drop_one)
    report = run(env.settings(env.sql_source()), "r1")
    src = report.source("src")
    assert (src.status, src.errors, src.seen) == ("partial", 1, n)
    assert len(threads) > 1  # really read side by side
    assert "does not exist" in asset(env.catalog, "t05")["error"]
    for i in range(n):
        if i != 5:
            a = asset(env.catalog, f"t{i:02d}")
            assert (a["status"], a["row_count"]) == ("active", i + 1), a["name"]
