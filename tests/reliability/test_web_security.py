"""The steward pages on Airflow's origin: hostile feed values never become live HTML, and every
assay page needs Airflow's login and carries a Content-Security-Policy.

* Escaping: hostile values go through a real GX validation (SQL pushdown on a scratch database)
  and a real Data Docs build; every page is parsed with :mod:`html.parser` and must hold no element,
  attribute or URL made from a value, while the values stay readable as text (escaped once, not
  twice).
* Auth: the steward app is mounted by Airflow's own ``create_app`` (in a subprocess with a config
  of the test: SimpleAuthManager, a fresh metadata database) and asked with no credential, a bearer
  token from ``POST /auth/token``, the ``_token`` cookie and a bad token.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support.db import execute

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DAYS = (date(2026, 11, 1), date(2026, 11, 2))

#: Values a hostile feed may carry, each with a marker no page of GX's own contains.
PAYLOADS: dict[str, str] = {
    "img_onerror": "<img src=x onerror=alert(101)>",
    "script_close": "</script><script>alert(102)</script>",
    "javascript_url": "javascript:alert(103)",
    "attr_break_double": '" onmouseover="alert(104)" x="',
    "attr_break_single": "' onfocus='alert(105)' autofocus='",
    "svg_onload": "<svg/onload=alert(106)>",
    "rlo": "invoice\u202egnp.exe",
    "entity": "&lt;b&gt;already escaped&lt;/b&gt; & co",
}
MARKERS = [f"alert({n})" for n in range(101, 111)]
HOSTILE_TABLE = "t<img src=x onerror=alert(110)>"
#: The values that are markup, as written.
RAW_MARKUP = [v for v in (*PAYLOADS.values(), HOSTILE_TABLE) if "<" in v]
#: Bidirectional controls a page must not carry raw (they reorder what a reader sees).
BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)]


# ---- pages parsed ----------------------------------------------------------------------------
class _Page(HTMLParser):
    """Elements, attributes, script bodies and visible text of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self._in_script = tag == "script"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.text).append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def live_payloads(html: str) -> list[str]:
    """Every way a value became markup: an element, an event handler, a script, a javascript: URL."""
    page = parse(html)
    found = []
    for tag, attrs in page.tags:
        for name, value in attrs:
            blob = f"{name}={value}"
            if any(m in blob for m in MARKERS):
                found.append(f"<{tag} {blob[:80]}>")
            if name in ("href", "src", "action", "formaction", "data") and (value or "").strip().lower().startswith("javascript:"):
                found.append(f"<{tag} {name}={value!r}>")
        if tag in ("img", "svg") and any(n in ("onerror", "onload") for n, _ in attrs):
            found.append(f"<{tag} {attrs}>")
    # A script made by a value (``</script><script>alert(..)``), or a value printed raw inside one
    # (a JS literal holding ``</script>`` ends the script); escaped text inside a literal is inert.
    found += [f"<script>{s.strip()[:80]}" for s in page.scripts if s.strip().startswith(tuple(MARKERS))]
    found += [f"raw {v[:30]!r} in <script>" for s in page.scripts for v in RAW_MARKUP if v in s]
    return found


# ---- a real GX run on hostile values -----------------------------------------------------------
@dataclass
class Docs:
    folder: Path
    pages: dict[str, str]
    catalog_url: str


def _suite(name: str) -> dict:
    def exp(type_: str, kwargs: dict, ename: str) -> dict:
        return {"type": type_, "kwargs": kwargs, "meta": {"name": ename, "dimension": "validity", "severity": "warning"}}

    return {
        "name": name,
        "meta": {"assay": {"source": "shop", "table": f"public.{name}", "partition_column": "day",
                           "row_id_columns": ["id"]}, "pii_columns": []},
        "expectations": [
            exp("expect_column_values_to_be_in_set", {"column": "note", "value_set": ["ok"]}, "note_in_set"),
            exp("expect_column_values_to_match_regex", {"column": "note", "regex": "^[a-z]+$"}, "note_regex"),
            exp("expect_column_values_to_not_match_regex", {"column": "note", "regex": "<script>|onerror="},
                "note_no_markup"),
            exp("expect_column_most_common_value_to_be_in_set", {"column": "note", "value_set": ["ok"]},
                "note_mode"),
            exp("expect_column_distinct_values_to_be_in_set", {"column": "note", "value_set": ["ok"]},
                "note_distinct"),
            exp("expect_column_values_to_be_in_set",
                {"column": "code", "value_set": ["<img src=y onerror=alert(107)>", '"><script>alert(108)</script>']},
                "code_in_hostile_set"),
            exp("unexpected_rows_expectation",
                {"unexpected_rows_query": "SELECT id, note FROM {batch} WHERE note <> 'ok'",
                 "description": "<b onclick=alert(109)>rows</b> that are not ok"}, "rows_not_ok"),
        ],
    }


