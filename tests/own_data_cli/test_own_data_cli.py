"""Own data through the CLI only (issue #13 items 1-3): two sources with a table of the same name,
suites per source, proposals accepted per expectation, dates that default to yesterday, scoped run keys.

Every command is the real ``assay`` executable in a subprocess, configured by environment only
(``ASSAY_DATABASE_URL``, ``ASSAY_SOURCES_FILE``, ``ASSAY_EXPECTATIONS_DIR``, ``ASSAY_HOME``), on
scratch databases of the test PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.db import execute

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ASSAY = str(Path(sys.executable).with_name("assay"))
#: Days of marketplace data: D1..D3 (before every DAG's start_date on purpose).
D1, D2, D3 = dt.date(2019, 3, 1), dt.date(2019, 3, 2), dt.date(2019, 3, 3)
EMPTY_DAY = dt.date(2019, 2, 1)


@dataclass(frozen=True)
class World:
    folder: Path
    suites: Path
    catalog_url: str
    env: dict[str, str]

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """``assay ARGS`` as a person would run it, with this world's environment."""
        return subprocess.run([ASSAY, *args], capture_output=True, text=True, timeout=600,
                              env={**os.environ, **self.env, **extra})


def _marketplace(url: str) -> None:
    """A source unlike the demo: ``products`` keyed by a text SKU, partitioned by day; ``sellers`` whole."""
    execute(url, """
        CREATE TABLE public.products (sku text NOT NULL, title text, price numeric(10, 2), seller_id int, day date NOT NULL);
        CREATE TABLE public.sellers (seller_id int PRIMARY KEY, name text);
        INSERT INTO public.sellers SELECT g, 'seller ' || g FROM generate_series(1, 20) g;
        INSERT INTO public.products
        SELECT 'SKU-' || lpad((d * 1000 + g)::text, 6, '0'), 'item ' || g, 5 + (g % 40), 1 + g % 20,
               DATE '2019-03-01' + d
        FROM generate_series(0, 2) d, generate_series(1, 60) g;
    """)


def _shop(url: str) -> None:
    """The other source: a ``products`` table of its own (another shape, same name)."""
    execute(url, """
        CREATE TABLE public.products (product_id int PRIMARY KEY, title text NOT NULL, price numeric(10, 2));
        INSERT INTO public.products SELECT g, 'p' || g, g FROM generate_series(1, 30) g;
    """)


@pytest.fixture(scope="module")
def world(scratch_db, tmp_path_factory) -> Iterator[World]:
    from assay.catalog import migrate

    folder = tmp_path_factory.mktemp("owncli")
    with scratch_db("ocshop") as shop_url, scratch_db("ocmarket") as market_url, scratch_db("occat") as catalog_url:
        migrate.upgrade(catalog_url, "head")
        _shop(shop_url)
        _marketplace(market_url)
        sources = folder / "sources.yaml"
        sources.write_text(json.dumps({"sources": [
            {"name": "shop", "kind": "sql", "url": shop_url},
            {"name": "marketplace", "kind": "sql", "url": market_url,
             "assets": {"products": {"partition_column": "day"}}},
        ]}))
        suites = folder / "expectations"
        shutil.copytree(ROOT / "expectations", suites)  # the demo's shop suites, products included
        env = {
            "ASSAY_DATABASE_URL": catalog_url,
            "ASSAY_SOURCES_FILE": str(sources),
            "ASSAY_EXPECTATIONS_DIR": str(suites),
            "ASSAY_HOME": str(folder / "state"),
            "ASSAY_LOG_LEVEL": "WARNING",
        }
        yield World(folder, suites, catalog_url, env)


def _ok(res: subprocess.CompletedProcess[str], code: int = 0) -> str:
    assert res.returncode == code, f"exit {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    return res.stdout


@pytest.fixture(scope="module")
def profiled(world: World) -> World:
    """Both sources inventoried and the marketplace profiled on D1..D3, through the CLI."""
    for day in (D1, D2, D3):
        _ok(world.run("inventory", "--date", day.isoformat(), "--no-embeddings"))
        out = _ok(world.run("profile", "--date", day.isoformat()))
        assert f"cli/profile/all/{day}" in out
    return world


