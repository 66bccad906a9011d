"""The steward pages over HTTP on a real catalog: every page answers, hostile names stay text, no raw
PII value reaches any page, actions need the CSRF token and record the acting user.

A seeded shop (2 days) with a canary e-mail planted in ``customers`` goes through inventory, profile
and quality (Data Docs) in-process; the catalog then gets hostile names (a source, an asset, a
column, a review item's summary) and a gate decision with an alias move. The app is the one the
plugin serves (``build_app``) with Airflow's access check replaced by a signed-in admin -- the real
check is tested in ``test_steward_pages_auth.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from support.db import execute, rows

pytestmark = pytest.mark.integration

START = dt.date(2026, 11, 18)
DAYS = 2
HOSTILE = {
    "source": "src<script>alert(901)</script>",
    "asset": "<img src=x onerror=alert(902)>",
    "column": "<script>alert(903)</script>",
    "summary": "<svg/onload=alert(904)> \"' & more",
}
MARKERS = [f"alert({n})" for n in range(901, 905)]


@dataclass(frozen=True)
class World:
    settings: object
    catalog: str
    canary: str
    hostile_asset: int
    client: TestClient


def signed_in(app, name: str = "steward", role: str = "admin"):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user

    for dep in app.router.dependencies:
        app.dependency_overrides[dep.dependency] = lambda: None
    for route in app.routes:
        for dep in getattr(route, "dependencies", []) or []:
            app.dependency_overrides[dep.dependency] = lambda: None
    app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(username=name, role=role)
    return app


def _plant_hostile(catalog: str) -> int:
    src = execute(catalog, "INSERT INTO sources (name, kind, url_or_conn_id, tags, declared) VALUES "
                           "(:n, 'sql', 'x', '[\"<b>tag</b>\"]', '{}') RETURNING id", n=HOSTILE["source"])[0][0]
    aid = execute(catalog, "INSERT INTO assets (source_id, namespace, name, kind, tags) VALUES "
                           "(:s, 'public', :n, 'table', '[]') RETURNING id", s=src, n=HOSTILE["asset"])[0][0]
    execute(catalog, "INSERT INTO asset_columns (asset_id, name, ordinal, data_type, nullable) VALUES "
                     "(:a, :n, 1, 'text', true)", a=aid, n=HOSTILE["column"])
    execute(catalog, "INSERT INTO review_items (kind, ref, asset_id, summary, details) VALUES "
                     "('schema_change', :r, :a, :s, '{}')", r=f"hostile/{aid}", a=aid, s=HOSTILE["summary"])
    dec = execute(catalog, "INSERT INTO gate_decisions (model_name, version, decision, policy_digest, policy, checks, "
                           "evidence, reason, actor) VALUES ('ranker', '3', 'pass', repeat('a', 64), '{}', :c, :e, "
                           "'all checks passed', 'gate') RETURNING id",
                  c=json.dumps([{"name": "ndcg@10", "observed": 0.71, "threshold": 0.6, "verdict": "pass"}]),
                  e=json.dumps({"quality_run_ids": []}))[0][0]
    execute(catalog, "INSERT INTO gate_decisions (model_name, version, decision, policy_digest, policy, checks, "
                     "evidence, reason, actor) VALUES ('ranker', '4', 'fail', repeat('a', 64), '{}', '[]', '{}', 'ndcg low', 'gate')")
    execute(catalog, "INSERT INTO alias_events (model_name, alias, from_version, to_version, decision_id, actor, "
                     "reason) VALUES ('ranker', 'champion', NULL, '3', :d, 'gate', 'passed')", d=dec)
    return int(aid)


@pytest.fixture(scope="module")
def world(scratch_db, tmp_path_factory) -> Iterator[World]:
    from support.worlds import shop_world

    from assay.inventory import run_inventory
    from assay.profiling import run_profile
    from assay.quality import run_quality
    from assay.seed import SeedConfig
    from assay.steward.web.app import build_app

    canary = f"Canary.{uuid.uuid4().hex[:10]}@Example.org"
    folder = tmp_path_factory.mktemp("stewpages")
    with shop_world(scratch_db, folder, "stwp", SeedConfig(start_date=START, days=DAYS)) as w:
        execute(w.shop_url, "UPDATE customers SET email = :e WHERE customer_id = "
                            "(SELECT min(customer_id) FROM customers)", e=canary)
        run_inventory(w.settings, START, "test/stewpages-inv", use_embeddings=False)
        for i in range(DAYS):
            day = START + dt.timedelta(days=i)
            run_profile(w.settings, day, f"test/stewpages/{day}")
            run_quality(w.settings, day, f"test/stewpages/{day}", result_format="COMPLETE", raise_on_failure=False)
        hostile = _plant_hostile(w.catalog_url)
        client = TestClient(signed_in(build_app(w.settings)), base_url="http://airflow.test")
        yield World(w.settings, w.catalog_url, canary, hostile, client)


def page_urls(w: World) -> list[str]:
    """Every page, with every asset's page and each quality drill-down (asset × latest day, one attempt)."""
    ids = [r[0] for r in rows(w.catalog, "SELECT id FROM assets ORDER BY id")]
    runs = [r[0] for r in rows(w.catalog, "SELECT id FROM quality_runs ORDER BY id")]
    urls = ["/", "/assets", "/assets?q=cust&pii=yes", "/assets?quality=failed", "/assets?open_items=yes",
            "/quality", "/review", "/review?status=all", "/waivers", "/waivers?revoked=1", "/suites", "/models",
            "/models?model=ranker", "/audit"]
    urls += [f"/assets/{i}" for i in ids] + [f"/quality?asset={i}" for i in ids]
    urls += [f"/quality/runs/{r}" for r in runs]
    return urls


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)


