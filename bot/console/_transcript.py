"""A conversation's transcript for the operator, read from Rasa's HTTP API (GET /conversations/{id}/tracker)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote

import aiohttp

__all__ = ["Turn", "TranscriptUnavailable", "turns_from_tracker", "fetch_tracker"]

FETCH_TIMEOUT_SECONDS = 5


class TranscriptUnavailable(RuntimeError):
    """Rasa could not be asked for the conversation (not running, wrong token, timeout); the message says which."""


@dataclass(frozen=True)
class Turn:
    """One message of the conversation: who ("worker" or "bot"), the text, when, and for the bot its buttons and the
    machine-readable payload (answer, fallback, handoff, …) shown as a small label."""

    who: str
    text: str
    at: datetime | None
    buttons: tuple[str, ...] = ()
    payload: dict = field(default_factory=dict, hash=False)


def _when(event: dict) -> datetime | None:
    timestamp = event.get("timestamp")
    return datetime.fromtimestamp(timestamp, timezone.utc) if isinstance(timestamp, (int, float)) else None


def turns_from_tracker(tracker: dict) -> list[Turn]:
    """The user and bot messages of a Rasa tracker, in order. A bot message that carries only a custom payload (the
    machine-readable part of an answer) is folded into the bot message before it, as its label."""
    turns: list[Turn] = []
    for event in tracker.get("events") or []:
        kind = event.get("event")
        if kind == "user":
            turns.append(Turn("worker", event.get("text") or "", _when(event)))
        elif kind == "bot":
            data = event.get("data") or {}
            custom = data.get("custom") if isinstance(data.get("custom"), dict) else {}
            text = event.get("text") or ""
            buttons = tuple(str(b.get("title", "")) for b in data.get("buttons") or [] if isinstance(b, dict))
            if not text and not buttons and custom and turns and turns[-1].who == "bot" and not turns[-1].payload:
                previous = turns.pop()
                turns.append(Turn("bot", previous.text, previous.at, previous.buttons, custom))
                continue
            if text or buttons or custom:
                turns.append(Turn("bot", text, _when(event), buttons, custom))
    return turns


async def fetch_tracker(session: aiohttp.ClientSession, rasa_url: str, token: str, sender_id: str) -> dict:
    """The conversation's tracker from Rasa's HTTP API; raises TranscriptUnavailable with a readable reason."""
    url = f"{rasa_url}/conversations/{quote(sender_id, safe='')}/tracker"
    try:
        async with session.get(
            url, params={"token": token}, timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS)
        ) as response:
            if response.status in (401, 403):
                raise TranscriptUnavailable("Rasa 拒绝了读取请求（RASA_AUTH_TOKEN 不一致）")
            if response.status != 200:
                raise TranscriptUnavailable(f"Rasa 返回 HTTP {response.status}")
            return await response.json()
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        raise TranscriptUnavailable(f"无法连接 Rasa（{type(error).__name__}）") from None
