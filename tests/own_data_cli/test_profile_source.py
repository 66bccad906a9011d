"""``assay profile --source NAME`` (issue #13 leftovers): only that source's assets, a clear error for
an unknown source or an asset of another source, the scope in the run key, and progress lines.

The real ``assay`` executable in a subprocess, configured by environment only, on scratch
databases of the test PostgreSQL (like tests/own_data_cli/test_own_data_cli.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from support.db import execute

pytestmark = pytest.mark.integration

ASSAY = str(Path(sys.executable).with_name("assay"))
DAY = dt.date(2019, 3, 1)


@dataclass(frozen=True)
class World:
    catalog_url: str
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``assay ARGS`` with this world's environment."""
        return subprocess.run([ASSAY, *args], capture_output=True, text=True, timeout=600,
                              env={**os.environ, **self.env})

    def profiled(self) -> set[tuple[str, str]]:
        """``(source, asset)`` of every profile run in the catalog."""
        eng = create_engine(self.catalog_url)
        try:
            with eng.connect() as c:
                rows = c.execute(text(
                    "SELECT s.name, a.name FROM profile_runs r JOIN assets a ON a.id = r.asset_id "
                    "JOIN sources s ON s.id = a.source_id"
                )).all()
        finally:
            eng.dispose()
        return {(r[0], r[1]) for r in rows}


@pytest.fixture(scope="module")
def world(scratch_db, tmp_path_factory) -> Iterator[World]:
    from assay.catalog import migrate

    folder = tmp_path_factory.mktemp("profsource")
    with scratch_db("psshop") as shop_url, scratch_db("psmarket") as market_url, scratch_db("pscat") as catalog_url:
        migrate.upgrade(catalog_url, "head")
        execute(shop_url, """
            CREATE TABLE public.orders (order_id int PRIMARY KEY, amount numeric(10, 2));
            INSERT INTO public.orders SELECT g, g * 1.5 FROM generate_series(1, 40) g;
        """)
        execute(market_url, """
            CREATE TABLE public.sellers (seller_id int PRIMARY KEY, name text);
            INSERT INTO public.sellers SELECT g, 'seller ' || g FROM generate_series(1, 20) g;
            CREATE TABLE public.offers (offer_id int, seller_id int, title text);
            INSERT INTO public.offers SELECT g, 1 + g % 20, 'offer ' || g FROM generate_series(1, 50) g;
        """)
        sources = folder / "sources.yaml"
        sources.write_text(json.dumps({"sources": [
            {"name": "shop", "kind": "sql", "url": shop_url},
            {"name": "marketplace", "kind": "sql", "url": market_url},
        ]}))
        env = {
            "ASSAY_DATABASE_URL": catalog_url,
            "ASSAY_SOURCES_FILE": str(sources),
            "ASSAY_EXPECTATIONS_DIR": str(folder / "expectations"),
            "ASSAY_HOME": str(folder / "state"),
            # INFO: the assay.progress family reaches the console (a WARNING root level drops it).
            "ASSAY_LOG_LEVEL": "INFO",
        }
        w = World(catalog_url, env)
        res = w.run("inventory", "--date", DAY.isoformat(), "--no-embeddings")
        assert res.returncode == 0, res.stderr
        yield w


def test_profile_of_one_source_profiles_only_its_assets_with_progress(world: World):
    res = world.run("profile", "--source", "marketplace", "--date", DAY.isoformat())
    assert res.returncode == 0, f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    assert f"cli/profile/marketplace/{DAY}" in res.stdout
    assert world.profiled() == {("marketplace", "sellers"), ("marketplace", "offers")}
    # The Ticker's closing line on the assay.progress family (console = stderr): assets and columns.
    assert "profile: 2/2 assets" in res.stderr and "columns=5" in res.stderr, res.stderr

    again = world.run("profile", "--source", "shop", "--date", DAY.isoformat())
    assert again.returncode == 0, again.stderr
    assert f"cli/profile/shop/{DAY}" in again.stdout
    assert ("shop", "orders") in world.profiled()


def test_an_unknown_source_is_an_error_naming_it(world: World):
    res = world.run("profile", "--source", "nowhere", "--date", DAY.isoformat())
    assert res.returncode == 2, res.stderr
    assert "no source named 'nowhere'" in res.stderr and "marketplace" in res.stderr


def test_an_asset_of_another_source_is_an_error_naming_both(world: World):
    res = world.run("profile", "--source", "shop", "--asset", "public.sellers", "--date", DAY.isoformat())
    assert res.returncode == 2, res.stderr
    assert "not active assets of source shop" in res.stderr and "public.sellers" in res.stderr


def test_a_source_with_nothing_for_the_date_exits_like_the_other_scoped_commands(world: World):
    # Every partition of the date already profiled: skipped, nothing empty; a fresh date on a
    # source whose assets are whole tables still profiles (rows on any date), so exit 0.
    res = world.run("profile", "--source", "shop", "--date", "2019-03-05")
    assert res.returncode == 0, res.stderr
    assert "cli/profile/shop/2019-03-05" in res.stdout
