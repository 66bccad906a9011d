"""run_profile against a real catalog and a real source: storage, PII, idempotence, failures."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import text

# isort: split
from assay.catalog.db import engine, session
from assay.catalog.models import (
    Anomaly,
    Asset,
    AssetColumn,
    Classification,
    ColumnMetrics,
    ProfileRun,
    Source,
)
from assay.catalog.upsert import upsert
from assay.config import Settings
from assay.errors import ConfigError
from assay.profiling import ProfilingError, run_profile

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 11, 20)
TIMESTAMPS = {"started_at", "finished_at", "detected_at", "updated_at"}


class Catalog:
    """Rows the inventory would have written, created directly so these tests depend on profiling only."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sources: dict[str, int] = {}

    def source(self, name: str, kind: str) -> int:
        with session(self.url) as s:
            (sid,) = upsert(
                s, Source, [{"name": name, "kind": kind, "url_or_conn_id": f"settings:{name}"}], ["name"]
            )
        self.sources[name] = sid
        return sid

    def asset(self, source: str, namespace: str, name: str, kind: str = "table", **extra: Any) -> int:
        row = {"source_id": self.sources[source], "namespace": namespace, "name": name, "kind": kind, **extra}
        with session(self.url) as s:
            (aid,) = upsert(s, Asset, [row], ["source_id", "namespace", "name"])
        return aid

    def pii(self, asset_id: int, column: str, label: str, source: str = "auto") -> None:
        with session(self.url) as s:
            (cid,) = upsert(
                s,
                AssetColumn,
                [{"asset_id": asset_id, "name": column, "ordinal": 1, "data_type": "text", "nullable": True}],
                ["asset_id", "name"],
                update=[],
            )
            upsert(
                s,
                Classification,
                [
                    {
                        "column_id": cid,
                        "kind": "pii",
                        "label": label,
                        "score": 1.0,
                        "method": "override" if source == "steward" else "name",
                        "source": source,
                    }
                ],
                ["column_id", "kind", "source"],
            )


@pytest.fixture
def env(fresh_db, catalog_url, tmp_path):
    """A source database, a landing folder, declarations naming both, and settings on the catalog."""
    source_url = fresh_db("src")
    landing = tmp_path / "landing"
    decls = {
        "sources": [
            {"name": "shop", "kind": "sql", "url": source_url},
            {
                "name": "feeds",
                "kind": "files",
                "root": str(landing),
                "patterns": ["feeds/*/*/products.csv"],
                "partition_regex": r"(?P<partition>\d{4}-\d{2}-\d{2})",
            },
        ]
    }
    path = tmp_path / "sources.yaml"
    path.write_text(json.dumps(decls))  # JSON is YAML
    settings = Settings(database_url=catalog_url, sources_file=path)
    src = sa.create_engine(source_url)
    cat = Catalog(catalog_url)
    cat.source("shop", "sql")
    cat.source("feeds", "files")
    yield settings, src, cat, landing
    src.dispose()


def _events(src: sa.Engine, days: dict[dt.date, int]) -> None:
    with src.begin() as c:
        c.execute(
            text("CREATE TABLE IF NOT EXISTS events (day date, email text, amount numeric(8,2), cat text)")
        )
        c.execute(text("CREATE INDEX IF NOT EXISTS events_day ON events (day)"))
        for day, n in days.items():
            c.execute(
                text(
                    "INSERT INTO events SELECT :d, 'user' || (g % 40) || '@example.com', (g % 97) / 4.0, "
                    "(ARRAY['a','b','c'])[1 + g % 3] FROM generate_series(1, :n) g"
                ),
                {"d": day, "n": n},
            )


def _dump(url: str) -> dict[str, list[dict[str, Any]]]:
    """The catalog's profiling tables as plain data, timestamps left out (they record when, not what)."""
    out: dict[str, list[dict[str, Any]]] = {}
    with engine(url).connect() as c:
        for model in (ProfileRun, ColumnMetrics, Anomaly):
            table = model.__table__
            rows = c.execute(sa.select(table).order_by(table.c.id)).mappings().all()
            out[table.name] = [{k: v for k, v in r.items() if k not in TIMESTAMPS} for r in rows]
    return out


