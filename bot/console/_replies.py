"""Deliver an operator's reply to the worker through the conversation's channel.

WeChat goes through the customer-service message API (`channels.wechat.customer_service_from_env`), SMS through the
provider (`channels.sms.provider_from_env`: the outbox file in development); a REST conversation keeps the reply in the
app store until the REST client fetches it (`channels.rest`). The channel modules are imported on first use, so the
console runs, and says clearly what is missing, when a channel is not installed or not configured.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

__all__ = ["DeliveryError", "ReplyDelivery", "STORED_FOR_PICKUP"]

log = logging.getLogger(__name__)

STORED_FOR_PICKUP = frozenset({"rest"})  # channels whose client fetches operator messages itself


_CHANNELS = {
    "wechat": ("channels.wechat", "customer_service_from_env", "微信客服消息"),
    "sms": ("channels.sms", "provider_from_env", "短信"),
}
# What the operator can do about the errors the channels name.
_REASONS = {
    "CustomerServiceWindowClosed": "工人最后一条微信消息已超过 48 小时，微信不允许再发客服消息，请改打电话联系。",
    "SmsOptedOut": "这个号码已退订短信，不能再发，请改打电话联系。",
}


class DeliveryError(RuntimeError):
    """The reply could not be sent; the message (Chinese) says why and is shown to the operator."""


class ReplyDelivery:
    """Sends operator replies over WeChat or SMS with one shared HTTP session; clients are built once, lazily."""

    def __init__(self, http: aiohttp.ClientSession, env: Mapping[str, str]) -> None:
        self._http = http
        self._env = dict(env)  # the console's settings environment: the channels read their configuration from it
        self._clients: dict[str, Any] = {}

    def _client(self, channel: str) -> Any:
        if channel in self._clients:
            return self._clients[channel]
        module_name, factory_name, label = _CHANNELS.get(channel, (None, None, None))
        if module_name is None:
            raise DeliveryError(f"不支持的渠道：{channel}")
        try:
            factory = getattr(importlib.import_module(module_name), factory_name)
        except (ImportError, AttributeError) as error:
            raise DeliveryError(f"{label}渠道不可用（{module_name}.{factory_name} 缺失：{error}）") from None
        try:
            client = factory(self._http, self._env)
        except Exception as error:  # missing credentials and the like: the channel says which
            raise DeliveryError(f"{label}渠道未配置：{error}") from None
        self._clients[channel] = client
        return client

    async def send(self, channel: str, sender_id: str, text: str) -> None:
        """Send `text` to the worker; raises DeliveryError with a readable reason."""
        client = self._client(channel)
        try:
            if channel == "wechat":
                await client.send_text(sender_id, text)
            else:
                await client.send(sender_id, text)
        except Exception as error:
            log.warning("operator reply over %s failed: %s", channel, type(error).__name__)
            reason = _REASONS.get(type(error).__name__, f"{type(error).__name__}: {error}")
            raise DeliveryError(f"发送失败：{reason}") from None
