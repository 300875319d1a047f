"""Turning the assistant's messages into what a phone shows: plain text, numbered menus, clean splits.

Shared by the WeChat and SMS channels; pure functions, no I/O.

The contract with the dialogue: human-readable content is in text messages; the source citation is its
own text message starting with "来源："; machine-readable parts are `custom` messages, which these channels render as
nothing; choices are buttons (title, payload), rendered as a numbered menu ("回复1 …") whose digits the channel maps
back to the payload.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rasa.core.channels.channel import OutputChannel

from nlu.text import to_half_width

__all__ = [
    "Button",
    "Reply",
    "CollectingOutput",
    "collect_reply",
    "menu_lines",
    "menu_number",
    "split_clean",
    "utf8_len",
    "shorten_source",
    "SOURCE_PREFIX",
]

SOURCE_PREFIX = "来源："

# Runs that must never be cut in two: numbers with their separators ("0951-12333", "2023-05-01", "1.5", "12,000"),
# and Latin words or codes.
_UNBREAKABLE = re.compile(r"\d(?:[\d\-.:/]|,(?=\d{3}(?!\d)))*\d|[A-Za-z0-9_]+(?:[-.][A-Za-z0-9_]+)*")
_SENTENCE_END = "。！？；!?;\n"
_CLAUSE_END = "，、,：: ）)》】」"
_TRAILING_PUNCTUATION = " 。.，,！!？?、~～"
_MENU_REPLY = re.compile(r"^(?:回复|回)?\s*(\d{1,2})$")
_DOC_NO = re.compile(r"[\u4e00-\u9fff]{1,10}〔\d{4}〕\d+号")
_TITLE = re.compile(r"《[^》]{1,60}》")


@dataclass(frozen=True)
class Button:
    """One choice of a menu: what the user reads and what the assistant receives when it is chosen."""

    title: str
    payload: str


@dataclass
class Reply:
    """The assistant's answer to one turn, sorted for rendering."""

    texts: list[str] = field(default_factory=list)
    source_lines: list[str] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    customs: list[dict] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing a user would read: no text, source line or button."""
        return not (self.texts or self.source_lines or self.buttons)

    def body_and_menu(self) -> str:
        """Texts, then the numbered menu, then the source lines last, one per line."""
        return "\n".join([*self.texts, *menu_lines(self.buttons), *self.source_lines])


class CollectingOutput(OutputChannel):
    """An output channel that keeps what the assistant sends during one turn, to be rendered afterwards.

    Subclasses set `name()` to the channel's name, so responses with `channel: wechat` / `channel: sms` variations
    are chosen for them.
    """

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.messages.append({"text": text})

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict], **kwargs: Any) -> None:
        self.messages.append({"text": text, "buttons": buttons})

    async def send_quick_replies(self, recipient_id: str, text: str, quick_replies: list[dict], **kwargs: Any) -> None:
        self.messages.append({"text": text, "buttons": quick_replies})

    async def send_custom_json(self, recipient_id: str, json_message: dict, **kwargs: Any) -> None:
        self.messages.append({"custom": json_message})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        self.messages.append({"image": image})

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        self.messages.append({"attachment": attachment})

    async def send_elements(self, recipient_id: str, elements: Iterable[dict], **kwargs: Any) -> None:
        for element in elements:
            title = " ".join(filter(None, [element.get("title"), element.get("subtitle")]))
            self.messages.append({"text": title, "buttons": element.get("buttons") or []})

    def reply(self) -> Reply:
        """What the turn sent, sorted for rendering."""
        return collect_reply(self.messages)


def collect_reply(messages: Iterable[dict[str, Any]]) -> Reply:
    """Sort a turn's messages: texts in order, source lines apart (they go last), every button, custom payloads.

    Images and attachments have no text form on these channels and are dropped (the dialogue sends none).
    """
    reply = Reply()
    for message in messages:
        text = (message.get("text") or "").strip()
        if text:
            for paragraph in text.split("\n\n"):
                paragraph = paragraph.strip()
                if paragraph.startswith(SOURCE_PREFIX):
                    reply.source_lines.append(paragraph)
                elif paragraph:
                    reply.texts.append(paragraph)
        for button in message.get("buttons") or []:
            title, payload = str(button.get("title") or "").strip(), str(button.get("payload") or "").strip()
            if title and payload:
                reply.buttons.append(Button(title, payload))
        if isinstance(message.get("custom"), dict):
            reply.customs.append(message["custom"])
    return reply


def menu_lines(buttons: list[Button]) -> list[str]:
    """ "回复1 标题" for each button, numbered from 1."""
    return [f"回复{number} {button.title}" for number, button in enumerate(buttons, start=1)]


def menu_number(text: str) -> int | None:
    """The menu number a reply means ("1", "１", " 2。", "回复3"), or None when it is anything else."""
    cleaned = to_half_width(text or "").strip().rstrip(_TRAILING_PUNCTUATION).strip()
    match = _MENU_REPLY.match(cleaned)
    return int(match.group(1)) if match else None


def utf8_len(text: str) -> int:
    """The length of `text` in UTF-8 bytes (WeChat's limits are in bytes)."""
    return len(text.encode("utf-8"))


def _protected(text: str) -> list[tuple[int, int]]:
    return [match.span() for match in _UNBREAKABLE.finditer(text)]


def _best_cut(text: str, limit: int, measure: Callable[[str], int]) -> int:
    """Where to cut `text` so that the head fits `limit`: after a line or sentence end if one is in the last 60% of
    the room, else after a clause mark or space, else anywhere outside a number or word; never inside a number."""
    room = 0  # the longest prefix that fits
    while room < len(text) and measure(text[: room + 1]) <= limit:
        room += 1
    if room == 0:
        return 1
    spans = _protected(text)

    def allowed(position: int) -> bool:
        return all(not (start < position < end) for start, end in spans)

    floor = max(1, int(room * 0.4))
    for marks in (_SENTENCE_END, _CLAUSE_END):
        for position in range(room, floor - 1, -1):
            if text[position - 1] in marks and allowed(position):
                return position
            if position < len(text) and text[position] == "\n" and allowed(position):
                return position
    for position in range(room, 0, -1):
        if allowed(position):
            return position
    return room  # one unbreakable run longer than a whole segment: cutting it is the only way


def split_clean(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Split `text` into pieces of at most `limit` (by `measure`: characters, or `utf8_len` for bytes) at the best
    boundaries, never inside a number or phone number; whitespace at the cuts is dropped."""
    pieces: list[str] = []
    rest = text.strip()
    while rest:
        if measure(rest) <= limit:
            pieces.append(rest)
            break
        cut = _best_cut(rest, limit, measure)
        head = rest[:cut].strip()
        if head:
            pieces.append(head)
        rest = rest[cut:].strip()
    return pieces


def shorten_source(line: str, customs: Iterable[dict] = ()) -> str:
    """A short form of a source line for SMS: the document number (from the answer payload when there is one),
    else the document title, else the line's beginning."""
    for custom in customs:
        sources = custom.get("sources") if isinstance(custom, dict) else None
        for source in sources if isinstance(sources, list) else []:
            if isinstance(source, dict) and source.get("doc_no"):
                return f"{SOURCE_PREFIX}{source['doc_no']}"
    if match := _DOC_NO.search(line):
        return f"{SOURCE_PREFIX}{match.group()}"
    if match := _TITLE.search(line):
        title = match.group()
        return f"{SOURCE_PREFIX}{title if len(title) <= 22 else title[:20] + '…》'}"
    return line if len(line) <= 24 else line[:23] + "…"
