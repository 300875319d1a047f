"""WeChat Official Account (公众号) channel: message push in, passive replies and customer-service messages out.

Served at `/webhooks/wechat/webhook` (Rasa prefixes `/webhooks/<name()>/`); registered in credentials.yml as
`channels.wechat.WeChatInput` with `token`, `app_id`, `app_secret`, `encoding_aes_key` (optional: when set, AES
"safe mode" messages are accepted) and `api_base` (the WeChat API; tests point it at a local server).

Every request, GET or POST, must carry a valid `signature` (SHA-1 of the sorted token, timestamp and nonce; AES
messages also a valid `msg_signature`), compared in constant time: otherwise 403 and nothing else happens. Bodies are
capped (413) and parsed with defusedxml, which refuses DTDs and entities (billion laughs, XXE): 400. Only then does
wechatpy turn the XML into a message.

A text message becomes a turn of the assistant with the user's OpenID as sender id. WeChat waits 5 s for the answer
and retries up to twice, so the turn runs as a task: if it finishes within `reply_deadline` (4 s), its reply goes back
passively in the HTTP response; otherwise the response is `success` and the reply follows through the customer-service
API (`CustomerServiceClient`). Retries of one message (same MsgId; events: sender + CreateTime) never run the turn
again: they get the finished reply if it is ready and was not already handed to the customer-service API, `success`
otherwise. That memory is per process and kept 5 minutes (WeChat stops retrying after ~15 s); with several Rasa
replicas behind one URL, route by OpenID so retries reach the same process.

Rendering: texts in order, buttons as a numbered menu ("回复1 …") whose digit replies are mapped back to the button's
payload (menus are kept in the app store for 30 minutes), the "来源：" line last, custom payloads as nothing. A reply
over ~2,000 bytes is split at clean boundaries: the first part is the passive reply, the rest follows as
customer-service messages. Subscribing gets a welcome and the assistant's topic menu; images, voice without speech
recognition, locations and other media get a polite text asking for words instead.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from xml.etree.ElementTree import ParseError

import aiohttp
import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy import parse_message as wechatpy_parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.replies import TextReply
from wechatpy.utils import WeChatSigner

from bot.privacy import redact_incoming
from channels._config import ChannelConfigError, channel_environment, check_values, is_production
from channels._http import BodyTooLarge, client_session, close_client_session, read_body
from channels._render import (
    CollectingOutput,
    Reply,
    collect_reply,
    menu_lines,
    menu_number,
    split_clean,
    utf8_len,
)
from channels._state import state_and_gate

__all__ = [
    "WeChatInput",
    "WeChatOutput",
    "WeChatPushOutput",
    "CustomerServiceClient",
    "customer_service_from_env",
    "WeChatApiError",
    "CustomerServiceWindowClosed",
    "InboundMessage",
    "MalformedMessage",
    "parse_message",
    "render_reply",
    "xml_safe",
    "DEFAULT_API_BASE",
]

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.weixin.qq.com"
MAX_BODY_BYTES = 64 * 1024  # WeChat's pushes are a few hundred bytes; 64 KiB leaves room and stops abuse
REPLY_DEADLINE_SECONDS = 4.0  # WeChat gives up at 5 s
PASSIVE_REPLY_MAX_BYTES = 2000
TURN_MEMORY_SECONDS = 300.0
MENU_TTL = timedelta(minutes=30)
WELCOME_PAYLOAD = "/ask_capabilities"  # the user "asks" what the assistant can do: its answer is the topic menu

WELCOME = "欢迎关注宁夏农民工政策助手！"
UNSUPPORTED_REPLIES = {
    "image": "收到您的图片了，不过我暂时看不懂图片。请用文字说说您想问什么，比如“社保怎么转到宁夏”。也可以打 0951-12333 问人工。",
    "voice": "我暂时听不了语音，请打字问我，比如“欠工钱了咋办”。也可以打 0951-12333 问人工。",
    "location": "收到您的位置了。请用文字说说您想问哪方面的政策，比如落户、社保、讨要工钱。",
    "other": "这种消息我暂时看不了。请用文字说说您想问什么，也可以打 0951-12333 问人工。",
}
TURN_FAILED_REPLY = "抱歉，系统出了点问题，请稍后再试，或拨打 0951-12333 咨询。"
_MEDIA_TYPES = {"image": "image", "video": "image", "shortvideo": "image", "voice": "voice", "location": "location"}

# errcode values of the WeChat API (developers.weixin.qq.com/doc/offiaccount/Getting_Started/Global_Return_Code.html)
_TOKEN_INVALID = {40001, 40014, 42001}  # invalid, malformed or expired access token: fetch a new one and retry once
WINDOW_EXPIRED = 45015  # the user has not written for 48 h: customer-service messages are refused


# ---------------------------------------------------------------------------------------------------------------------
# Customer-service API


class WeChatApiError(Exception):
    """The WeChat API answered with an error code."""

    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class CustomerServiceWindowClosed(WeChatApiError):
    """45015: the user's last message is more than 48 hours old, so WeChat refuses customer-service messages."""


