"""Inbound SMS callbacks: their authentication and parsing (pure functions).

Two forms share the webhook URL, each authenticated before its body is parsed (constant-time comparisons):

- **generic JSON** `{"from": "13800001234", "text": "…", "msg_id": "…"}` with headers `X-Timestamp` (UNIX seconds)
  and `X-Signature` = hex HMAC-SHA256, keyed with SMS_WEBHOOK_SECRET, of `"<X-Timestamp>."` followed by the raw body
  (`sign_body`). A timestamp more than 5 minutes from our clock is refused (`STALE`), so a captured callback cannot
  be replayed once its message key is forgotten;
- **Tencent Cloud SMS 上行 (reply) callback** `{"mobile", "nationcode", "text", "sign", "time", "extend"}`. Tencent
  signs nothing in this callback, so the callback URL configured in Tencent's console carries a token:
  `…/webhooks/sms/webhook?token=<tencent_callback_token(SMS_WEBHOOK_SECRET)>` (print it with
  `python -m channels.sms callback-token`). The token is derived from the secret (HMAC of a fixed label), so a URL
  that leaks through access logs does not reveal the key that signs the generic form. It is a bearer credential,
  so production also allows only Tencent's callback addresses at the proxy and keeps the token out of access logs
  (docs/nginx-scale-out.conf). It has no message id: the de-duplication key is a hash of number, time and text.

Tencent's **status report (状态报告) callback** is a JSON list of `{"sid", "mobile", "nationcode", "report_status"
("SUCCESS" or "FAIL"), "errmsg", "description", "user_receive_time"}`, posted to `…/webhooks/sms/report` with the same
`?token=` (or, from another gateway, signed like the generic form). `parse_tencent_reports` reads it into
`DeliveryReport`s; `sid` is the `SerialNo` that `SendSms` returned for the message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from channels._base import verify_equal
from nlu.text import to_half_width

__all__ = [
    "MAX_CLOCK_SKEW_SECONDS",
    "MAX_REPORTS",
    "MAX_TEXT_CHARS",
    "OPT_IN_WORDS",
    "OPT_OUT_WORDS",
    "STALE",
    "DeliveryReport",
    "InboundSms",
    "MalformedSms",
    "authenticate",
    "keyword",
    "mainland_mobile",
    "normalize_phone",
    "parse",
    "parse_generic",
    "parse_tencent",
    "parse_tencent_reports",
    "sign_body",
    "tencent_callback_token",
]

MAX_TEXT_CHARS = 1000
MAX_REPORTS = 1000  # status reports in one callback
MAX_CLOCK_SKEW_SECONDS = 300
STALE = "stale"  # what `authenticate` says of a correctly signed generic callback whose timestamp is too old (or new)
OPT_OUT_WORDS = {"退订", "TD", "STOP"}
OPT_IN_WORDS = {"订阅", "START"}
_TENCENT_TOKEN_LABEL = b"tencent-sms-callback"


class MalformedSms(ValueError):
    """The callback body is not a message we can read (answer 400)."""


@dataclass(frozen=True)
class InboundSms:
    """One inbound SMS: the sender's number (our sender id), the text, and the key that de-duplicates it."""

    phone: str
    text: str
    key: str
    form: str  # "generic" or "tencent"


@dataclass(frozen=True)
class DeliveryReport:
    """One delivery report: the provider's message id, whether the phone received it, and why not (or the
    provider's success code), with the number (for masked logs) and the time the provider gave, as it gave it."""

    provider_id: str
    delivered: bool
    reason: str
    phone: str
    received_at: str


def sign_body(secret: str, body: bytes, timestamp: int | str) -> str:
    """The generic form's `X-Signature`: hex HMAC-SHA256, keyed with the webhook secret, of `"<timestamp>."` and the
    raw body (the timestamp is the request's `X-Timestamp`, UNIX seconds)."""
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def tencent_callback_token(secret: str) -> str:
    """The `token` query parameter of the Tencent callback URL, derived from SMS_WEBHOOK_SECRET."""
    return hmac.new(secret.encode("utf-8"), _TENCENT_TOKEN_LABEL, hashlib.sha256).hexdigest()[:40]


def authenticate(
    secret: str, headers: Mapping[str, str], args: Mapping[str, Any], body: bytes, *, now: float
) -> str | None:
    """Which form an authenticated request uses ("generic" or "tencent"), `STALE` for a correctly signed generic
    callback whose `X-Timestamp` is more than 5 minutes from `now`, or None. Both credentials are hex, written by
    another system: compared ignoring case and surrounding spaces."""
    if (signature := headers.get("x-signature")) is not None:
        timestamp = (headers.get("x-timestamp") or "").strip()
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return None  # unsigned time: the old body-only signature is refused, or it could be replayed forever
        if not verify_equal(sign_body(secret, body, timestamp), signature, hex_digest=True):
            return None
        return "generic" if abs(now - int(timestamp)) <= MAX_CLOCK_SKEW_SECONDS else STALE
    if (token := args.get("token")) is not None:
        return "tencent" if verify_equal(tencent_callback_token(secret), token, hex_digest=True) else None
    return None


