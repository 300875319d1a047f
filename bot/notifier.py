"""The notifier: sends the case notifications of the outbox, on the worker's channel, with retries.

`python -m bot.notifier` is one of the launcher's processes (`bot.launcher`); more than one may run (replicas): each
claims its rows (`NotificationService.claim`, exclusive with a lease) so none is sent by two of them. A loop:
claim the due notifications, send each, record the outcome; sleep POLL_SECONDS when nothing was due.

- WeChat: a customer-service message; when WeChat answers that the 48-hour window is closed (45015) or the
  customer-service quota is used up (45047), a template message (WECHAT_CASE_TEMPLATE_ID, fields mapped by
  WECHAT_CASE_TEMPLATE_FIELDS: `channels.wechat.templates`), carrying the notification's idempotency key as
  `client_msg_id`. Its msgid goes to the delivery log; the TEMPLATESENDJOBFINISH event settles it.
- SMS: through `OptOutGuard` (never to a number that opted out or never wrote), the case-update template
  (`channels.sms.templates.case_update_message`: "您的欠薪登记{1}有新进展：{2}…" within the account's limits); the
  provider's message ids go to the delivery log, which the provider's delivery reports settle.
- REST: queued for `GET /webhooks/rest/messages`; delivered once the client fetched it.

Each provider call is an attempt, recorded before the call (see `bot.notifications` for what a kill at each point
does). An unreachable provider, WeChat's "system busy" (-1) or a rate limit is tried again after the back-off; a
refusal that will not change (opted out, unfollowed, no template for a closed window) fails at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from datetime import timedelta
from typing import Any

import aiohttp

from bot import privacy
from bot.conversation_ids import ConversationIdError, address
from bot.deliveries import DeliveryLog
from bot.notifications import LEASE, NotificationRecord, NotificationService
from bot.settings import Settings
from bot.store import AppStore, StoreUnavailable
from channels._config import ChannelConfigError
from channels._http import CLIENT_TIMEOUT
from channels._state import ChannelState
from channels.sms.config import provider_for, template_limits
from channels.sms.providers import OptOutGuard, SmsOptedOut, SmsRecipientRefused, SmsSendError
from channels.sms.templates import TemplateLimits, case_update_message
from channels.wechat.api import CustomerServiceClient, CustomerServiceWindowClosed, WeChatApiError, customer_service_for
from channels.wechat.templates import CaseTemplate, case_template_for

__all__ = ["POLL_SECONDS", "Notifier", "main", "notifier_for"]

log = logging.getLogger("bot.notifier")

POLL_SECONDS = 1.0
BATCH = 10
_TRANSPORT_ERRORS = (TimeoutError, aiohttp.ClientError, OSError)
_WECHAT_USE_TEMPLATE = {45015, 45047}  # window closed; customer-service messages over quota
_WECHAT_TRANSIENT = {-1, 45009, 45011}  # system busy; API call limits: try again later


def worker_name() -> str:
    """A name for this notifier that no other process shares (host, pid, random)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Notifier:
    """Sends claimed notifications through the configured channels. A channel left None is not configured: its
    notifications fail with a reason saying so."""

    def __init__(
        self,
        service: NotificationService,
        deliveries: DeliveryLog,
        *,
        wechat: CustomerServiceClient | None = None,
        template: CaseTemplate | None = None,
        sms: OptOutGuard | None = None,
        sms_limits: TemplateLimits | None = None,
        worker: str | None = None,
        batch: int = BATCH,
        lease: timedelta = LEASE,
    ) -> None:
        self.service = service
        self.deliveries = deliveries
        self.wechat = wechat
        self.template = template
        self.sms = sms
        self.sms_limits = sms_limits or TemplateLimits()
        self.worker = worker or worker_name()
        self.batch = batch
        self.lease = lease

    async def run_once(self) -> int:
        """Claim and send one batch; the number of notifications handled."""
        claimed = await asyncio.to_thread(self.service.claim, self.worker, limit=self.batch, lease=self.lease)
        for notification in claimed:
            try:
                await self._send(notification)
            except StoreUnavailable as error:  # the outcome could not be written: the lease runs out, see claim()
                log.warning("notification %s: app store unavailable while sending: %s", notification.id, error)
        return len(claimed)

    async def run(self, stop: asyncio.Event, poll: float = POLL_SECONDS) -> None:
        """Send until `stop` is set."""
        log.info("notifier %s sending case notifications", self.worker)
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except StoreUnavailable as error:
                log.warning("app store unavailable: %s", error)
                handled = 0
            if handled == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll)

    # ---------------------------------------------------------------- one notification

    async def _send(self, notification: NotificationRecord) -> None:
        if notification.channel == "rest":
            await asyncio.to_thread(self.service.queue_for_rest, notification.id, self.worker)
        elif notification.channel == "wechat":
            await self._send_wechat(notification)
        elif notification.channel == "sms":
            await self._send_sms(notification)
        else:
            await self._fail(notification, None, f"“{notification.channel}”渠道不能主动发消息")

    async def _attempt(self, notification: NotificationRecord, via: str) -> int | None:
        attempt = await asyncio.to_thread(self.service.start_attempt, notification.id, self.worker, via)
        if attempt is None:
            log.warning("notification %s: claim lost before sending (lease ran out); not sent", notification.id)
        return attempt

    async def _fail(self, notification: NotificationRecord, attempt: int | None, reason: str) -> None:
        log.warning("notification %s (case %s) failed: %s", notification.id, notification.case_id, reason)
        await asyncio.to_thread(self.service.mark_failed, notification.id, self.worker, attempt, reason)

    async def _retry(self, notification: NotificationRecord, attempt: int | None, reason: str) -> None:
        state = await asyncio.to_thread(self.service.mark_retry, notification.id, self.worker, attempt, reason)
        log.warning(
            "notification %s: %s (%s)", notification.id, reason, "will try again" if state == "queued" else state
        )

    async def _sent(self, notification: NotificationRecord, attempt: int, via: str, ids: list[str]) -> None:
        await asyncio.to_thread(self.service.mark_sent, notification.id, self.worker, attempt, via, ids)
        if ids:
            await asyncio.to_thread(
                self.deliveries.sent,
                notification.channel,
                notification.conversation,
                "case_update",
                ids,
                notification.id,
            )
        log.info("notification %s of case %s sent (%s)", notification.id, notification.case_id, via)

    async def _send_wechat(self, notification: NotificationRecord) -> None:
        if self.wechat is None:
            await self._fail(notification, None, "没有配置微信公众号（WECHAT_APP_ID / WECHAT_APP_SECRET）")
            return
        try:
            openid = address("wechat", notification.conversation)
        except ConversationIdError:
            await self._fail(notification, None, "这个对话不是微信对话")
            return
        attempt = await self._attempt(notification, "custom")
        if attempt is None:
            return
        try:
            await self.wechat.send_text(openid, notification.text)
        except _TRANSPORT_ERRORS as error:
            await self._retry(notification, attempt, f"连不上微信接口（{type(error).__name__}）")
            return
        except WeChatApiError as error:
            if error.errcode not in _WECHAT_USE_TEMPLATE and not isinstance(error, CustomerServiceWindowClosed):
                await self._wechat_refused(notification, attempt, error)
                return
            await asyncio.to_thread(
                self.service.finish_attempt, attempt, "failed", f"客服消息发不了（{error.errcode}：48 小时窗口已关）"
            )
            await self._send_template(notification, openid)
            return
        await self._sent(notification, attempt, "custom", [])

    async def _send_template(self, notification: NotificationRecord, openid: str) -> None:
        if self.template is None:
            await self._fail(
                notification,
                None,
                "工人超过 48 小时没发微信，客服消息发不了，也没有配置模板消息（WECHAT_CASE_TEMPLATE_ID）；请打电话告诉工人。",
            )
            return
        attempt = await self._attempt(notification, "template")
        if attempt is None:
            return
        assert self.wechat is not None  # checked by the caller
        data = self.template.data(
            case_id=notification.case_id,
            status=notification.case_status,
            progress=notification.progress,
            at=notification.created_at,
        )
        try:
            msgid = await self.wechat.send_template(
                openid, self.template.template_id, data, client_msg_id=notification.idempotency_key
            )
        except _TRANSPORT_ERRORS as error:
            await self._retry(notification, attempt, f"连不上微信接口（{type(error).__name__}）")
            return
        except WeChatApiError as error:
            await self._wechat_refused(notification, attempt, error)
            return
        await self._sent(notification, attempt, "template", [msgid] if msgid else [])

    async def _wechat_refused(self, notification: NotificationRecord, attempt: int, error: WeChatApiError) -> None:
        reason = f"微信没有发出（错误 {error.errcode}：{error.errmsg}）"
        if error.errcode in _WECHAT_TRANSIENT:
            await self._retry(notification, attempt, reason)
        else:
            await self._fail(notification, attempt, reason)

    async def _send_sms(self, notification: NotificationRecord) -> None:
        if self.sms is None:
            await self._fail(notification, None, "没有配置短信平台（SMS_PROVIDER）")
            return
        try:
            phone = address("sms", notification.conversation)
        except ConversationIdError:
            await self._fail(notification, None, "这个对话不是短信对话")
            return
        attempt = await self._attempt(notification, "sms")
        if attempt is None:
            return
        try:
            message = case_update_message(notification.case_id, notification.progress, self.sms_limits)
            ids = await self.sms.send(phone, message)
        except SmsOptedOut:
            await self._fail(notification, attempt, "这个号码已退订短信（回“退订”停的），不再发；请打电话联系。")
            return
        except SmsRecipientRefused as refused:
            await self._fail(notification, attempt, str(refused))
            return
        except SmsSendError as error:
            code = f"（{error.code}）" if error.code else ""
            await self._retry(notification, attempt, f"短信平台没有发出{code}：{error}")
            return
        except _TRANSPORT_ERRORS as error:
            await self._retry(notification, attempt, f"连不上短信平台（{type(error).__name__}）")
            return
        await self._sent(notification, attempt, "sms", [str(value) for value in ids])


