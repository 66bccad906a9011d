"""Issue #13 acceptance: a new user's own marketplace, driven only through the ``assay`` CLI.

The source is unlike the demo shop: schema ``mkt`` (sellers, day-partitioned listings and orders) on
a fresh database of the test PostgreSQL, and a dated export folder ``exports/<day>/{sellers,stock,
payouts}.csv`` (a BOM header, a pandas index column, a tab-separated ``.csv``), declared in its own
sources file with its own ``ASSAY_EXPECTATIONS_DIR`` and catalog. Day 1 is clean: inventory ->
profile -> suggest -> suites accept -> quality. Day 2 carries ten planted defects (``market.DEFECTS``);
each must surface as a failing expectation, a schema event or a PII finding. A clean copy (same
generator, no defects) runs the same commands and nothing is flagged. The catalog is only read.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from market import DEFECTS, build_day, create_schema, sources_yaml
from support.db import rows

pytestmark = pytest.mark.integration

ASSAY = str(Path(sys.executable).with_name("assay"))
D1, D2 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)  # before every DAG's start_date on purpose
#: (asset as the user names it, source)
ASSETS = [("listings", "mkt"), ("orders", "mkt"), ("sellers", "mkt"),
          (f"exports/{D1}/sellers.csv", "drops"), (f"exports/{D1}/stock.csv", "drops"),
          (f"exports/{D1}/payouts.csv", "drops")]


@dataclass
class World:
    folder: Path
    catalog_url: str
    env: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, ok: tuple[int, ...] = (0,)) -> str:
        """``assay ARGS`` in a subprocess with this world's environment; the exit code must be in ``ok``."""
        start = time.monotonic()
        res = subprocess.run([ASSAY, *args], capture_output=True, text=True, timeout=600,
                             env={**os.environ, **self.env})
        self.timings[args[0]] = self.timings.get(args[0], 0.0) + time.monotonic() - start
        assert res.returncode in ok, f"assay {' '.join(args)}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
        self.outputs[" ".join(args)] = res.stdout
        return res.stdout

    def sql(self, statement: str, **params: object) -> list[tuple]:
        """Read the catalog (never written by the test)."""
        return rows(self.catalog_url, statement, **params)


def _drive(scratch_db, folder: Path, *, defects: bool) -> Iterator[World]:
    """Both days through the CLI; yields the world with the catalog still there."""
    with scratch_db("ownmkt") as url, scratch_db("owncat") as catalog_url:
        create_schema(url)
        (folder / "sources.yaml").write_text(json.dumps(sources_yaml(url, folder / "files"), indent=2))
        w = World(folder, catalog_url, {
            "ASSAY_DATABASE_URL": catalog_url,
            "ASSAY_SOURCES_FILE": str(folder / "sources.yaml"),
            "ASSAY_EXPECTATIONS_DIR": str(folder / "expectations"),
            "ASSAY_HOME": str(folder / "state"),
            "ASSAY_LOG_LEVEL": "WARNING",
        })
        w.run("catalog", "migrate")
        # day 1: clean, learnt from
        build_day(url, folder / "files", D1, 0, defects=False)
        w.run("inventory", "--date", D1.isoformat(), "--no-embeddings")
        w.run("profile", "--date", D1.isoformat())
        for asset, source in ASSETS:
            out = w.run("suggest", asset, "--source", source)
            proposal = out.split("proposal written: ", 1)[1].split()[0]
            w.run("suites", "accept", proposal, "--actor", "dana")
        if not defects:  # the learnt suites hold on the day they came from (exit 0)
            w.run("quality", "--date", D1.isoformat())
        # day 2: the defects (or the clean copy)
        build_day(url, folder / "files", D2, 1, defects=defects)
        w.run("inventory", "--date", D2.isoformat(), "--no-embeddings")
        w.run("profile", "--date", D2.isoformat())
        w.run("quality", "--date", D2.isoformat(), ok=(1,) if defects else (0,))  # 1: an expectation failed
        w.run("steward", "items", "--status", "open", "--limit", "200")
        yield w


@pytest.fixture(scope="module")
def defective(scratch_db, tmp_path_factory) -> Iterator[World]:
    yield from _drive(scratch_db, tmp_path_factory.mktemp("own_defects"), defects=True)


@pytest.fixture(scope="module")
def clean(scratch_db, tmp_path_factory) -> Iterator[World]:
    yield from _drive(scratch_db, tmp_path_factory.mktemp("own_clean"), defects=False)