def normalize_phone(raw: Any, nationcode: Any = "86") -> str:
    """The sender id for a number: 11 digits for a Chinese mobile (+86/0086/86 prefixes dropped), else
    +<country code><number>. Raises `MalformedSms` for anything that is not a phone number."""
    if not isinstance(raw, (str, int)) or not isinstance(nationcode, (str, int)):
        raise MalformedSms("phone number must be a string")
    digits = re.sub(r"[\s\-()]", "", str(raw))
    code = re.sub(r"\D", "", str(nationcode)) or "86"
    if digits.startswith("+"):
        digits = digits[1:]
        code = ""
    elif digits.startswith("00"):
        digits, code = digits[2:], ""
    if not digits.isdigit():
        raise MalformedSms("phone number has non-digits")
    if not code:  # the number carries its own country code
        if digits.startswith("86") and len(digits) == 13 and digits[2] == "1":
            return digits[2:]
        if not 6 <= len(digits) <= 15:
            raise MalformedSms("phone number has a bad length")
        return f"+{digits}"
    if code == "86":
        if len(digits) == 13 and digits.startswith("861"):
            digits = digits[2:]
        if len(digits) == 11 and digits.startswith("1"):
            return digits
        raise MalformedSms("not an 11-digit Chinese mobile number")
    if not 4 <= len(digits) <= 13:
        raise MalformedSms("phone number has a bad length")
    return f"+{code}{digits}"


_MAINLAND_MOBILE = re.compile(r"(?:\+?86)?(1[3-9]\d{9})")


def mainland_mobile(number: str) -> str | None:
    """The 11-digit form of a mainland China mobile number (1[3-9] and 9 digits, with or without +86), else None.
    Outbound SMS goes only to these: no international numbers (SMS pumping), no landlines or service numbers."""
    match = _MAINLAND_MOBILE.fullmatch(number.strip().removeprefix("sms:")) if isinstance(number, str) else None
    return match.group(1) if match else None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise MalformedSms("text must be a string")
    text = value.strip()
    if not text:
        raise MalformedSms("empty text")
    if len(text) > MAX_TEXT_CHARS:
        raise MalformedSms(f"text longer than {MAX_TEXT_CHARS} characters")
    return text


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedSms("body is not UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise MalformedSms("body is not a JSON object")
    return data


def parse_generic(body: bytes) -> InboundSms:
    """`{"from", "text", "msg_id"}` → InboundSms (key: the msg_id)."""
    data = _json_object(body)
    msg_id = data.get("msg_id")
    if (
        not isinstance(msg_id, (str, int))
        or isinstance(msg_id, bool)
        or not str(msg_id).strip()
        or len(str(msg_id)) > 100
    ):
        raise MalformedSms("msg_id must be a non-empty string of at most 100 characters")
    return InboundSms(
        normalize_phone(data.get("from")), _text(data.get("text")), f"generic:{str(msg_id).strip()}", "generic"
    )


def parse_tencent(body: bytes) -> InboundSms:
    """Tencent's reply callback `{"mobile", "nationcode", "text", "sign", "time", "extend"}` → InboundSms (key: a hash
    of country code, number, time and text, since the callback carries no message id)."""
    data = _json_object(body)
    phone = normalize_phone(data.get("mobile"), data.get("nationcode") or "86")
    text = _text(data.get("text"))
    sent_at = data.get("time")
    if not isinstance(sent_at, int) or isinstance(sent_at, bool):
        raise MalformedSms("time must be a UNIX timestamp")
    digest = hashlib.sha256(f"{phone}|{sent_at}|{text}".encode()).hexdigest()[:40]
    return InboundSms(phone, text, f"tencent:{digest}", "tencent")


def parse(form: str, body: bytes) -> InboundSms:
    """Parse an authenticated body of `form` ("generic" or "tencent")."""
    return parse_generic(body) if form == "generic" else parse_tencent(body)


def keyword(text: str) -> str:
    """The text as a possible keyword (退订, TD, 订阅, ...): half-width, no spaces or trailing punctuation, upper case."""
    return re.sub(r"[\s。.！!，,]", "", to_half_width(text)).upper()


def _report(entry: Any) -> DeliveryReport:
    if not isinstance(entry, dict):
        raise MalformedSms("a status report is not a JSON object")
    sid, status = entry.get("sid"), entry.get("report_status")
    if not isinstance(sid, str) or not sid.strip() or len(sid) > 100:
        raise MalformedSms("a status report's sid must be a non-empty string of at most 100 characters")
    if status not in ("SUCCESS", "FAIL"):
        raise MalformedSms("a status report's report_status must be SUCCESS or FAIL")
    details = [str(entry.get(name) or "").strip()[:200] for name in ("errmsg", "description")]
    try:
        phone = normalize_phone(entry.get("mobile"), entry.get("nationcode") or "86")
    except MalformedSms:
        phone = ""  # the id names the message; the number is only for the log
    received_at = entry.get("user_receive_time")
    return DeliveryReport(
        sid.strip(),
        status == "SUCCESS",
        "：".join(detail for detail in details if detail),
        phone,
        received_at.strip()[:40] if isinstance(received_at, str) else "",
    )


def parse_tencent_reports(body: bytes) -> tuple[list[DeliveryReport], int]:
    """Tencent's status-report callback (a JSON list; one object is read as a list of one) → the reports and how
    many entries were unreadable (skipped: one bad entry must not make Tencent retry the good ones forever).
    Raises `MalformedSms` for a body that is not such a list at all."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedSms("body is not UTF-8 JSON") from None
    entries = [data] if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise MalformedSms("body is not a list of status reports")
    if len(entries) > MAX_REPORTS:
        raise MalformedSms(f"more than {MAX_REPORTS} status reports in one callback")
    reports, skipped = [], 0
    for entry in entries:
        try:
            reports.append(_report(entry))
        except MalformedSms:
            skipped += 1
    if entries and not reports:
        raise MalformedSms("no readable status report (each needs sid and report_status SUCCESS or FAIL)")
    return reports, skipped
