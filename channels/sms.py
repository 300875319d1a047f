"""SMS channel: inbound provider callbacks, outbound messages through a provider, opt-out honoured.

Served at `/webhooks/sms/webhook`; registered in credentials.yml as `channels.sms.SmsInput` with `webhook_secret`
(`SMS_WEBHOOK_SECRET`). Two inbound forms share the URL, each authenticated before its body is parsed (constant-time
comparisons; unauthenticated → 403, malformed → 400, over 16 KiB → 413):

- **generic JSON** `{"from": "13800001234", "text": "…", "msg_id": "…"}` with header `X-Signature` = hex HMAC-SHA256
  of the raw body, keyed with SMS_WEBHOOK_SECRET;
- **Tencent Cloud SMS 上行 (reply) callback** `{"mobile", "nationcode", "text", "sign", "time", "extend"}`. Tencent
  signs nothing in this callback, so the callback URL configured in Tencent's console carries a token:
  `…/webhooks/sms/webhook?token=<tencent_callback_token(SMS_WEBHOOK_SECRET)>` (print it with
  `python -m channels.sms callback-token`). The token is derived from the secret (HMAC of a fixed label), so a URL
  that leaks through access logs does not reveal the key that signs the generic form. It has no message id: the
  de-duplication key is a hash of number, time and text.

The phone number is the sender id (Chinese mobiles as 11 digits, others as +<country><number>); logs show it masked.
Each message id is claimed in the app store before anything else, so a provider's retry — even after our restart —
never runs a turn twice. 退订 / TD / STOP alone opt the number out: recorded durably, confirmed once, and from then on
nothing reaches the assistant and nothing is sent; 订阅 / START alone opts back in (the user's explicit request, like a
carrier's resubscribe keyword) with one confirmation.

Replies: texts, a numbered menu for buttons (digit replies map back to the payload; menus kept 24 h in the app
store), the source line last and shortened when needed; at most 3 segments of 67 characters, split at clean
boundaries, never inside a number or phone number ("0951-12333" stays whole). Each segment is sent as its own
message through the provider: `OutboxProvider` (development default: a JSON line per message in
var/sms-outbox.jsonl) or `TencentSmsProvider` (Tencent Cloud SMS API, TC3-HMAC-SHA256 signed, over aiohttp).
`provider_from_env(session)` builds the configured one; the console reuses it for operator replies.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from yarl import URL

from bot.privacy import redact_incoming
from channels._config import ChannelConfigError, channel_environment, check_values, is_production
from channels._http import BodyTooLarge, client_session, close_client_session, read_body
from channels._render import (
    CollectingOutput,
    Reply,
    collect_reply,
    menu_lines,
    menu_number,
    shorten_source,
    split_clean,
)
from channels._state import OPTED_OUT, SUBSCRIBED, ChannelState, state_and_gate
from nlu.extract import mask_phone
from nlu.text import to_half_width

__all__ = [
    "SmsInput",
    "SmsOutput",
    "SmsPushOutput",
    "SmsProvider",
    "OutboxProvider",
    "TencentSmsProvider",
    "OptOutGuard",
    "SmsSendError",
    "SmsOptedOut",
    "provider_from_env",
    "check_provider_config",
    "InboundSms",
    "MalformedSms",
    "parse_generic",
    "parse_tencent",
    "render_sms",
    "normalize_phone",
    "tencent_callback_token",
    "tc3_authorization",
    "sign_body",
]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
MAX_TEXT_CHARS = 1000
SEGMENT_CHARS = 67  # characters per segment of a long (UCS-2) SMS
MAX_SEGMENTS = 3
MENU_TTL = timedelta(hours=24)  # SMS users answer a menu much later than chat users
KEEP_MESSAGE_KEYS = timedelta(days=30)
OPT_OUT_WORDS = {"退订", "TD", "STOP"}
OPT_IN_WORDS = {"订阅", "START"}
OPT_OUT_CONFIRMATION = "您已退订，本号码将不再收到本服务的短信。如需恢复，请回复“订阅”。"
OPT_IN_CONFIRMATION = "您已恢复订阅，可以直接发短信提问，比如“欠工钱了咋办”。回复“退订”可退订。"
DEFAULT_TENCENT_API_BASE = "https://sms.tencentcloudapi.com"
DEFAULT_TENCENT_REGION = "ap-guangzhou"
_TENCENT_TOKEN_LABEL = b"tencent-sms-callback"
_CONTENT_TYPE = "application/json; charset=utf-8"


# ---------------------------------------------------------------------------------------------------------------------
# Outbound: providers


class SmsSendError(Exception):
    """The provider did not accept a message."""

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
        record = {"to": to, "text": text, "time": datetime.now(UTC).isoformat(timespec="seconds")}
        await asyncio.to_thread(self._append, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))


def _hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def tc3_authorization(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    payload: bytes,
    timestamp: int,
    content_type: str = _CONTENT_TYPE,
) -> str:
    """The `Authorization` header of a Tencent Cloud API 3.0 POST request, signed with TC3-HMAC-SHA256
    (cloud.tencent.com/document/api/213/30654: canonical request → string to sign → key derived from the date and
    service → signature). Signs content-type and host."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical_request = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{content_type}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            str(timestamp),
            scope,
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )
    key = _hmac_sha256(_hmac_sha256(_hmac_sha256(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}"


def _e164(to: str) -> str:
    return to if to.startswith("+") else f"+86{to}"


class TencentSmsProvider:
    """Tencent Cloud SMS `SendSms` (API version 2021-01-11) over aiohttp.

    Chinese SMS may only be sent with an approved signature (签名) and template (模板): configure a template whose
    whole body is one variable ({1}); each message is sent as that template with the text as its parameter.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        secret_id: str,
        secret_key: str,
        sdk_app_id: str,
        sign_name: str,
        template_id: str,
        api_base: str = DEFAULT_TENCENT_API_BASE,
        region: str = DEFAULT_TENCENT_REGION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.secret_id = secret_id
        self._secret_key = secret_key
        self.sdk_app_id = sdk_app_id
        self.sign_name = sign_name
        self.template_id = template_id
        self.url = URL(api_base.rstrip("/") + "/")
        self.region = region
        self._clock = clock

    @property
    def host(self) -> str:
        """The Host header, as signed: the host, with the port only when it is not the scheme's default."""
        return self.url.host if self.url.is_default_port() else f"{self.url.host}:{self.url.port}"

    async def send(self, to: str, text: str) -> None:
        payload = json.dumps(
            {
                "PhoneNumberSet": [_e164(to)],
                "SmsSdkAppId": self.sdk_app_id,
                "SignName": self.sign_name,
                "TemplateId": self.template_id,
                "TemplateParamSet": [text],
            },
            ensure_ascii=False,
        ).encode("utf-8")
        timestamp = int(self._clock())
        headers = {
            "Authorization": tc3_authorization(
                secret_id=self.secret_id,
                secret_key=self._secret_key,
                service="sms",
                host=self.host,
                payload=payload,
                timestamp=timestamp,
            ),
            "Content-Type": _CONTENT_TYPE,
            "Host": self.host,
            "X-TC-Action": "SendSms",
            "X-TC-Version": "2021-01-11",
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": self.region,
        }
        async with self.session.post(self.url, data=payload, headers=headers) as answer:
            answer.raise_for_status()
            data = await answer.json(content_type=None)
        result = data.get("Response") if isinstance(data, dict) else None
        if not isinstance(result, dict):
            raise SmsSendError("unexpected answer from Tencent Cloud SMS")
        if error := result.get("Error"):
            raise SmsSendError(
                f"Tencent Cloud SMS refused the request: {error.get('Code')}: {error.get('Message')}",
                str(error.get("Code") or ""),
            )
        statuses = result.get("SendStatusSet") or []
        status = statuses[0] if statuses and isinstance(statuses[0], dict) else {}
        if status.get("Code") != "Ok":
            raise SmsSendError(
                f"Tencent Cloud SMS did not send: {status.get('Code')}: {status.get('Message')}",
                str(status.get("Code") or ""),
            )


class OptOutGuard:
    """Wraps a provider so that nothing is sent to a number that opted out (raises `SmsOptedOut`)."""

    def __init__(self, provider: SmsProvider, state: ChannelState) -> None:
        self.provider = provider
        self.state = state

    async def send(self, to: str, text: str) -> None:
        if await asyncio.to_thread(self.state.is_opted_out, to):
            raise SmsOptedOut(f"{mask_phone(to)} opted out of SMS")
        await self.provider.send(to, text)


_TENCENT_VARIABLES = (
    "SMS_TENCENT_SECRET_ID",
    "SMS_TENCENT_SECRET_KEY",
    "SMS_TENCENT_SDK_APP_ID",
    "SMS_TENCENT_SIGN_NAME",
    "SMS_TENCENT_TEMPLATE_ID",
)


def check_provider_config(env: Mapping[str, str] | None = None) -> str:
    """The configured provider's name ("outbox" or "tencent"), or `ChannelConfigError` naming what is missing."""
    full_env = channel_environment(env)
    kind = (full_env.get("SMS_PROVIDER") or "").strip().lower()
    if kind == "tencent":
        values = {name: full_env.get(name, "") for name in _TENCENT_VARIABLES}
        check_values("sms", values, required=_TENCENT_VARIABLES, production=is_production(env))
    elif not kind:
        raise ChannelConfigError("SMS_PROVIDER is not set (outbox or tencent); production has no default")
    elif kind != "outbox":
        raise ChannelConfigError(f"unknown SMS_PROVIDER {kind!r} (outbox or tencent)")
    return kind


def provider_from_env(
    session: aiohttp.ClientSession, env: Mapping[str, str] | None = None, *, respect_opt_outs: bool = True
) -> SmsProvider:
    """The provider SMS_PROVIDER names ("outbox", the development default, or "tencent" with SMS_TENCENT_*),
    wrapped in `OptOutGuard` unless `respect_opt_outs=False` (the channel checks opt-outs itself)."""
    from bot.settings import Settings

    full_env = channel_environment(env)
    settings = Settings.from_env(full_env)
    kind = check_provider_config(env)
    if kind == "outbox":
        provider: SmsProvider = OutboxProvider(settings.var_dir / "sms-outbox.jsonl")
    else:
        provider = TencentSmsProvider(
            session,
            secret_id=full_env["SMS_TENCENT_SECRET_ID"],
            secret_key=full_env["SMS_TENCENT_SECRET_KEY"],
            sdk_app_id=full_env["SMS_TENCENT_SDK_APP_ID"],
            sign_name=full_env["SMS_TENCENT_SIGN_NAME"],
            template_id=full_env["SMS_TENCENT_TEMPLATE_ID"],
            api_base=full_env.get("SMS_TENCENT_API_BASE") or DEFAULT_TENCENT_API_BASE,
            region=full_env.get("SMS_TENCENT_REGION") or DEFAULT_TENCENT_REGION,
        )
    return OptOutGuard(provider, ChannelState(settings.app_db_url)) if respect_opt_outs else provider


# ---------------------------------------------------------------------------------------------------------------------
# Inbound: authentication and parsing (pure functions)


class MalformedSms(ValueError):
    """The callback body is not a message we can read (answer 400)."""


@dataclass(frozen=True)
class InboundSms:
    """One inbound SMS: the sender's number (our sender id), the text, and the key that de-duplicates it."""

    phone: str
    text: str
    key: str
    form: str  # "generic" or "tencent"


def sign_body(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of a raw body with the webhook secret: the generic form's `X-Signature`."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def tencent_callback_token(secret: str) -> str:
    """The `token` query parameter of the Tencent callback URL, derived from SMS_WEBHOOK_SECRET."""
    return hmac.new(secret.encode("utf-8"), _TENCENT_TOKEN_LABEL, hashlib.sha256).hexdigest()[:40]


def _same(expected: str, given: str | None) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), (given or "").strip().lower().encode("utf-8"))


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


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise MalformedSms("text must be a string")
    text = value.strip()
    if not text:
        raise MalformedSms("empty text")
    if len(text) > MAX_TEXT_CHARS:
        raise MalformedSms(f"text longer than {MAX_TEXT_CHARS} characters")
    return text


def _json_object(body: bytes) -> dict:
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


def _keyword(text: str) -> str:
    """The text as a possible keyword: half-width, no spaces or trailing punctuation, upper case."""
    return re.sub(r"[\s。.！!，,]", "", to_half_width(text)).upper()


# ---------------------------------------------------------------------------------------------------------------------
# Rendering (pure)


def render_sms(reply: Reply, *, max_segments: int = MAX_SEGMENTS, segment_chars: int = SEGMENT_CHARS) -> list[str]:
    """The reply as at most `max_segments` messages of at most `segment_chars` characters: texts, the numbered menu,
    then the (first) source line. When it does not fit, the source line is shortened first (document number), then
    the texts are cut at a clean boundary and marked "…"; the menu and the source line are always kept."""
    menu = "\n".join(menu_lines(reply.buttons))
    body = "\n".join(reply.texts)
    sources = (
        [reply.source_lines[0], shorten_source(reply.source_lines[0], reply.customs)] if reply.source_lines else [""]
    )

    def compose(text: str, source: str) -> list[str]:
        return split_clean("\n".join(part for part in (text, menu, source) if part), segment_chars)

    for source in sources:
        segments = compose(body, source)
        if len(segments) <= max_segments:
            return segments
    source = sources[-1]
    best: list[str] | None = None
    low, high = 1, len(body)
    while low <= high:  # the longest clean prefix of the texts that still fits
        middle = (low + high) // 2
        segments = compose(split_clean(body, middle)[0].rstrip("，、；：,;:。！？!?") + "…", source)
        if len(segments) <= max_segments:
            best, low = segments, middle + 1
        else:
            high = middle - 1
    return best or compose("", source)[:max_segments]


# ---------------------------------------------------------------------------------------------------------------------
# The channel


class SmsOutput(CollectingOutput):
    """Collects one turn's messages; the channel renders them into SMS segments and sends them."""

    @classmethod
    def name(cls) -> str:
        return "sms"


class SmsPushOutput(OutputChannel):
    """Sends each message at once (rendered and cut like a reply), never to a number that opted out: the output Rasa
    uses outside a user's turn (`get_output_channel()`, e.g. `trigger_intent?output_channel=latest`)."""

    def __init__(self, channel: SmsInput) -> None:
        self.channel = channel

    @classmethod
    def name(cls) -> str:
        return "sms"

    async def _send(self, recipient_id: str, message: dict) -> None:
        if await asyncio.to_thread(self.channel.state.is_opted_out, recipient_id):
            logger.info("sms: message to opted-out %s not sent", mask_phone(recipient_id))
            return
        reply = collect_reply([message])
        await self.channel._remember_menu(recipient_id, reply)
        await self.channel._send(recipient_id, self.channel._render(reply))

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._send(recipient_id, {"text": text})

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict], **kwargs: Any) -> None:
        await self._send(recipient_id, {"text": text, "buttons": buttons})

    async def send_custom_json(self, recipient_id: str, json_message: dict, **kwargs: Any) -> None:
        pass  # machine-readable payloads have no SMS form

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        pass


