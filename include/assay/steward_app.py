"""The steward web app served inside the Airflow API server (see plugins/assay_plugin.py).

It serves GX Data Docs (PII-masked and HTML-escaped when they are written) read-only, and a small
index page, on Airflow's origin -- so it is protected like Airflow's own API:

* **Auth**: every route depends on Airflow's ``requires_access_asset("GET")``
  (``airflow.api_fastapi.core_api.security``): the JWT comes from an ``Authorization: Bearer``
  header (``POST /auth/token``) or the ``_token`` cookie the Airflow UI sets, is checked by the
  configured auth manager (signature, expiry, revocation), and the user must be allowed to read
  assets. No credential is a 401; a browser navigation without one is sent to Airflow's login
  (``/api/v2/auth/login?next=...``), as the Airflow UI does on a 401. Data Docs are served by a
  route, not a mount, because app dependencies do not apply to mounted apps.
* **Headers**: a Content-Security-Policy on every response (:data:`PAGE_CSP` for assay's own
  pages, :data:`DATA_DOCS_CSP` for GX's), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``,
  ``frame-ancestors 'self'`` (the Airflow UI may frame the pages) and ``Cache-Control: no-store``.
* **Escaping**: Data Docs values are escaped when the pages are built (:mod:`assay.quality.docs_view`);
  the index page prints nothing but escaped text.

Building the app touches no file: the Data Docs folder is created by the first quality run, and
until then every Data Docs path answers 404.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from assay.config import Settings

#: Where GX's Data Docs pages load their CSS and JS from (GX 1.24's page.j2, index_page.j2 and
#: js_script_imports.j2): jQuery, Bootstrap 4, bootstrap-table, Vega, Font Awesome. Offline they
#: do not load (the pages show unstyled, the index's table stays empty); nothing else is allowed.
DATA_DOCS_CDNS: tuple[str, ...] = (
    "https://cdn.jsdelivr.net",
    "https://code.jquery.com",
    "https://cdnjs.cloudflare.com",
    "https://stackpath.bootstrapcdn.com",
    "https://maxcdn.bootstrapcdn.com",
    "https://unpkg.com",
)
_COMMON = "base-uri 'none'; form-action 'none'; object-src 'none'; frame-ancestors 'self'"
#: assay's own pages: no script, no style, nothing loaded.
PAGE_CSP = f"default-src 'none'; img-src 'self'; {_COMMON}"
#: GX's pages: scripts and styles from the CDNs above only. GX writes inline scripts (the tables'
#: set-up, chart specs, onclick handlers), so 'unsafe-inline' stays for scripts; what keeps a
#: value from becoming script is the escaping, and the CSP keeps every other origin out (no
#: script, style, font, frame or connection elsewhere, no <base>, no form posting, no plugin).
#: No 'unsafe-eval': Vega compiles chart expressions with Function(), so a chart (GX 1.24 draws one
#: only for expect_column_kl_divergence_to_be_less_than) stays empty.
DATA_DOCS_CSP = (
    f"default-src 'none'; script-src 'unsafe-inline' {' '.join(DATA_DOCS_CDNS)}; "
    f"style-src 'self' 'unsafe-inline' {' '.join(DATA_DOCS_CDNS)}; "
    f"font-src 'self' data: {' '.join(DATA_DOCS_CDNS)}; img-src 'self' data:; {_COMMON}"
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


def build_app(settings: Settings) -> FastAPI:
    """The steward app: an index page and the Data Docs under ``/data-docs``, behind Airflow's auth.

    No file is created. Every route depends on Airflow's ``requires_access_asset("GET")`` (the
    dependency is ``app.router.dependencies[0]``; tests override it with ``dependency_overrides``).
    """
    from airflow.api_fastapi.core_api.security import requires_access_asset

    docs = settings.data_docs_dir
    # check_dir=False: the folder appears with the first quality run; until then lookups are 404s.
    static = StaticFiles(directory=docs, html=True, check_dir=False)
    app = FastAPI(
        title="assay steward", docs_url=None, redoc_url=None, openapi_url=None,
        dependencies=[Depends(requires_access_asset("GET"))],
    )
    app.add_exception_handler(StarletteHTTPException, _refused)
    app.middleware("http")(_security_headers)

    signed_in = acting_user()

    @app.get("/", response_class=HTMLResponse)
    def index(user: Any = signed_in) -> str:
        has_docs = (docs / "index.html").exists()
        link = (
            '<a href="data-docs/index.html">Data Docs</a>'
            if has_docs
            else "No Data Docs yet: run the <code>quality</code> DAG."
        )
        return (
            "<!doctype html><title>assay steward</title><h1>assay steward</h1>"
            f"<p>Signed in as {html.escape(str(user.get_name()))}.</p><ul><li>{link}</li></ul>"
        )

    @app.api_route(DATA_DOCS_PREFIX, methods=["GET", "HEAD"], include_in_schema=False)
    def docs_root(request: Request) -> RedirectResponse:
        # Relative links in Data Docs resolve against the folder, so the folder URL ends in "/".
        return RedirectResponse(f"{request.url.path}/", status_code=307)

    @app.api_route(f"{DATA_DOCS_PREFIX}/{{path:path}}", methods=["GET", "HEAD"], include_in_schema=False)
    async def data_docs(path: str, request: Request) -> Response:
        # StaticFiles' lookup refuses paths outside the folder (.., absolute, symlinks out).
        return await static.get_response(path, request.scope)

    return app
