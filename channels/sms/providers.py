"""Outbound SMS: the provider interface, the development outbox, and the guard that decides who may be texted.

A provider sends one `SmsMessage` (`channels.sms.templates`: a template's name, its variables and the whole text) to
a sender id of this channel (an 11-digit Chinese mobile, or +<country><number>) and returns the provider's message
ids (which its delivery reports name; [] when it gives none). Template providers send the configured template id
and the variables; free-text gateways send `message.text`. `OutboxProvider` appends what would be sent to a
JSON-lines file (development and tests); the real provider is `channels.sms.tencent.TencentSmsProvider`;
`channels.sms.config.provider_for` builds the one the settings name.

`OptOutGuard` wraps a provider for every sender outside a worker's own turn (the console's operator replies, Rasa's
pushes): it sends only to a mainland China mobile number (1[3-9]…) that has written to the service itself and has
not opted out. So an operator reply to a forged "SMS" conversation, or any other path, cannot make the service text
a number that never wrote, or an international one.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from channels._state import ChannelState
from channels.sms.inbound import mainland_mobile
from channels.sms.templates import SmsMessage
from nlu.extract import mask_phone

__all__ = [
    "OnReport",
    "OptOutGuard",
    "OutboxProvider",
    "SmsOptedOut",
    "SmsProvider",
    "SmsRecipientRefused",
    "SmsSendError",
]


OnReport = Callable[[str, bool, str], None]
"""Told of each delivery report: `on_report(provider_id, delivered, reason)` (sync; channels call it in a thread).
It may be told of one report more than once (providers retry): it must be idempotent."""


class SmsSendError(Exception):
    """The provider did not accept a message; `code` is the provider's error code when it gave one."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class SmsOptedOut(SmsSendError):
    """The number opted out (退订): nothing may be sent to it."""


class SmsRecipientRefused(SmsSendError):
    """The number may not be texted: not a mainland mobile, or it never wrote to the service."""


NOT_MAINLAND = "只能给中国大陆手机号（1 开头的 11 位号码）发短信"
NEVER_WROTE = "这个号码从没有给本服务发过短信，不能主动给它发"


def recipient_refusal(to: str, state: ChannelState) -> str | None:
    """Why `to` may not be texted (a short Chinese reason), or None when it may: a mainland mobile that wrote."""
    phone = mainland_mobile(to)
    if phone is None:
        return NOT_MAINLAND
    if not state.has_written(phone):
        return NEVER_WROTE
    return None


class SmsProvider(Protocol):
    """Sends one SMS. `to` is a sender id of this channel (11-digit Chinese mobile, or +<country><number>); returns
    the provider's message ids (one per recipient or per segment, as the provider numbers them; may be [])."""

    async def send(self, to: str, message: SmsMessage) -> list[str]: ...


class OutboxProvider:
    """Development and test provider: appends {"id", "to", "template", "params", "text", "time"} as one JSON line
    per message to a file; the id (outbox-<hex>) is what it returns."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One write on an O_APPEND descriptor: lines from several processes never interleave.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    async def send(self, to: str, message: SmsMessage) -> list[str]:
        """Append the message to the outbox file; its id."""
        message_id = f"outbox-{uuid.uuid4().hex}"
        record = {
            "id": message_id,
            "to": to,
            "template": message.template,
            "params": list(message.params),
            "text": message.text,
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        await asyncio.to_thread(self._append, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        return [message_id]


class OptOutGuard:
    """Wraps a provider so that nothing is sent to a number that is not a mainland mobile or never wrote
    (`SmsRecipientRefused`) or that opted out (`SmsOptedOut`)."""

    def __init__(self, provider: SmsProvider, state: ChannelState) -> None:
        self.provider = provider
        self.state = state

    async def send(self, to: str, message: SmsMessage) -> list[str]:
        """Send through the wrapped provider to the number's 11-digit form, unless it may not be texted; the
        provider's message ids."""
        if (refusal := await asyncio.to_thread(recipient_refusal, to, self.state)) is not None:
            raise SmsRecipientRefused(f"{refusal}（{mask_phone(str(to))}）")
        phone = mainland_mobile(to) or to
        if await asyncio.to_thread(self.state.is_opted_out, phone):
            raise SmsOptedOut(f"{mask_phone(phone)} opted out of SMS")
        return await self.provider.send(phone, message)
