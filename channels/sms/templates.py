"""The SMS the service sends, as approved templates carry them: `SmsMessage`, the template texts, and the builders.

Chinese cloud SMS (Tencent, Alibaba, Huawei) sends only approved templates: fixed text that says what the message is
for, around variables. The project needs two templates (their texts, variables and reviewer remarks are listed in
docs/channels.md, "Templates to register"):

- `reply` — "宁夏农民工政策助手答复您的咨询：{1}": an answer to a worker who texted the service (and its opt-out
  confirmations, and an operator's reply from the console); {1} is the answer. The fixed text says what the message
  is for (an answer to the recipient's own question), which the review requires;
- `case_update` — "您的欠薪登记{1}有新进展：{2}。详询0951-12333": news of a worker's unpaid-wages case; {1} is the case
  number, {2} the progress (the new status, or the operator's message).

A variable's length depends on the account (`SMS_TENCENT_ACCOUNT_TYPE`): enterprise and government accounts have no
per-variable limit; personal accounts allow 6 characters a variable in a non-verification template. Six characters
cannot carry an answer, so personal accounts cannot send replies at all (`reply_messages` raises
`RepliesNotSupported`; the SMS channel refuses to start with such an account) and can send only the fixed case
notification `PERSONAL_CASE_UPDATE`, whose one variable is a short status.

Lengths are counted as the provider bills them: every character is 1 (Chinese, Latin, digits, punctuation,
spaces), the signature with its 【】 counts, a message up to 70 characters is one SMS, a longer one is one long SMS
on the phone (billed per 67 characters), 500 characters at most. One long SMS is preferred to several: each separate
message repeats the signature and the template's text. A reply is capped at `TemplateLimits.reply_chars`
(SMS_REPLY_MAX_CHARS, default 201 = three billed segments) as the phone shows it, signature included.

Links may only be constant text of a template, never a variable's value: links are removed from variables.
Splits happen only at clean boundaries (`channels._render.split_clean`): a number, phone number, amount or case
number ("0951-12333", "13812345678", "3000元", "NX2612020007KQFX") is never cut. Pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from channels._render import split_clean

__all__ = [
    "ACCOUNT_TYPES",
    "CASE_UPDATE",
    "CASE_UPDATE_TEMPLATE",
    "DEFAULT_REPLY_CHARS",
    "MAX_MESSAGE_CHARS",
    "PERSONAL_CASE_UPDATE",
    "PERSONAL_VARIABLE_CHARS",
    "REPLY",
    "REPLY_PREFIX",
    "REPLY_TEMPLATE",
    "TEMPLATES",
    "RepliesNotSupported",
    "SmsMessage",
    "TemplateLimits",
    "case_update_message",
    "fill",
    "reply_messages",
    "without_links",
]

REPLY = "reply"
CASE_UPDATE = "case_update"
TEMPLATES = (REPLY, CASE_UPDATE)

REPLY_PREFIX = "宁夏农民工政策助手答复您的咨询："
REPLY_TEMPLATE = REPLY_PREFIX + "{1}"
CASE_UPDATE_TEMPLATE = "您的欠薪登记{1}有新进展：{2}。详询0951-12333"
PERSONAL_CASE_UPDATE = "您登记的欠薪案件有新进展：{1}。详询0951-12333"
PERSONAL_NEWS = "有新留言"  # {1} of PERSONAL_CASE_UPDATE when the progress is longer than the variable allows

ENTERPRISE, PERSONAL = "enterprise", "personal"
ACCOUNT_TYPES = (ENTERPRISE, PERSONAL)
PERSONAL_VARIABLE_CHARS = 6  # Tencent, personal accounts, non-verification templates
MAX_MESSAGE_CHARS = 500  # one send, signature included (Tencent; longer is refused)
DEFAULT_REPLY_CHARS = 201  # three billed segments of 67
SINGLE_SMS_CHARS = 70
SEGMENT_CHARS = 67
_ELLIPSIS = "…"
_VARIABLE = re.compile(r"\{(\d)\}")
_LINK = re.compile(r"(?:https?://|www\.)[!-~]+", re.IGNORECASE)
_CUT_PUNCTUATION = "，、；：,;:。！？!?"


class RepliesNotSupported(ValueError):
    """The account's variable limit is too short to carry a reply (a personal account)."""