# ---- scoped run keys ----------------------------------------------------------------------------
def test_inventories_of_two_sources_on_one_date_keep_both_run_rows(world: World):
    day = "2019-01-15"
    first = _ok(world.run("inventory", "--date", day, "--source", "shop", "--no-embeddings"))
    second = _ok(world.run("inventory", "--date", day, "--source", "marketplace", "--no-embeddings"))
    assert f"cli/inventory/shop/{day}" in first and f"cli/inventory/marketplace/{day}" in second
    rows = execute(world.catalog_url, "SELECT run_key FROM inventory_runs WHERE logical_date = :d ORDER BY 1", d=day)
    assert [r[0] for r in rows] == [f"cli/inventory/marketplace/{day}", f"cli/inventory/shop/{day}"]


# ---- dates --------------------------------------------------------------------------------------
def test_dates_default_to_yesterday_in_utc_never_the_demo_date(world: World):
    yesterday = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date().isoformat()
    out = _ok(world.run("inventory", "--source", "shop", "--no-embeddings"))
    assert f"cli/inventory/shop/{yesterday}" in out and "2026-11-20" not in out
    rows = execute(world.catalog_url, "SELECT logical_date FROM inventory_runs WHERE run_key = :k",
                   k=f"cli/inventory/shop/{yesterday}")
    assert [r[0].isoformat() for r in rows] == [yesterday]
    for command in ("inventory", "profile", "quality", "seed"):
        help_text = _ok(world.run(command, "--help"))
        assert "2026-11-20" not in help_text, command
    assert "2026-11-20" in _ok(world.run("demo", "--help"))  # the demo passes its own date


# ---- suites belong to a source ------------------------------------------------------------------
def test_a_table_named_like_another_sources_gets_its_own_suite_never_merged(profiled: World):
    w = profiled
    shop_suite = w.suites / "shop" / "products.json"
    shop_before = shop_suite.read_text()
    ambiguous = w.run("suggest", "products")
    assert ambiguous.returncode == 2 and "--source" in ambiguous.stderr  # two sources have a products table

    out = _ok(w.run("suggest", "products", "--source", "marketplace"))
    proposal = w.suites / "marketplace" / "proposed" / "products.json"
    assert str(proposal) in out
    doc = json.loads(proposal.read_text())
    assert doc["meta"]["assay"] == {"source": "marketplace", "table": "public.products", "partition_column": "day"}
    # nothing of the shop's products suite was merged in, and its file is untouched
    shop_names = {e["meta"]["name"] for e in json.loads(shop_before)["expectations"]}
    assert not shop_names & {e["meta"]["name"] for e in doc["expectations"]}
    assert shop_suite.read_text() == shop_before
    for e in doc["expectations"]:
        assert e["meta"]["name"] and isinstance(e["meta"]["evidence"], dict), e

    _ok(w.run("suites", "accept", "marketplace.products", "--actor", "dana"))
    listing = _ok(w.run("suites", "list"))
    assert "marketplace.products" in listing and "shop.products" in listing
    assert (w.suites / "marketplace" / "products.json").exists() and shop_suite.read_text() == shop_before


def test_two_files_claiming_one_source_and_asset_are_an_error_naming_both(world: World, tmp_path: Path):
    from assay.quality.suites import load_suites

    folder = tmp_path / "expectations"
    shutil.copytree(ROOT / "expectations", folder)
    flat = folder / "products.json"  # the older layout: same source (shop) and same name
    shutil.copy(folder / "shop" / "products.json", flat)
    renamed = json.loads((folder / "shop" / "products.json").read_text())
    renamed["name"] = "catalogue"  # another name, the same table of the same source
    (folder / "shop" / "catalogue.json").write_text(json.dumps(renamed))
    loaded = load_suites(folder)
    messages = [str(e) for e in loaded.errors]
    assert any(str(flat) in m and str(folder / "shop" / "products.json") in m for m in messages), messages
    assert any(str(folder / "shop" / "catalogue.json") in m and "public.products" in m for m in messages), messages
    assert "shop.products" not in {s.gx_name for s in loaded.suites}
    listing = _ok(world.run("suites", "list", ASSAY_EXPECTATIONS_DIR=str(folder)))
    assert "BROKEN" in listing and "clashes with" in listing

    # a suite in another source's folder (same file name) is no clash: it is another suite
    other = json.loads(flat.read_text())
    other["meta"]["assay"]["source"] = "marketplace"
    flat.unlink()
    (folder / "shop" / "catalogue.json").unlink()
    (folder / "marketplace").mkdir()
    (folder / "marketplace" / "products.json").write_text(json.dumps(other))
    loaded = load_suites(folder)
    assert loaded.errors == [] and {"shop.products", "marketplace.products"} <= {s.gx_name for s in loaded.suites}


