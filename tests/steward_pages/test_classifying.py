"""The asset page says "classifying" for a column whose semantic label waits for the labelling step
(issue #16 item 8), escaped like every other value, and shows the label once ``assay classify`` ran.

Real catalog and source, the steward app over HTTP (Airflow's access check replaced by a signed-in
admin, as in ``test_steward_pages_http.py``), the real model for the labelling step.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from support.db import execute, records

from assay.config import Settings

pytestmark = pytest.mark.integration

HOSTILE = "<b>q</b>&"


def _signed_in(app):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user

    for dep in app.router.dependencies:
        app.dependency_overrides[dep.dependency] = lambda: None
    for route in app.routes:
        for dep in getattr(route, "dependencies", []) or []:
            app.dependency_overrides[dep.dependency] = lambda: None
    app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(username="steward", role="admin")
    return app


def _rows_of(page: str) -> list[list[str]]:
    """The cells of every table row of the page, as HTML."""
    return [re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S) for tr in re.findall(r"<tr>(.*?)</tr>", page, re.S)]


def test_asset_page_says_classifying_until_the_labelling_step_ran(catalog_url, fresh_db, tmp_path: Path):
    from assay.inventory import run_inventory
    from assay.inventory.labelling import complete_labels
    from assay.steward.web.app import build_app

    src = fresh_db("src")
    execute(src, f'CREATE TABLE searches (id int PRIMARY KEY, "{HOSTILE}" text, created_at timestamptz)')
    execute(src, "INSERT INTO searches SELECT i, 'red sofa ' || i, TIMESTAMPTZ '2026-11-01 00:00+00' + i * "
                 "INTERVAL '1 hour' FROM generate_series(1, 20) i")
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [{"name": "src", "kind": "sql", "url": src}]}))
    settings = Settings(database_url=catalog_url, sources_file=sources)
    run_inventory(settings, dt.date(2026, 11, 20), "test/pages", labels="background")
    ((asset_id,),) = execute(catalog_url, "SELECT id FROM assets WHERE name = 'searches'")
    client = TestClient(_signed_in(build_app(settings)), base_url="http://airflow.test")

    page = client.get(f"/assets/{asset_id}")
    assert page.status_code == 200
    cells = {(r[0], r[1]): r[2] for r in _rows_of(page.text) if len(r) == 8}
    assert cells[("&lt;b&gt;q&lt;/b&gt;&amp;", "semantic")] == "classifying"
    assert cells[("created_at", "semantic")] == "timestamp"  # a rule label is there at once
    assert HOSTILE not in page.text

    complete_labels(settings)
    page = client.get(f"/assets/{asset_id}").text
    cells = {(r[0], r[1]): r[2] for r in _rows_of(page) if len(r) == 8}
    assert cells[("&lt;b&gt;q&lt;/b&gt;&amp;", "semantic")] == "search_query"
    assert "<td>classifying</td>" not in page
    assert records(catalog_url, "SELECT count(*) AS n FROM pending_labels") == [{"n": 0}]
