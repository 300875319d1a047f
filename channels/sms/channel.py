"""The Rasa input and output channels of SMS: `SmsInput`, `SmsOutput`, `SmsPushOutput`.

The conversation is `sms:<phone number>` (`bot.conversation_ids`); logs show the number masked. Each message is claimed in the app store before anything
else, so a provider's retry — even after our restart — never runs a turn twice. 退订 / TD / STOP alone opt the number
out: recorded durably, confirmed once, and from then on nothing reaches the assistant and nothing is sent; 订阅 /
START alone opts back in (the user's explicit request, like a carrier's resubscribe keyword) with one confirmation.
Only the number's own authenticated callback can do either: the keyword must be the whole text (another number's
"退订 138…" is an ordinary message), and nothing else (REST, the console, the Rasa API) writes opt-outs.

Every authenticated message records its number as a contact: the service texts only mainland mobile numbers
(1[3-9]…) that have written (`channels.sms.providers.recipient_refusal`), in a turn, in a push and from the console.
A sender over its rate limit, or an address over its own, gets 429 before anything is claimed or run.

Delivery reports: `POST /webhooks/sms/report` takes Tencent's status-report callback, authenticated like the inbound
callback (the `?token=`, or the generic form's signature), and tells the injected `on_report(provider_id,
delivered, reason)` of each report (in a thread); without one, each report is logged with the number masked and
dropped. If `on_report` raises, the callback gets 500 and Tencent sends the batch again.

With SMS_PROVIDER=smpp the channel also holds the carrier gateway's transceiver connection (started with the server,
`channels.sms.smpp`): a mobile-originated message goes through the same pipeline (claimed under a key of the
deliver_sm, so a gateway's retransmission is a duplicate; opt-out; takeover; turn; reply submitted through the same
connection). The gateway is answered once the message is claimed, and the turn runs after, as a webhook's turn runs
after its claim. A delivery receipt goes to the same `on_report`.

Built from credentials.yml the channel writes both ends to the delivery log (`bot.deliveries`): each reply's
provider ids (Tencent's serial number, the SMPP message ids) when it is sent, each report (Tencent's callback, the
gateway's receipt) when it comes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.conversation_ids import ConversationIdError, address, conversation_id
from bot.deliveries import DeliveryLog, reporter
from bot.settings import Settings, current
from bot.store import StoreUnavailable, app_store
from channels._base import Intercept, MenuChannel, OnNewMessage, PushOutput, TurnRequest, WebhookLimits, redact
from channels._config import ChannelConfigError, check_values, credentials_and_settings
from channels._http import BodyTooLarge, client_session, close_client_session, read_body
from channels._render import CollectingOutput, Reply
from channels._state import OPTED_OUT, SUBSCRIBED, state_and_gate
from channels.sms.config import check_provider_config, check_replies, provider_for, template_limits
from channels.sms.inbound import (
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    STALE,
    DeliveryReport,
    InboundSms,
    MalformedSms,
    authenticate,
    keyword,
    parse,
    parse_tencent_reports,
)
from channels.sms.providers import OnReport, SmsProvider, SmsSendError, recipient_refusal
from channels.sms.render import OPT_IN_CONFIRMATION, OPT_OUT_CONFIRMATION, render_sms
from channels.sms.smpp.client import PERMANENT_APP_ERROR, MobileMessage, SmppClient
from channels.sms.smpp.pdu import DeliveryReceipt, Status
from channels.sms.smpp.provider import SmppProvider, inbound_sms, smpp_config
from channels.sms.templates import TemplateLimits, reply_messages
from nlu.extract import mask_phone

__all__ = ["SmsInput", "SmsOutput", "SmsPushOutput", "MAX_BODY_BYTES", "MAX_REPORT_BODY_BYTES"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
MAX_REPORT_BODY_BYTES = 256 * 1024  # a batch of status reports
MENU_TTL = timedelta(hours=24)  # SMS users answer a menu much later than chat users
KEEP_MESSAGE_KEYS = timedelta(days=30)
TURNS_FINISH_SECONDS = 10.0  # at shutdown, gateway turns still running get this long to send their replies


class SmsOutput(CollectingOutput):
    """Collects one turn's messages; the channel renders them into reply-template SMS and sends them."""

    @classmethod
    def name(cls) -> str:
        return "sms"