class CustomerServiceClient:
    """Sends customer-service (客服) text messages, with one cached access token per client.

    The token comes from `cgi-bin/stable_token` (normal mode): unlike `cgi-bin/token`, fetching it does not invalidate
    the token another process (the console, another replica) holds, so every process can keep its own cache. It is
    refreshed before it expires (at the later of expiry − 5 min and half its lifetime), fetched once however many
    requests need it at the same moment (an asyncio lock), and fetched again once if WeChat calls it invalid.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        app_id: str,
        app_secret: str,
        api_base: str = DEFAULT_API_BASE,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.app_id = app_id
        self._app_secret = app_secret
        self.api_base = api_base.rstrip("/")
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        self.token_fetches = 0

    async def _post(self, path: str, payload: dict, params: dict | None = None) -> dict:
        # ensure_ascii=False: the API shows \uXXXX escapes literally instead of the characters.
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        async with self.session.post(
            f"{self.api_base}{path}",
            data=body,
            params=params,
            headers={"Content-Type": "application/json; charset=utf-8"},
        ) as answer:
            answer.raise_for_status()
            data = await answer.json(content_type=None)
        if not isinstance(data, dict):
            raise WeChatApiError(-1, f"unexpected answer from {path}")
        return data

    async def access_token(self) -> str:
        """A valid access token, from the cache or freshly fetched."""
        if self._token and self._clock() < self._refresh_at:
            return self._token
        async with self._lock:
            if self._token and self._clock() < self._refresh_at:  # another request fetched it while we waited
                return self._token
            data = await self._post(
                "/cgi-bin/stable_token",
                {
                    "grant_type": "client_credential",
                    "appid": self.app_id,
                    "secret": self._app_secret,
                    "force_refresh": False,
                },
            )
            if not data.get("access_token"):
                raise WeChatApiError(int(data.get("errcode") or -1), str(data.get("errmsg") or "no access_token"))
            lifetime = float(data.get("expires_in") or 7200)
            self._token = str(data["access_token"])
            self._refresh_at = self._clock() + max(lifetime - 300, lifetime / 2)
            self.token_fetches += 1
            logger.info("wechat: fetched an access token (valid %d s)", lifetime)
            return self._token

    def _forget(self, token: str) -> None:
        if self._token == token:
            self._token = None

    async def send_text(self, openid: str, text: str) -> None:
        """Send one text message to `openid`; raises `CustomerServiceWindowClosed` (45015) or `WeChatApiError`."""
        for attempt in range(2):
            token = await self.access_token()
            data = await self._post(
                "/cgi-bin/message/custom/send",
                {"touser": openid, "msgtype": "text", "text": {"content": text}},
                params={"access_token": token},
            )
            errcode = int(data.get("errcode") or 0)
            if errcode == 0:
                return
            if errcode in _TOKEN_INVALID and attempt == 0:
                logger.warning("wechat: access token refused (%s); fetching a new one", errcode)
                self._forget(token)
                continue
            if errcode == WINDOW_EXPIRED:
                logger.warning(
                    "wechat: customer-service message to %s refused with 45015: the user's last message is older "
                    "than 48 hours, so this reply cannot be delivered",
                    openid,
                )
                raise CustomerServiceWindowClosed(errcode, str(data.get("errmsg") or ""))
            raise WeChatApiError(errcode, str(data.get("errmsg") or ""))


def customer_service_from_env(
    session: aiohttp.ClientSession, env: dict[str, str] | None = None
) -> CustomerServiceClient:
    """A `CustomerServiceClient` configured from WECHAT_APP_ID, WECHAT_APP_SECRET and WECHAT_API_BASE (the console
    uses this for operator replies; one client per process, so one cached token)."""
    settings_env = channel_environment(env)
    values = {name: settings_env.get(name, "") for name in ("WECHAT_APP_ID", "WECHAT_APP_SECRET")}
    check_values("wechat", values, required=("WECHAT_APP_ID", "WECHAT_APP_SECRET"), production=is_production(env))
    return CustomerServiceClient(
        session,
        values["WECHAT_APP_ID"],
        values["WECHAT_APP_SECRET"],
        settings_env.get("WECHAT_API_BASE") or DEFAULT_API_BASE,
    )


# ---------------------------------------------------------------------------------------------------------------------
# Parsing and rendering (pure functions)


class MalformedMessage(ValueError):
    """The body is not a WeChat message we can read (answer 400)."""


@dataclass(frozen=True)
class InboundMessage:
    """What the channel needs from one pushed message or event."""

    kind: str  # text, image, voice, video, shortvideo, location, link, event, ...
    openid: str  # FromUserName: the user, our sender id
    account: str  # ToUserName: our official account
    create_time: int
    msg_id: int = 0  # 0 for events
    content: str = ""  # text: the content; voice: WeChat's speech recognition, when enabled
    event: str = ""  # subscribe, unsubscribe, click, ...
    event_key: str = ""

    @property
    def dedupe_key(self) -> str:
        """MsgId for messages; FromUserName + CreateTime for events (which have no MsgId)."""
        return f"msg:{self.msg_id}" if self.msg_id else f"event:{self.openid}:{self.create_time}"


def _safe_root(xml: bytes | str):
    try:
        return SafeET.fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError, ValueError) as error:
        raise MalformedMessage(f"unreadable XML: {type(error).__name__}") from None


def parse_message(xml: bytes | str) -> InboundMessage:
    """Parse a (decrypted) pushed message. defusedxml validates it first (no DTD, no entities, well-formed, root
    `<xml>`), so wechatpy's own parser then reads a document that cannot expand anything."""
    root = _safe_root(xml)
    if root.tag != "xml" or root.find("MsgType") is None or root.find("FromUserName") is None:
        raise MalformedMessage("not a WeChat message (needs <xml> with MsgType and FromUserName)")
    text = xml.decode("utf-8") if isinstance(xml, bytes) else xml
    try:
        message = wechatpy_parse_message(text)
        kind = str(message.type or "unknown")
        openid = str(message.source or "")
        parsed = InboundMessage(
            kind=kind,
            openid=openid,
            account=str(message.target or ""),
            create_time=int(message.time or 0),
            msg_id=int(getattr(message, "id", 0) or 0),
            content=str(getattr(message, "content", None) or getattr(message, "recognition", None) or ""),
            event=str(getattr(message, "event", "") or "") if kind == "event" else "",
            event_key=str(getattr(message, "key", None) or getattr(message, "scene_id", None) or ""),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise MalformedMessage(f"unreadable message fields: {type(error).__name__}") from None
    if not openid or len(openid) > 128:
        raise MalformedMessage("FromUserName missing or too long")
    return parsed


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """Text that survives wechatpy's `<![CDATA[…]]>`: no characters XML forbids, and "]]>" split across two CDATA
    sections (an echo of the user's words must not be able to close the element)."""
    return _XML_INVALID.sub("", text).replace("]]>", "]]]]><![CDATA[>")


def render_reply(reply: Reply, *, prefix: str = "", limit_bytes: int = PASSIVE_REPLY_MAX_BYTES) -> list[str]:
    """The reply as WeChat text messages of at most `limit_bytes` each: texts, the numbered menu, the source lines
    last; split at clean boundaries (never inside a number) when too long. Custom payloads render as nothing."""
    parts = [prefix, "\n\n".join(reply.texts), "\n".join(menu_lines(reply.buttons)), "\n".join(reply.source_lines)]
    return split_clean("\n\n".join(part for part in parts if part), limit_bytes, utf8_len)


# ---------------------------------------------------------------------------------------------------------------------
# The channel


class WeChatOutput(CollectingOutput):
    """Collects one turn's messages for the passive reply (or the customer-service messages that replace it)."""

    @classmethod
    def name(cls) -> str:
        return "wechat"


class WeChatPushOutput(OutputChannel):
    """Sends each message at once as customer-service messages: the output Rasa uses outside a user's turn
    (`get_output_channel()`, e.g. `POST /conversations/<id>/trigger_intent?output_channel=latest`)."""

    def __init__(self, channel: WeChatInput) -> None:
        self.channel = channel

    @classmethod
    def name(cls) -> str:
        return "wechat"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.channel._send_customer_service(recipient_id, render_reply(collect_reply([{"text": text}])))

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict], **kwargs: Any) -> None:
        reply = collect_reply([{"text": text, "buttons": buttons}])
        await self.channel._remember_menu(recipient_id, reply)
        await self.channel._send_customer_service(recipient_id, render_reply(reply))

    async def send_custom_json(self, recipient_id: str, json_message: dict, **kwargs: Any) -> None:
        pass  # machine-readable payloads have no WeChat form

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        pass


