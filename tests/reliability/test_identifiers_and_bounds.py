"""Hostile identifiers and unbounded values through profiling and quality.

* Table and column names with ``%``, spaces, double quotes, unicode, and one shaped like an
  injection (``x"; drop table victim; --``) are profiled and validated as ordinary names: one
  quoting path, no driver ``%``-formatting of names, and the victim table is intact.
* A suite naming a table the source does not have is an error on that suite, named, and never a
  new (phantom) active asset in the catalog.
* A 10 MB cell is stored bounded: ``column_metrics``, ``expectation_results`` and the Data Docs
  page stay small, with a truncation marker instead of the value.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from support.db import execute

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 11, 20)
BIG = 10 * 1024 * 1024
INJECTION = 'x"; drop table victim; --'

#: table -> (columns with their SQL types, partition column or None). Every name is hostile.
TABLES: dict[str, tuple[dict[str, str], str | None]] = {
    "pct%table": ({"50% off": "text", "d%y": "date"}, "d%y"),
    "My Table": ({"my col": "text", "the day": "date"}, "the day"),
    'quo"te': ({'a"b': "text"}, None),
    "größe": ({"straße": "text", "%%": "int"}, None),
    INJECTION: ({"v": "text"}, None),
}
#: suite name -> the table it validates.
SUITES = {
    "pct": "pct%table",
    "spaced": "My Table",
    "quoted": 'quo"te',
    "unicode": "größe",
    "injection": INJECTION,
}


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@pytest.fixture
def world(fresh_db, catalog_url, tmp_path):
    """The hostile tables, a victim, a 10 MB cell; declared, cataloged, with a suite per table."""
    from assay.catalog.db import session
    from assay.catalog.models import Asset, Source
    from assay.catalog.upsert import upsert
    from assay.config import Settings

    src = fresh_db("src")
    execute(src, "CREATE TABLE victim (x int); INSERT INTO victim VALUES (1)")
    for table, (columns, _) in TABLES.items():
        cols = ", ".join(f"{q(c)} {t}" for c, t in columns.items())
        execute(src, f"CREATE TABLE public.{q(table)} ({cols})")
        values = ", ".join(
            {"text": "'v 1'", "date": f"DATE '{DAY}'", "int": "1"}[t] for t in columns.values()
        )
        execute(src, f"INSERT INTO public.{q(table)} VALUES ({values}), ({values})")
    execute(src, "CREATE TABLE public.big_cell (id int, body text)")
    execute(src, "INSERT INTO public.big_cell VALUES (1, repeat('z', :n)), (2, 'short')", n=BIG)

    decls = tmp_path / "sources.json"
    decls.write_text(json.dumps({"sources": [{"name": "shop", "kind": "sql", "url": src}]}))
    suites = tmp_path / "expectations"
    suites.mkdir()

    def suite(
        name: str, table: str, expectations: list[tuple[str, str, dict]], partition: str | None
    ) -> None:
        target = {"source": "shop", "table": f"public.{table}"}
        if partition:
            target["partition_column"] = partition
        doc = {
            "name": name,
            "meta": {"assay": target},
            "expectations": [
                {
                    "type": t,
                    "kwargs": kw,
                    "meta": {"name": n, "dimension": "validity", "severity": "critical"},
                }
                for n, t, kw in expectations
            ],
        }
        (suites / f"{name}.json").write_text(json.dumps(doc))

    for name, table in SUITES.items():
        columns, partition = TABLES[table]
        first = next(iter(columns))
        suite(
            name,
            table,
            [
                ("rows", "expect_table_row_count_to_be_between", {"min_value": 2, "max_value": 2}),
                ("not_null", "expect_column_values_to_not_be_null", {"column": first}),
            ],
            partition,
        )
    suite(
        "big_cell",
        "big_cell",
        [("short", "expect_column_values_to_match_regex", {"column": "body", "regex": "^short$"})],
        None,
    )
    suite(
        "ghost", "no_such_table", [("rows", "expect_table_row_count_to_be_between", {"min_value": 1})], None
    )

    with session(catalog_url) as s:
        (sid,) = upsert(s, Source, [{"name": "shop", "kind": "sql", "url_or_conn_id": "test"}], ["name"])
        for table, (_, partition) in [*TABLES.items(), ("big_cell", ({}, None))]:
            row = {
                "source_id": sid,
                "namespace": "public",
                "name": table,
                "kind": "table",
                "location": f"public.{table}",
                "partition_column": partition,
            }
            upsert(s, Asset, [row], ["source_id", "namespace", "name"])
    settings = Settings(home=tmp_path / "state", database_url=catalog_url, sources_file=decls)
    return settings, catalog_url, src, suites


def test_hostile_names_are_profiled(world):
    from assay.profiling import run_profile

    settings, catalog_url, src, _ = world
    report = run_profile(settings, DAY, "test/names")
    statuses = {r.asset.split("/", 1)[1]: (r.status, r.error) for r in report.results}
    assert statuses == {t: ("profiled", None) for t in [*TABLES, "big_cell"]}
    rows = execute(
        catalog_url,
        """
        SELECT a.name, m.column_name, (m.metrics->>'non_null_count')::int, r.row_count FROM column_metrics m
        JOIN profile_runs r ON r.id = m.profile_run_id JOIN assets a ON a.id = r.asset_id""",
    )
    profiled = {(t, c): (nn, n) for t, c, nn, n in rows}
    for table, (columns, _) in TABLES.items():
        for column in columns:
            assert profiled[(table, column)] == (2, 2), (table, column)
    assert execute(src, "SELECT x FROM victim") == [(1,)]


def test_a_10_mb_cell_is_stored_bounded(world):
    from assay.profiling import run_profile
    from assay.quality import run_quality

    settings, catalog_url, _, suites = world
    run_profile(settings, DAY, "test/big", assets=["big_cell"])
    report = run_quality(
        settings, DAY, "test/big", assets=["big_cell"], suites=suites, raise_on_failure=False
    )
    (metrics,) = execute(catalog_url, "SELECT metrics FROM column_metrics WHERE column_name = 'body'")[0]
    assert len(json.dumps(metrics)) < 5_000
    assert metrics["max"].startswith("z" * 256 + "…[truncated ") and metrics["max"].endswith(
        f"{BIG - 256} chars]"
    )
    assert metrics["scrubbed"] == {"truncated": 2}  # max and its top value ("short" is the min)
    assert [tv["value"][:5] for tv in metrics["top_values"]] == ["short", "zzzzz"]
    (stats,) = execute(catalog_url, "SELECT stats FROM profile_runs")[0]
    assert stats["scrubbed"] == {"truncated": 2}

    p = report.partition("big_cell")
    assert p.status == "failed" and p.critical_failures[0].expectation_id == "short"
    (size, details) = execute(
        catalog_url,
        "SELECT length(details::text) + length(coalesce(observed_value::text, '')), details "
        "FROM expectation_results",
    )[0]
    assert size < 5_000 and details["scrubbed"]["truncated"] >= 1
    page = Path(p.data_docs_url.removeprefix("file://"))
    assert page.stat().st_size < 1_000_000 and "z" * 257 not in page.read_text()


def test_hostile_names_are_validated_and_a_missing_table_is_an_error_not_an_asset(world):
    from assay.quality import run_quality

    settings, catalog_url, src, suites = world
    assets_before = execute(catalog_url, "SELECT count(*) FROM assets")
    report = run_quality(
        settings, DAY, "test/names", suites=suites, raise_on_failure=False, assets=[*SUITES, "ghost"]
    )
    by_suite = {p.suite: p for p in report.partitions}
    for name in SUITES:
        p = by_suite[name]
        assert (p.status, p.error) == ("ok", None), (name, p.error, [o.error for o in p.outcomes])
    assert execute(src, "SELECT x FROM victim") == [(1,)]

    # The missing table: an error naming the suite file and the table, and no new asset.
    errors = [*report.unrecorded_errors, *(p.error or "" for p in report.partitions if p.suite == "ghost")]
    assert any("ghost.json" in e and "no_such_table" in e for e in errors), errors
    assert execute(catalog_url, "SELECT count(*) FROM assets") == assets_before
    assert execute(catalog_url, "SELECT count(*) FROM assets WHERE name = 'no_such_table'") == [(0,)]
    assert not report.ok
