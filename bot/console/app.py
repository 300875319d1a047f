"""The console's aiohttp application: the composition root that builds the services and mounts every view.

app = create_app(settings)                         # the process's app store, the knowledge base loaded now
app = create_app(settings, store=store, kb=kb, clock=clock)   # tests: their own store, a clock to move time
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.cases import CaseService
from bot.console import (
    _auth_views,
    _case_views,
    _handoff_views,
    _lookup_views,
    _overview_views,
    _transcript_views,
)
from bot.console._accounts import Accounts, LoginThrottle
from bot.console._middleware import MIDDLEWARES
from bot.console._security import Signer, parse_trusted_proxies
from bot.console._stats import EventLog
from bot.console.web import CONSOLE, Clock, Console, templates
from bot.deliveries import DeliveryLog
from bot.handoffs import HandoffService
from bot.notifications import NotificationService
from bot.settings import Settings
from bot.store import AppStore, app_store
from bot.store.types import utcnow
from bot.takeover import TakeoverService
from policies_kb import KnowledgeBase

__all__ = ["create_app"]

VIEWS = (_auth_views, _lookup_views, _handoff_views, _transcript_views, _case_views, _overview_views)


def create_app(
    settings: Settings,
    *,
    store: AppStore | None = None,
    kb: KnowledgeBase | None = None,
    clock: Clock = utcnow,
    throttle: LoginThrottle | None = None,
) -> web.Application:
    """The console on `store` (default: the process's app store for `settings`) and `kb` (default: the knowledge
    base, loaded now)."""
    store = store if store is not None else app_store(settings)
    console = Console(
        settings=settings,
        store=store,
        kb=kb if kb is not None else KnowledgeBase.load().warm_up(),
        cases=CaseService(store, clock=clock),
        handoffs=HandoffService(store, clock=clock),
        accounts=Accounts(store),
        takeovers=TakeoverService(store),
        events=EventLog.for_settings(settings, store),
        signer=Signer(settings.console_secret_key()),
        throttle=throttle or LoginThrottle(store),
        clock=clock,
        rasa_token=settings.rasa_auth_token(),
        templates=templates(),
        notifications=NotificationService(store, clock=clock),
        deliveries=DeliveryLog(store, clock=clock),
        trusted_proxies=parse_trusted_proxies(settings.env.get("CONSOLE_TRUSTED_PROXIES")),
    )
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=256 * 1024)
    app[CONSOLE] = console

    async def http_session(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as console.http:
            yield
        console.events.dispose()

    app.cleanup_ctx.append(http_session)
    for view in VIEWS:
        app.add_routes(view.routes)
    app.router.add_static("/static/", Path(__file__).with_name("static"), name="static")
    return app
