"""`assay inventory` leaves the embedding's labels to `assay classify` by default (issue #16 item 8):
real subprocesses, real exit codes, the real model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.db import execute, records

pytestmark = pytest.mark.integration

ASSAY = str(Path(sys.executable).with_name("assay"))


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ASSAY, *args], capture_output=True, text=True, timeout=300, env={**os.environ, **env})


def test_inventory_marks_then_classify_labels(catalog_url, fresh_db, tmp_path):
    src = fresh_db("src")
    execute(src, "CREATE TABLE searches (id int PRIMARY KEY, query text, created_at timestamptz)")
    execute(src, "INSERT INTO searches SELECT i, 'red sofa ' || i, TIMESTAMPTZ '2026-11-01 00:00+00' + i * "
                 "INTERVAL '1 hour' FROM generate_series(1, 20) i")
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [{"name": "src", "kind": "sql", "url": src}]}))
    env = {"ASSAY_DATABASE_URL": catalog_url, "ASSAY_SOURCES_FILE": str(sources)}

    bad = _run("inventory", "--date", "2026-11-20", "--labels", "later", env=env)
    assert bad.returncode == 2 and "--labels" in bad.stderr

    res = _run("inventory", "--date", "2026-11-20", env=env)
    assert res.returncode == 0, res.stderr
    waiting = records(catalog_url, "SELECT count(*) AS n FROM pending_labels")[0]["n"]
    assert waiting >= 1
    assert f'{waiting} columns wait for their semantic label ("classifying"): run `assay classify`' in res.stdout

    res = _run("classify", "--source", "src", env=env)
    assert res.returncode == 0, res.stderr
    assert f"labels: {waiting} of {waiting} pending columns labelled" in res.stdout
    assert f"classify: {waiting}/{waiting} columns" in res.stdout + res.stderr  # the progress line
    assert records(catalog_url, "SELECT count(*) AS n FROM pending_labels") == [{"n": 0}]
    labels = records(catalog_url, "SELECT co.name, cl.label FROM classifications cl JOIN asset_columns co "
                                  "ON co.id = cl.column_id WHERE cl.kind = 'semantic' ORDER BY co.name")
    assert {r["name"]: r["label"] for r in labels} == {"created_at": "timestamp", "id": "identifier",
                                                        "query": "search_query"}
