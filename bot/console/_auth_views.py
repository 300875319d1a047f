"""Login, logout and the health check."""

from __future__ import annotations

import asyncio
import logging
import math

from aiohttp import web

from bot.console._middleware import (
    clear_session_cookie,
    login_csrf_token,
    login_nonce,
    new_nonce,
    set_login_cookie,
    set_session_cookie,
)
from bot.console._security import client_address, local_path
from bot.console.web import CONSOLE, redirect, render

routes = web.RouteTableDef()
log = logging.getLogger(__name__)

HOME = "/search"


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "rules": len(request.app[CONSOLE].kb.rules)})


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    raise redirect(HOME)


def _login_page(request: web.Request, *, status: int = 200, error: str = "", username: str = "") -> web.Response:
    console = request.app[CONSOLE]
    nonce = login_nonce(request) or new_nonce()  # only a nonce this console minted (and signed) is reused
    response = render(
        request,
        "login.html",
        status=status,
        title="登录",
        error=error,
        username=username,
        next=local_path(request.query.get("next"), HOME),
        login_token=login_csrf_token(request, nonce),
    )
    set_login_cookie(response, console, nonce)
    return response


@routes.get("/login")
async def login_form(request: web.Request) -> web.Response:
    if "operator" in request:
        raise redirect(local_path(request.query.get("next"), HOME))
    return _login_page(request)


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    form = await request.post()
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))
    target = local_path(str(form.get("next", "")), HOME)
    address = client_address(request.remote, request.headers.getall("X-Forwarded-For", []), console.trusted_proxies)
    now = console.now()
    # Reserved before the (slow) password check, atomically in the app store: a burst of parallel guesses, in one
    # console process or several, gets only the attempts the throttle has left.
    wait = await asyncio.to_thread(console.throttle.reserve, username, address, now.timestamp())
    if wait > 0:
        minutes = max(1, math.ceil(wait / 60))
        response = _login_page(
            request, status=429, username=username, error=f"登录尝试次数过多，请 {minutes} 分钟后再试。"
        )
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    operator = await asyncio.to_thread(console.accounts.authenticate, username, password)
    if operator is None:
        log.info("failed console login for %r from %s", username, address)
        return _login_page(request, status=401, username=username, error="用户名或密码不对。")
    await asyncio.to_thread(console.throttle.succeeded, username, address)
    session_id, expires = await asyncio.to_thread(console.accounts.open_session, operator, now)
    log.info("operator %s logged in from %s", operator.username, address)
    response = redirect(target)
    set_session_cookie(response, console, session_id, expires)
    raise response


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    await asyncio.to_thread(console.accounts.end_session, request["session_id"])
    response = redirect("/login")
    clear_session_cookie(response, console)
    raise response
