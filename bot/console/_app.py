"""The console's aiohttp application: services, middlewares (security headers, sessions, CSRF), rendering.

Every page but /login, /healthz and /static/ needs a logged-in operator. The session cookie is signed (HMAC-SHA256),
HttpOnly and SameSite=Strict, and names a server-side session that expires after a shift and ends at logout; every
POST carries a CSRF token bound to the session (on /login: to a short-lived login cookie).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import aiohttp
import jinja2
from aiohttp import web
from sqlalchemy import exc as sa_exc

from bot.cases import CaseService, CaseStoreUnavailable
from bot.console._accounts import Accounts, OperatorRecord
from bot.console._labels import (
    CHANNEL_LABELS,
    DELIVERY_LABELS,
    HANDOFF_REASON_LABELS,
    OUTCOME_LABELS,
    SCOPE_LABELS,
    TARGET_LABELS,
    TOPIC_LABELS,
    label,
)
from bot.console._replies import ReplyDelivery
from bot.console._security import LoginRateLimiter, Signer
from bot.console._stats import LOCAL_TZ
from bot.settings import Settings
from bot.store.cases import utcnow
from bot.takeover import TakeoverService
from policies_kb import KnowledgeBase

__all__ = ["Console", "CONSOLE", "create_app", "render", "redirect", "current_operator", "SESSION_COOKIE"]

log = logging.getLogger(__name__)

SESSION_COOKIE = "nxa_console_session"
LOGIN_COOKIE = "nxa_console_login"
LOGIN_COOKIE_SECONDS = 60 * 60
PUBLIC_PATHS = frozenset({"/login", "/healthz"})  # and everything under /static/

Clock = Callable[[], datetime]


@dataclass
class Console:
    """Everything the handlers share, created once per process (the knowledge base is loaded here, once)."""

    settings: Settings
    kb: KnowledgeBase
    cases: CaseService
    accounts: Accounts
    takeovers: TakeoverService
    signer: Signer
    limiter: LoginRateLimiter
    clock: Clock
    rasa_token: str
    templates: jinja2.Environment
    http: aiohttp.ClientSession | None = None
    delivery: ReplyDelivery | None = None

    def now(self) -> datetime:
        return self.clock()

    def today(self):
        """Today in Ningxia (the day a rule must be in force on)."""
        return self.clock().astimezone(LOCAL_TZ).date()


CONSOLE = web.AppKey("console", Console)


def _local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(LOCAL_TZ).strftime(fmt) if value else ""


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.console", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = _local_time
    env.filters["topic"] = lambda code: label(TOPIC_LABELS, code)
    env.filters["channel"] = lambda code: label(CHANNEL_LABELS, code)
    env.filters["scope"] = lambda code: label(SCOPE_LABELS, code)
    env.filters["target"] = lambda code: label(TARGET_LABELS, code)
    env.filters["delivery"] = lambda code: label(DELIVERY_LABELS, code)
    env.filters["reason"] = lambda code: label(HANDOFF_REASON_LABELS, code)
    env.filters["outcome"] = lambda code: label(OUTCOME_LABELS, code)
    return env


def render(request: web.Request, template: str, *, status: int = 200, **context) -> web.Response:
    """The template rendered with the operator, the CSRF token and the current path."""
    console = request.app[CONSOLE]
    page = console.templates.get_template(template).render(
        operator=request.get("operator"),
        csrf_token=request.get("csrf_token", ""),
        path=request.path,
        **context,
    )
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")


def redirect(location: str) -> web.HTTPSeeOther:
    """303 See Other: the browser follows with a GET (after a POST, so a reload does not post again)."""
    return web.HTTPSeeOther(location)


def current_operator(request: web.Request) -> OperatorRecord:
    return request["operator"]


def local_path(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site (no scheme, no host, no `//`), else `default`: no open redirects."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


# -- middlewares ----------------------------------------------------------------------------------------------

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


@web.middleware
async def security_headers(request: web.Request, handler) -> web.StreamResponse:
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
async def sessions(request: web.Request, handler) -> web.StreamResponse:
    """Identify the operator from the signed session cookie; refuse anonymous requests to every non-public path."""
    console = request.app[CONSOLE]
    session = console.signer.loads("session", request.cookies.get(SESSION_COOKIE))
    operator = None
    if session and isinstance(session.get("sid"), str) and isinstance(session.get("exp"), (int, float)):
        now = console.now()
        if session["exp"] > now.timestamp():
            operator = await asyncio.to_thread(console.accounts.session_operator, session["sid"], now)
    if operator is not None:
        request["operator"] = operator
        request["session_id"] = session["sid"]
        request["csrf_token"] = console.signer.token("csrf", session["sid"])
    elif not _is_public(request.path):
        if request.method == "GET" and "application/json" not in request.headers.get("Accept", ""):
            raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}")
        raise web.HTTPUnauthorized(text="请先登录", content_type="text/plain")
    return await handler(request)


@web.middleware
async def store_errors(request: web.Request, handler) -> web.StreamResponse:
    """A locked, full or lost database gets a 503 page that says so; nothing was changed."""
    try:
        return await handler(request)
    except (CaseStoreUnavailable, sa_exc.OperationalError) as error:
        log.error("store unavailable for %s %s: %s", request.method, request.path, type(error).__name__)
        return _error_page(request, 503, "数据库暂时无法访问，这次操作没有执行。请稍后刷新重试。")


def login_csrf_token(request: web.Request, nonce: str) -> str:
    return request.app[CONSOLE].signer.token("login-csrf", nonce)


@web.middleware
async def csrf(request: web.Request, handler) -> web.StreamResponse:
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


# -- the application ------------------------------------------------------------------------------------------


def _rasa_token(settings: Settings) -> str:
    from bot.launcher import rasa_auth_token

    return rasa_auth_token(settings)


def create_app(
    settings: Settings,
    *,
    kb=None,
    cases=None,
    clock: Clock = utcnow,
    limiter: LoginRateLimiter | None = None,
) -> web.Application:
    """The console. `kb` and `cases` default to the knowledge base (loaded now) and the case store of `settings`;
    tests pass their own, and a `clock` to move time."""
    if kb is None:
        kb = KnowledgeBase.load().warm_up()
    if cases is None:
        cases = CaseService.from_url(settings.app_db_url)
    console = Console(
        settings=settings,
        kb=kb,
        cases=cases,
        accounts=Accounts.from_url(settings.app_db_url),
        takeovers=TakeoverService.from_url(settings.app_db_url),
        signer=Signer(settings.console_secret_key()),
        limiter=limiter or LoginRateLimiter(),
        clock=clock,
        rasa_token=_rasa_token(settings),
        templates=_templates(),
    )
    app = web.Application(middlewares=[security_headers, store_errors, sessions, csrf], client_max_size=256 * 1024)
    app[CONSOLE] = console

    async def open_http(app: web.Application) -> None:
        console.http = aiohttp.ClientSession()
        console.delivery = ReplyDelivery(console.http, settings.env)

    async def close_http(app: web.Application) -> None:
        if console.http is not None:
            await console.http.close()

    app.on_startup.append(open_http)
    app.on_cleanup.append(close_http)

    from bot.console import _auth_views, _case_views, _handoff_views, _lookup_views, _overview_views

    for module in (_auth_views, _lookup_views, _handoff_views, _case_views, _overview_views):
        app.add_routes(module.routes)
    app.router.add_static("/static/", Path(__file__).with_name("static"), name="static")
    return app