def test_a_suite_in_the_wrong_source_folder_is_refused(tmp_path: Path):
    from assay.quality.suites import load_suites

    folder = tmp_path / "expectations"
    (folder / "marketplace").mkdir(parents=True)
    shutil.copy(ROOT / "expectations" / "shop" / "products.json", folder / "marketplace" / "products.json")
    (err,) = load_suites(folder).errors
    assert "meta.assay.source is 'shop'" in str(err) and "marketplace" in str(err) and err.source == "marketplace"


# ---- accept / reject per expectation ------------------------------------------------------------
def test_only_the_named_expectations_are_accepted_the_rest_stay_proposed(profiled: World):
    w = profiled
    out = _ok(w.run("suggest", "sellers", "--source", "marketplace"))
    assert "proposal marketplace.sellers" in out
    shown = _ok(w.run("suites", "show", "marketplace.sellers"))
    proposal = w.suites / "marketplace" / "proposed" / "sellers.json"
    pending = json.loads(proposal.read_text())["meta"]["proposal"]["added"]
    assert len(pending) >= 2, pending
    assert all(f"+ {n}" in shown for n in pending) and "evidence:" in shown
    item = "SELECT status, closed_by, resolution, summary FROM review_items WHERE kind = 'suggested_suite' AND ref = :r"
    ((status, _, _, summary),) = execute(w.catalog_url, item, r="suite:marketplace.sellers")
    assert status == "open" and f"{len(pending)} new" in summary
    first, rest = pending[0], pending[1:]

    _ok(w.run("suites", "accept", "marketplace.sellers", "--only", first, "--actor", "ana"))
    live = json.loads((w.suites / "marketplace" / "sellers.json").read_text())
    assert [e["meta"]["name"] for e in live["expectations"]] == [first]
    assert live["expectations"][0]["meta"]["accepted_by"] == "ana"
    assert json.loads(proposal.read_text())["meta"]["proposal"]["added"] == rest

    bad = w.run("suites", "accept", "marketplace.sellers", "--only", "no_such_expectation")
    assert bad.returncode == 2 and "no pending suggestion 'no_such_expectation'" in bad.stderr

    _ok(w.run("suites", "reject", "marketplace.sellers", "--only", rest[0], "--actor", "ana"))
    left = json.loads(proposal.read_text())["meta"]["proposal"]["added"] if proposal.exists() else []
    assert left == rest[1:]
    assert execute(w.catalog_url, item, r="suite:marketplace.sellers")[0][0] == "open"  # still pending
    if left:
        out = _ok(w.run("suites", "reject", "marketplace.sellers", "--actor", "ana"))
        assert "proposal closed" in out
    assert not proposal.exists()
    ((status, closed_by, resolution, _),) = execute(w.catalog_url, item, r="suite:marketplace.sellers")
    assert (status, closed_by) == ("closed", "ana") and f"accepted {first} by ana" in resolution
    live = json.loads((w.suites / "marketplace" / "sellers.json").read_text())
    assert [e["meta"]["name"] for e in live["expectations"]] == [first]  # rejections never reach the suite
    shown = _ok(w.run("suites", "show", "marketplace.sellers"))
    assert first in shown and "warning" in shown