def test_every_page_answers_for_a_signed_in_steward(world):
    for url in page_urls(world):
        r = world.client.get(url)
        assert r.status_code == 200, (url, r.text[:500])
        assert "Signed in as steward" in r.text
        csp = r.headers["content-security-policy"]
        assert "script-src" not in csp and "form-action 'self'" in csp
    assert world.client.get("/assets/999999").status_code == 404


def test_pages_show_the_catalog(world):
    assets = world.client.get("/assets?q=customers").text
    assert "customers" in assets and "PII" in assets
    cid = rows(world.catalog, "SELECT id FROM assets WHERE name = 'customers'")[0][0]
    page = world.client.get(f"/assets/{cid}").text
    assert "email" in page and "<svg" in page and "row count" in page
    quality = world.client.get("/quality").text
    assert "results per asset and day" in quality and "<rect" in quality
    # Each result links to its Data Docs page, served by the same app.
    aid, day = rows(world.catalog, "SELECT asset_id, logical_date FROM quality_runs WHERE data_docs_url IS NOT NULL "
                                   "ORDER BY id LIMIT 1")[0]
    results = world.client.get(f"/quality?asset={aid}&day={day}").text
    docs = re.findall(r'href="(/data-docs/[^"]+)"', results)
    assert docs and "expectation" in results
    assert world.client.get(docs[0].replace("&amp;", "&")).status_code == 200
    models = world.client.get("/models?model=ranker").text
    assert "ndcg@10" in models and "champion" in models
    # Rollback offers the version that passed (3), not the one that failed (4).
    options = re.findall(r'<option value="([^"]*)"', models.split("Alias history")[0])
    assert "3" in options and "4" not in options


def test_hostile_names_stay_text(world):
    pages = {u: world.client.get(u).text for u in ("/assets", f"/assets/{world.hostile_asset}", "/review",
                                                      f"/quality?asset={world.hostile_asset}")}
    for url, html in pages.items():
        parser = _Tags()
        parser.feed(html)
        assert "script" not in parser.tags and "img" not in parser.tags, url
        for raw in HOSTILE.values():
            assert raw not in html or "<" not in raw, (url, raw)
    assert "&lt;img src=x onerror=alert(902)&gt;" in pages[f"/assets/{world.hostile_asset}"]
    assert "&lt;script&gt;alert(903)&lt;/script&gt;" in pages[f"/assets/{world.hostile_asset}"]


def test_no_raw_pii_value_on_any_page(world):
    canary = world.canary
    forms = {canary, canary.lower(), canary.split("@")[0], canary.split("@")[0].lower()}
    # The canary is really in the shop, and the chain saw it (a PII column with masked evidence).
    assert rows(world.catalog, "SELECT count(*) FROM classifications k JOIN asset_columns c ON c.id = k.column_id "
                               "WHERE c.name = 'email' AND k.kind = 'pii'")[0][0] >= 1
    leaks = {}
    for url in page_urls(world):
        html = world.client.get(url).text
        found = [f for f in forms if f in html]
        if found:
            leaks[url] = found
    assert leaks == {}


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def test_an_action_needs_the_form_token_and_the_same_origin(world):
    item = rows(world.catalog, "SELECT id FROM review_items WHERE status = 'open' ORDER BY id LIMIT 1")[0][0]
    token = _csrf(world.client.get("/review").text)
    url = f"/review/{item}/acknowledge"
    assert world.client.post(url, data={"comment": "x"}, follow_redirects=False).status_code == 403
    assert world.client.post(url, data={"csrf": "0" * 40}, follow_redirects=False).status_code == 403
    evil = world.client.post(url, data={"csrf": token}, headers={"Origin": "http://evil.test"},
                             follow_redirects=False)
    assert evil.status_code == 403
    assert rows(world.catalog, "SELECT count(*) FROM steward_audit WHERE target_id = :t", t=str(item))[0][0] == 0
    ok = world.client.post(url, data={"csrf": token, "comment": "looking"}, headers={"Origin": "http://airflow.test"},
                           follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].endswith("/review?done=acknowledge")
    audit = rows(world.catalog, "SELECT actor, action FROM steward_audit WHERE target_id = :t", t=str(item))
    assert audit == [("steward", "acknowledge")]
    assert "Acknowledged." in world.client.get("/review?done=acknowledge").text
    assert "steward" in world.client.get("/audit").text


def test_a_refused_action_names_the_problem_and_changes_nothing(world):
    item = rows(world.catalog, "SELECT id FROM review_items WHERE status = 'open' ORDER BY id DESC LIMIT 1")[0][0]
    token = _csrf(world.client.get("/review").text)
    r = world.client.post(f"/review/{item}/resolve", data={"csrf": token, "reason": "other", "comment": ""},
                          follow_redirects=False)
    assert r.status_code == 400 and "Not done" in r.text
    assert rows(world.catalog, "SELECT status FROM review_items WHERE id = :i", i=item)[0][0] == "open"


def test_rollback_is_offered_and_allowed_only_to_a_version_that_passed(world):
    token = _csrf(world.client.get("/models").text)
    before = rows(world.catalog, "SELECT count(*) FROM gate_decisions")[0][0]
    r = world.client.post("/models/ranker/rollback", data={"csrf": token, "version": "4"}, follow_redirects=False)
    assert r.status_code == 400 and "no passing gate decision" in r.text
    assert rows(world.catalog, "SELECT count(*) FROM gate_decisions")[0][0] == before
    assert rows(world.catalog, "SELECT count(*) FROM steward_audit WHERE action = 'rollback_model'")[0][0] == 0
