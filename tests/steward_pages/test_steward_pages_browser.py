"""The steward pages in a real browser: Debian's chromium driven by Playwright against a running
``airflow standalone`` (the API server mounts the plugin), signed in through Airflow's own login form.

A steward with the Op role opens every page (a screenshot of each goes to ``.assay/screenshots/``,
not committed), takes an action of each kind -- acknowledge, assign, resolve with "expected" and a
waiver, create a waiver, revoke it, override a classification, accept and reject a suggested
expectation -- and each time the catalog changed and a ``steward_audit`` row names the steward. A
user with the Viewer role reads the pages and is refused (403) when posting an action.

Chromium comes from Debian (``.ci/run`` installs it); when it is missing the test fails and says so
(it is not skipped). Playwright never downloads a browser here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.db import execute, rows

pytestmark = [pytest.mark.integration, pytest.mark.airflow, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / ".assay" / "screenshots"
START = dt.date(2026, 11, 18)
DAYS = 2
USERS = {"steward": "op", "viewer": "viewer"}


@dataclass(frozen=True)
class Running:
    url: str
    catalog: str
    passwords: dict[str, str]
    suites: Path


def free_port() -> int:
    """A port that is free with the two after it (Airflow's log servers take port + 1 and + 2)."""
    import socket

    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port < 65000 and all(_free(port + i) for i in range(3)):
            return port
    raise AssertionError("no free port for airflow standalone")


def _free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait(url: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(2)
    tail = log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"
    raise AssertionError(f"airflow standalone did not answer on {url} within {timeout:.0f} s; {log}:\n{tail}")


def _open_items(catalog: str) -> None:
    """Review items to act on: anomalies on ``customers`` and a failed expectation of a validated day."""
    (cid,) = rows(catalog, "SELECT id FROM assets WHERE name = 'customers'")[0]
    for n in range(4):
        execute(catalog, "INSERT INTO review_items (kind, ref, asset_id, summary, details) VALUES "
                         "('anomaly', :r, :a, :s, '{}')", r=f"browser/{n}", a=cid, s=f"null ratio jumped ({n})")
    run, asset, suite, exp, day = rows(
        catalog, "SELECT r.id, r.asset_id, r.suite_name, e.expectation_id, r.logical_date FROM expectation_results e "
                 "JOIN quality_runs r ON r.id = e.quality_run_id ORDER BY e.success, e.id LIMIT 1")[0]
    execute(catalog, "INSERT INTO review_items (kind, ref, asset_id, quality_run_id, summary, details) VALUES "
                     "('quality_failure', 'browser/qf', :a, :q, 'expectation failed', :d)", a=asset, q=run,
            d=json.dumps({"suite": suite, "expectation_id": exp, "logical_date": day.isoformat()}))


@pytest.fixture(scope="module")
def running(scratch_db, tmp_path_factory) -> Iterator[Running]:
    """A seeded, inventoried, profiled and validated catalog, and ``airflow standalone`` serving it."""
    from support.worlds import shop_world

    from assay.inventory import run_inventory
    from assay.ops import airflow, proc
    from assay.profiling import run_profile
    from assay.quality import run_quality
    from assay.quality.proposals import propose_suite
    from assay.seed import SeedConfig

    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y chromium`; .ci/run does it)")
    folder = tmp_path_factory.mktemp("stewbrowser")
    suites = folder / "expectations"
    shutil.copytree(ROOT / "expectations", suites)
    with shop_world(scratch_db, folder, "stwb", SeedConfig(start_date=START, days=DAYS)) as w, \
            scratch_db("stwbaf") as airflow_db:
        # MLflow is only named (no page reads it); the state folder has no embedded server of its own.
        port = free_port()
        s = w.settings.model_copy(update={"expectations_dir": suites, "airflow_port": port,
                                          "airflow_sql_alchemy_conn": airflow_db,
                                          "mlflow_tracking_uri": w.catalog_url})
        run_inventory(s, START, "test/stewbrowser-inv", use_embeddings=False)
        for i in range(DAYS):
            day = START + dt.timedelta(days=i)
            run_profile(s, day, f"test/stewbrowser/{day}")
            run_quality(s, day, f"test/stewbrowser/{day}", raise_on_failure=False)
        propose_suite(s, "customers", folder=suites)
        _open_items(w.catalog_url)
        passwords = {u: f"pw-{u}-{os.getpid()}" for u in ("admin", *USERS)}
        pw_file = folder / "passwords.json"
        pw_file.write_text(json.dumps(passwords))
        pw_file.chmod(0o600)
        env = {**airflow.child_env(s),
               "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                   ["admin:admin", *(f"{u}:{r}" for u, r in USERS.items())]),
               "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(pw_file),
               "ASSAY_EXPECTATIONS_DIR": str(suites), "ASSAY_LANDING_DIR": str(s.landing)}
        # Migrated first (as `assay airflow up` does): standalone's own migration races its components.
        subprocess.run([airflow.airflow_bin(), "db", "migrate"], env=env, check=True, capture_output=True,
                       timeout=900)
        service = proc.Service("stewbrowser-airflow", s.state_dir)
        proc.start(service, [airflow.airflow_bin(), "standalone"], env)
        try:
            _wait(f"http://127.0.0.1:{port}", 600, service.logfile)
            yield Running(f"http://127.0.0.1:{port}", w.catalog_url, passwords, suites)
        finally:
            proc.stop(service)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def login(browser, r: Running, user: str):
    """A browser context signed in through Airflow's login form (from a steward page)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{r.url}/assay/")
    page.wait_for_selector("input[type=password]")
    page.locator("input:not([type=password])").first.fill(user)
    page.locator("input[type=password]").fill(r.passwords[user])
    page.locator("button[type=submit]").click()
    page.wait_for_url("**/assay/**")
    assert f"Signed in as {user}" in page.content()
    return ctx, page


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def audit(r: Running, action: str) -> list[tuple]:
    return rows(r.catalog, "SELECT actor, target_kind, target_id FROM steward_audit WHERE action = :a ORDER BY id",
                a=action)


def submit(page, form_selector: str, fill: dict[str, str] | None = None, select: dict[str, str] | None = None):
    form = page.locator(form_selector).first
    for name, value in (fill or {}).items():
        form.locator(f"[name={name}]").fill(value)
    for name, value in (select or {}).items():
        form.locator(f"select[name={name}]").select_option(value)
    with page.expect_navigation():
        form.locator("button").click()


def test_a_steward_reads_every_page_and_acts_on_each_kind(browser, running):
    r = running
    ctx, page = login(browser, r, "steward")
    cid = rows(r.catalog, "SELECT id FROM assets WHERE name = 'customers'")[0][0]
    for name, path in [("index", ""), ("assets", "assets"), ("asset", f"assets/{cid}"), ("quality", "quality"),
                       ("quality_asset", f"quality?asset={cid}"), ("review", "review"), ("waivers", "waivers"),
                       ("suites", "suites"), ("models", "models"), ("audit", "audit")]:
        resp = page.goto(f"{r.url}/assay/{path}")
        assert resp is not None and resp.status == 200, path
        assert page.locator("h1").count() == 1
        shot(page, name)

    items = [i for (i,) in rows(r.catalog, "SELECT id FROM review_items WHERE status = 'open' AND kind = 'anomaly' "
                                           "AND ref LIKE 'browser/%' ORDER BY id")]
    page.goto(f"{r.url}/assay/review?status=open")
    submit(page, f"form[action$='/review/{items[0]}/acknowledge']", {"comment": "seen"})
    assert rows(r.catalog, "SELECT acknowledged_by FROM review_items WHERE id = :i", i=items[0]) == [("steward",)]
    assert ("steward", "review_item", str(items[0])) in audit(r, "acknowledge")

    submit(page, f"form[action$='/review/{items[1]}/assign']", {"assignee": "viewer"})
    assert rows(r.catalog, "SELECT assigned_to FROM review_items WHERE id = :i", i=items[1]) == [("viewer",)]
    assert audit(r, "assign")[-1][0] == "steward"

    submit(page, f"form[action$='/review/{items[2]}/resolve']", {"comment": "known outage"},
           {"reason": "false_positive"})
    assert rows(r.catalog, "SELECT status, closed_by FROM review_items WHERE id = :i", i=items[2]) == [
        ("closed", "steward")]
    assert audit(r, "resolve")[-1][0] == "steward"
    # Resolved as expected with a waiver date: the waiver is created in the same step.
    (qf,) = rows(r.catalog, "SELECT id FROM review_items WHERE ref = 'browser/qf'")[0]
    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    submit(page, f"form[action$='/review/{qf}/resolve']", {"comment": "known supplier delay", "waive_until": until},
           {"reason": "expected"})
    assert rows(r.catalog, "SELECT status, resolution_reason FROM review_items WHERE id = :i", i=qf) == [
        ("closed", "expected")]
    assert rows(r.catalog, "SELECT created_by FROM waivers WHERE revoked_at IS NULL") == [("steward",)]
    shot(page, "review_after_actions")

    # A waiver from the form, then revoked.
    exp = rows(r.catalog, "SELECT r.suite_name, e.expectation_id, a.name FROM expectation_results e "
                          "JOIN quality_runs r ON r.id = e.quality_run_id JOIN assets a ON a.id = r.asset_id "
                          "ORDER BY e.success, e.id LIMIT 1")[0]
    page.goto(f"{r.url}/assay/waivers")
    submit(page, "form[action$='/waivers']", {
        "asset": exp[2], "suite": exp[0], "expectation": exp[1],
        "partition_from": (START + dt.timedelta(days=DAYS - 1)).isoformat(),
        "partition_to": (START + dt.timedelta(days=DAYS - 1)).isoformat(), "expires_at": until,
        "reason": "browser test"})
    (wid,) = rows(r.catalog, "SELECT id FROM waivers WHERE reason = 'browser test'")[0]
    assert "Waiver created." in page.content()
    assert audit(r, "waive")[-1][0] == "steward"
    submit(page, f"form[action$='/waivers/{wid}/revoke']", {"comment": "not needed"})
    assert rows(r.catalog, "SELECT revoked_by FROM waivers WHERE id = :i", i=wid) == [("steward",)]
    shot(page, "waivers_after_actions")

    # A classification override on the asset page.
    page.goto(f"{r.url}/assay/assets/{cid}")
    submit(page, f"form[action$='/assets/{cid}/classify']", {"label": "none"}, {"column": "email", "kind": "pii"})
    assert rows(r.catalog, "SELECT k.label, k.decided_by FROM classifications k JOIN asset_columns c ON "
                           "c.id = k.column_id WHERE c.asset_id = :a AND c.name = 'email' AND k.source = 'steward'",
                a=cid) == [("none", "steward")]
    assert audit(r, "override_classification")[-1][0] == "steward"

    # Accept one suggestion and reject another, each by its own form.
    from assay.quality.proposal_review import find_proposal, live_path

    live_file = live_path(r.suites, find_proposal(r.suites, "customers"))
    page.goto(f"{r.url}/assay/suites")
    shot(page, "suites_proposal")
    accept = page.locator("form[action*='/suites/'][action$='/accept']")
    assert accept.count() >= 2, "the proposal should list at least two suggestions"
    first = accept.nth(0).locator("[name=only]").get_attribute("value")
    with page.expect_navigation():
        accept.nth(0).locator("button").click()
    reject = page.locator("form[action*='/suites/'][action$='/reject']")
    second = reject.nth(0).locator("[name=only]").get_attribute("value")
    with page.expect_navigation():
        reject.nth(0).locator("button").click()
    live = json.loads(live_file.read_text()) if live_file.exists() else {}
    names = {(x.get("meta") or {}).get("name") for x in live.get("expectations", [])}
    assert first in names and second not in names
    assert audit(r, "accept_suggestion")[-1][0] == "steward"
    assert audit(r, "reject_suggestion")[-1][0] == "steward"
    page.goto(f"{r.url}/assay/audit")
    shot(page, "audit_after_actions")
    ctx.close()


def test_a_viewer_reads_but_cannot_act(browser, running):
    r = running
    ctx, page = login(browser, r, "viewer")
    resp = page.goto(f"{r.url}/assay/review?status=open")
    assert resp is not None and resp.status == 200
    item = rows(r.catalog, "SELECT id FROM review_items WHERE status = 'open' AND acknowledged_by IS NULL "
                           "ORDER BY id DESC LIMIT 1")[0][0]
    before = len(audit(r, "acknowledge"))
    form = page.locator(f"form[action$='/review/{item}/acknowledge']").first
    with page.expect_navigation() as nav:
        form.locator("button").click()
    assert nav.value is not None and nav.value.status == 403
    shot(page, "viewer_refused")
    assert len(audit(r, "acknowledge")) == before
    assert rows(r.catalog, "SELECT acknowledged_by FROM review_items WHERE id = :i", i=item) == [(None,)]
    ctx.close()
