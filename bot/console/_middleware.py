"""The console's middlewares (security headers, sessions, store errors, CSRF) and its cookie helpers.

Every page but /login, /healthz and /static/ needs a logged-in operator. The session cookie is signed (HMAC-SHA256),
HttpOnly and SameSite=Strict, and names a server-side session that expires after a shift and ends at logout; every
POST carries a CSRF token bound to the session (on /login: to a short-lived login cookie whose nonce the console
minted and signed itself, so a cookie planted by anyone else is worthless).

In production (NXA_ENV=production, or CONSOLE_COOKIE_SECURE=1 behind HTTPS in development) the cookies are `Secure`
and named `__Host-…` (Path=/, no Domain: no sibling subdomain can set or shadow them), and every answer carries
Strict-Transport-Security.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import datetime
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy import exc as sa_exc

from bot.console.web import CONSOLE, Console, render
from bot.store import StoreUnavailable

__all__ = [
    "MIDDLEWARES",
    "SESSION_COOKIE",
    "LOGIN_COOKIE",
    "HSTS",
    "secure_cookies",
    "session_cookie_name",
    "login_cookie_name",
    "login_nonce",
    "login_csrf_token",
    "set_login_cookie",
    "set_session_cookie",
    "clear_session_cookie",
    "new_nonce",
]

log = logging.getLogger(__name__)

SESSION_COOKIE = "nxa_console_session"
LOGIN_COOKIE = "nxa_console_login"
LOGIN_COOKIE_SECONDS = 60 * 60
HOST_PREFIX = "__Host-"  # browsers accept such a cookie only with Secure, Path=/ and no Domain
HSTS = "max-age=31536000"
PUBLIC_PATHS = frozenset({"/login", "/healthz"})  # and everything under /static/

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every answer; router 404/405s become Chinese pages."""
    try:
        response = await handler(request)
    except web.HTTPException as error:
        if error.status not in (404, 405):
            _add_headers(request, error)
            raise
        response = _error_page(request, error.status, "页面不存在" if error.status == 404 else "不支持这种请求")
    _add_headers(request, response)
    return response


def secure_cookies(console: Console) -> bool:
    """Whether the console is served over HTTPS: always in production, else when CONSOLE_COOKIE_SECURE=1."""
    return console.settings.production or console.settings.console_cookie_secure


def session_cookie_name(console: Console) -> str:
    return HOST_PREFIX + SESSION_COOKIE if secure_cookies(console) else SESSION_COOKIE


def login_cookie_name(console: Console) -> str:
    return HOST_PREFIX + LOGIN_COOKIE if secure_cookies(console) else LOGIN_COOKIE


def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    if secure_cookies(request.app[CONSOLE]):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


def _error_page(request: web.Request, status: int, message: str) -> web.Response:
    return render(request, "error.html", status=status, title=message, message=message)


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith("/static/")


@web.middleware
async def sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Identify the operator from the signed session cookie; refuse anonymous requests to every non-public path."""
    console = request.app[CONSOLE]
    session = console.signer.loads("session", request.cookies.get(session_cookie_name(console)))
    operator = None
    if session and isinstance(session.get("sid"), str) and isinstance(session.get("exp"), (int, float)):
        now = console.now()
        if session["exp"] > now.timestamp():
            operator = await asyncio.to_thread(console.accounts.session_operator, session["sid"], now)
    if session is not None and operator is not None:
        request["operator"] = operator
        request["session_id"] = session["sid"]
        request["csrf_token"] = console.signer.token("csrf", session["sid"])
    elif not _is_public(request.path):
        if request.method == "GET" and "application/json" not in request.headers.get("Accept", ""):
            raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}")
        raise web.HTTPUnauthorized(text="请先登录", content_type="text/plain")
    return await handler(request)


@web.middleware
async def store_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A locked, full or lost database gets a 503 page that says so; nothing was changed."""
    try:
        return await handler(request)
    except (StoreUnavailable, sa_exc.OperationalError) as error:
        log.error("store unavailable for %s %s: %s", request.method, request.path, type(error).__name__)
        return _error_page(request, 503, "数据库暂时无法访问，这次操作没有执行。请稍后刷新重试。")


def login_csrf_token(request: web.Request, nonce: str) -> str:
    return request.app[CONSOLE].signer.token("login-csrf", nonce)


@web.middleware
async def csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every state-changing request must carry the CSRF token of its session (form field or X-CSRF-Token header)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return await handler(request)
    console = request.app[CONSOLE]
    form = (
        await request.post()
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
        else {}
    )
    token = form.get("csrf_token") or request.headers.get("X-CSRF-Token")
    token = token if isinstance(token, str) else None
    session_id = request.get("session_id")
    if request.path == "/login":  # no session yet: the token is bound to the login cookie set with the form
        nonce = login_nonce(request)
        valid = nonce is not None and console.signer.check_token("login-csrf", nonce, token)
    elif isinstance(session_id, str):
        valid = console.signer.check_token("csrf", session_id, token)
    else:  # an anonymous POST to a public path other than /login (/healthz, /static/…): refused, not a crash
        valid = False
    if not valid:
        log.warning("refused a %s to %s without a valid CSRF token", request.method, request.path)
        return _error_page(request, 403, "安全校验失败：页面已过期或请求不是从控制台发出的。请返回、刷新页面后再试。")
    return await handler(request)


MIDDLEWARES = (security_headers, store_errors, sessions, csrf)


def login_nonce(request: web.Request) -> str | None:
    """The nonce of the request's login cookie if this console minted and signed it and it has not expired."""
    console = request.app[CONSOLE]
    value = console.signer.loads("login-nonce", request.cookies.get(login_cookie_name(console)))
    if not value or not isinstance(value.get("n"), str) or not isinstance(value.get("exp"), (int, float)):
        return None
    return value["n"] if value["exp"] > console.now().timestamp() else None


def set_login_cookie(response: web.StreamResponse, console: Console, nonce: str) -> None:
    """The login form's cookie: a nonce minted here, signed, expiring with the cookie."""
    expires = int(console.now().timestamp()) + LOGIN_COOKIE_SECONDS
    response.set_cookie(
        login_cookie_name(console),
        console.signer.dumps("login-nonce", {"n": nonce, "exp": expires}),
        max_age=LOGIN_COOKIE_SECONDS,
        httponly=True,
        samesite="Strict",
        path="/",
        secure=secure_cookies(console),
    )


def set_session_cookie(response: web.StreamResponse, console: Console, session_id: str, expires: datetime) -> None:
    value = console.signer.dumps("session", {"sid": session_id, "exp": int(expires.timestamp())})
    response.set_cookie(
        session_cookie_name(console),
        value,
        max_age=int((expires - console.now()).total_seconds()),
        httponly=True,
        samesite="Strict",
        path="/",
        secure=secure_cookies(console),
    )
    _delete(response, console, login_cookie_name(console))


def clear_session_cookie(response: web.StreamResponse, console: Console) -> None:
    _delete(response, console, session_cookie_name(console))


def _delete(response: web.StreamResponse, console: Console, name: str) -> None:
    # A __Host- cookie is only replaced (here: expired) by a Set-Cookie that is itself Secure with Path=/.
    response.set_cookie(
        name,
        "",
        max_age=0,
        expires="Thu, 01 Jan 1970 00:00:00 GMT",
        httponly=True,
        samesite="Strict",
        path="/",
        secure=secure_cookies(console),
    )


def new_nonce() -> str:
    return secrets.token_urlsafe(24)