@pytest.fixture(scope="module")
def docs(scratch_db, tmp_path_factory) -> Iterator[Docs]:
    from assay.catalog import migrate
    from assay.config import Settings
    from assay.quality import run_quality

    folder = tmp_path_factory.mktemp("websec")
    with scratch_db("wsshop") as shop_url, scratch_db("wscat") as catalog_url:
        migrate.upgrade(catalog_url, "head")
        execute(shop_url, "CREATE TABLE public.hostile (id int PRIMARY KEY, day date, note text, code text)")
        rows = [*PAYLOADS.values(), "ok", "ok"]
        for n, day in enumerate(DAYS):
            for i, value in enumerate(rows, start=1 + n * len(rows)):
                execute(shop_url, "INSERT INTO public.hostile VALUES (:i, :d, :v, :v)", i=i, d=day, v=value)
        # A table whose name is markup: asset names reach the index page and the page titles.
        execute(shop_url, f'CREATE TABLE public."{HOSTILE_TABLE}" (id int, day date, note text, code text)')
        execute(shop_url, f'INSERT INTO public."{HOSTILE_TABLE}" SELECT * FROM public.hostile')
        suites = folder / "expectations"
        suites.mkdir()
        (suites / "hostile.json").write_text(json.dumps(_suite("hostile")))
        named = _suite("hostile_name")
        named["meta"]["assay"]["table"] = f"public.{HOSTILE_TABLE}"
        (suites / "hostile_name.json").write_text(json.dumps(named))
        landing = folder / "landing"
        landing.mkdir()
        settings = Settings(home=folder / "state", database_url=catalog_url, shop_url=shop_url, landing_dir=landing)
        # SUMMARY (partial lists, counts) on one day, COMPLETE (row ids, index query) on the next.
        for day, fmt in zip(DAYS, ("SUMMARY", "COMPLETE"), strict=True):
            report = run_quality(settings, day, f"test/websec/{fmt}", assets=["hostile", "hostile_name"], result_format=fmt,
                                 suites=suites, raise_on_failure=False)
            p = report.partition("hostile")
            assert p.status in ("ok", "failed"), p.error
            assert not any(o.error for o in p.outcomes), [o.error for o in p.outcomes if o.error]
        site = settings.data_docs_dir
        pages = {str(f.relative_to(site)): f.read_text() for f in site.rglob("*.html")}
        yield Docs(site, pages, catalog_url)


def validation_pages(d: Docs) -> dict[str, str]:
    return {k: v for k, v in d.pages.items() if k.startswith("validations/")}


def test_the_hostile_run_rendered_validation_pages(docs):
    pages = validation_pages(docs)
    assert len(pages) == 4  # per table, one page per day (one per result format)
    assert "index.html" in docs.pages


def test_no_value_becomes_live_html_on_any_page(docs):
    found = {name: live_payloads(html) for name, html in docs.pages.items()}
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_each_value_stays_visible_as_text_escaped_once(docs, name):
    value = PAYLOADS[name]
    if name == "rlo":
        value = value.replace("\u202e", "[U+202E]")  # shown with the control made visible
    for page_name, html in validation_pages(docs).items():
        text = "".join(parse(html).text)
        assert value in text or value.strip() in " ".join(text.split()), f"{name} not shown on {page_name}"