def test_profiles_sql_partitions_snapshots_and_files(env):
    settings, src, cat, landing = env
    _events(src, {DAY: 300, DAY + dt.timedelta(days=1): 50})
    with src.begin() as c:
        c.execute(text("CREATE TABLE customers (email text, name text)"))
        c.execute(
            text(
                "INSERT INTO customers SELECT 'c' || g || '@example.com', 'Name ' || g FROM generate_series(1, 20) g"
            )
        )
    events = cat.asset("shop", "public", "events", location="public.events", partition_column="day")
    customers = cat.asset("shop", "public", "customers", location="public.customers")
    for day in (DAY, DAY + dt.timedelta(days=1)):
        folder = landing / "feeds" / "acme" / day.isoformat()
        folder.mkdir(parents=True)
        (folder / "products.csv").write_text(
            "sku,price,supplier_email\nA1,9.5,ops@acme.example\nA2,12,ops@acme.example\n"
        )
    feed = cat.asset(
        "feeds",
        "feeds/acme/2026-11-20",
        "products.csv",
        kind="file",
        location="feeds/acme/2026-11-20/products.csv",
    )
    cat.asset(
        "feeds",
        "feeds/acme/2026-11-21",
        "products.csv",
        kind="file",
        location="feeds/acme/2026-11-21/products.csv",
    )
    cat.pii(events, "email", "email")
    cat.pii(customers, "email", "email")
    cat.pii(customers, "name", "person_name")
    cat.pii(customers, "name", "none", source="steward")  # the steward says: not PII
    cat.pii(feed, "supplier_email", "email")

    report = run_profile(settings, DAY, "test/1")
    assert {(r.asset, r.partition_key, r.status) for r in report.results} == {
        ("shop:public/events", "2026-11-20", "profiled"),
        ("shop:public/customers", "__all__", "profiled"),
        ("feeds:feeds/acme/2026-11-20/products.csv", "2026-11-20", "profiled"),
    }
    dump = _dump(settings.catalog_url())
    runs = {(r["asset_id"], r["partition_key"]): r for r in dump["profile_runs"]}
    assert (
        runs[(events, "2026-11-20")]["row_count"] == 300
        and runs[(events, "2026-11-20")]["status"] == "success"
    )
    # 300 rows fit the row sample: a bounded probe, then one statement.
    assert runs[(events, "2026-11-20")]["stats"]["statements"] == 2
    assert runs[(events, "2026-11-20")]["stats"]["plan"] == "one_statement"
    assert (
        runs[(feed, "2026-11-20")]["row_count"] == 2
        and runs[(feed, "2026-11-20")]["stats"]["engine"] == "arrow"
    )
    metrics = {(r["profile_run_id"], r["column_name"]): r for r in dump["column_metrics"]}
    ev = metrics[(runs[(events, "2026-11-20")]["id"], "email")]
    assert ev["metrics"]["masked"] is True and ev["metrics"]["distinct"] == 40 and ev["data_type"] == "text"
    names = metrics[(runs[(customers, "__all__")]["id"], "name")]["metrics"]
    assert names.get("masked") is None and names["min"] == "Name 1"
    price = metrics[(runs[(feed, "2026-11-20")]["id"], "price")]["metrics"]
    assert price["mean"] == pytest.approx(10.75) and price["kind"] == "float"

    everything = json.dumps(dump["column_metrics"], default=str)
    assert "example.com" not in everything and "acme.example" not in everything and "user1" not in everything

    again = run_profile(settings, DAY, "test/2")
    assert [r.status for r in again.results] == ["skipped"] * 3
    assert _dump(settings.catalog_url()) == dump  # skipping writes nothing


def _current_dump(url: str) -> dict[str, list[dict[str, Any]]]:
    """:func:`_dump` of the current attempts only, attempt ids left out (each attempt has its own)."""
    from assay.profiling.store import is_current

    with engine(url).connect() as c:
        ids = set(c.execute(sa.select(ProfileRun.id).where(is_current())).scalars())
    dump = _dump(url)
    drop = {"id", "profile_run_id"}
    return {
        "profile_runs": [{k: v for k, v in r.items() if k not in drop} for r in dump["profile_runs"]
                         if r["id"] in ids],
        "column_metrics": [{k: v for k, v in r.items() if k not in drop} for r in dump["column_metrics"]
                           if r["profile_run_id"] in ids],
        "anomalies": [{k: v for k, v in r.items() if k != "profile_run_id"} for r in dump["anomalies"]],
    }