class SmsPushOutput(PushOutput):
    """Sends each message at once (rendered and cut like a reply), never to a number that opted out: the output Rasa
    uses outside a user's turn."""

    @classmethod
    def name(cls) -> str:
        return "sms"


class SmsInput(MenuChannel, InputChannel):
    """SMS input channel, served at `/webhooks/sms/` (see `channels.sms`)."""

    log = logger
    menu_ttl = MENU_TTL

    @classmethod
    def name(cls) -> str:
        return "sms"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None, *, settings: Settings | None = None) -> SmsInput:
        """The channel from credentials.yml; `settings` default to the process's (`bot.settings.current()`)."""
        credentials, settings = credentials_and_settings(cls, credentials, settings)
        secret = credentials.get("webhook_secret")
        check_values(
            "sms", {"SMS_WEBHOOK_SECRET": secret}, required=("SMS_WEBHOOK_SECRET",), production=settings.production
        )
        check_provider_config(settings)  # fail at start-up, not on the first message, when delivery is misconfigured
        return cls(
            str(secret),
            settings=settings,
            db_url=settings.app_db_url,
            templates=check_replies(settings),  # a personal Tencent account cannot answer: refuse to start
            limits=WebhookLimits.from_env(settings.env),
            # replies' provider ids and the provider's reports on them go to the delivery log (bot.deliveries)
            deliveries=DeliveryLog(app_store(settings)),
            on_report=reporter(app_store(settings), "sms"),
        )

    def __init__(
        self,
        webhook_secret: str,
        *,
        provider: SmsProvider | None = None,
        settings: Settings | None = None,
        db_url: str | None = None,
        intercept: Intercept | None = None,
        templates: TemplateLimits | None = None,
        on_report: OnReport | None = None,
        deliveries: DeliveryLog | None = None,
        limits: WebhookLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not webhook_secret:
            raise ChannelConfigError("the sms channel needs a webhook secret (SMS_WEBHOOK_SECRET)")
        self._secret = webhook_secret
        self._provider = provider
        self._settings = settings
        self.state, self.intercept = state_and_gate(db_url, intercept)
        self.templates = templates
        self.on_report = on_report
        self.deliveries = deliveries
        self.limits = limits or WebhookLimits()
        self._clock = clock
        self.gateway: SmppClient | None = None  # the SMPP transceiver, when SMS_PROVIDER=smpp (started with the server)
        self._gateway_turns: set[asyncio.Task[None]] = set()

    def get_output_channel(self) -> SmsPushOutput:
        return SmsPushOutput(self)

    def provider(self) -> SmsProvider:
        """The outbound provider (built from the settings in the running loop on first use). Not guarded: the
        channel checks opt-outs itself, and must reach an opted-out number once, with the confirmation."""
        if self._provider is None and self.gateway is not None:
            self._provider = SmppProvider(self.gateway)
        if self._provider is None:
            self._provider = provider_for(self._settings or current(), client_session())
        return self._provider

    def template_limits(self) -> TemplateLimits:
        """The reply template's limits: given, else those of the settings, else the defaults."""
        if self.templates is None:
            self.templates = template_limits(self._settings) if self._settings is not None else TemplateLimits()
        return self.templates

    def log_id(self, sender_id: str) -> str:
        """Phone numbers are personal data: logs show 138****1234."""
        try:
            return mask_phone(address("sms", sender_id))
        except ConversationIdError:
            return mask_phone(sender_id)

    # -- rendering and delivery --------------------------------------------------------------------------------

    def render(self, reply: Reply) -> list[str]:
        """The reply as the text the reply template carries (see `render_sms`), fitted to the template's room."""
        return render_sms(reply, max_chars=self.template_limits().reply_text_chars)

    async def deliver(self, sender_id: str, parts: list[str]) -> int:
        """Send a rendered reply through the provider to the phone of conversation `sender_id` (`sms:<phone>`) as
        reply-template messages (`reply_messages`: one long SMS when it fits), only to a mainland mobile that has
        written (else nothing, logged); how many messages were sent, stopping at the first failure (logged)."""
        if parts and (refusal := await asyncio.to_thread(recipient_refusal, sender_id, self.state)) is not None:
            logger.warning("sms: nothing sent to %s: %s", mask_phone(sender_id), refusal)
            return 0
        phone = address("sms", sender_id)
        sent = 0
        for message in reply_messages(parts, self.template_limits()) if parts else []:
            try:
                provider_ids = await self.provider().send(phone, message)
            except (TimeoutError, SmsSendError, aiohttp.ClientError, OSError) as error:
                logger.error("sms: sending to %s failed: %s", mask_phone(phone), error)
                break
            sent += 1
            await self._log_sent(sender_id, provider_ids)
        return sent

    async def _log_sent(self, sender_id: str, provider_ids: list[str]) -> None:
        """Put a sent reply's provider ids in the delivery log (for its delivery report); a log that cannot be
        written costs the overview a number, never the worker a reply."""
        if self.deliveries is None or not provider_ids:
            return
        try:
            await asyncio.to_thread(self.deliveries.sent, "sms", sender_id, "reply", provider_ids)
        except StoreUnavailable as error:
            logger.warning("sms: reply to %s not in the delivery log: %s", self.log_id(sender_id), error)

    async def push(self, sender_id: str, reply: Reply) -> None:
        """Send a message outside a turn, unless the number opted out."""
        phone = address("sms", sender_id)
        if await asyncio.to_thread(self.state.is_opted_out, phone):
            logger.info("sms: message to opted-out %s not sent", mask_phone(phone))
            return
        await super().push(sender_id, reply)

    # -- processing --------------------------------------------------------------------------------------------

    async def _opt_out_or_in(self, sms: InboundSms) -> str | None:
        """Handle the opt-out keywords and opted-out numbers; the status, or None when the message is for the
        assistant."""
        word, masked = keyword(sms.text), mask_phone(sms.phone)
        if word in OPT_OUT_WORDS:
            if await asyncio.to_thread(self.state.set_subscription, sms.phone, OPTED_OUT, word):
                logger.info("sms: %s opted out (%s)", masked, word)
                await self.deliver(conversation_id("sms", sms.phone), [OPT_OUT_CONFIRMATION])
            return "opted_out"
        if not await asyncio.to_thread(self.state.is_opted_out, sms.phone):
            return None
        if word in OPT_IN_WORDS:
            await asyncio.to_thread(self.state.set_subscription, sms.phone, SUBSCRIBED, word)
            logger.info("sms: %s opted back in (%s)", masked, word)
            await self.deliver(conversation_id("sms", sms.phone), [OPT_IN_CONFIRMATION])
            return "opted_in"
        logger.info("sms: message from opted-out %s not answered", masked)
        return "ignored_opted_out"

    async def _process(self, sms: InboundSms, on_new_message: OnNewMessage) -> str:
        """Handle one authenticated, parsed SMS exactly once; a status word for the response."""
        sms = dataclasses.replace(sms, text=redact(sms.text))
        if not await self.claim(sms.key):
            logger.info("sms: duplicate delivery of %s from %s ignored", sms.key, mask_phone(sms.phone))
            return "duplicate"
        return await self._process_claimed(sms, on_new_message)

    async def _process_claimed(self, sms: InboundSms, on_new_message: OnNewMessage) -> str:
        """The pipeline after the claim: contact, opt-out, takeover, turn, reply; releases the claim when it fails
        before the turn ran."""
        masked = mask_phone(sms.phone)
        turn_ran = False
        try:
            await asyncio.to_thread(self.state.record_contact, sms.phone)
            if (status := await self._opt_out_or_in(sms)) is None:
                started = time.monotonic()
                conversation = conversation_id("sms", sms.phone)
                request = TurnRequest(conversation, sms.text, sms.key, {"sms_form": sms.form})
                reply = await self.converse(on_new_message, SmsOutput(), request)
                turn_ran = reply is not None  # from here a failure must not run the turn again
                if reply is None:
                    status = "taken_over"
                else:
                    parts = self.render(reply)
                    if await asyncio.to_thread(self.state.is_opted_out, sms.phone):
                        parts = []  # opted out while the turn ran
                    sent = await self.deliver(conversation, parts)
                    logger.info(
                        "sms: turn %s for %s done in %.2f s; %d message(s) sent",
                        sms.key,
                        masked,
                        time.monotonic() - started,
                        sent,
                    )
                    logger.debug("sms: reply to %s: %r", masked, parts)
                    status = "answered"
        except Exception:
            if not turn_ran:  # let the provider's retry run it
                await self.release(sms.key)
            raise
        await self.finish(sms.key)
        return status

    async def _reports(self, reports: list[DeliveryReport]) -> None:
        """Tell `on_report` of each report (in a thread), or log it masked when nothing was injected."""
        for report in reports:
            if self.on_report is None:
                logger.info(
                    "sms: delivery report for %s (%s): %s %s",
                    report.provider_id,
                    mask_phone(report.phone) if report.phone else "?",
                    "delivered" if report.delivered else "failed",
                    report.reason,
                )
                continue
            await asyncio.to_thread(self.on_report, report.provider_id, report.delivered, report.reason)

    # -- the SMPP gateway ----------------------------------------------------------------------------------------

    async def receive_mobile(self, message: MobileMessage, on_new_message: OnNewMessage) -> int:
        """A mobile-originated message from the gateway: the deliver_sm_resp status once it is claimed (the turn
        then runs in a task). An exception (the app store is down) makes the client answer ESME_RX_T_APPN, so the
        gateway delivers it again."""
        try:
            sms = inbound_sms(message)
        except MalformedSms as error:
            logger.warning("sms: unreadable message from the SMS gateway refused: %s", error)
            return PERMANENT_APP_ERROR
        if not self.sender_allowed(sms.phone):
            return Status.OK  # dropped, as the webhook's 429 is (logged by sender_allowed)
        sms = dataclasses.replace(sms, text=redact(sms.text))
        if not await self.claim(sms.key):
            logger.info("sms: duplicate delivery of %s from %s ignored", sms.key, mask_phone(sms.phone))
            return Status.OK
        task = asyncio.get_running_loop().create_task(self._gateway_turn(sms, on_new_message))
        self._gateway_turns.add(task)
        task.add_done_callback(self._gateway_turns.discard)
        return Status.OK

    async def _gateway_turn(self, sms: InboundSms, on_new_message: OnNewMessage) -> None:
        try:
            await self._process_claimed(sms, on_new_message)
        except Exception:
            logger.exception("sms: processing %s from the SMS gateway failed", sms.key)

    async def receive_receipt(self, receipt: DeliveryReceipt) -> int:
        """A delivery receipt from the gateway: a final one goes to `on_report` (in a thread; an exception makes
        the gateway deliver it again), an intermediate one (ENROUTE, ACCEPTED) is only acknowledged."""
        if not receipt.final:
            return Status.OK
        reason = "" if receipt.delivered else " ".join(part for part in (receipt.state, receipt.error) if part)
        await self._reports([DeliveryReport(receipt.message_id, receipt.delivered, reason, receipt.phone, "")])
        return Status.OK

    async def start_gateway(self, on_new_message: OnNewMessage) -> None:
        """Bind to the SMPP gateway as a transceiver when SMS_PROVIDER=smpp and no provider was given (returns at
        once: the client connects, and reconnects, on its own)."""
        settings = self._settings or current()
        if self._provider is not None or self.gateway is not None or check_provider_config(settings) != "smpp":
            return
        self.gateway = SmppClient(
            smpp_config(settings, transceiver=True),
            on_message=lambda message: self.receive_mobile(message, on_new_message),
            on_receipt=self.receive_receipt,
        )
        self.gateway.start()

    async def stop_gateway(self) -> None:
        """Let running gateway turns send their replies (a few seconds at most), then unbind."""
        if self._gateway_turns:
            await asyncio.wait(list(self._gateway_turns), timeout=TURNS_FINISH_SECONDS)
        if self.gateway is not None:
            await self.gateway.stop()
            self.gateway = None
            self._provider = None

    # -- HTTP --------------------------------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[..., Awaitable[Any]]) -> Blueprint:
        """`GET /` health, `POST /webhook` for both callback forms and `POST /report` for delivery reports."""
        from bot.safety_net import with_safety_net

        # a turn that produced nothing still gets an answer; one that raised is released for the provider's retry
        on_new_message = with_safety_net(on_new_message, reraise=True)
        sms_webhook = Blueprint("sms_webhook", __name__)

        @sms_webhook.listener("before_server_start")
        async def start(_app: Any, _loop: Any) -> None:
            client_session()
            await self.start_gateway(on_new_message)
            try:
                pruned = await asyncio.to_thread(self.state.prune_messages, KEEP_MESSAGE_KEYS)
                if pruned:
                    logger.info("sms: forgot %d processed-message keys older than %s", pruned, KEEP_MESSAGE_KEYS)
            except Exception as error:  # the store may not be migrated yet in odd set-ups; messages will say so
                logger.warning("sms: could not prune old message keys: %s", error)

        @sms_webhook.listener("after_server_stop")
        async def stop(_app: Any, _loop: Any) -> None:
            await self.stop_gateway()
            await close_client_session()

        @sms_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sms_webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            if not self.address_allowed(request):
                return response.json({"error": "too many requests"}, status=429)
            try:
                body = await read_body(request, MAX_BODY_BYTES)
            except BodyTooLarge:
                logger.warning("sms: body over %d bytes refused", MAX_BODY_BYTES)
                return response.json({"error": "payload too large"}, status=413)
            form = authenticate(self._secret, request.headers, request.args, body, now=self._clock())
            if form is None:
                logger.warning("sms: unauthenticated callback refused")
                return response.json({"error": "forbidden"}, status=403)
            if form == STALE:
                logger.warning("sms: signed callback with a stale X-Timestamp (more than 5 minutes off) refused")
                return response.json({"error": "stale timestamp"}, status=403)
            try:
                sms = parse(form, body)
            except MalformedSms as error:
                logger.warning("sms: malformed %s callback refused: %s", form, error)
                if form == "tencent":
                    return response.json({"result": 1, "errmsg": str(error)}, status=400)
                return response.json({"error": str(error)}, status=400)
            if not self.sender_allowed(sms.phone):
                if form == "tencent":
                    return response.json({"result": 1, "errmsg": "too many requests"}, status=429)
                return response.json({"error": "too many requests"}, status=429)
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

        @sms_webhook.route("/report", methods=["POST"], stream=True)
        async def report(request: Request) -> HTTPResponse:
            # Tencent reads {"result": 0} as accepted; anything else (or a non-200) makes it send the batch again
            if not self.address_allowed(request):
                return response.json({"result": 1, "errmsg": "too many requests"}, status=429)
            try:
                body = await read_body(request, MAX_REPORT_BODY_BYTES)
            except BodyTooLarge:
                logger.warning("sms: status-report body over %d bytes refused", MAX_REPORT_BODY_BYTES)
                return response.json({"result": 1, "errmsg": "payload too large"}, status=413)
            form = authenticate(self._secret, request.headers, request.args, body, now=self._clock())
            if form is None or form == STALE:
                logger.warning("sms: unauthenticated or stale status-report callback refused")
                return response.json({"result": 1, "errmsg": "forbidden"}, status=403)
            try:
                reports, skipped = parse_tencent_reports(body)
            except MalformedSms as error:
                logger.warning("sms: malformed status-report callback refused: %s", error)
                return response.json({"result": 1, "errmsg": str(error)}, status=400)
            if skipped:
                logger.warning("sms: %d unreadable status report(s) skipped, %d read", skipped, len(reports))
            try:
                await self._reports(reports)
            except Exception:
                logger.exception("sms: recording %d status report(s) failed", len(reports))
                return response.json({"result": 1, "errmsg": "internal error"}, status=500)
            return response.json({"result": 0, "errmsg": "OK"})

        return sms_webhook
