"""The console's middlewares (security headers, sessions, store errors, CSRF) and its cookie helpers.

Every page but /login, /healthz and /static/ needs a logged-in operator. The session cookie is signed (HMAC-SHA256),
HttpOnly and SameSite=Strict, and names a server-side session that expires after a shift and ends at logout; every
POST carries a CSRF token bound to the session (on /login: to a short-lived login cookie).
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


def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
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
    session = console.signer.loads("session", request.cookies.get(SESSION_COOKIE))
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
    if request.path == "/login":  # no session yet: the token is bound to the login cookie set with the form
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        valid = bool(nonce) and console.signer.check_token("login-csrf", nonce, token)
    else:  # the sessions middleware has refused anonymous requests to every other path
        valid = console.signer.check_token("csrf", request["session_id"], token)
    if not valid:
        log.warning("refused a %s to %s without a valid CSRF token", request.method, request.path)
        return _error_page(request, 403, "安全校验失败：页面已过期或请求不是从控制台发出的。请返回、刷新页面后再试。")
    return await handler(request)


MIDDLEWARES = (security_headers, store_errors, sessions, csrf)


def set_login_cookie(response: web.StreamResponse, console: Console, nonce: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=LOGIN_COOKIE_SECONDS,
        httponly=True,
        samesite="Strict",
        path="/login",
        secure=console.settings.console_cookie_secure,
    )


def set_session_cookie(response: web.StreamResponse, console: Console, session_id: str, expires: datetime) -> None:
    value = console.signer.dumps("session", {"sid": session_id, "exp": int(expires.timestamp())})
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int((expires - console.now()).total_seconds()),
        httponly=True,
        samesite="Strict",
        path="/",
        secure=console.settings.console_cookie_secure,
    )
    response.del_cookie(LOGIN_COOKIE, path="/login")


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")


def new_nonce() -> str:
    return secrets.token_urlsafe(24)
