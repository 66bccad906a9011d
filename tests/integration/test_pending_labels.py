"""Issue #16 item 8, background route: the inventory writes the rule labels and marks the rest
pending; the labelling step (``complete_labels``) writes the labels the inline route writes.

Real PostgreSQL source and files, real catalog, the real all-MiniLM-L6-v2.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.db import execute, records

from assay.classify import semantic
from assay.config import Settings
from assay.errors import SourceError
from assay.inventory import run_inventory
from assay.inventory.labelling import complete_labels, pending_count

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 11, 20)

TABLES = {
    "searches": (
        "id bigint PRIMARY KEY, query text, created_at timestamptz, results int, contact text",
        "SELECT i, (ARRAY['red sofa','oak table','usb cable','grey couch 3 seater','kettle'])[1 + i % 5] || ' ' || i, "
        "TIMESTAMPTZ '2026-11-01 00:00+00' + i * INTERVAL '1 hour', i * 3, 'user' || i || '@shop-example.com' "
        "FROM generate_series(1, 40) i",
    ),
    "products": (
        "sku text PRIMARY KEY, title text, price numeric(12,2), brand text, name text, note text",
        "SELECT 'SKU-' || lpad(i::text, 5, '0'), 'Acme Oslo ' || (ARRAY['Sofa','Table','Lamp'])[1 + i % 3] || ' ' || i, "
        "i * 9.99, (ARRAY['Nordhaven','Kaito','Lumetra'])[1 + i % 3], 'Item ' || i, "
        "'Delivered in ' || i || ' days, assembly not included, returns within thirty days' "
        "FROM generate_series(1, 30) i",
    ),
    "brands": (
        "id int PRIMARY KEY, name text, country text, rank int",
        "SELECT i, (ARRAY['Nordhaven','Kaito','Lumetra','Oakridge'])[1 + i % 4] || ' ' || i, "
        "(ARRAY['DE','FR','JP','SE'])[1 + i % 4], i FROM generate_series(1, 12) i",
    ),
}


def _world(fresh_db: Any, tmp_path: Path, catalog: str) -> Settings:
    src = fresh_db("src")
    for name, (cols, select) in TABLES.items():
        execute(src, f"CREATE TABLE {name} ({cols})")
        execute(src, f"INSERT INTO {name} {select}")
    landing = tmp_path / "landing"
    landing.mkdir(parents=True)
    (landing / "leads.csv").write_text(
        "lead_id,search_term,city\n" + "".join(f"{i},blue velvet chair {i},Berlin\n" for i in range(1, 25))
    )
    path = tmp_path / "sources.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "sources": [
                    {"name": "src", "kind": "sql", "url": src},
                    {"name": "feeds", "kind": "files", "root": str(landing), "patterns": ["*.csv"]},
                ]
            }
        )
    )
    return Settings(database_url=catalog, sources_file=path)


def _catalog(fresh_db: Any, prefix: str) -> str:
    from assay.catalog import migrate

    url = fresh_db(prefix)
    migrate.upgrade(url, "head")
    return url


def _labels(catalog: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        (r["asset"], r["col"], r["kind"]): r
        for r in records(
            catalog,
            "SELECT a.name AS asset, co.name AS col, cl.kind, cl.label, cl.score, cl.method, cl.evidence, "
            "cl.decided_at, cl.id, cl.updated_at FROM classifications cl JOIN asset_columns co ON co.id = cl.column_id "
            "JOIN assets a ON a.id = co.asset_id WHERE cl.source = 'auto'",
        )
    }


def _pending(catalog: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (r["asset"], r["col"]): r
        for r in records(
            catalog,
            "SELECT a.name AS asset, co.name AS col, p.* FROM pending_labels p "
            "JOIN asset_columns co ON co.id = p.column_id JOIN assets a ON a.id = co.asset_id",
        )
    }


def _columns(catalog: str) -> int:
    return int(records(catalog, "SELECT count(*) AS n FROM asset_columns WHERE is_present")[0]["n"])


def test_background_route_gives_the_inline_labels(fresh_db, tmp_path, caplog):
    """Both routes over one source: the same label, method and score for every column and kind."""
    inline_cat, background_cat = _catalog(fresh_db, "inline"), _catalog(fresh_db, "background")
    inline = _world(fresh_db, tmp_path / "a", inline_cat)
    background = inline.model_copy(update={"database_url": background_cat})

    semantic.clear_cache()
    run_inventory(inline, DAY, "test/inline", use_embeddings=True, labels="inline")
    expected = _labels(inline_cat)
    assert not _pending(inline_cat)

    semantic.clear_cache()  # the labelling step computes its cosines afresh, as a new process would
    report = run_inventory(background, DAY, "test/bg", use_embeddings=True, labels="background")
    assert report.status == "success"
    marked = _pending(background_cat)
    assert marked and pending_count(background) == len(marked)
    early = _labels(background_cat)
    for asset, col in marked:
        assert (asset, col, "semantic") not in early  # the page says "classifying"
    # PII and every label a decisive rule settles are written at once, as the inline route writes them.
    for key, row in early.items():
        assert (row["label"], row["method"]) == (expected[key]["label"], expected[key]["method"]), key
    assert ("searches", "contact", "pii") in early
    assert early[("searches", "created_at", "semantic")]["label"] == "timestamp"

    caplog.set_level(logging.INFO, logger="assay.progress.classify")
    done = complete_labels(background)
    assert (done.marked, done.labelled, done.left, done.dropped, done.errors) == (len(marked), len(marked), 0, 0, [])
    assert pending_count(background) == 0
    got = _labels(background_cat)
    assert got.keys() == expected.keys()
    assert len({k[:2] for k in got if k[2] == "semantic"}) == _columns(background_cat)
    for key, row in got.items():
        want = expected[key]
        assert (row["label"], row["method"]) == (want["label"], want["method"]), key
        assert row["score"] == pytest.approx(want["score"], abs=1e-3), key
        assert row["decided_at"] == want["decided_at"], key
        assert row["evidence"]["inventory_sample_sha256"] == want["evidence"]["inventory_sample_sha256"], key
    lines = [r.getMessage() for r in caplog.records if r.name == "assay.progress.classify"]
    assert any(m.startswith(f"classify: {len(marked)}/{len(marked)} columns") and "done in" in m for m in lines), lines


def test_reruns_never_duplicate_and_a_changed_column_is_marked_again(fresh_db, tmp_path, monkeypatch):
    catalog = _catalog(fresh_db, "catalog")
    settings = _world(fresh_db, tmp_path, catalog)
    run_inventory(settings, DAY, "test/d1", use_embeddings=True, labels="background")
    marked = _pending(catalog)
    before = _labels(catalog)

    # The next day, nothing changed: the marks and rule labels stand, nothing is classified again.
    import assay.classify as classify

    sent: list[str] = []
    real = classify.classify_rules_first
    monkeypatch.setattr(classify, "classify_rules_first", lambda samples: sent.extend(s.name for s in samples) or real(samples))
    run_inventory(settings, DAY + dt.timedelta(days=1), "test/d2", use_embeddings=True, labels="background")
    assert sent == []
    assert _pending(catalog) == marked
    assert _labels(catalog) == before

    first = complete_labels(settings)
    assert first.labelled == len(marked)
    labelled = _labels(catalog)
    again = complete_labels(settings)  # a retry: nothing left, nothing rewritten
    assert (again.marked, again.labelled) == (0, 0)
    assert _labels(catalog) == labelled

    # One column's sample changes: only it is marked again (its old label goes), then labelled.
    src = yaml.safe_load(Path(settings.sources_file).read_text())["sources"][0]["url"]
    execute(src, "UPDATE searches SET query = 'walnut bookshelf ' || id")
    run_inventory(settings, DAY + dt.timedelta(days=2), "test/d3", use_embeddings=True, labels="background")
    assert sent == ["query"]
    assert set(_pending(catalog)) == {("searches", "query")}
    now = _labels(catalog)
    assert ("searches", "query", "semantic") not in now
    assert {k: v for k, v in now.items() if k[:2] != ("searches", "query")} == {
        k: v for k, v in labelled.items() if k[:2] != ("searches", "query")
    }
    third = complete_labels(settings)
    assert third.labelled == 1 and pending_count(settings) == 0
    assert _labels(catalog)[("searches", "query", "semantic")]["label"] == "search_query"

    # The inline route over a pending column labels it and removes the mark.
    execute(src, "UPDATE searches SET query = 'teak desk ' || id")
    run_inventory(settings, DAY + dt.timedelta(days=3), "test/d4", use_embeddings=True, labels="background")
    assert set(_pending(catalog)) == {("searches", "query")}
    run_inventory(settings, DAY + dt.timedelta(days=4), "test/d5", use_embeddings=True, labels="inline")
    assert not _pending(catalog)
    assert _labels(catalog)[("searches", "query", "semantic")]["label"] == "search_query"


def test_marks_of_vanished_tables_go_and_unreadable_sources_keep_theirs(fresh_db, tmp_path):
    catalog = _catalog(fresh_db, "catalog")
    settings = _world(fresh_db, tmp_path, catalog)
    run_inventory(settings, DAY, "test/d1", use_embeddings=True, labels="background")
    marked = _pending(catalog)
    src = yaml.safe_load(Path(settings.sources_file).read_text())["sources"][0]["url"]
    execute(src, "DROP TABLE brands")
    (tmp_path / "landing" / "leads.csv").rename(tmp_path / "leads.csv")  # the file vanished too
    report = complete_labels(settings, ["src"])
    gone = [k for k in marked if k[0] == "brands"]
    assert report.dropped == len(gone) and report.left == 0
    assert report.labelled == len([k for k in marked if k[0] in ("searches", "products")])
    assert set(_pending(catalog)) == {k for k in marked if k[0] == "leads.csv"}

    # The source database is unreachable: its marks stay for the next pass, the report says why.
    (tmp_path / "leads.csv").rename(tmp_path / "landing" / "leads.csv")
    bad = yaml.safe_load(Path(settings.sources_file).read_text())
    bad["sources"][1]["root"] = str(tmp_path / "nowhere")
    Path(settings.sources_file).write_text(yaml.safe_dump(bad))
    with pytest.raises(SourceError, match="nowhere") as raised:
        complete_labels(settings)
    assert f"{len([k for k in marked if k[0] == 'leads.csv'])} left" in str(raised.value)
    assert set(_pending(catalog)) == {k for k in marked if k[0] == "leads.csv"}
