"""The channels' outbound interface, as the console uses it to deliver an operator's reply to the worker.

This is the renovation contract's `channels.outbound` (issue 13), built here on the channel modules of today until
the channels' own `channels/outbound.py` is merged; then this module becomes `from channels.outbound import …`
and nothing in the console changes:

    outbound = outbound_for(channel, settings=settings, store=store, session=http)
    await outbound.send(conversation, text)        # raises WindowClosed, OptedOut or DeliveryRefused

WeChat goes through the customer-service message API, SMS through the configured provider (the outbox file in
development). A REST conversation has nothing to transmit: its client fetches operator replies itself
(`GET /webhooks/rest/messages`), so sending queues the conversation's reply for that pickup in the takeover store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

import aiohttp

from bot.conversation_ids import ConversationIdError, address
from bot.settings import Settings
from bot.store import AppStore
from bot.takeover import TakeoverService
from channels.sms import SmsOptedOut, SmsProvider, provider_from_env
from channels.wechat import CustomerServiceClient, CustomerServiceWindowClosed, customer_service_from_env

__all__ = ["DeliveryError", "WindowClosed", "OptedOut", "DeliveryRefused", "Outbound", "outbound_for"]


class DeliveryError(Exception):
    """The reply could not be delivered; `reason` (Chinese) says why and what the operator can do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WindowClosed(DeliveryError):
    """WeChat 45015: the worker's last message is more than 48 hours old; customer-service messages are refused."""


class OptedOut(DeliveryError):
    """The SMS number opted out (退订)."""


class DeliveryRefused(DeliveryError):
    """The channel is not configured, or its provider refused or failed; `reason` says why."""


WINDOW_CLOSED = "工人最后一条微信消息已超过 48 小时，微信不允许再发客服消息，请改打电话联系。"
OPTED_OUT = "这个号码已退订短信，不能再发，请改打电话联系。"


class Outbound(Protocol):
    channel: str

    async def send(self, conversation: str, text: str) -> None: ...


class _ClientOutbound:
    """A vendor client's send, with the client's own errors turned into the contract's."""

    def __init__(
        self,
        channel: str,
        send: Callable[[str, str], Awaitable[None]],
        known: dict[type[Exception], tuple[type[DeliveryError], str]],
    ) -> None:
        self.channel = channel
        self._send = send
        self._known = known

    async def send(self, conversation: str, text: str) -> None:
        try:  # the address (OpenID, phone) comes from the conversation's own id, e.g. sms:+8613812345678
            to = address(self.channel, conversation)
        except ConversationIdError:
            raise DeliveryRefused(f"这个对话不是{self.channel}渠道的对话，消息没有发出。") from None
        try:
            await self._send(to, text)
        except Exception as error:
            for kind, (delivery_error, reason) in self._known.items():
                if isinstance(error, kind):
                    raise delivery_error(reason) from None
            raise DeliveryRefused(f"{type(error).__name__}: {error}") from None


def _wechat(client: CustomerServiceClient) -> Outbound:
    return _ClientOutbound("wechat", client.send_text, {CustomerServiceWindowClosed: (WindowClosed, WINDOW_CLOSED)})


def _sms(provider: SmsProvider) -> Outbound:
    return _ClientOutbound("sms", provider.send, {SmsOptedOut: (OptedOut, OPTED_OUT)})


class RestOutbound:
    """The REST client fetches operator replies: sending makes the conversation's reply pending for that pickup."""

    channel = "rest"

    def __init__(self, takeovers: TakeoverService) -> None:
        self._takeovers = takeovers

    async def send(self, conversation: str, text: str) -> None:
        await asyncio.to_thread(self._takeovers.queue_for_rest, conversation)


def outbound_for(channel: str, *, settings: Settings, store: AppStore, session: aiohttp.ClientSession) -> Outbound:
    """The outbound of `channel`; raises DeliveryRefused when the channel is unknown or not configured."""
    env = settings.env  # the channels read their configuration from the settings' environment
    try:
        if channel == "wechat":
            return _wechat(customer_service_from_env(session, dict(env)))
        if channel == "sms":
            return _sms(provider_from_env(session, env))
    except Exception as error:  # missing credentials and the like: the channel says which
        raise DeliveryRefused(f"渠道未配置：{error}") from None
    if channel == "rest":
        return RestOutbound(TakeoverService(store))
    raise DeliveryRefused(f"不支持的渠道：{channel}")
