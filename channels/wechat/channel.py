"""The Rasa input and output channels of the WeChat Official Account (公众号): `WeChatInput`, `WeChatOutput`,
`WeChatPushOutput`.

A text message becomes a turn of the assistant in the conversation `wechat:<OpenID>` (`bot.conversation_ids`). WeChat waits 5 s for the answer
and retries up to twice, so the turn runs as a task: if it finishes within `reply_deadline` (4 s), its reply goes back
passively in the HTTP response; otherwise the response is `success` and the reply follows through the customer-service
API. Retries of one message (same MsgId; events: sender + CreateTime) never run the turn again: the message is claimed
in the app store, so a retry reaching another replica, or this one after a restart, is answered from the store (the
finished passive reply, or `success`); in the process that runs the turn, retries share the running task.
A TEMPLATESENDJOBFINISH event (WeChat's report on a template message: a case notification sent outside the 48-hour
window) runs no turn: it goes to the delivery log (`on_report`, by default `bot.deliveries.reporter`).

Before anything is read, a push must be signed, its timestamp within ±5 minutes, its (timestamp, nonce) never seen
before (remembered in the app store: a URL copied from an access log cannot be replayed, on any replica), and, when
an EncodingAESKey is configured, encrypted (`encrypt_type=aes` with a valid `msg_signature`: plain pushes are
refused, since the plain signature does not cover the body). Otherwise: 403. A sender over its rate limit gets a
polite passive text (never an error, which WeChat would retry).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy.crypto import WeChatCrypto
from wechatpy.replies import TextReply

from bot.conversation_ids import address, conversation_id
from bot.deliveries import OnReport, reporter
from bot.settings import Settings
from channels._base import Intercept, MenuChannel, OnNewMessage, PushOutput, TurnRequest, WebhookLimits, redact
from channels._config import ChannelConfigError, check_values, credentials_and_settings
from channels._http import BodyTooLarge, client_session, close_client_session, read_body
from channels._render import CollectingOutput, Reply
from channels._state import state_and_gate
from channels.wechat.api import DEFAULT_API_BASE, CustomerServiceClient, CustomerServiceWindowClosed, WeChatApiError
from channels.wechat.inbound import (
    MAX_CLOCK_SKEW_SECONDS,
    InboundMessage,
    MalformedMessage,
    decrypt,
    is_fresh,
    is_signed,
    nonce_key,
    parse_message,
    valid_aes_key,
)
from channels.wechat.render import (
    RATE_LIMITED_REPLY,
    TURN_FAILED_REPLY,
    WELCOME,
    render_reply,
    unsupported_reply,
    xml_safe,
)

__all__ = ["WeChatInput", "WeChatOutput", "WeChatPushOutput", "MAX_BODY_BYTES", "REPLY_DEADLINE_SECONDS"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # WeChat's pushes are a few hundred bytes; 64 KiB leaves room and stops abuse
REPLY_DEADLINE_SECONDS = 4.0  # WeChat gives up at 5 s
TURN_MEMORY_SECONDS = 300.0
MENU_TTL = timedelta(minutes=30)
KEEP_MESSAGE_KEYS = timedelta(hours=1)  # WeChat retries within ~15 s; a push older than 5 min is refused anyway
PRUNE_EVERY_SECONDS = 60.0
STORE_POLL_SECONDS = 0.2
WELCOME_PAYLOAD = "/ask_capabilities"  # the user "asks" what the assistant can do: its answer is the topic menu


class WeChatOutput(CollectingOutput):
    """Collects one turn's messages for the passive reply (or the customer-service messages that replace it)."""

    @classmethod
    def name(cls) -> str:
        return "wechat"


class WeChatPushOutput(PushOutput):
    """Sends each message at once as customer-service messages: the output Rasa uses outside a user's turn."""

    @classmethod
    def name(cls) -> str:
        return "wechat"


@dataclass
class _Turn:
    """One message's turn, shared by WeChat's retries of that message."""

    task: asyncio.Future[list[str]]
    started: float
    async_delivery: bool = False  # the reply goes (went) out through the customer-service API
    overflow_sent: bool = False
    recorded: bool = False  # the outcome (passive reply or "success") is in the app store for other processes


