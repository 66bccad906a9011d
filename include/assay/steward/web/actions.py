"""The steward pages' actions: POST forms calling :mod:`assay.steward.service` as the signed-in user.

Every action route depends on Airflow's ``requires_access_asset("PUT")`` on top of the app's read
check -- with the simple auth manager that is the Op or Admin role, with FAB a role that may edit
assets; a Viewer gets 403 -- and on :func:`check_csrf`:

* the form carries ``csrf``, an HMAC (Airflow's ``[api] secret_key``) of the user's name and the JWT
  the request came with, so a page of another site cannot know it;
* a request whose ``Origin`` (or, without one, ``Referer``) names another host, or whose
  ``Sec-Fetch-Site`` is ``cross-site``/``same-site``, is refused before the token is looked at.

The acting user recorded in the audit row is the JWT's user (``get_user``), never a form field.
After an action the browser is sent back (303) to the page it came from with ``done=<action>``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlparse

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from assay.config import Settings
from assay.errors import ConfigError
from assay.steward.web.service import steward_service

#: Actions a ``done=`` note may name (the note is chosen from this list, never echoed from the URL).
DONE = {"acknowledge": "Acknowledged.", "assign": "Assigned.", "resolve": "Resolved.", "waive": "Waiver created.",
        "revoke": "Waiver revoked.", "accept": "Accepted.", "reject": "Rejected.", "rollback": "Rolled back.",
        "classify": "Classification saved."}


@cache
def _secret() -> bytes:
    """Airflow's API secret key (shared by every API server worker); a random one when unset."""
    try:
        from airflow.configuration import conf

        key = conf.get("api", "secret_key", fallback="") or ""
    except Exception:  # noqa: BLE001 - no Airflow config at all: a per-process key still protects
        key = ""
    return key.encode() if key else secrets.token_bytes(32)


def _jwt(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    return auth[7:] if auth.lower().startswith("bearer ") else request.cookies.get("_token", "")


def csrf_token(request: Request, user_name: str) -> str:
    """The form token of this user's session (bound to the JWT the request carries)."""
    msg = f"assay-steward|{user_name}|{_jwt(request)}".encode()
    return hmac.new(_secret(), msg, hashlib.sha256).hexdigest()[:40]


def _same_origin(request: Request) -> bool:
    host = request.headers.get("host", "")
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value:
            return value != "null" and urlparse(value).netloc == host
    return True


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[-1].strip() for k, v in parse_qs(body, keep_blank_values=True).items()}


def _user_name(user: Any) -> str:
    return str(user.get_name())