def _failures(w: World, day: dt.date) -> set[tuple[str, str, str]]:
    """(asset name, column, expectation type) of every failing expectation of the day's current runs."""
    return {(a, c or "", t) for a, c, t in w.sql("""
        SELECT a.name, r.column_name, r.expectation_type FROM quality_current q
        JOIN quality_runs qr ON qr.id = q.quality_run_id JOIN assets a ON a.id = q.asset_id
        JOIN expectation_results r ON r.quality_run_id = qr.id
        WHERE q.logical_date = :d AND NOT r.success""", d=day)}


def _schema_events(w: World, event: str) -> set[tuple[str, str]]:
    return {(a, c) for a, c in w.sql("""
        SELECT a.name, e.column_name FROM schema_events e JOIN assets a ON a.id = e.asset_id
        WHERE e.event_type = :e""", e=event)}


def _pii_findings(w: World) -> list[tuple[str, str]]:
    return [(a, s) for a, s in w.sql("""
        SELECT a.name, i.summary FROM review_items i JOIN assets a ON a.id = i.asset_id
        WHERE i.kind = 'pii_finding'""")]


def test_every_planted_defect_is_surfaced(defective: World):
    w = defective
    failing = _failures(w, D2)
    type_changes = _schema_events(w, "type_changed")
    pii = _pii_findings(w)
    items = w.outputs["steward items --status open --limit 200"]

    def failed(asset: str, column: str, kind: str) -> str | None:
        hits = [f for f in failing if f[0] == asset and f[1] == column and kind in f[2]]
        return f"failing {hits[0][2]} on {asset}.{column}" if hits else None

    surfaced = {
        "orphan foreign keys": failed("orders", "", "unexpected_rows"),
        "codes lost leading zeros": failed("sellers.csv", "seller_zip", "match_regex"),
        "stray email": next((f"PII finding on {a}: {s}" for a, s in pii if a == "listings" and "title" in s), None),
        "zero and negative": failed("orders", "amount", "be_between"),
        "all-null column": failed("orders", "shipped_at", "not_be_null"),
        "duplicated key": failed("listings", "listing_id", "unique"),
        "type changed": ("type_changed event on stock.csv.qty"
                         if ("stock.csv", "qty") in type_changes else None),
    }
    print("\nplanted defect → how assay surfaced it")
    for defect, where in DEFECTS.items():
        print(f"  {defect:26} {where:58} {surfaced.get(defect, 'read right (test_file_formats_are_read_right)')}")
    print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in w.timings.items()))
    missing = [d for d, how in surfaced.items() if how is None]
    assert not missing, f"not surfaced: {missing}\nfailing: {sorted(failing)}\ntype changes: {type_changes}\npii: {pii}\n{items}"
    # the raw address never reaches the catalog's review queue or the CLI
    assert "maria.lopez@example.org" not in items and all("maria.lopez" not in s for _, s in pii)
    # nothing failed that was not planted: each failing expectation belongs to a defect's column
    planted = {("orders", ""), ("orders", "listing_id"), ("sellers.csv", "seller_zip"), ("orders", "amount"),
               ("orders", "shipped_at"), ("listings", "listing_id"), ("stock.csv", "qty")}
    assert {(a, c) for a, c, _ in failing} <= planted, sorted(failing)


def test_a_clean_copy_flags_nothing(clean: World):
    w = clean
    assert _failures(w, D1) == set() and _failures(w, D2) == set()
    assert _schema_events(w, "type_changed") == set()
    assert _pii_findings(w) == []


@pytest.mark.parametrize("world_name", ["defective", "clean"])
def test_file_formats_are_read_right(world_name: str, request: pytest.FixtureRequest):
    w: World = request.getfixturevalue(world_name)
    columns = {}
    for name, col, _pos in w.sql("""
            SELECT a.name, c.name, c.ordinal FROM asset_columns c JOIN assets a ON a.id = c.asset_id
            JOIN sources s ON s.id = a.source_id
            WHERE s.name = 'drops' AND a.namespace = :f ORDER BY c.ordinal""", f=f"exports/{D1}"):
        columns.setdefault(name, []).append(col)
    assert columns["sellers.csv"] == ["seller_id", "seller_zip", "city"]  # BOM not in the first name
    assert columns["stock.csv"] == ["column_1", "sku", "qty", "warehouse"]  # the index column keeps the header
    assert columns["payouts.csv"] == ["seller_id", "payout_eur", "currency"]  # tabs, although .csv
    counts = dict(w.sql("""SELECT a.name, a.row_count FROM assets a JOIN sources s ON s.id = a.source_id
                           WHERE s.name = 'drops' AND a.namespace = :f""", f=f"exports/{D1}"))
    assert counts == {"sellers.csv": 40, "stock.csv": 60, "payouts.csv": 40}