@dataclass(frozen=True)
class SmsMessage:
    """One SMS as a template carries it: which configured template (`REPLY` or `CASE_UPDATE`), its variables in
    order, and the whole text as the phone shows it, without the 【signature】. Free-text gateways send `text`;
    template providers (Tencent) send the template's id and `params`."""

    template: str
    params: tuple[str, ...]
    text: str


def fill(template: str, params: Sequence[str]) -> str:
    """The template's text with {1}, {2}, … replaced by the parameters."""
    return _VARIABLE.sub(lambda match: params[int(match.group(1)) - 1], template)


@dataclass(frozen=True)
class TemplateLimits:
    """What the account allows a message: the per-variable limit of its type, the signature the provider adds
    (counted as 【…】), the longest single send and the per-reply cap, both as the phone shows them."""

    account_type: str = ENTERPRISE
    signature: str = ""
    reply_chars: int = DEFAULT_REPLY_CHARS
    message_chars: int = MAX_MESSAGE_CHARS

    def __post_init__(self) -> None:
        if self.account_type not in ACCOUNT_TYPES:
            raise ValueError(f"account type {self.account_type!r} is not one of {', '.join(ACCOUNT_TYPES)}")
        least = self.signature_chars + len(REPLY_PREFIX) + 1
        if not least <= self.reply_chars <= 10 * self.message_chars:
            raise ValueError(f"the reply cap must be {least}..{10 * self.message_chars} characters")
        if not least <= self.message_chars <= MAX_MESSAGE_CHARS:
            raise ValueError(f"a message must allow {least}..{MAX_MESSAGE_CHARS} characters")

    @classmethod
    def from_values(cls, values: Mapping[str, str], *, signature: str = "") -> TemplateLimits:
        """Limits from the channel variables: SMS_TENCENT_ACCOUNT_TYPE (enterprise, the default, or personal) and
        SMS_REPLY_MAX_CHARS (default 201). Raises `ValueError` naming the variable for a bad value."""
        account = (values.get("SMS_TENCENT_ACCOUNT_TYPE") or ENTERPRISE).strip().lower()
        if account not in ACCOUNT_TYPES:
            raise ValueError(f"SMS_TENCENT_ACCOUNT_TYPE must be enterprise or personal, not {account!r}")
        raw = (values.get("SMS_REPLY_MAX_CHARS") or str(DEFAULT_REPLY_CHARS)).strip()
        if not raw.isdigit():
            raise ValueError(f"SMS_REPLY_MAX_CHARS must be a number of characters, not {raw!r}")
        try:
            return cls(account, signature, int(raw))
        except ValueError as error:
            raise ValueError(f"SMS_REPLY_MAX_CHARS: {error}") from None

    @property
    def variable_chars(self) -> int | None:
        """The most characters one variable may hold (None: not limited)."""
        return PERSONAL_VARIABLE_CHARS if self.account_type == PERSONAL else None

    @property
    def carries_replies(self) -> bool:
        """Whether a reply can go through the reply template at all (not with 6 characters a variable)."""
        return self.account_type != PERSONAL

    @property
    def signature_chars(self) -> int:
        """How many characters the signature adds to each message (with its 【】; 0 when there is none)."""
        return len(self.signature) + 2 if self.signature else 0

    @property
    def reply_overhead(self) -> int:
        """The characters every reply message spends before its answer: signature and template text."""
        return self.signature_chars + len(REPLY_PREFIX)

    @property
    def reply_part_chars(self) -> int:
        """The most answer characters one reply message carries."""
        room = min(self.message_chars, self.reply_chars) - self.reply_overhead
        return min(room, self.variable_chars) if self.variable_chars is not None else room

    @property
    def reply_text_chars(self) -> int:
        """The most answer characters a whole reply carries (in as many messages as the cap and the message limit
        allow), for renderers that fit an answer before it is split."""
        best = 0
        for count in range(1, 11):
            room = min(self.reply_chars - count * self.reply_overhead, count * self.reply_part_chars)
            best = max(best, room)
        return best


