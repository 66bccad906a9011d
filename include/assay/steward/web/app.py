"""The steward app served inside the Airflow API server (see plugins/assay_plugin.py).

Pages (server-rendered, no script, charts as inline SVG, nothing loaded from elsewhere): assets,
one asset, quality (calendar, scorecard, results), review queue, waivers, suites, models, audit,
and GX Data Docs read-only under ``/data-docs``. Everything is on Airflow's origin and protected
like Airflow's own API:

* **Auth**: every route depends on Airflow's ``requires_access_asset("GET")``
  (``airflow.api_fastapi.core_api.security``): the JWT comes from an ``Authorization: Bearer``
  header (``POST /auth/token``) or the ``_token`` cookie the Airflow UI sets, is checked by the
  configured auth manager (signature, expiry, revocation), and the user must be allowed to read
  assets. No credential is a 401; a browser navigation without one is sent to Airflow's login
  (``/api/v2/auth/login?next=...``), as the Airflow UI does on a 401. Actions (POST) also need
  ``requires_access_asset("PUT")`` and a CSRF token (:mod:`assay.steward.web.actions`). Data Docs
  are served by a route, not a mount, because app dependencies do not apply to mounted apps.
* **Headers**: a Content-Security-Policy on every response (:data:`PAGE_CSP` for assay's own
  pages, :data:`DATA_DOCS_CSP` for GX's), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``,
  ``frame-ancestors 'self'`` (the Airflow UI may frame the pages) and ``Cache-Control: no-store``.
* **Escaping**: every value is escaped where the HTML is written (:mod:`assay.steward.web.html`;
  Data Docs by :mod:`assay.quality.docs_view`); free text is PII-screened first.

Building the app touches no file and opens no database: the index page reads nothing, the other
pages query the catalog when asked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from assay.config import Settings
from assay.steward.web.html import STYLE_HASH

#: Other origins GX's Data Docs pages may load from: none. The CSS/JS GX 1.24's templates ask of
#: CDNs is vendored and the pages rewritten to it (:mod:`assay.quality.docs_assets`), served below
#: ``/data-docs/static/vendor/`` from the package.
DATA_DOCS_CDNS: tuple[str, ...] = ()
_COMMON = "base-uri 'none'; form-action 'none'; object-src 'none'; frame-ancestors 'self'"
#: assay's own pages: no script, one inline style (by hash), forms posting to this origin only.
PAGE_CSP = (f"default-src 'none'; img-src 'self'; style-src {STYLE_HASH}; form-action 'self'; "
            "base-uri 'none'; object-src 'none'; frame-ancestors 'self'")
#: GX's pages: scripts, styles and fonts from this origin only. GX writes inline scripts (the tables'
#: set-up, chart specs, onclick handlers), so 'unsafe-inline' stays for scripts; what keeps a
#: value from becoming script is the escaping, and the CSP keeps every other origin out (no
#: script, style, font, frame or connection elsewhere, no <base>, no form posting, no plugin).
#: No 'unsafe-eval': Vega compiles chart expressions with Function(), so a chart (GX 1.24 draws one
#: only for expect_column_kl_divergence_to_be_less_than) stays empty.
DATA_DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    f"font-src 'self' data:; img-src 'self' data:; {_COMMON}"
)
SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
    "Cache-Control": "no-store",
}
DATA_DOCS_PREFIX = "/data-docs"


def acting_user() -> Any:
    """``Depends`` on Airflow's ``get_user``: the signed-in user of a request (``user = acting_user()``).

    FastAPI resolves it once per request, so a route that asks for the user gets the one the
    access check already verified.
    """
    from airflow.api_fastapi.core_api.security import get_user

    return Depends(get_user)


def _is_navigation(request: Request) -> bool:
    """A browser loading a page (not a script or an API client): it can follow a login redirect."""
    if request.method not in ("GET", "HEAD"):
        return False
    mode = request.headers.get("sec-fetch-mode")
    if mode is not None:
        return mode == "navigate"
    return "text/html" in request.headers.get("accept", "")


def _login_url(request: Request) -> str:
    """Airflow's login route (under Airflow's base URL), returning to this page afterwards."""
    return f"{request.base_url}api/v2/auth/login?{urlencode({'next': str(request.url)})}"


async def _refused(request: Request, exc: Exception) -> Response:
    """401 (or Airflow's 403 for a bad token): browsers go to Airflow's login, like the Airflow UI."""
    assert isinstance(exc, StarletteHTTPException)
    unauthenticated = exc.status_code == 401 or (exc.status_code == 403 and exc.detail == "Invalid JWT token")
    if unauthenticated and _is_navigation(request):
        return RedirectResponse(_login_url(request), status_code=307)
    return await http_exception_handler(request, exc)


async def _security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    docs = request.url.path.startswith(f"{request.scope.get('root_path', '')}{DATA_DOCS_PREFIX}/")
    response.headers["Content-Security-Policy"] = DATA_DOCS_CSP if docs else PAGE_CSP
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response



def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _day(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _base(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}/"


def _render(request: Request, user: Any, title: str, body: str | None) -> HTMLResponse:
    """The page around ``body`` (404 when the thing shown does not exist)."""
    from assay.steward.web.actions import DONE
    from assay.steward.web.html import page

    if body is None:
        raise HTTPException(404, f"no such {title.lower()}")
    done = DONE.get(request.query_params.get("done", ""))
    return HTMLResponse(page(title, body, user=str(user.get_name()), base=_base(request), flash=done))


def _token(request: Request, user: Any) -> str:
    from assay.steward.web.actions import csrf_token

    return csrf_token(request, str(user.get_name()))


def _read_pages(app: FastAPI, settings: Settings, signed_in: Any) -> None:
    """Index, assets, one asset, quality and one validation attempt."""
    from assay.steward import queries as q
    from assay.steward.web import pages

    docs = settings.data_docs_dir

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, user: Any = signed_in) -> HTMLResponse:
        has_docs = (docs / "index.html").exists()
        link = (
            '<a href="data-docs/index.html">Data Docs</a>'
            if has_docs
            else "No Data Docs yet: run the <code>quality</code> DAG."
        )
        body = ('<ul><li><a href="assets">Assets</a></li><li><a href="quality">Quality</a></li>'
                '<li><a href="review">Review queue</a></li><li><a href="waivers">Waivers</a></li>'
                '<li><a href="suites">Suites</a></li><li><a href="models">Models</a></li>'
                f'<li><a href="audit">Audit</a></li><li>{link}</li></ul>')
        return _render(request, user, "assay steward", body)

    @app.get("/assets", response_class=HTMLResponse)
    def assets(request: Request, user: Any = signed_in) -> HTMLResponse:
        p = request.query_params
        f = q.AssetFilter(q=p.get("q", ""), source=p.get("source", ""), tag=p.get("tag", ""),
                          owner=p.get("owner", ""), pii=p.get("pii", ""), status=p.get("status", ""),
                          quality=p.get("quality", ""), open_items=p.get("open_items", ""))
        return _render(request, user, "Assets", pages.assets_page(settings, f, _int(p.get("offset")) or 0,
                                                                 _base(request)))

    @app.get("/assets/{asset_id}", response_class=HTMLResponse)
    def asset(asset_id: int, request: Request, user: Any = signed_in) -> HTMLResponse:
        return _render(request, user, "Asset", pages.asset_page(settings, asset_id, _base(request),
                                                               _token(request, user)))

    @app.get("/quality", response_class=HTMLResponse)
    def quality(request: Request, user: Any = signed_in) -> HTMLResponse:
        p = request.query_params
        return _render(request, user, "Quality", pages.quality_page(settings, _base(request), _int(p.get("asset")),
                                                                    _day(p.get("day")), _int(p.get("offset")) or 0))

    @app.get("/quality/runs/{run_id}", response_class=HTMLResponse)
    def quality_run(run_id: int, request: Request, user: Any = signed_in) -> HTMLResponse:
        return _render(request, user, "Validation attempt", pages.run_page(settings, run_id, _base(request)))


def _work_pages(app: FastAPI, settings: Settings, signed_in: Any) -> None:
    """Review queue, waivers, suites, models and the audit trail."""
    from assay.steward.web import pages

    @app.get("/review", response_class=HTMLResponse)
    def review(request: Request, user: Any = signed_in) -> HTMLResponse:
        p = request.query_params
        return _render(request, user, "Review queue", pages.review_page(
            settings, _base(request), _token(request, user), status=p.get("status", "open"), kind=p.get("kind", ""),
            asset_id=_int(p.get("asset")), offset=_int(p.get("offset")) or 0))

    @app.get("/waivers", response_class=HTMLResponse)
    def waivers(request: Request, user: Any = signed_in) -> HTMLResponse:
        return _render(request, user, "Waivers", pages.waivers_page(
            settings, _base(request), _token(request, user), bool(request.query_params.get("revoked"))))

    @app.get("/suites", response_class=HTMLResponse)
    def suites(request: Request, user: Any = signed_in) -> HTMLResponse:
        return _render(request, user, "Suite proposals", pages.suites_page(settings, _base(request),
                                                                          _token(request, user)))

    @app.get("/models", response_class=HTMLResponse)
    def models(request: Request, user: Any = signed_in) -> HTMLResponse:
        return _render(request, user, "Models", pages.models_page(
            settings, _base(request), _token(request, user), request.query_params.get("model", "")))

    @app.get("/audit", response_class=HTMLResponse)
    def audit(request: Request, user: Any = signed_in) -> HTMLResponse:
        return _render(request, user, "Audit", pages.audit_page(settings))


def build_app(settings: Settings) -> FastAPI:
    """The steward app: the pages, their actions and the Data Docs under ``/data-docs``, behind Airflow's auth.

    No file is created. Every route depends on Airflow's ``requires_access_asset("GET")`` (the
    dependency is ``app.router.dependencies[0]``; tests override it with ``dependency_overrides``);
    actions add ``requires_access_asset("PUT")`` (:func:`assay.steward.web.actions.router`).
    """
    from airflow.api_fastapi.core_api.security import requires_access_asset

    from assay.quality import docs_assets
    from assay.steward.web import actions

    docs = settings.data_docs_dir
    # check_dir=False: the folder appears with the first quality run; until then lookups are 404s.
    static = StaticFiles(directory=docs, html=True, check_dir=False)
    vendored = StaticFiles(directory=docs_assets.VENDOR_DIR)
    app = FastAPI(
        title="assay steward", docs_url=None, redoc_url=None, openapi_url=None,
        dependencies=[Depends(requires_access_asset("GET"))],
    )
    app.add_exception_handler(StarletteHTTPException, _refused)
    app.middleware("http")(_security_headers)

    signed_in = acting_user()
    _read_pages(app, settings, signed_in)
    _work_pages(app, settings, signed_in)
    app.include_router(actions.router(settings, signed_in))

    @app.api_route(DATA_DOCS_PREFIX, methods=["GET", "HEAD"], include_in_schema=False)
    def docs_root(request: Request) -> RedirectResponse:
        # Relative links in Data Docs resolve against the folder, so the folder URL ends in "/".
        return RedirectResponse(f"{request.url.path}/", status_code=307)

    @app.api_route(f"{DATA_DOCS_PREFIX}/{{path:path}}", methods=["GET", "HEAD"], include_in_schema=False)
    async def data_docs(path: str, request: Request) -> Response:
        # StaticFiles' lookup refuses paths outside the folder (.., absolute, symlinks out).
        if path.startswith(docs_assets.SITE_PATH):  # the vendored CSS/JS the pages point at
            return await vendored.get_response(path.removeprefix(docs_assets.SITE_PATH), request.scope)
        return await static.get_response(path, request.scope)

    return app
