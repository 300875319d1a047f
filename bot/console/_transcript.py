"""A conversation's transcript for the operator, read from Rasa's HTTP API (GET /conversations/{id}/tracker).

Phone, ID-card and bank-card numbers in the transcript and in the takeover messages are masked ("138****5678") until
the operator reveals them with the audited action of the case page's phone reveal (`REVEAL_ACTION`, logged with the
operator, the time and the handoff): the transcript is no side door around that audit.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import quote

import aiohttp

from nlu.extract import mask_pii

__all__ = [
    "REVEAL_ACTION",
    "Turn",
    "TranscriptUnavailable",
    "turns_from_tracker",
    "fetch_tracker",
    "mask_message",
    "reveal_subject",
]

# The audit action of every reveal of a worker's numbers: the case page's phone and a transcript's numbers alike.
REVEAL_ACTION = "reveal_phone"

FETCH_TIMEOUT_SECONDS = 5


class TranscriptUnavailable(RuntimeError):
    """Rasa could not be asked for the conversation (not running, wrong token, timeout); the message says which."""


@dataclass(frozen=True)
class Turn:
    """One message of the conversation: who ("worker" or "bot"), the text, when, and for the bot its buttons and the
    machine-readable payloads of the chat contract (answer, fallback, handoff, …), shown as small labels."""

    who: str
    text: str
    at: datetime | None
    buttons: tuple[str, ...] = ()
    payloads: tuple[dict, ...] = field(default=(), hash=False)


def _when(event: dict) -> datetime | None:
    timestamp = event.get("timestamp")
    return datetime.fromtimestamp(timestamp, UTC) if isinstance(timestamp, (int, float)) else None


def reveal_subject(handoff_id: int) -> str:
    """The audit log's subject of a transcript reveal."""
    return f"handoff:{handoff_id}"


def _masked(value, reveal: bool):
    """`value` with PII masked in every string in it (dicts and lists too), unless `reveal`."""
    if reveal:
        return value
    if isinstance(value, str):
        return mask_pii(value)
    if isinstance(value, dict):
        return {key: _masked(item, reveal) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_masked(item, reveal) for item in value)
    return value


def mask_message(message, reveal: bool = False):
    """A takeover message (`bot.takeover.MessageRecord`) with its text masked, unless `reveal`."""
    return message if reveal else replace(message, text=mask_pii(message.text))


def turns_from_tracker(tracker: dict, *, reveal: bool = False) -> list[Turn]:
    """The user and bot messages of a Rasa tracker, in order, with phone, ID and bank-card numbers masked unless
    `reveal`. A bot message that carries only a custom payload (the machine-readable part of a reply) is attached to
    the bot message before it, as one of its labels."""
    turns: list[Turn] = []
    for event in tracker.get("events") or []:
        kind = event.get("event")
        if kind == "user":
            turns.append(Turn("worker", _masked(str(event.get("text") or ""), reveal), _when(event)))
        elif kind == "bot":
            data = event.get("data") or {}
            custom = data.get("custom") if isinstance(data.get("custom"), dict) else None
            payloads = (_masked(custom, reveal),) if custom else ()
            text = _masked(str(event.get("text") or ""), reveal)
            buttons = tuple(
                _masked(str(b.get("title", "")), reveal) for b in data.get("buttons") or [] if isinstance(b, dict)
            )
            if not text and not buttons and payloads and turns and turns[-1].who == "bot":
                previous = turns.pop()
                turns.append(Turn("bot", previous.text, previous.at, previous.buttons, previous.payloads + payloads))
            elif text or buttons or payloads:
                turns.append(Turn("bot", text, _when(event), buttons, payloads))
    return turns


async def fetch_tracker(session: aiohttp.ClientSession, rasa_url: str, token: str, sender_id: str) -> dict:
    """The conversation's tracker from Rasa's HTTP API; raises TranscriptUnavailable with a readable reason."""
    # ":" stays as it is: conversation ids are channel-scoped (sms:…) and Rasa's router does not unquote "%3A"
    url = f"{rasa_url}/conversations/{quote(sender_id, safe=':')}/tracker"
    try:
        async with session.get(
            url, params={"token": token}, timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS)
        ) as response:
            if response.status in (401, 403):
                raise TranscriptUnavailable("Rasa 拒绝了读取请求（RASA_AUTH_TOKEN 不一致）")
            if response.status != 200:
                raise TranscriptUnavailable(f"Rasa 返回 HTTP {response.status}")
            return await response.json()
    except (TimeoutError, aiohttp.ClientError) as error:
        raise TranscriptUnavailable(f"无法连接 Rasa（{type(error).__name__}）") from None