def _date(value: str, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{field}: {value!r} is not a date (YYYY-MM-DD)") from None


async def _checked(request: Request, user: Any) -> dict[str, str]:
    """The form of a POST that passed the origin and token checks (else 403)."""
    form = await _form(request)
    if not _same_origin(request):
        raise HTTPException(403, "cross-site form post refused")
    if not hmac.compare_digest(form.get("csrf", ""), csrf_token(request, _user_name(user))):
        raise HTTPException(403, "missing or stale form token: reload the page")
    return form


def _refused(request: Request, page: str, exc: ConfigError) -> HTMLResponse:
    from assay.steward.web.html import e

    href = f"{request.scope.get('root_path', '')}/{page}"
    return HTMLResponse(f"<!doctype html><title>Not done</title><h1>Not done</h1><p>{e(exc)}</p>"
                        f'<p><a href="{e(href)}">back</a></p>', status_code=400)


async def _run(request: Request, user: Any, page: str, done: str, call: Callable[[dict[str, str], str], Any]) -> Any:
    """Check the post, call the service as the signed-in user, send the browser back to ``page``."""
    form = await _checked(request, user)
    try:
        call(form, _user_name(user))
    except ConfigError as exc:  # StewardError is one: the message names the item
        return _refused(request, page, exc)
    return RedirectResponse(f"{request.scope.get('root_path', '')}/{page}?done={done}", status_code=303)


def _resolve(settings: Settings, item_id: int, f: dict[str, str], who: str) -> None:
    svc = steward_service()
    until = _date(f.get("waive_until", ""), "waiver until")
    waiver = None
    if until is not None:
        waiver = svc.WaiverRequest(asset=None, suite=None, expectation=None, partition_from=None,
                                   partition_to=None, expires_at=until, reason=f.get("comment") or None)
    svc.resolve(settings, who, item_id, f.get("reason", ""), f.get("comment") or None, waiver=waiver)


def _waive(settings: Settings, f: dict[str, str], who: str) -> None:
    svc = steward_service()
    asset: str | int = int(f["asset"]) if f.get("asset", "").isdigit() else f.get("asset", "")
    req = svc.WaiverRequest(
        asset=asset, suite=f.get("suite", ""), expectation=f.get("expectation", ""),
        partition_from=_date(f.get("partition_from", ""), "partitions from"),
        partition_to=_date(f.get("partition_to", ""), "partitions to"),
        expires_at=_date(f.get("expires_at", ""), "expires"), reason=f.get("reason", ""))
    svc.waive(settings, who, req)


def _item_routes(r: APIRouter, settings: Settings, signed_in: Any) -> None:
    svc = steward_service

    @r.post("/review/{item_id}/acknowledge")
    async def acknowledge(item_id: int, request: Request, user: Any = signed_in) -> Any:
        return await _run(request, user, "review", "acknowledge",
                          lambda f, who: svc().acknowledge(settings, who, item_id, f.get("comment") or None))

    @r.post("/review/{item_id}/assign")
    async def assign(item_id: int, request: Request, user: Any = signed_in) -> Any:
        return await _run(request, user, "review", "assign",
                          lambda f, who: svc().assign(settings, who, item_id, f.get("assignee", ""),
                                                      f.get("comment") or None))

    @r.post("/review/{item_id}/resolve")
    async def resolve(item_id: int, request: Request, user: Any = signed_in) -> Any:
        return await _run(request, user, "review", "resolve", lambda f, who: _resolve(settings, item_id, f, who))

    @r.post("/waivers")
    async def waive(request: Request, user: Any = signed_in) -> Any:
        return await _run(request, user, "waivers", "waive", lambda f, who: _waive(settings, f, who))

    @r.post("/waivers/{waiver_id}/revoke")
    async def revoke(waiver_id: int, request: Request, user: Any = signed_in) -> Any:
        return await _run(request, user, "waivers", "revoke",
                          lambda f, who: svc().revoke_waiver(settings, who, waiver_id, f.get("comment") or None))


def _other_routes(r: APIRouter, settings: Settings, signed_in: Any) -> None:
    svc = steward_service

    @r.post("/suites/{proposal}/{verb}")
    async def decide(proposal: str, verb: str, request: Request, user: Any = signed_in) -> Any:
        if verb not in ("accept", "reject"):
            raise HTTPException(404, "unknown action")
        fn = "accept_suggestion" if verb == "accept" else "reject_suggestion"
        return await _run(request, user, "suites", verb, lambda f, who: getattr(svc(), fn)(
            settings, who, proposal, only=[f["only"]] if f.get("only") else None))

    @r.post("/models/{model_name}/rollback")
    async def rollback(model_name: str, request: Request, user: Any = signed_in) -> Any:
        return await _run(request, user, "models", "rollback",
                          lambda f, who: svc().rollback_model(settings, who, model_name, f.get("version", "")))

    @r.post("/assets/{asset_id}/classify")
    async def classify(asset_id: int, request: Request, user: Any = signed_in) -> Any:
        return await _run(request, user, f"assets/{asset_id}", "classify",
                          lambda f, who: svc().override_classification(
                              settings, who, asset_id, f.get("column", ""), f.get("kind", ""),
                              f.get("label") or None))


def router(settings: Settings, signed_in: Any) -> APIRouter:
    """The action routes (``POST``), each behind the write check and the CSRF check."""
    from airflow.api_fastapi.core_api.security import requires_access_asset

    r = APIRouter(dependencies=[Depends(requires_access_asset("PUT"))])
    _item_routes(r, settings, signed_in)
    _other_routes(r, settings, signed_in)
    return r