def notifier_for(settings: Settings, store: AppStore, session: aiohttp.ClientSession, **options: Any) -> Notifier:
    """A notifier with every channel the settings configure (a channel whose configuration is missing is left out,
    and its notifications fail saying so)."""
    wechat: CustomerServiceClient | None = None
    template: CaseTemplate | None = None
    sms: OptOutGuard | None = None
    sms_limits: TemplateLimits | None = None
    try:
        wechat = customer_service_for(settings, session)
        template = case_template_for(settings)
    except ChannelConfigError as error:
        log.warning("WeChat notifications are off: %s", error)
    try:
        sms = OptOutGuard(provider_for(settings, session), ChannelState(store))
        sms_limits = template_limits(settings)
    except ChannelConfigError as error:
        log.warning("SMS notifications are off: %s", error)
    return Notifier(
        NotificationService(store),
        DeliveryLog(store),
        wechat=wechat,
        template=template,
        sms=sms,
        sms_limits=sms_limits,
        **options,
    )


async def _serve(settings: Settings, **options: Any) -> int:
    store = AppStore.from_settings(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session:
        await notifier_for(settings, store, session, **options).run(stop)
    store.dispose()
    log.info("notifier stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m bot.notifier [--debug]`: send case notifications until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m bot.notifier", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="log at DEBUG")
    parser.add_argument(
        "--lease-seconds",
        type=float,
        default=LEASE.total_seconds(),
        help="how long a claim lasts before another notifier may take it over (longer than any provider call)",
    )
    parser.add_argument("--batch", type=int, default=BATCH, help="notifications claimed at a time")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    level = logging.DEBUG if args.debug or settings.env.get("LOG_LEVEL", "").upper() == "DEBUG" else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    privacy.install()  # phone numbers in log lines are masked, as in every other process
    if args.lease_seconds <= 0 or args.batch <= 0:
        parser.error("--lease-seconds and --batch must be positive")
    return asyncio.run(_serve(settings, lease=timedelta(seconds=args.lease_seconds), batch=args.batch))


if __name__ == "__main__":
    raise SystemExit(main())
