"""The SQL reader on a non-PostgreSQL dialect (SQLite): the generic fallbacks, no server needed.

Nothing in the interface is PostgreSQL-only: on SQLite there are no estimates or sizes, every
row count is exact, and identifiers are still quoted.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, event

from assay.catalog.models import AssetKind
from assay.inventory.observe import Listing, as_utc, observe_sql
from assay.inventory.report import InventoryReport, SourceReport
from assay.sources import sql
from assay.sources.declarations import SqlSource

WEIRD = ['a"b', "my table", "größe", "x; DROP TABLE y--", "50% off", "a:b %(x)s"]


@pytest.fixture
def sqlite_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'src.db'}"
    eng = create_engine(url)
    with eng.begin() as c:
        for name in WEIRD:
            q = '"' + name.replace('"', '""') + '"'
            c.exec_driver_sql(f'CREATE TABLE {q} (id INTEGER PRIMARY KEY, "e mail" TEXT, "ts" TIMESTAMP NOT NULL)')
            c.exec_driver_sql(
                f"INSERT INTO {q} VALUES (1, 'a@example.com', '2026-11-01 10:00:00'), (2, NULL, '2026-11-03 08:00:00')"
            )
        c.exec_driver_sql("CREATE TABLE y (id INTEGER)")
        c.exec_driver_sql('CREATE VIEW "v w" AS SELECT id FROM "my table"')
    eng.dispose()
    return url


def test_reflection_and_counts_on_sqlite(sqlite_url):
    eng = sql.source_engine(sqlite_url)
    with eng.connect() as conn:
        assert not sql.is_postgres(conn)
        listing = sql.list_relations(conn, "main")
        assert listing.stats == {}  # no estimates or sizes: the generic fallback
        by_name = {r.name: r for r in listing.relations}
        assert set(by_name) == {*WEIRD, "y", "v w"}
        assert by_name["v w"].kind == "view"
        rel = by_name["x; DROP TABLE y--"]
        assert [c.name for c in rel.columns] == ["id", "e mail", "ts"]
        assert [c.ordinal for c in rel.columns] == [1, 2, 3]
        assert rel.columns[2].nullable is False
        assert rel.primary_key == ("id",)
        for name in WEIRD:
            count, newest = sql.count_and_max(conn, "main", name, "ts")
            assert count == 2
            assert as_utc(newest) == dt.datetime(2026, 11, 3, 8, tzinfo=dt.UTC)
        assert sql.planner_estimate(conn, "main", "v w") is None
        sample = sql.sample_columns(conn, "main", 'a"b', ["e mail", "id"], order_by=["id"])
        assert sample == {"e mail": ["a@example.com", None], "id": ["1", "2"]}
        # The table named like an injection did not drop anything.
        assert sql.count_and_max(conn, "main", "y", None) == (0, None)
    eng.dispose()


def test_include_exclude_is_applied_before_reflection(sqlite_url):
    eng = sql.source_engine(sqlite_url)
    with eng.connect() as conn:
        listing = sql.list_relations(conn, "main", lambda n: n.startswith("my"))
    assert [r.name for r in listing.relations] == ["my table"]
    eng.dispose()


def test_observe_sql_generic_fallback_counts_exactly(sqlite_url):
    decl = SqlSource(
        name="lite",
        kind="sql",
        url=sqlite_url,
        schemas=["main", "nope"],
        exact_row_count_below=0,  # would force estimates where the dialect had them
        assets={"my table": {"event_time_column": "ts", "owner": "o@x"}, "y": {"event_time_column": "missing"}},
    )
    listing = Listing()
    assets = {a.name: a for a in observe_sql(decl, sqlite_url, listing)}
    assert listing.failed == {"nope": f"schema 'nope' does not exist in {sqlite_url}"}
    mine = assets["my table"]
    assert mine.kind == AssetKind.TABLE
    assert (mine.row_count, mine.row_count_is_estimate, mine.size_bytes) == (2, False, None)
    assert mine.freshness_at == dt.datetime(2026, 11, 3, 8, tzinfo=dt.UTC)
    assert mine.samples["e mail"] == ["a@example.com", None]
    assert assets["v w"].kind == AssetKind.VIEW
    assert assets["y"].notes == ["declared event_time_column 'missing' is not a column of main.y"]
    assert all(a.error is None for a in assets.values())


def test_unusable_url_is_a_source_error():
    from assay.errors import SourceError

    decl = SqlSource(name="odd", kind="sql", url="nosuchdialect://host/db")
    with pytest.raises(SourceError, match="source odd: unusable URL"):
        list(observe_sql(decl, decl.url or "", Listing()))


def test_as_utc():
    assert as_utc(None) is None
    assert as_utc(dt.date(2026, 1, 2)) == dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    assert as_utc("2026-01-02T03:04:05Z") == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    plus_two = dt.datetime(2026, 1, 2, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert as_utc(plus_two) == dt.datetime(2026, 1, 2, 3, tzinfo=dt.UTC)
    with pytest.raises(TypeError):
        as_utc(42)
    with pytest.raises(TypeError):
        as_utc("yesterday")


def test_sample_values_are_text_and_bytes_are_dropped():
    assert sql._as_text(b"\x00\x01") is None
    assert sql._as_text(dt.date(2026, 1, 2)) == "2026-01-02"
    assert sql._as_text({"a": "ü"}) == '{"a": "ü"}'
    assert len(sql._as_text("x" * 5000) or "") == sql.MAX_SAMPLE_CHARS


def test_quoting_is_forced_for_every_identifier():
    eng = create_engine("sqlite://")
    seen: list[str] = []
    event.listen(eng, "before_cursor_execute", lambda *a: seen.append(a[2]))
    with eng.connect() as conn:
        conn.exec_driver_sql('CREATE TABLE "lower" ("col" INTEGER)')
        sql.count_and_max(conn, "main", "lower", "col")
    assert seen[-1] == 'SELECT count(*) AS count_1, max("main"."lower"."col") AS max_1 \nFROM "main"."lower"'


def test_report_summary():
    src = SourceReport("shop", "sql", "partial", None, 3, 1, 1, 0, 0, 1, 4, 0.5, ("public.x: gone",))
    report = InventoryReport("cli/2026-11-20", dt.date(2026, 11, 20), "partial", (src,), 1.0)
    assert report.totals()["errors"] == 1
    assert report.source("shop") is src
    assert "shop: partial; 3 seen, 1 new, 1 changed" in report.summary()
    assert src.as_dict()["asset_errors"] == ["public.x: gone"]


def test_importing_the_package_is_cheap():
    code = (
        "import sys, assay.inventory as inv; "
        "heavy = [m for m in ('sqlalchemy', 'pyarrow', 'torch', 'pandas') if m in sys.modules]; "
        "print(','.join(heavy)); assert callable(inv.run_inventory)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