@dataclass
class _Turn:
    """One message's turn, shared by WeChat's retries of that message."""

    task: asyncio.Future
    started: float
    async_delivery: bool = False  # the reply goes (went) out through the customer-service API
    overflow_sent: bool = False


def _valid_aes_key(key: str) -> bool:
    try:
        return len(key) == 43 and len(base64.b64decode(key + "=", validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def _signature(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def _same(expected: str, given: str | None) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), (given or "").encode("utf-8"))


class WeChatInput(InputChannel):
    """WeChat Official Account input channel (see the module docstring for the protocol)."""

    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WeChatInput:
        if not credentials:
            cls.raise_missing_credentials_exception()
        values = {
            "WECHAT_TOKEN": credentials.get("token"),
            "WECHAT_APP_ID": credentials.get("app_id"),
            "WECHAT_APP_SECRET": credentials.get("app_secret"),
        }
        check_values("wechat", values, required=tuple(values), production=is_production())
        return cls(
            token=str(values["WECHAT_TOKEN"]),
            app_id=str(values["WECHAT_APP_ID"]),
            app_secret=str(values["WECHAT_APP_SECRET"]),
            encoding_aes_key=str(credentials.get("encoding_aes_key") or ""),
            api_base=str(credentials.get("api_base") or DEFAULT_API_BASE),
            reply_deadline=float(credentials.get("reply_deadline") or REPLY_DEADLINE_SECONDS),
        )

    def __init__(
        self,
        token: str,
        app_id: str,
        app_secret: str,
        encoding_aes_key: str = "",
        api_base: str = DEFAULT_API_BASE,
        *,
        reply_deadline: float = REPLY_DEADLINE_SECONDS,
        db_url: str | None = None,
        intercept: Callable[[str, str, str], Awaitable[bool]] | None = None,
        customer_service: CustomerServiceClient | None = None,
        welcome_payload: str = WELCOME_PAYLOAD,
    ) -> None:
        if not token:
            raise ChannelConfigError("the wechat channel needs a token (WECHAT_TOKEN)")
        if encoding_aes_key and not _valid_aes_key(encoding_aes_key):
            raise ChannelConfigError("WECHAT_ENCODING_AES_KEY must be the 43-character EncodingAESKey of the account")
        self.token = token
        self.app_id = app_id
        self.app_secret = app_secret
        self.api_base = api_base
        self.reply_deadline = reply_deadline
        self.crypto = WeChatCrypto(token, encoding_aes_key, app_id) if encoding_aes_key else None
        self.welcome_payload = welcome_payload
        self.state, self._intercept = state_and_gate(db_url, intercept)
        self._customer_service = customer_service
        self._turns: dict[str, _Turn] = {}
        self._background: set[asyncio.Future] = set()

    # -- outbound ----------------------------------------------------------------------------------------------

    def get_output_channel(self) -> WeChatPushOutput:
        return WeChatPushOutput(self)

    def customer_service(self) -> CustomerServiceClient:
        """This process's customer-service client (created in the running loop on first use)."""
        if self._customer_service is None:
            self._customer_service = CustomerServiceClient(
                client_session(), self.app_id, self.app_secret, self.api_base
            )
        return self._customer_service

    async def _send_customer_service(self, openid: str, chunks: list[str]) -> None:
        for chunk in chunks:
            try:
                await self.customer_service().send_text(openid, chunk)
            except CustomerServiceWindowClosed:
                return  # logged by the client; the rest would be refused too
            except (TimeoutError, WeChatApiError, aiohttp.ClientError) as error:
                logger.error("wechat: customer-service message to %s failed: %s", openid, error)
                return

    def _spawn(self, coroutine: Awaitable) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- verification ------------------------------------------------------------------------------------------

    def _signed(self, request: Request) -> bool:
        args = request.args
        timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
        return bool(timestamp and nonce) and _same(_signature(self.token, timestamp, nonce), args.get("signature"))

    def _decrypt(self, request: Request, body: bytes) -> bytes:
        """The inner XML of an AES message, after checking msg_signature in constant time."""
        if self.crypto is None:
            raise MalformedMessage("encrypted message, but WECHAT_ENCODING_AES_KEY is not configured")
        root = _safe_root(body)
        encrypt = root.findtext("Encrypt")
        if root.tag != "xml" or not encrypt:
            raise MalformedMessage("encrypted message without <Encrypt>")
        args = request.args
        timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
        if not _same(_signature(self.token, timestamp, nonce, encrypt), args.get("msg_signature")):
            raise PermissionError("bad msg_signature")
        try:
            plain = self.crypto.decrypt_message({"Encrypt": encrypt}, args.get("msg_signature"), timestamp, nonce)
        except InvalidAppIdException:
            raise PermissionError("message encrypted for another AppID") from None
        except Exception as error:  # bad base64, padding or length: wechatpy raises whatever the bytes cause
            raise MalformedMessage(f"cannot decrypt: {type(error).__name__}") from None
        return plain.encode("utf-8")

    # -- the turn ----------------------------------------------------------------------------------------------

    async def _run_turn(
        self, message: InboundMessage, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> list[str]:
        """Everything one message causes, run once per message: the chunks of the reply (empty: say nothing).
        Never raises: WeChat's retries share this result, so a failure becomes an apology, not a 500 per retry."""
        try:
            return await self._turn_chunks(message, on_new_message)
        except Exception:
            logger.exception("wechat: the turn for %s failed", message.dedupe_key)
            return [TURN_FAILED_REPLY]

    async def _menu_choice(self, openid: str, number: int) -> str | None:
        try:
            return await asyncio.to_thread(self.state.menu_choice, self.name(), openid, number)
        except Exception as error:  # a menu is a convenience: without the store the digit goes through as text
            logger.warning("wechat: could not read the menu of %s: %s", openid, error)
            return None

    async def _remember_menu(self, openid: str, reply: Reply) -> None:
        try:
            await asyncio.to_thread(
                self.state.remember_menu, self.name(), openid, [button.payload for button in reply.buttons], MENU_TTL
            )
        except Exception as error:
            logger.warning("wechat: could not remember the menu of %s: %s", openid, error)

    async def _turn_chunks(
        self, message: InboundMessage, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> list[str]:
        started = time.monotonic()
        prefix = ""
        if message.kind == "text" or (message.kind == "voice" and message.content):
            text = redact_incoming(message.content.strip())
            if not text:
                return []
            if await self._intercept(self.name(), message.openid, text):
                logger.info("wechat: message %s from %s handed to the operator", message.dedupe_key, message.openid)
                return []
            user_text = text
            if (number := menu_number(text)) is not None:
                user_text = await self._menu_choice(message.openid, number) or text
        elif message.kind == "event" and message.event in ("subscribe", "subscribe_scan"):
            prefix, user_text = WELCOME, self.welcome_payload
        elif message.kind == "event" and message.event == "click" and message.event_key.startswith("/"):
            user_text = message.event_key  # a custom-menu button whose key is an intent payload
        elif message.kind == "event":
            return []  # unsubscribe, scans, menu views...: nothing to answer
        else:
            reply = UNSUPPORTED_REPLIES[_MEDIA_TYPES.get(message.kind, "other")]
            if await self._intercept(self.name(), message.openid, f"[{message.kind}]"):
                return []
            return [reply]

        output = WeChatOutput()
        await on_new_message(
            UserMessage(
                user_text,
                output,
                message.openid,
                input_channel=self.name(),
                message_id=message.dedupe_key,
                metadata={"wechat_msg_type": message.kind},
            )
        )
        reply = output.reply()
        await self._remember_menu(message.openid, reply)
        chunks = render_reply(reply, prefix=prefix)
        logger.info(
            "wechat: turn %s for %s done in %.2f s (%d part(s))",
            message.dedupe_key,
            message.openid,
            time.monotonic() - started,
            len(chunks),
        )
        logger.debug("wechat: reply to %s: %r", message.openid, chunks)
        return chunks

    def _forget_old_turns(self, now: float) -> None:
        for key in [key for key, turn in self._turns.items() if now - turn.started > TURN_MEMORY_SECONDS]:
            del self._turns[key]

    async def _deliver_later(self, message: InboundMessage, turn: _Turn) -> None:
        chunks = await turn.task
        if chunks:
            logger.info(
                "wechat: turn %s missed the passive deadline; sending %d customer-service message(s)",
                message.dedupe_key,
                len(chunks),
            )
            await self._send_customer_service(message.openid, chunks)

    async def _answer(self, message: InboundMessage, on_new_message, received: float) -> str | None:
        """The passive reply's text for this delivery of `message`, or None for `success`."""
        now = time.monotonic()
        self._forget_old_turns(now)
        turn = self._turns.get(message.dedupe_key)
        if turn is None:
            turn = _Turn(asyncio.ensure_future(self._run_turn(message, on_new_message)), now)
            self._turns[message.dedupe_key] = turn
        else:
            logger.info(
                "wechat: repeated delivery of %s from %s; the turn runs once", message.dedupe_key, message.openid
            )
        if turn.async_delivery:
            return None
        remaining = self.reply_deadline - (time.monotonic() - received)
        try:
            chunks = await asyncio.wait_for(asyncio.shield(turn.task), timeout=max(remaining, 0))
        except TimeoutError:
            if not turn.async_delivery:
                turn.async_delivery = True
                self._spawn(self._deliver_later(message, turn))
            return None
        if turn.async_delivery or not chunks:
            return None
        if len(chunks) > 1 and not turn.overflow_sent:
            turn.overflow_sent = True
            self._spawn(self._send_overflow(message.openid, chunks[1:]))
        return chunks[0]

    async def _send_overflow(self, openid: str, chunks: list[str]) -> None:
        await asyncio.sleep(0.5)  # let the passive part arrive first
        await self._send_customer_service(openid, chunks)

    # -- HTTP --------------------------------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        from bot.safety_net import with_safety_net

        on_new_message = with_safety_net(on_new_message)  # a turn that produced nothing still gets an answer
        wechat_webhook = Blueprint("wechat_webhook", __name__)

        @wechat_webhook.listener("before_server_start")
        async def open_session(_app, _loop) -> None:
            client_session()

        @wechat_webhook.listener("after_server_stop")
        async def close_session(_app, _loop) -> None:
            await close_client_session()

        @wechat_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "encrypted_mode": self.crypto is not None})

        @wechat_webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            """WeChat's server check: echo `echostr` when the signature is right."""
            if not self._signed(request):
                logger.warning("wechat: verification request with a bad signature")
                return response.text("forbidden", status=403)
            echostr = request.args.get("echostr")
            if not echostr:
                return response.text("echostr missing", status=400)
            return response.text(echostr)

        @wechat_webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            received = time.monotonic()
            if not self._signed(request):
                logger.warning("wechat: message with a missing or bad signature refused")
                return response.text("forbidden", status=403)
            try:
                body = await read_body(request, MAX_BODY_BYTES)
            except BodyTooLarge:
                logger.warning("wechat: body over %d bytes refused", MAX_BODY_BYTES)
                return response.text("payload too large", status=413)
            encrypted = request.args.get("encrypt_type", "raw") == "aes"
            try:
                xml = self._decrypt(request, body) if encrypted else body
                message = parse_message(xml)
            except PermissionError as error:
                logger.warning("wechat: encrypted message refused: %s", error)
                return response.text("forbidden", status=403)
            except MalformedMessage as error:
                logger.warning("wechat: malformed message refused: %s", error)
                return response.text("bad request", status=400)
            logger.info("wechat: %s %s from %s", message.kind, message.dedupe_key, message.openid)
            text = await self._answer(message, on_new_message, received)
            if text is None:
                return response.text("success")
            reply = TextReply(source=message.account, target=message.openid, content=xml_safe(text)).render()
            if encrypted:
                reply = self.crypto.encrypt_message(reply, request.args.get("nonce"), request.args.get("timestamp"))
            return response.text(reply, content_type="application/xml; charset=utf-8")

        return wechat_webhook