def test_reruns_are_idempotent(env):
    settings, src, cat, _ = env
    _events(src, {DAY - dt.timedelta(days=d): 200 + d for d in range(10)})
    cat.asset("shop", "public", "events", partition_column="day")
    for d in range(9, 0, -1):
        run_profile(settings, DAY - dt.timedelta(days=d), "history")
    dumps = []
    for _ in range(3):
        run_profile(settings, DAY, "test/rerun", force=True)
        dumps.append(_current_dump(settings.catalog_url()))
    # Since issue #14 item 4 each rerun is an attempt of its own: the current view is what stays the same.
    assert dumps[0] == dumps[1] == dumps[2]
    assert len(dumps[0]["profile_runs"]) == 10 and len(dumps[0]["column_metrics"]) == 40
    assert len(_dump(settings.catalog_url())["profile_runs"]) == 12  # every attempt kept


def test_a_dropped_table_is_recorded_and_the_others_carry_on(env):
    settings, src, cat, _ = env
    _events(src, {DAY: 10})
    with src.begin() as c:
        c.execute(text("CREATE TABLE gone (x int)"))
    events = cat.asset("shop", "public", "events", partition_column="day")
    gone = cat.asset("shop", "public", "gone")
    with src.begin() as c:
        c.execute(text("DROP TABLE gone"))  # between discovery and profiling

    with pytest.raises(ProfilingError, match="gone") as info:
        run_profile(settings, DAY, "test/drop")
    report = info.value.report
    assert [r.asset_id for r in report.failed] == [gone] and [r.asset_id for r in report.profiled] == [events]
    runs = {r["asset_id"]: r for r in _dump(settings.catalog_url())["profile_runs"]}
    assert runs[gone]["status"] == "failed" and "not found" in runs[gone]["error"]
    assert runs[events]["status"] == "success"
    # A failed partition is retried by the next run, a successful one is skipped.
    with pytest.raises(ProfilingError):
        run_profile(settings, DAY, "test/drop2")


def test_asset_selection(env):
    settings, src, cat, _ = env
    _events(src, {DAY: 5})
    cat.asset("shop", "public", "events", location="public.events", partition_column="day")
    report = run_profile(settings, DAY, "t", assets=["public.events"])
    assert len(report.profiled) == 1
    with pytest.raises(ConfigError, match="nope"):
        run_profile(settings, DAY, "t", assets=["nope"])


def test_missing_source_declaration_fails_the_asset(env, tmp_path: Path):
    settings, src, cat, _ = env
    cat.source("legacy", "sql")
    cat.asset("legacy", "public", "old")
    with pytest.raises(ProfilingError, match="legacy"):
        run_profile(settings, DAY, "t")


def test_files_of_one_feed_share_a_history(env):
    """Each day's file is its own asset; anomalies compare it with the same feed's earlier files."""
    settings, _, cat, landing = env
    days = [DAY, DAY + dt.timedelta(days=1)]
    for day, rows in zip(days, (40, 4), strict=True):
        folder = landing / "feeds" / "acme" / day.isoformat()
        folder.mkdir(parents=True)
        (folder / "products.csv").write_text("sku,price\n" + "".join(f"S{i},{i}.5\n" for i in range(rows)))
        location = f"feeds/acme/{day.isoformat()}/products.csv"
        cat.asset("feeds", f"feeds/acme/{day.isoformat()}", "products.csv", kind="file", location=location)
    run_profile(settings, days[0], "d1")
    report = run_profile(settings, days[1], "d2")
    assert report.anomaly_count >= 1
    found = {(a["column_name"], a["metric"]): a for a in _dump(settings.catalog_url())["anomalies"]}
    assert (
        found[("", "row_count")]["method"] == "rate_of_change" and found[("", "row_count")]["observed"] == 4
    )