class SmsInput(InputChannel):
    """SMS input channel (see the module docstring for the protocol)."""

    @classmethod
    def name(cls) -> str:
        return "sms"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> SmsInput:
        if not credentials:
            cls.raise_missing_credentials_exception()
        secret = credentials.get("webhook_secret")
        check_values(
            "sms", {"SMS_WEBHOOK_SECRET": secret}, required=("SMS_WEBHOOK_SECRET",), production=is_production()
        )
        check_provider_config()  # fail at start-up, not on the first message, when delivery is misconfigured
        return cls(str(secret), segment_chars=int(credentials.get("segment_chars") or SEGMENT_CHARS))

    def __init__(
        self,
        webhook_secret: str,
        *,
        provider: SmsProvider | None = None,
        db_url: str | None = None,
        intercept: Callable[[str, str, str], Awaitable[bool]] | None = None,
        max_segments: int = MAX_SEGMENTS,
        segment_chars: int = SEGMENT_CHARS,
    ) -> None:
        if not webhook_secret:
            raise ChannelConfigError("the sms channel needs a webhook secret (SMS_WEBHOOK_SECRET)")
        self._secret = webhook_secret
        self._tencent_token = tencent_callback_token(webhook_secret)
        self._provider = provider
        self.state, self._intercept = state_and_gate(db_url, intercept)
        self.max_segments = max_segments
        self.segment_chars = segment_chars

    def get_output_channel(self) -> SmsPushOutput:
        return SmsPushOutput(self)

    def provider(self) -> SmsProvider:
        """The outbound provider (built from the environment in the running loop on first use)."""
        if self._provider is None:
            self._provider = provider_from_env(client_session(), respect_opt_outs=False)
        return self._provider

    # -- authentication ----------------------------------------------------------------------------------------

    def _authenticate(self, request: Request, body: bytes) -> str | None:
        """Which form an authenticated request uses ("generic" or "tencent"), or None."""
        if (signature := request.headers.get("x-signature")) is not None:
            return "generic" if _same(sign_body(self._secret, body), signature) else None
        if (token := request.args.get("token")) is not None:
            return "tencent" if _same(self._tencent_token, token) else None
        return None

    # -- processing --------------------------------------------------------------------------------------------

    async def _send(self, phone: str, segments: list[str]) -> int:
        sent = 0
        for segment in segments:
            try:
                await self.provider().send(phone, segment)
                sent += 1
            except (TimeoutError, SmsSendError, aiohttp.ClientError, OSError) as error:
                logger.error("sms: sending to %s failed: %s", mask_phone(phone), error)
                break
        return sent

    async def _turn(self, sms: InboundSms, on_new_message) -> list[str]:
        """Run the assistant's turn for `sms`; the reply's segments (remembering its menu)."""
        text = sms.text
        if (number := menu_number(text)) is not None:
            try:
                text = await asyncio.to_thread(self.state.menu_choice, self.name(), sms.phone, number) or text
            except Exception as error:  # a menu is a convenience: without it the digit goes through as text
                logger.warning("sms: could not read the menu of %s: %s", mask_phone(sms.phone), error)
        output = SmsOutput()
        await on_new_message(
            UserMessage(
                text, output, sms.phone, input_channel=self.name(), message_id=sms.key, metadata={"sms_form": sms.form}
            )
        )
        reply = output.reply()
        await self._remember_menu(sms.phone, reply)
        return self._render(reply)

    def _render(self, reply: Reply) -> list[str]:
        return render_sms(reply, max_segments=self.max_segments, segment_chars=self.segment_chars)

    async def _remember_menu(self, phone: str, reply: Reply) -> None:
        try:
            await asyncio.to_thread(
                self.state.remember_menu, self.name(), phone, [button.payload for button in reply.buttons], MENU_TTL
            )
        except Exception as error:  # a menu is a convenience: without it a digit reply goes through as text
            logger.warning("sms: could not remember the menu of %s: %s", mask_phone(phone), error)

    async def _process(self, sms: InboundSms, on_new_message) -> str:
        """Handle one authenticated, parsed SMS exactly once; a status word for the response."""
        sms = dataclasses.replace(sms, text=redact_incoming(sms.text))
        masked = mask_phone(sms.phone)
        if not await asyncio.to_thread(self.state.claim_message, self.name(), sms.key):
            logger.info("sms: duplicate delivery of %s from %s ignored", sms.key, masked)
            return "duplicate"
        turn_ran = False
        try:
            word = _keyword(sms.text)
            if word in OPT_OUT_WORDS:
                if await asyncio.to_thread(self.state.set_subscription, sms.phone, OPTED_OUT, word):
                    logger.info("sms: %s opted out (%s)", masked, word)
                    await self._send(sms.phone, [OPT_OUT_CONFIRMATION])
                status = "opted_out"
            elif await asyncio.to_thread(self.state.is_opted_out, sms.phone):
                if word in OPT_IN_WORDS:
                    await asyncio.to_thread(self.state.set_subscription, sms.phone, SUBSCRIBED, word)
                    logger.info("sms: %s opted back in (%s)", masked, word)
                    await self._send(sms.phone, [OPT_IN_CONFIRMATION])
                    status = "opted_in"
                else:
                    logger.info("sms: message from opted-out %s not answered", masked)
                    status = "ignored_opted_out"
            elif await self._intercept(self.name(), sms.phone, sms.text):
                logger.info("sms: message %s from %s handed to the operator", sms.key, masked)
                status = "taken_over"
            else:
                started = time.monotonic()
                segments = await self._turn(sms, on_new_message)
                turn_ran = True
                if await asyncio.to_thread(self.state.is_opted_out, sms.phone):
                    segments = []  # opted out while the turn ran
                sent = await self._send(sms.phone, segments)
                logger.info(
                    "sms: turn %s for %s done in %.2f s; %d of %d segment(s) sent",
                    sms.key,
                    masked,
                    time.monotonic() - started,
                    sent,
                    len(segments),
                )
                logger.debug("sms: reply to %s: %r", masked, segments)
                status = "answered"
        except Exception:
            if not turn_ran:  # let the provider's retry run it
                await asyncio.to_thread(self.state.release_message, self.name(), sms.key)
            raise
        await asyncio.to_thread(self.state.finish_message, self.name(), sms.key)
        return status

    # -- HTTP --------------------------------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        from bot.safety_net import with_safety_net

        # a turn that produced nothing still gets an answer; one that raised is released for the provider's retry
        on_new_message = with_safety_net(on_new_message, reraise=True)
        sms_webhook = Blueprint("sms_webhook", __name__)

        @sms_webhook.listener("before_server_start")
        async def start(_app, _loop) -> None:
            client_session()
            try:
                pruned = await asyncio.to_thread(self.state.prune_messages, KEEP_MESSAGE_KEYS)
                if pruned:
                    logger.info("sms: forgot %d processed-message keys older than %s", pruned, KEEP_MESSAGE_KEYS)
            except Exception as error:  # the store may not be migrated yet in odd set-ups; messages will say so
                logger.warning("sms: could not prune old message keys: %s", error)

        @sms_webhook.listener("after_server_stop")
        async def stop(_app, _loop) -> None:
            await close_client_session()

        @sms_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sms_webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = await read_body(request, MAX_BODY_BYTES)
            except BodyTooLarge:
                logger.warning("sms: body over %d bytes refused", MAX_BODY_BYTES)
                return response.json({"error": "payload too large"}, status=413)
            form = self._authenticate(request, body)
            if form is None:
                logger.warning("sms: unauthenticated callback refused")
                return response.json({"error": "forbidden"}, status=403)
            try:
                sms = parse_generic(body) if form == "generic" else parse_tencent(body)
            except MalformedSms as error:
                logger.warning("sms: malformed %s callback refused: %s", form, error)
                if form == "tencent":
                    return response.json({"result": 1, "errmsg": str(error)}, status=400)
                return response.json({"error": str(error)}, status=400)
            try:
                status = await self._process(sms, on_new_message)
            except Exception:
                logger.exception("sms: processing %s failed", sms.key)
                if form == "tencent":
                    return response.json({"result": 1, "errmsg": "internal error"}, status=500)
                return response.json({"error": "internal error"}, status=500)
            if form == "tencent":
                return response.json({"result": 0, "errmsg": "OK"})
            return response.json({"status": status})

        return sms_webhook


def _main(argv: list[str]) -> int:
    if argv[:1] != ["callback-token"]:
        print("usage: python -m channels.sms callback-token   (the token for Tencent's reply-callback URL)")
        return 2
    secret = channel_environment().get("SMS_WEBHOOK_SECRET", "")
    if not secret:
        print("SMS_WEBHOOK_SECRET is not set", file=sys.stderr)
        return 1
    print(f"/webhooks/sms/webhook?token={tencent_callback_token(secret)}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