# ---- quality through the CLI --------------------------------------------------------------------
def test_quality_runs_any_date_and_says_when_there_was_nothing_to_validate(profiled: World):
    w = profiled
    suite = {
        "name": "products",
        "meta": {"assay": {"source": "marketplace", "table": "public.products", "partition_column": "day"}},
        "expectations": [
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1},
             "meta": {"name": "has_rows", "dimension": "volume", "severity": "critical"}},
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "sku"},
             "meta": {"name": "sku_not_null", "dimension": "completeness", "severity": "critical"}},
        ],
    }
    folder = w.folder / "quality-suites"
    (folder / "marketplace").mkdir(parents=True)
    (folder / "marketplace" / "products.json").write_text(json.dumps(suite))
    env = {"ASSAY_EXPECTATIONS_DIR": str(folder)}

    out = _ok(w.run("quality", "--source", "marketplace", "--date", D2.isoformat(), **env))
    assert f"cli/quality/marketplace/{D2}" in out and "1 of 1 partitions validated" in out
    assert f"products:{D2}" in out

    empty = w.run("quality", "--source", "marketplace", "--date", EMPTY_DAY.isoformat(), **env)
    assert empty.returncode == 3, empty.stdout + empty.stderr
    assert "NOTHING TO DO" in empty.stderr
    allowed = w.run("quality", "--source", "marketplace", "--date", EMPTY_DAY.isoformat(), "--allow-empty", **env)
    # allowed to be empty, but the critical row-count check still failed: exit 1 with the summary
    assert allowed.returncode == 1 and "has_rows" in allowed.stdout and "FAILED" in allowed.stdout

    unknown = w.run("quality", "--source", "nowhere", **env)
    assert unknown.returncode == 2 and "no source named 'nowhere'" in unknown.stderr


def test_profile_of_a_date_without_data_says_so(profiled: World):
    res = profiled.run("profile", "--date", EMPTY_DAY.isoformat(), "--asset", "public.sellers")
    assert f"cli/profile/public.sellers/{EMPTY_DAY}" in res.stdout
    # sellers is a whole table (no partition column): it has rows on any date, so this is not empty
    assert res.returncode == 0, res.stderr


def test_no_command_but_the_demo_defaults_to_the_demo_date():
    """The demo's date lives in ops/demo.py and only `assay demo` passes it (grep, like a reviewer)."""
    hits = []
    for path in sorted([*(ROOT / "include/assay/cli").rglob("*.py"), *(ROOT / "include/assay/ops").rglob("*.py")]):
        text = path.read_text()
        for name in ("DEMO_DATE", "DEFAULT_DATE", "2026-11-20"):
            if name in text:
                hits.append(f"{path.relative_to(ROOT)}:{name}")
    assert sorted(hits) == ["include/assay/cli/pipeline.py:DEMO_DATE", "include/assay/ops/demo.py:2026-11-20",
                            "include/assay/ops/demo.py:DEMO_DATE"], hits


def test_two_sources_products_suites_validate_side_by_side_in_one_run(profiled: World):
    """Same stem, same partition key: GX keeps two suites, the summary two keys, each on its own table."""
    w = profiled

    def suite(source: str, column: str) -> dict:
        return {"name": "products", "meta": {"assay": {"source": source, "table": "public.products"}},
                "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": column},
                                  "meta": {"name": f"{column}_not_null", "dimension": "completeness",
                                           "severity": "critical"}}]}

    folder = w.folder / "side-by-side"
    for source, column in (("shop", "product_id"), ("marketplace", "sku")):
        (folder / source).mkdir(parents=True)
        (folder / source / "products.json").write_text(json.dumps(suite(source, column)))
    out = _ok(w.run("quality", "--date", D2.isoformat(), "--asset", "products", ASSAY_EXPECTATIONS_DIR=str(folder)))
    # a suite evaluated on the other source's table would fail on the missing column
    assert "2 of 2 partitions validated" in out, out
    assert "shop.products:__all__ [products]" in out and "marketplace.products:__all__ [products]" in out
    rows = execute(w.catalog_url, """
        SELECT s.name, r.suite_name, r.status FROM quality_runs r JOIN assets a ON a.id = r.asset_id
        JOIN sources s ON s.id = a.source_id WHERE r.run_key = :k ORDER BY 1""", k=f"cli/quality/products/{D2}")
    assert rows == [("marketplace", "products", "ok"), ("shop", "products", "ok")]