def without_links(text: str) -> str:
    """The text with every link (http://…, https://…, www.…) removed: a variable may not carry one."""
    return re.sub(r"[ \t]{2,}", " ", _LINK.sub("", text))


def _reply_parts(text: str, limits: TemplateLimits) -> list[str] | None:
    """The text split into reply variables, or None when the pieces would exceed the per-reply cap."""
    parts = split_clean(text, limits.reply_part_chars)
    total = sum(limits.reply_overhead + len(part) for part in parts)
    return parts if total <= limits.reply_chars else None


def _fitted(text: str, limits: TemplateLimits) -> list[str]:
    if (parts := _reply_parts(text, limits)) is not None:
        return parts
    best: list[str] = []
    low, high = 1, len(text)
    while low <= high:  # the longest clean prefix that fits, marked "…" where it was cut
        middle = (low + high) // 2
        head = split_clean(text, middle)[0].rstrip(_CUT_PUNCTUATION) + _ELLIPSIS
        if (parts := _reply_parts(head, limits)) is not None:
            best, low = parts, middle + 1
        else:
            high = middle - 1
    return best


def reply_messages(text_or_segments: str | Sequence[str], limits: TemplateLimits) -> list[SmsMessage]:
    """A reply as reply-template messages within `limits`: one long SMS when the whole reply fits one send (it
    nearly always does), else split at clean boundaries into as few messages as the message limit needs; cut at a
    clean boundary and marked "…" when it exceeds the per-reply cap. Segments are joined by newlines as one reply;
    links are removed.
    Raises `RepliesNotSupported` for an account whose variables cannot carry an answer."""
    if not limits.carries_replies:
        raise RepliesNotSupported(
            f"a {limits.account_type} account allows {limits.variable_chars} characters a variable: replies need an "
            "enterprise or government account (SMS_TENCENT_ACCOUNT_TYPE=enterprise)"
        )
    text = text_or_segments if isinstance(text_or_segments, str) else "\n".join(text_or_segments)
    text = without_links(text)
    return [SmsMessage(REPLY, (part,), fill(REPLY_TEMPLATE, (part,))) for part in _fitted(text.strip(), limits)]


def case_update_message(case_id: str, progress: str, limits: TemplateLimits) -> SmsMessage:
    """The case-update notification: `CASE_UPDATE_TEMPLATE` with the case number and the progress (the progress
    cut at a clean boundary, marked "…", when the message would exceed one send). For a personal account the
    fixed `PERSONAL_CASE_UPDATE`, whose one variable is the progress when it fits (a status such as 处理中 or
    已办结), else 有新留言: the worker calls 0951-12333 or asks by SMS for the rest."""
    case_id, progress = case_id.strip(), " ".join(without_links(progress).split()).rstrip("。")
    if not case_id or not progress:
        raise ValueError("a case update needs the case number and the progress")
    if limits.variable_chars is not None:
        status = progress if len(progress) <= limits.variable_chars else PERSONAL_NEWS
        return SmsMessage(CASE_UPDATE, (status,), fill(PERSONAL_CASE_UPDATE, (status,)))
    room = limits.message_chars - limits.signature_chars - len(fill(CASE_UPDATE_TEMPLATE, (case_id, "")))
    if room < 1:
        raise ValueError("the case number is too long for one SMS")
    if len(progress) > room:
        progress = split_clean(progress, room - 1)[0].rstrip(_CUT_PUNCTUATION) + _ELLIPSIS
    params = (case_id, progress)
    return SmsMessage(CASE_UPDATE, params, fill(CASE_UPDATE_TEMPLATE, params))
