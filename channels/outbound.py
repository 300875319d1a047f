"""Messages that leave the assistant outside a worker's turn: the operator console's replies, over the worker's
channel. One interface for every channel, and exceptions that say what the operator can do.

    outbound = outbound_for("wechat", settings=settings, store=store, session=session)   # once per process
    try:
        await outbound.send(conversation, text)       # conversation: its scoped id, e.g. "sms:+8613812345678"
    except DeliveryError as failed:
        show(failed.reason)                           # a short Chinese text for the operator

- WeChat: a customer-service message (`WindowClosed` when the worker's last message is more than 48 hours old);
- SMS: the text through the reply template of the configured provider (one long SMS; cut at a clean boundary at
  the per-reply cap), never to a number that opted out (`OptedOut`);
- REST: the REST client has no address to push to, so the text is queued as a pending operator message of the
  conversation's takeover, which `GET /webhooks/rest/messages` (or the next webhook answer) hands out once.

Everything else the provider refuses or fails is `DeliveryRefused`, its reason naming the error. A channel that is
not configured makes `outbound_for` raise `ChannelConfigError` at start-up, not at the first reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import aiohttp

from bot.conversation_ids import ConversationIdError, address
from bot.deliveries import DeliveryLog
from bot.settings import Settings
from bot.store import AppStore
from bot.store.types import utcnow
from bot.takeover import TakeoverService
from channels._config import ChannelConfigError
from channels._state import ChannelState
from channels.sms.config import provider_for, template_limits
from channels.sms.providers import OptOutGuard, SmsOptedOut, SmsProvider, SmsSendError
from channels.sms.templates import RepliesNotSupported, TemplateLimits, reply_messages
from channels.wechat.api import CustomerServiceClient, CustomerServiceWindowClosed, WeChatApiError, customer_service_for

__all__ = [
    "CHANNELS",
    "DeliveryError",
    "DeliveryRefused",
    "OptedOut",
    "Outbound",
    "RestOutbound",
    "SmsOutbound",
    "WeChatOutbound",
    "WindowClosed",
    "outbound_for",
]

logger = logging.getLogger(__name__)

CHANNELS = ("wechat", "sms", "rest")

_TRANSPORT_ERRORS = (TimeoutError, aiohttp.ClientError, OSError)


class DeliveryError(Exception):
    """The message could not be delivered; `reason` is a short Chinese text the console shows the operator."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WindowClosed(DeliveryError):
    """WeChat 45015: the 48-hour customer-service window is closed."""

    def __init__(self) -> None:
        super().__init__("工人最后一条微信消息已超过 48 小时，微信不允许再发客服消息，请改打电话联系。")


class OptedOut(DeliveryError):
    """The SMS number opted out (退订)."""

    def __init__(self) -> None:
        super().__init__("这个号码已退订短信，不能再发，请改打电话联系。")


class DeliveryRefused(DeliveryError):
    """The provider refused or failed; `reason` says why."""


class Outbound(Protocol):
    """Sends a text to a conversation of one channel."""

    channel: str

    async def send(self, conversation: str, text: str) -> None:
        """Deliver `text` to the worker of `conversation` (its sender id); raises a `DeliveryError`."""
        ...


class _ProviderOutbound:
    """An outbound that calls a provider over HTTP: an unreachable provider is refused with the service's name."""

    channel: str
    service: str  # how the operator calls the provider

    async def _deliver(self, conversation: str, text: str) -> None:
        raise NotImplementedError

    async def send(self, conversation: str, text: str) -> None:
        """Deliver the text through the provider to the address in the conversation's id (`sms:<phone>`,
        `wechat:<openid>`): never to one named anywhere else."""
        try:
            to = address(self.channel, conversation)
        except ConversationIdError:
            raise DeliveryRefused(f"这个对话不是{self.channel}渠道的对话，消息没有发出。") from None
        try:
            await self._deliver(to, text)
        except _TRANSPORT_ERRORS as error:
            raise DeliveryRefused(f"连不上{self.service}（{type(error).__name__}），请稍后再试。") from None


class WeChatOutbound(_ProviderOutbound):
    """Operator replies as WeChat customer-service messages."""

    channel, service = "wechat", "微信接口"

    def __init__(self, client: CustomerServiceClient) -> None:
        self.client = client

    async def _deliver(self, conversation: str, text: str) -> None:
        try:
            await self.client.send_text(conversation, text)
        except CustomerServiceWindowClosed:
            raise WindowClosed() from None
        except WeChatApiError as error:
            raise DeliveryRefused(f"微信拒绝了这条客服消息（错误 {error.errcode}：{error.errmsg}）") from None


class SmsOutbound(_ProviderOutbound):
    """Operator replies through the reply template (one long SMS when it fits), never to a number that opted out.
    A personal Tencent account cannot carry them (`DeliveryRefused` saying so)."""

    channel, service = "sms", "短信平台"

    def __init__(self, provider: SmsProvider, state: ChannelState, limits: TemplateLimits | None = None) -> None:
        self.provider = OptOutGuard(provider, state)
        self.limits = limits or TemplateLimits()
        self.deliveries = DeliveryLog(state.store)  # each message's provider ids, for the provider's reports

    async def _deliver(self, conversation: str, text: str) -> None:
        try:
            messages = reply_messages(text, self.limits)
        except RepliesNotSupported:
            raise DeliveryRefused("这个短信账号是个人认证的，只能发固定通知，不能发回复，请改打电话联系。") from None
        if not messages:
            raise DeliveryRefused("消息是空的，没有发出。")
        try:
            for message in messages:
                provider_ids = await self.provider.send(conversation, message)
                await asyncio.to_thread(self.deliveries.sent, "sms", f"sms:{conversation}", "operator", provider_ids)
        except SmsOptedOut:
            raise OptedOut() from None
        except SmsSendError as error:
            code = f"（{error.code}）" if error.code else ""
            raise DeliveryRefused(f"短信平台没有发出这条短信{code}：{error}") from None


class RestOutbound:
    """Operator replies to a REST client: queued as a pending operator message of the conversation's takeover,
    attributed to the operator who holds it, for the client to fetch (`GET /webhooks/rest/messages`)."""

    channel = "rest"

    def __init__(self, takeovers: TakeoverService, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.takeovers = takeovers
        self._clock = clock

    def _queue(self, conversation: str, text: str) -> None:
        now = self._clock()
        holder = self.takeovers.current(conversation, now)
        if holder is None:
            raise DeliveryRefused("这个对话现在没有人工接管（可能已超时交还助手），消息没有排队。")
        try:
            self.takeovers.record_operator_message(conversation, holder.operator, text, now, delivery="pending")
        except ValueError as invalid:
            raise DeliveryRefused(str(invalid)) from None

    async def send(self, conversation: str, text: str) -> None:
        """Queue the text for the REST client."""
        await asyncio.to_thread(self._queue, conversation, text)


def outbound_for(channel: str, *, settings: Settings, store: AppStore, session: aiohttp.ClientSession) -> Outbound:
    """The outbound of `channel` ("wechat", "sms" or "rest"), configured from `settings`; build it once per process
    (the WeChat one caches its access token). Raises `ChannelConfigError` for an unknown or unconfigured channel."""
    if channel == "wechat":
        return WeChatOutbound(customer_service_for(settings, session))
    if channel == "sms":
        return SmsOutbound(provider_for(settings, session), ChannelState(store), template_limits(settings))
    if channel == "rest":
        return RestOutbound(TakeoverService(store))
    raise ChannelConfigError(f"no outbound channel {channel!r} (one of {', '.join(CHANNELS)})")
