"""Issue #16 item 8 end to end: a first inventory with the default settings labels every column.

A PostgreSQL source whose tables' samples differ (and three copies that share one sample) is
inventoried with embeddings on, the users' default, with the real model. Every column gets its
semantic label; only the columns no rule settles reach the model, each distinct text once; the
run reports its progress on ``assay.progress.inventory``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine
from support.db import records

from assay.classify import embed as embed_module
from assay.classify import semantic
from assay.config import Settings
from assay.inventory import run_inventory

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAY = dt.date(2026, 11, 20)
COLUMNS = (
    "id bigint PRIMARY KEY, query text, price numeric(12,2), created_at timestamptz, active boolean, c05 text"
)


def _values(k: int) -> str:
    return (
        f"SELECT i, 'red sofa ' || (i + {k}), (i + {k}) * 1.25, TIMESTAMPTZ '2026-11-01 00:00+00' + i * INTERVAL '1 hour', "
        f"mod(i, 2) = 0, 'Acme Oslo Table ' || (i * 7 + {k}) FROM generate_series(1, 10) i"
    )


def test_first_run_labels_every_column_embedding_only_open_ones(
    catalog_url: str,
    fresh_db: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    src = fresh_db("src")
    tables = {f"t{k:02d}": k for k in range(12)} | {f"copy_{k}": 100 for k in range(3)}
    eng = create_engine(src)
    with eng.begin() as c:
        for name, k in tables.items():
            c.exec_driver_sql(f"CREATE TABLE {name} ({COLUMNS}); INSERT INTO {name} {_values(k)}")
    eng.dispose()
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [{"name": "src", "kind": "sql", "url": src}]}))
    settings = Settings(database_url=catalog_url, sources_file=sources)

    semantic.clear_cache()
    embedded: list[str] = []
    real = embed_module.encode

    def counting(texts: Sequence[str], **kwargs: Any) -> Any:
        embedded.extend(texts)
        return real(texts, **kwargs)

    monkeypatch.setattr(embed_module, "encode", counting)
    semantic._prototype_matrix()  # prototypes first (cached per process), not counted below
    embedded.clear()
    caplog.set_level(logging.INFO, logger="assay.progress.inventory")
    report = run_inventory(settings, DAY, "test/speed", use_embeddings=True)
    assert report.status == "success"

    labels = records(
        catalog_url,
        "SELECT a.name AS asset, co.name AS col, cl.label, cl.evidence FROM asset_columns co "
        "JOIN assets a ON a.id = co.asset_id LEFT JOIN classifications cl ON cl.column_id = co.id "
        "AND cl.kind = 'semantic' AND cl.source = 'auto' WHERE co.is_present",
    )
    assert len(labels) == 6 * len(tables)
    assert all(r["label"] for r in labels), [r for r in labels if not r["label"]][:3]
    by_col = {(r["asset"], r["col"]): r for r in labels}
    assert by_col[("t00", "created_at")]["label"] == "timestamp"
    assert by_col[("t00", "active")]["label"] == "boolean"
    assert by_col[("t00", "price")]["label"] == "price"
    assert by_col[("t03", "query")]["label"] == "search_query"
    for r in labels:
        if r["evidence"]["decided_by"].startswith("rule:"):
            assert "cosine" not in r["evidence"]

    # What reached the model: the open columns' distinct texts, once each (a second time only for
    # the exact re-embedding of a close call). ``id`` holds 1..10 in every table: one text; the
    # copies share theirs.
    assert len(set(embedded)) == 1 + 2 * (12 + 1)
    assert all(embedded.count(t) <= 2 for t in set(embedded))
    progress = [r.getMessage() for r in caplog.records if r.name == "assay.progress.inventory"]
    assert any(m.startswith(f"inventory: {len(tables)} assets") and "done in" in m for m in progress), (
        progress
    )
