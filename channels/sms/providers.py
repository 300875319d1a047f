"""Outbound SMS: the provider interface, the development outbox, and the guard that honours opt-outs.

A provider sends one SMS to a sender id of this channel (an 11-digit Chinese mobile, or +<country><number>).
`OutboxProvider` appends what would be sent to a JSON-lines file (development and tests); the real provider is
`channels.sms.tencent.TencentSmsProvider`; `channels.sms.config.provider_for` builds the one the settings name.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from channels._state import ChannelState
from nlu.extract import mask_phone

__all__ = ["OptOutGuard", "OutboxProvider", "SmsOptedOut", "SmsProvider", "SmsSendError"]


class SmsSendError(Exception):
    """The provider did not accept a message; `code` is the provider's error code when it gave one."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class SmsOptedOut(SmsSendError):
    """The number opted out (退订): nothing may be sent to it."""


class SmsProvider(Protocol):
    """Sends one SMS. `to` is a sender id of this channel (11-digit Chinese mobile, or +<country><number>)."""

    async def send(self, to: str, text: str) -> None: ...


class OutboxProvider:
    """Development and test provider: appends {"to", "text", "time"} as one JSON line per message to a file."""

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

    async def send(self, to: str, text: str) -> None:
        """Append the message to the outbox file."""
        record = {"to": to, "text": text, "time": datetime.now(UTC).isoformat(timespec="seconds")}
        await asyncio.to_thread(self._append, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))


class OptOutGuard:
    """Wraps a provider so that nothing is sent to a number that opted out (raises `SmsOptedOut`)."""

    def __init__(self, provider: SmsProvider, state: ChannelState) -> None:
        self.provider = provider
        self.state = state

    async def send(self, to: str, text: str) -> None:
        """Send through the wrapped provider unless `to` opted out."""
        if await asyncio.to_thread(self.state.is_opted_out, to):
            raise SmsOptedOut(f"{mask_phone(to)} opted out of SMS")
        await self.provider.send(to, text)
