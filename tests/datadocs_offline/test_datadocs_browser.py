"""Data Docs in a real browser with no network: Debian's chromium (Playwright) and every non-local request refused.

The pages of a real quality run are opened through the steward app (``build_app``, served by
uvicorn on 127.0.0.1; Airflow's access check replaced by a signed-in user -- the auth itself is
tested in tests/reliability/test_web_security.py and tests/steward_pages/) and, after
``docs_assets.install``, straight from the folder as ``file://``. Each time Bootstrap's CSS is applied
(computed style), Font Awesome's font loaded, the index table filled by bootstrap-table's script, and
no request left the machine. Screenshots go to ``.assay/screenshots/`` (not committed).

Chromium comes from Debian (``.ci/run`` installs it); when it is missing the test fails and says so.
Playwright never downloads a browser here.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from assay.quality import docs_assets

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / ".assay" / "screenshots"
LOCAL_HOSTS = {"127.0.0.1", "localhost", ""}


@pytest.fixture(scope="module")
def served(docs_world) -> Iterator[str]:
    """The steward app on a free local port, signed in as a steward: its base URL."""
    import uvicorn
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user

    from assay.steward_app import build_app

    app = build_app(docs_world.settings)
    (access,) = app.router.dependencies
    app.dependency_overrides[access.dependency] = lambda: None
    app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(username="steward", role="op")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the steward app did not start within 30 s"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright (never a downloaded browser)."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: install Debian's chromium (apt-get install -y chromium)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


class Offline:
    """A browser page that may fetch only from this machine; what it tried elsewhere and what failed."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.csp: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        self.page.on("console", lambda m: self.csp.append(m.text) if "Content Security Policy" in m.text else None)

    def _route(self, route: Any) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname not in LOCAL_HOSTS:
            self.blocked.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    def open(self, url: str, shot: str) -> Any:
        # "load" waits for every script and stylesheet; fonts load when first used, so wait for them
        # too. Not "networkidle": on a loaded 2-core machine its 500 ms quiet window can take long.
        self.page.goto(url, wait_until="load", timeout=90_000)
        self.page.evaluate("document.fonts.ready.then(() => true)")
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
        return self.page

    def assert_clean(self) -> None:
        assert not self.blocked, f"requests to other origins: {self.blocked}"
        assert not self.failed, f"failed requests: {self.failed}"
        assert not self.csp, f"CSP violations: {self.csp}"


def _assert_styled(page: Any) -> None:
    # Bootstrap 4: .navbar is a flex box, .breadcrumb/.alert get their padding; unstyled it is a block.
    assert page.eval_on_selector("nav.navbar", "e => getComputedStyle(e).display") == "flex"
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith("-apple-system")
    assert page.evaluate("() => typeof jQuery === 'function' && typeof jQuery.fn.bootstrapTable === 'function'")
    assert page.evaluate("document.fonts.check('900 16px \"Font Awesome 6 Free\"')")


def _index_rows(page: Any) -> list[str]:
    page.wait_for_selector("table[data-toggle='table'] tbody tr td a, .bootstrap-table tbody tr td a", timeout=15000)
    rows: list[str] = page.eval_on_selector_all(".bootstrap-table tbody tr", "rs => rs.map(r => r.innerText)")
    return rows


def _a_validation_page(docs_world: Any) -> Path:
    found = sorted((docs_world.settings.data_docs_dir / "validations").rglob("shop-*.html"))
    assert found, "no validation page of a SQL table"
    return found[0]


def test_pages_through_the_steward_app_are_styled_and_filled_with_no_network(docs_world, served, browser):
    offline = Offline(browser)
    try:
        page = offline.open(f"{served}/data-docs/index.html", "datadocs_index")
        _assert_styled(page)
        rows = _index_rows(page)
        assert rows and not any("No matching records" in r for r in rows), rows
        assert any("impressions" in r for r in rows), rows
        validation = _a_validation_page(docs_world)
        rel = validation.relative_to(docs_world.settings.data_docs_dir).as_posix()
        page = offline.open(f"{served}/data-docs/{rel}", "datadocs_validation")
        _assert_styled(page)
        asset = validation.stem.partition("-")[2]
        assert f"Data asset: {asset}" in page.inner_text("body")
        offline.assert_clean()
    finally:
        offline.context.close()


def test_pages_opened_from_the_folder_are_styled_and_filled_with_no_network(docs_world, browser):
    docs = docs_world.settings.data_docs_dir
    docs_assets.install(docs)
    offline = Offline(browser)
    try:
        page = offline.open((docs / "index.html").as_uri(), "datadocs_index_file")
        _assert_styled(page)
        assert _index_rows(page)
        page = offline.open(_a_validation_page(docs_world).as_uri(), "datadocs_validation_file")
        _assert_styled(page)
        offline.assert_clean()
    finally:
        offline.context.close()