def test_a_table_named_with_markup_is_shown_as_its_name(docs):
    # GX names the suite <source>.<stem> (shop.hostile_name) and keeps its pages under validations/shop/hostile_name/
    named = {k: v for k, v in docs.pages.items() if k.startswith("validations/shop/hostile_name/")}
    assert len(named) == 2
    for html in named.values():
        assert HOSTILE_TABLE in "".join(parse(html).text)  # breadcrumb and asset name


def test_nothing_is_escaped_twice(docs):
    for page_name, html in docs.pages.items():
        text = "".join(parse(html).text)
        for twice in ("&lt;img", "&lt;/script", "&quot; onmouseover", "&#x27; onfocus", "&amp;amp;"):
            if twice == "&amp;amp;":
                continue  # the entity payload itself shows "&lt;" as text: checked below
            assert twice not in text, f"{twice!r} shown escaped twice on {page_name}"
    # The payload that is itself an escaped string is shown as written, not decoded nor doubled.
    assert any(PAYLOADS["entity"] in "".join(parse(h).text) for h in validation_pages(docs).values())


def test_bidi_controls_are_made_visible_not_kept_raw(docs):
    for page_name, html in docs.pages.items():
        raw = [hex(ord(c)) for c in BIDI if c in html]
        assert raw == [], f"raw bidi control {raw} on {page_name}"
    assert any("invoice[U+202E]gnp.exe" in "".join(parse(h).text) for h in validation_pages(docs).values())


def test_the_catalog_keeps_the_raw_values(docs):
    """Escaping is for HTML only: the catalog stores what GX reported (masked only when PII)."""
    stored = json.dumps([r[0] for r in execute(docs.catalog_url, "SELECT details FROM expectation_results")])
    assert "<img src=x onerror=alert(101)>" in stored and "invoice\\u202egnp.exe" in stored
    assert "&lt;img" not in stored and "[U+202E]" not in stored


def test_the_checks_find_live_markup_when_it_is_there():
    """The parser checks would catch each way a value becomes markup."""
    assert live_payloads("<p><img src=x onerror=alert(101)></p>")
    assert live_payloads("<script>var a = '</script><script>alert(102)</script>';</script>")
    assert live_payloads('<a href="javascript:alert(103)">x</a>')
    assert live_payloads('<td title="" onmouseover="alert(104)" x="">v</td>')
    assert live_payloads("<script>var rows = [{'_sort': 't<img src=x onerror=alert(110)>'}];</script>")
    assert live_payloads("<td>&lt;img src=x onerror=alert(101)&gt;</td>") == []
    assert live_payloads("<script>var rows = [{'_sort': 't&lt;img src=x onerror=alert(110)&gt;'}];</script>") == []