class WeChatInput(MenuChannel, InputChannel):
    """WeChat Official Account input channel, served at `/webhooks/wechat/` (see `channels.wechat`)."""

    log = logger
    menu_ttl = MENU_TTL

    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None, *, settings: Settings | None = None) -> WeChatInput:
        """The channel from credentials.yml; `settings` default to the process's (`bot.settings.current()`)."""
        credentials, settings = credentials_and_settings(cls, credentials, settings)
        values = {
            "WECHAT_TOKEN": credentials.get("token"),
            "WECHAT_APP_ID": credentials.get("app_id"),
            "WECHAT_APP_SECRET": credentials.get("app_secret"),
        }
        check_values("wechat", values, required=tuple(values), production=settings.production)
        return cls(
            token=str(values["WECHAT_TOKEN"]),
            app_id=str(values["WECHAT_APP_ID"]),
            app_secret=str(values["WECHAT_APP_SECRET"]),
            encoding_aes_key=str(credentials.get("encoding_aes_key") or ""),
            api_base=str(credentials.get("api_base") or DEFAULT_API_BASE),
            reply_deadline=float(credentials.get("reply_deadline") or REPLY_DEADLINE_SECONDS),
            db_url=settings.app_db_url,
            limits=WebhookLimits.from_env(settings.env),
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
        intercept: Intercept | None = None,
        customer_service: CustomerServiceClient | None = None,
        welcome_payload: str = WELCOME_PAYLOAD,
        limits: WebhookLimits | None = None,
        clock: Callable[[], float] = time.time,
        on_report: OnReport | None = None,
    ) -> None:
        if not token:
            raise ChannelConfigError("the wechat channel needs a token (WECHAT_TOKEN)")
        if encoding_aes_key and not valid_aes_key(encoding_aes_key):
            raise ChannelConfigError("WECHAT_ENCODING_AES_KEY must be the 43-character EncodingAESKey of the account")
        self.token = token
        self.app_id = app_id
        self.app_secret = app_secret
        self.api_base = api_base
        self.reply_deadline = reply_deadline
        self.crypto = WeChatCrypto(token, encoding_aes_key, app_id) if encoding_aes_key else None
        self.welcome_payload = welcome_payload
        self.state, self.intercept = state_and_gate(db_url, intercept)
        # Template messages' delivery reports (TEMPLATESENDJOBFINISH) go to the delivery log (bot.deliveries).
        self.on_report = on_report or reporter(self.state.store, "wechat")
        self._customer_service = customer_service
        self.limits = limits or WebhookLimits()
        self._clock = clock
        self._turns: dict[str, _Turn] = {}
        self._background: set[asyncio.Future[Any]] = set()
        self._next_prune = 0.0

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

    def render(self, reply: Reply) -> list[str]:
        """The reply as customer-service text messages (see `render_reply`)."""
        return render_reply(reply)

    async def deliver(self, sender_id: str, parts: list[str]) -> int:
        """Send parts as customer-service messages to the OpenID of conversation `sender_id` (`wechat:<openid>`);
        stops at the first refusal (the rest would be refused too)."""
        openid = address("wechat", sender_id)
        sent = 0
        for part in parts:
            try:
                await self.customer_service().send_text(openid, part)
            except CustomerServiceWindowClosed:
                break  # logged by the client
            except (TimeoutError, WeChatApiError, aiohttp.ClientError) as error:
                logger.error("wechat: customer-service message to %s failed: %s", sender_id, error)
                break
            sent += 1
        return sent

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- the turn ----------------------------------------------------------------------------------------------

    async def _run_turn(self, message: InboundMessage, on_new_message: OnNewMessage) -> list[str]:
        """Everything one message causes, run once per message: the chunks of the reply (empty: say nothing).
        Never raises: WeChat's retries share this result, so a failure becomes an apology, not a 500 per retry."""
        try:
            return await self._turn_chunks(message, on_new_message)
        except Exception:
            logger.exception("wechat: the turn for %s failed", message.dedupe_key)
            return [TURN_FAILED_REPLY]

    async def _turn_chunks(self, message: InboundMessage, on_new_message: OnNewMessage) -> list[str]:
        started = time.monotonic()
        prefix = ""
        output = WeChatOutput()
        reply: Reply | None
        conversation = conversation_id("wechat", message.openid)

        def request(text: str) -> TurnRequest:
            return TurnRequest(conversation, text, message.dedupe_key, {"wechat_msg_type": message.kind})

        if message.kind == "text" or (message.kind == "voice" and message.content):
            text = redact(message.content.strip())
            if not text:
                return []
            reply = await self.converse(on_new_message, output, request(text))
            if reply is None:
                return []
        elif message.kind == "event" and message.event in ("subscribe", "subscribe_scan"):
            prefix = WELCOME
            reply = await self.turn(on_new_message, output, request(self.welcome_payload))
        elif message.kind == "event" and message.event == "click" and message.event_key.startswith("/"):
            # a custom-menu button whose key is an intent payload
            reply = await self.turn(on_new_message, output, request(message.event_key))
        elif message.kind == "event" and message.event == "templatesendjobfinish":
            await self.template_report(message)
            return []
        elif message.kind == "event":
            return []  # unsubscribe, scans, menu views...: nothing to answer
        else:
            if await self.taken_over(conversation, f"[{message.kind}]"):
                return []
            return [unsupported_reply(message.kind)]
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

    async def template_report(self, message: InboundMessage) -> None:
        """WeChat's report on a template message (a case notification): `Status` success, or failed with why
        ("failed:user block": the user refused the account's messages; "failed: system failed")."""
        status = message.status.strip()
        delivered = status == "success"
        try:
            await asyncio.to_thread(self.on_report, str(message.msg_id), delivered, status)
        except Exception:  # a report that cannot be written is not worth a WeChat retry storm: logged
            logger.exception("wechat: could not record the report on template message %s", message.msg_id)
            return
        logger.info("wechat: template message %s reported %s", message.msg_id, status or "?")

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
            await self.deliver(conversation_id("wechat", message.openid), chunks)

    async def _answer(self, message: InboundMessage, on_new_message: OnNewMessage, received: float) -> str | None:
        """The passive reply's text for this delivery of `message`, or None for `success`."""
        now = time.monotonic()
        self._forget_old_turns(now)
        turn = self._turns.get(message.dedupe_key)  # retries in this process share the running turn
        if turn is None:
            if not self.sender_allowed(message.openid):
                return RATE_LIMITED_REPLY
            if not await self.claim(message.dedupe_key):  # another process ran it, or this one before a restart
                logger.info(
                    "wechat: repeated delivery of %s from %s, claimed elsewhere; the turn runs once",
                    message.dedupe_key,
                    message.openid,
                )
                return await self._answer_from_store(message, received)
            turn = self._turns.get(message.dedupe_key)  # a retry may have claimed it while we waited for the store
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
            await self._record(message, turn, None)
            return None
        if turn.async_delivery or not chunks:
            await self._record(message, turn, None)
            return None
        if len(chunks) > 1 and not turn.overflow_sent:
            turn.overflow_sent = True
            self._spawn(self._send_overflow(conversation_id("wechat", message.openid), chunks[1:]))
        await self._record(message, turn, chunks[0])
        return chunks[0]

    async def _record(self, message: InboundMessage, turn: _Turn, reply: str | None) -> None:
        """Store the message's outcome once, for retries that reach another process (a failure is logged: this
        process still answers its own retries)."""
        if turn.recorded:
            return
        turn.recorded = True
        try:
            await self.finish(message.dedupe_key, reply)
        except Exception as error:
            logger.error("wechat: could not record the outcome of %s: %s", message.dedupe_key, type(error).__name__)

    async def _answer_from_store(self, message: InboundMessage, received: float) -> str | None:
        """A retry of a message another process claimed: its stored passive reply once it has one, `success` when
        the reply went out asynchronously or is not ready before our own deadline."""
        while True:
            outcome = await asyncio.to_thread(self.state.message_outcome, self.name(), message.dedupe_key)
            if outcome is not None and outcome[0] != "processing":
                return outcome[1]
            if time.monotonic() - received + STORE_POLL_SECONDS >= self.reply_deadline:
                return None
            await asyncio.sleep(STORE_POLL_SECONDS)

    def _prune_soon(self) -> None:
        """Forget old nonces and message keys, at most once a minute per process, in the background."""
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY_SECONDS
        self._spawn(self._prune())

    async def _prune(self) -> None:
        signed_before = datetime.fromtimestamp(self._clock() - MAX_CLOCK_SKEW_SECONDS - 60, UTC)
        try:
            await asyncio.to_thread(self.state.prune_nonces, signed_before)
            await asyncio.to_thread(self.state.prune_messages, KEEP_MESSAGE_KEYS, self.name())
        except Exception as error:
            logger.warning("wechat: could not prune old nonces and message keys: %s", type(error).__name__)

    async def _first_use(self, args: Any) -> bool:
        """Record the push's (timestamp, nonce); False when it was seen before (a replayed request)."""
        self._prune_soon()
        signed_at = datetime.fromtimestamp(int(args.get("timestamp")), UTC)
        return await asyncio.to_thread(self.state.remember_nonce, self.name(), nonce_key(args), signed_at)

    async def _send_overflow(self, conversation: str, chunks: list[str]) -> None:
        await asyncio.sleep(0.5)  # let the passive part arrive first
        await self.deliver(conversation, chunks)

    # -- HTTP --------------------------------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[..., Awaitable[Any]]) -> Blueprint:
        """`GET /` health, `GET /webhook` WeChat's server check, `POST /webhook` pushed messages."""
        from bot.safety_net import with_safety_net

        on_new_message = with_safety_net(on_new_message)  # a turn that produced nothing still gets an answer
        wechat_webhook = Blueprint("wechat_webhook", __name__)

        @wechat_webhook.listener("before_server_start")
        async def open_session(_app: Any, _loop: Any) -> None:
            client_session()

        @wechat_webhook.listener("after_server_stop")
        async def close_session(_app: Any, _loop: Any) -> None:
            await close_client_session()

        @wechat_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @wechat_webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            """WeChat's server check: echo `echostr` when the signature is right and fresh."""
            if not self.address_allowed(request):
                return response.text("too many requests", status=429)
            if not is_signed(self.token, request.args) or not is_fresh(request.args, self._clock()):
                logger.warning("wechat: verification request with a bad or stale signature")
                return response.text("forbidden", status=403)
            echostr = request.args.get("echostr")
            if not echostr:
                return response.text("echostr missing", status=400)
            return response.text(echostr)

        @wechat_webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            received = time.monotonic()
            if not self.address_allowed(request):
                return response.text("success")  # an error would make WeChat retry into the same limit
            if not is_signed(self.token, request.args):
                logger.warning("wechat: message with a missing or bad signature refused")
                return response.text("forbidden", status=403)
            if not is_fresh(request.args, self._clock()):
                logger.warning("wechat: message with a stale timestamp refused (more than 5 minutes off)")
                return response.text("forbidden", status=403)
            encrypted = request.args.get("encrypt_type", "raw") == "aes"
            if self.crypto is not None and not (encrypted and request.args.get("msg_signature")):
                logger.warning("wechat: plain message refused: the account is in safe (AES) mode")
                return response.text("forbidden", status=403)
            try:
                body = await read_body(request, MAX_BODY_BYTES)
            except BodyTooLarge:
                logger.warning("wechat: body over %d bytes refused", MAX_BODY_BYTES)
                return response.text("payload too large", status=413)
            try:
                xml = decrypt(self.crypto, self.token, request.args, body) if encrypted else body
                message = parse_message(xml)
            except PermissionError as error:
                logger.warning("wechat: encrypted message refused: %s", error)
                return response.text("forbidden", status=403)
            except MalformedMessage as error:
                logger.warning("wechat: malformed message refused: %s", error)
                return response.text("bad request", status=400)
            try:
                first_use = await self._first_use(request.args)
            except Exception as error:  # the app store is unreachable: WeChat's retry may find it back
                logger.error("wechat: could not record the nonce of a push: %s", type(error).__name__)
                return response.text("service unavailable", status=503)
            if not first_use:
                logger.warning("wechat: replayed push (timestamp and nonce already used) refused")
                return response.text("forbidden", status=403)
            logger.info("wechat: %s %s from %s", message.kind, message.dedupe_key, message.openid)
            try:
                text = await self._answer(message, on_new_message, received)
            except Exception as error:  # the app store failed while claiming: no turn ran
                logger.error("wechat: could not claim %s: %s", message.dedupe_key, type(error).__name__)
                text = TURN_FAILED_REPLY
            if text is None:
                return response.text("success")
            reply = TextReply(source=message.account, target=message.openid, content=xml_safe(text)).render()
            if encrypted and self.crypto is not None:
                reply = self.crypto.encrypt_message(reply, request.args.get("nonce"), request.args.get("timestamp"))
            return response.text(reply, content_type="application/xml; charset=utf-8")

        return wechat_webhook
