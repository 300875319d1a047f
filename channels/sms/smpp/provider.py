"""SMS_PROVIDER=smpp: the SMS_SMPP_* settings, the provider that submits a message's text through the gateway, and
what a mobile-originated message becomes for the SMS pipeline.

Which process holds which connection: the Rasa server's SMS channel binds as a **transceiver** when it starts (a
Sanic `before_server_start` listener, see `channels.sms.channel.SmsInput`): it sends the replies and takes the
mobile-originated messages (into the same pipeline as webhook callbacks) and the delivery receipts. Every other
process that sends SMS (the console's operator replies, notifications) binds as a **transmitter** on its first
message, so the gateway never routes a worker's message to a process that cannot answer it; its receipts still come
to the transceiver, which the gateway serves for the whole account.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from typing import Protocol

from bot.settings import Settings
from channels._config import ChannelConfigError, channel_values, check_values
from channels.sms.inbound import MAX_TEXT_CHARS, InboundSms, MalformedSms, mainland_mobile, normalize_phone
from channels.sms.providers import SmsRecipientRefused
from channels.sms.smpp.client import MobileMessage, SmppClient, SmppConfig
from nlu.extract import mask_phone

__all__ = [
    "SMPP_REQUIRED",
    "SmppProvider",
    "TextMessage",
    "inbound_sms",
    "smpp_config",
    "transmitter_client",
]

SMPP_REQUIRED = ("SMS_SMPP_HOST", "SMS_SMPP_SYSTEM_ID", "SMS_SMPP_PASSWORD", "SMS_SMPP_SOURCE_ADDR")
DEFAULT_PORT = 2775


class TextMessage(Protocol):
    """What the provider needs of an SMS message (`channels.sms.templates.SmsMessage` has it): the whole text."""

    @property
    def text(self) -> str: ...


def _integer(values: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = (values.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ChannelConfigError(f"{name} must be a whole number from {low} to {high}, not {raw!r}")
    return int(raw)


def smpp_config(settings: Settings, *, transceiver: bool) -> SmppConfig:
    """The gateway connection the SMS_SMPP_* settings describe; `ChannelConfigError` naming a missing or bad one."""
    values = channel_values(settings)
    required = {name: values.get(name, "") for name in SMPP_REQUIRED}
    check_values("sms", required, required=SMPP_REQUIRED, production=settings.production)
    for name in ("SMS_SMPP_SYSTEM_ID", "SMS_SMPP_PASSWORD", "SMS_SMPP_SYSTEM_TYPE", "SMS_SMPP_SOURCE_ADDR"):
        limit = {"SMS_SMPP_SYSTEM_ID": 15, "SMS_SMPP_PASSWORD": 8, "SMS_SMPP_SYSTEM_TYPE": 12}.get(name, 20)
        value = values.get(name, "")
        if not value.isascii() or len(value) > limit:
            raise ChannelConfigError(f"{name} must be ASCII of at most {limit} characters (SMPP 3.4)")
    return SmppConfig(
        host=values["SMS_SMPP_HOST"].strip(),
        port=_integer(values, "SMS_SMPP_PORT", DEFAULT_PORT, 1, 65535),
        system_id=values["SMS_SMPP_SYSTEM_ID"],
        password=values["SMS_SMPP_PASSWORD"],
        system_type=values.get("SMS_SMPP_SYSTEM_TYPE", ""),
        source_addr=values["SMS_SMPP_SOURCE_ADDR"].strip(),
        source_addr_ton=_integer(values, "SMS_SMPP_SOURCE_TON", 0, 0, 6),
        dest_addr_ton=_integer(values, "SMS_SMPP_DEST_TON", 0, 0, 1),
        transceiver=transceiver,
        window=_integer(values, "SMS_SMPP_WINDOW", 10, 1, 100),
        enquire_link_seconds=float(_integer(values, "SMS_SMPP_ENQUIRE_LINK_SECONDS", 30, 5, 600)),
    )


_transmitters: dict[tuple[SmppConfig, asyncio.AbstractEventLoop], SmppClient] = {}


def transmitter_client(config: SmppConfig) -> SmppClient:
    """This process's transmitter connection for `config` (one per event loop, made on first use and started by
    the first message sent through it)."""
    key = (replace(config, transceiver=False), asyncio.get_running_loop())
    if key not in _transmitters:
        _transmitters[key] = SmppClient(key[0])
    return _transmitters[key]


class SmppProvider:
    """`SmsProvider` through an SMPP gateway: submits the message's text to a mainland mobile as one long SMS, and
    returns the gateway's id of each segment (the ids its delivery receipts name).

    `SmppProvider(client)` sends through a given connection (the Rasa server's transceiver);
    `SmppProvider.transmitter(config)` through this process's transmitter, found in the running loop when the first
    message is sent (so the provider can be built outside a loop)."""

    def __init__(self, client: SmppClient | None = None, *, config: SmppConfig | None = None) -> None:
        if client is None and config is None:
            raise ValueError("an SmppProvider needs a client or a configuration")
        self._client = client
        self._config = config

    @classmethod
    def transmitter(cls, config: SmppConfig) -> SmppProvider:
        return cls(config=config)

    @property
    def client(self) -> SmppClient:
        """The connection messages go through (for a transmitter: this loop's, made on first use)."""
        if self._client is not None:
            return self._client
        assert self._config is not None
        return transmitter_client(self._config)

    async def send(self, to: str, message: TextMessage) -> list[str]:
        """Submit `message.text` (the whole text as the phone shows it: a free-text gateway needs no template)."""
        phone = mainland_mobile(to)
        if phone is None:
            raise SmsRecipientRefused(f"the SMS gateway texts only mainland mobiles ({mask_phone(str(to))})")
        client = self.client
        client.start()  # a transmitter connects on its first message; started twice is started once
        return await client.send_text(phone, message.text)


def inbound_sms(message: MobileMessage) -> InboundSms:
    """A mobile-originated message as the SMS pipeline's `InboundSms` (form "smpp"); `MalformedSms` when the sender
    is not a phone number or the text is empty or over 1000 characters."""
    text = message.text.strip()
    if not text:
        raise MalformedSms("empty text")
    if len(text) > MAX_TEXT_CHARS:
        raise MalformedSms(f"text longer than {MAX_TEXT_CHARS} characters")
    return InboundSms(normalize_phone(message.source), text, message.key, "smpp")
