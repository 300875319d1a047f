"""What the console's views and middlewares share: the services container, rendering and redirects.

A leaf module: it imports services and templates, never a view, so every view imports it at the top and
`bot.console.app` imports every view at the top.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import aiohttp
import jinja2
from aiohttp import web

from bot.cases import CaseService
from bot.console._accounts import Accounts, LoginThrottle, OperatorRecord
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
from bot.console._security import Network, Signer, local_path
from bot.console._stats import LOCAL_TZ, EventLog
from bot.deliveries import DeliveryLog
from bot.handoffs import HandoffService
from bot.notifications import NotificationService
from bot.settings import Settings
from bot.store import AppStore
from bot.takeover import TakeoverService
from channels._config import ChannelConfigError
from channels.outbound import DeliveryRefused, Outbound, outbound_for
from policies_kb import KnowledgeBase

__all__ = ["Console", "CONSOLE", "Clock", "render", "redirect", "current_operator", "local_path", "templates"]

Clock = Callable[[], datetime]


@dataclass
class Console:
    """Everything the handlers share, created once per process (the knowledge base is loaded here, once)."""

    settings: Settings
    store: AppStore
    kb: KnowledgeBase
    cases: CaseService
    handoffs: HandoffService
    accounts: Accounts
    takeovers: TakeoverService
    events: EventLog
    signer: Signer
    throttle: LoginThrottle
    clock: Clock
    rasa_token: str
    templates: jinja2.Environment
    notifications: NotificationService
    deliveries: DeliveryLog
    http: aiohttp.ClientSession | None = None
    # CONSOLE_TRUSTED_PROXIES: the reverse proxies whose X-Forwarded-For names the login's client address.
    trusted_proxies: tuple[Network, ...] = ()
    _outbounds: dict[str, Outbound] = field(default_factory=dict, repr=False)

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        """Today in Ningxia (the day a rule must be in force on)."""
        return self.clock().astimezone(LOCAL_TZ).date()

    @property
    def session(self) -> aiohttp.ClientSession:
        """The HTTP session of the running app (opened at start-up, closed at clean-up)."""
        if self.http is None:
            raise RuntimeError("the console's HTTP session is not open (the app has not started)")
        return self.http

    def outbound(self, channel: str) -> Outbound:
        """The channel's outbound (`channels.outbound`), built on first use and kept (the WeChat client caches its
        access token); DeliveryRefused when the channel is not configured. For REST the console has recorded the
        reply already, as for every channel, so its outbound only makes that reply pending for the REST client."""
        if channel not in self._outbounds:
            if channel == "rest":
                self._outbounds[channel] = RestPickup(self.takeovers)
            else:
                try:
                    self._outbounds[channel] = outbound_for(
                        channel, settings=self.settings, store=self.store, session=self.session
                    )
                except ChannelConfigError as error:
                    raise DeliveryRefused(f"渠道未配置：{error}") from None
        return self._outbounds[channel]


class RestPickup:
    """The REST outbound for a reply the console has recorded: sending makes it pending for
    `GET /webhooks/rest/messages` (`channels.outbound.RestOutbound` records the text itself, for callers that have
    not)."""

    channel = "rest"

    def __init__(self, takeovers: TakeoverService) -> None:
        self._takeovers = takeovers

    async def send(self, conversation: str, text: str) -> None:
        await asyncio.to_thread(self._takeovers.queue_for_rest, conversation)


CONSOLE = web.AppKey("console", Console)


def _local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(LOCAL_TZ).strftime(fmt) if value else ""


def templates() -> jinja2.Environment:
    """The Jinja environment of the console's templates, with the filters that turn codes into Chinese labels."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.console", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = _local_time
    for name, labels in (
        ("topic", TOPIC_LABELS),
        ("channel", CHANNEL_LABELS),
        ("scope", SCOPE_LABELS),
        ("target", TARGET_LABELS),
        ("delivery", DELIVERY_LABELS),
        ("reason", HANDOFF_REASON_LABELS),
        ("outcome", OUTCOME_LABELS),
    ):
        env.filters[name] = lambda code, labels=labels: label(labels, code)
    return env


def render(request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
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
    operator: OperatorRecord = request["operator"]
    return operator