# ---- the steward app inside Airflow's own API app ---------------------------------------------
#: Runs in a subprocess with the test's Airflow config: Airflow's ``create_app`` mounts the plugin's
#: app under /assay exactly as the API server does; prints what each request got.
_ASK_AIRFLOW = r'''
import json, sys
from fastapi.testclient import TestClient
from airflow.api_fastapi.app import create_app

password = sys.argv[1]
client = TestClient(create_app("core"), base_url="http://airflow.test")
out = {}

def ask(name, path, **kw):
    r = client.get(path, follow_redirects=False, **kw)
    out[name] = {"status": r.status_code, "headers": dict(r.headers), "text": r.text[:2000]}

page = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
ask("api_anonymous", "/api/v2/dags")
ask("index_anonymous", "/assay/")
ask("docs_anonymous", "/assay/data-docs/index.html")
ask("docs_anonymous_browser", "/assay/data-docs/index.html", headers=page)
ask("docs_bad_token", "/assay/data-docs/index.html", headers={"Authorization": "Bearer not-a-jwt"})
r = client.post("/auth/token", json={"username": "admin", "password": password})
token = r.json()["access_token"]
bearer = {"Authorization": f"Bearer {token}"}
ask("api_bearer", "/api/v2/dags", headers=bearer)
ask("index_bearer", "/assay/", headers=bearer)
ask("docs_bearer", "/assay/data-docs/index.html", headers=bearer)
ask("docs_folder_bearer", "/assay/data-docs", headers=bearer)
ask("docs_outside_bearer", "/assay/data-docs/..%2f..%2f..%2fsecret.txt", headers=bearer)
client.cookies.set("_token", token)
ask("docs_cookie", "/assay/data-docs/index.html")
ask("index_cookie", "/assay/")
print("RESULT " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def asked(tmp_path_factory, pg_server) -> dict[str, dict]:
    """What Airflow's API app answered to each request (see _ASK_AIRFLOW)."""
    from support.airflow import AIRFLOW
    from support.db import scratch_database

    from assay.config import Settings

    folder = tmp_path_factory.mktemp("websec_af")
    (folder / "secret.txt").write_text("outside the Data Docs folder")
    with scratch_database(pg_server, "wsaf") as airflow_db:
        # The steward app opens no database; the other stores only need a URL to be named.
        s = Settings(home=folder / "state", database_url=airflow_db, shop_url=airflow_db,
                     mlflow_tracking_uri=airflow_db).model_copy(update={"airflow_sql_alchemy_conn": airflow_db})
        site = s.data_docs_dir
        site.mkdir(parents=True)
        (site / "index.html").write_text("<!doctype html><title>docs</title><p>suite report</p>")
        passwords = folder / "passwords.json"
        passwords.write_text(json.dumps({"admin": "test-only-password"}))
        passwords.chmod(0o600)
        env = {
            **os.environ, **s.airflow_env(),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API_AUTH__JWT_SECRET": "test-only-jwt-secret-of-some-length-0123456789",
            "AIRFLOW__API__SECRET_KEY": "test-only-secret-key",
        }
        subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
        done = subprocess.run([sys.executable, "-c", _ASK_AIRFLOW, "test-only-password"], env=env,
                              capture_output=True, text=True, timeout=600)
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
        assert line, done.stderr[-3000:]
        return json.loads(line.removeprefix("RESULT "))


@pytest.mark.airflow
def test_without_a_login_every_assay_page_is_refused_like_the_api(asked):
    assert asked["api_anonymous"]["status"] == 401  # Airflow's own API, for comparison
    assert asked["index_anonymous"]["status"] == 401
    assert asked["docs_anonymous"]["status"] == 401
    assert "suite report" not in asked["docs_anonymous"]["text"]
    assert asked["docs_bad_token"]["status"] in (401, 403)  # Airflow: 403 "Invalid JWT token"
    assert "suite report" not in asked["docs_bad_token"]["text"]


@pytest.mark.airflow
def test_a_browser_without_a_login_is_sent_to_airflow_s_login(asked):
    r = asked["docs_anonymous_browser"]
    assert r["status"] == 307
    location = r["headers"]["location"]
    assert location.startswith("http://airflow.test/api/v2/auth/login?next=")
    assert "assay%2Fdata-docs%2Findex.html" in location


@pytest.mark.airflow
def test_a_bearer_token_or_the_ui_cookie_opens_the_pages(asked):
    assert asked["api_bearer"]["status"] == 200
    assert asked["index_bearer"]["status"] == 200 and "Signed in as admin" in asked["index_bearer"]["text"]
    assert asked["docs_bearer"]["status"] == 200 and "suite report" in asked["docs_bearer"]["text"]
    assert asked["docs_cookie"]["status"] == 200 and "suite report" in asked["docs_cookie"]["text"]
    assert asked["index_cookie"]["status"] == 200
    assert asked["docs_folder_bearer"]["status"] == 307
    assert asked["docs_folder_bearer"]["headers"]["location"].endswith("/assay/data-docs/")
    assert asked["docs_outside_bearer"]["status"] == 404
    assert "outside the Data Docs folder" not in asked["docs_outside_bearer"]["text"]


@pytest.mark.airflow
@pytest.mark.parametrize("name", ["index_anonymous", "docs_anonymous", "index_bearer", "docs_bearer",
                                  "docs_outside_bearer"])
def test_every_answer_carries_the_security_headers(asked, name):
    headers = asked[name]["headers"]
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'self'" in csp and "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    if name == "docs_bearer":
        # GX's pages load their CSS/JS from this origin (vendored, assay.quality.docs_assets): no CDN.
        assert "script-src 'self' 'unsafe-inline';" in csp and "https://" not in csp
    if name == "index_bearer":
        assert csp.startswith("default-src 'none'") and "script-src" not in csp
