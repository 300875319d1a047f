"""The delivery log: which messages left through a provider that reports on them, and what the reports said.

    log = DeliveryLog(store)
    log.sent("sms", "sms:+8613812345678", "reply", ["2019:0614..."])     # after the provider accepted the message
    log.report("sms", "2019:0614...", delivered=True, reason="DELIVRD")  # a delivery report (callback, receipt)
    log.daily_share(days=14)                                             # the console overview's line per day

Every provider that gives its messages an id and reports on them writes here: SMS replies and notifications through
Tencent Cloud (its status callback) or an SMPP gateway (its delivery receipts), and WeChat template messages (the
TEMPLATESENDJOBFINISH event). WeChat customer-service messages get no id and no report, so they are not in the log.
A report about a case notification settles the notification as well: delivered once every part of it arrived,
failed (resendable in the console) when one did not. A report for an id never logged (sent before the log existed,
or by another system on the same account) changes nothing and `report` returns False.

Days are China days (UTC+8), like case numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.store import AppStore, storage_errors
from bot.store.notifications import CaseNotification, Delivery
from bot.store.types import utcnow

__all__ = ["CHINA_TZ", "KINDS", "REPORTING_CHANNELS", "DeliveryDay", "DeliveryLog", "OnReport", "reporter"]

log = logging.getLogger(__name__)

CHINA_TZ = timedelta(hours=8)
KINDS = ("reply", "case_update", "operator")
REPORTING_CHANNELS = ("sms", "wechat")
MAX_PROVIDER_ID = 128
MAX_REASON = 500

SENT, DELIVERED, FAILED = "sent", "delivered", "failed"

# What a channel calls for each delivery report it receives: (provider message id, delivered?, the provider's reason).
# Synchronous (it writes the app store): call it with asyncio.to_thread.
# (`channels.sms.providers.OnReport` is the same type.)
OnReport = Callable[[str, bool, str], None]


def reporter(store: AppStore, channel: str) -> OnReport:
    """The `on_report` callable of `channel`'s delivery reports, writing them to the delivery log of `store` (a report
    for an id never logged is dropped there, logged at INFO)."""
    log_ = DeliveryLog(store)

    def on_report(provider_id: str, delivered: bool, reason: str) -> None:
        log_.report(channel, provider_id, delivered, reason)

    return on_report


@dataclass(frozen=True)
class DeliveryDay:
    """One China day of one channel: messages logged, reported delivered, reported failed (the rest: no report yet)."""

    day: date
    channel: str
    sent: int
    delivered: int
    failed: int

    @property
    def share(self) -> float | None:
        """Delivered / sent, None for a day without messages."""
        return self.delivered / self.sent if self.sent else None

    @property
    def pending(self) -> int:
        return self.sent - self.delivered - self.failed


class DeliveryLog:
    """Writes and reads the `deliveries` table. Thread-safe; storage failures raise `bot.store.StoreUnavailable`."""

    def __init__(self, store: AppStore, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock

    def sent(
        self,
        channel: str,
        conversation: str,
        kind: str,
        provider_ids: Iterable[str],
        notification_id: int | None = None,
    ) -> int:
        """Log a message the provider accepted, one row per id it gave (none: nothing to log, no report can come).
        Returns the rows written. Raises ValueError for an unknown kind."""
        if kind not in KINDS:
            raise ValueError(f"unknown delivery kind {kind!r}; expected one of {KINDS}")
        ids = [str(value).strip()[:MAX_PROVIDER_ID] for value in provider_ids if str(value).strip()]
        if not ids:
            return 0
        now = self._clock()
        with storage_errors(), self._store.begin() as session:
            session.add_all(
                Delivery(
                    channel=channel,
                    provider_id=provider_id,
                    conversation=conversation,
                    kind=kind,
                    notification_id=notification_id,
                    sent_at=now,
                    state=SENT,
                    reason="",
                )
                for provider_id in ids
            )
        return len(ids)

    def report(self, channel: str, provider_id: str, delivered: bool, reason: str, at: datetime | None = None) -> bool:
        """Record a delivery report for the newest message logged under `provider_id`; True when one was found.
        A later report for the same id (providers repeat their callbacks) overwrites the earlier one."""
        provider_id = str(provider_id or "").strip()[:MAX_PROVIDER_ID]
        if not provider_id:
            return False
        reported_at = at or self._clock()
        state = DELIVERED if delivered else FAILED
        with storage_errors(), self._store.begin() as session:
            row = session.execute(
                sa.select(Delivery)
                .where(Delivery.channel == channel, Delivery.provider_id == provider_id)
                .order_by(Delivery.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            if row is None:
                log.info("delivery report for an unknown %s message id dropped", channel)
                return False
            row.state, row.reason, row.reported_at = state, (reason or "")[:MAX_REASON], reported_at
            session.flush()
            if row.notification_id is not None:
                self._settle_notification(session, row.notification_id, reported_at)
        return True

    @staticmethod
    def _settle_notification(session: Session, notification_id: int, at: datetime) -> None:
        states = [
            (state, reason)
            for state, reason in session.execute(
                sa.select(Delivery.state, Delivery.reason).where(Delivery.notification_id == notification_id)
            )
        ]
        failed = [reason for state, reason in states if state == FAILED]
        values: dict[str, Any]
        if failed:
            values = {"state": "failed", "reason": f"运营商回执：没有送到（{failed[0] or '未说明原因'}）"}
        elif all(state == DELIVERED for state, _reason in states):
            values = {"state": "delivered", "delivered_at": at}
        else:
            return
        # Only a notification still waiting for its report changes: not one an operator has put back in the queue.
        session.execute(
            sa.update(CaseNotification)
            .where(CaseNotification.id == notification_id, CaseNotification.state.in_(("sent", "delivered")))
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    def for_notification(self, notification_id: int) -> list[tuple[str, str, str]]:
        """(provider id, state, reason) of each logged part of a notification."""
        with storage_errors(), self._store.begin() as session:
            return [
                (provider_id, state, reason)
                for provider_id, state, reason in session.execute(
                    sa.select(Delivery.provider_id, Delivery.state, Delivery.reason)
                    .where(Delivery.notification_id == notification_id)
                    .order_by(Delivery.id)
                )
            ]

    def daily_share(self, days: int = 14, *, until: date | None = None) -> list[DeliveryDay]:
        """For each of the last `days` China days up to `until` (today) and each reporting channel (SMS, WeChat):
        messages logged, delivered and failed, oldest day first; days without messages are included (zeros)."""
        last = until or (self._clock() + CHINA_TZ).date()
        first = last - timedelta(days=max(1, days) - 1)
        start = datetime.combine(first, time.min, tzinfo=UTC) - CHINA_TZ
        end = start + timedelta(days=(last - first).days + 1)
        counts: dict[tuple[date, str], list[int]] = {}
        with storage_errors(), self._store.begin() as session:
            rows = session.execute(
                sa.select(Delivery.sent_at, Delivery.channel, Delivery.state).where(
                    Delivery.sent_at >= start, Delivery.sent_at < end, Delivery.channel.in_(REPORTING_CHANNELS)
                )
            ).all()
        for sent_at, channel, state in rows:
            tally = counts.setdefault(((sent_at + CHINA_TZ).date(), channel), [0, 0, 0])
            tally[0] += 1
            tally[1] += state == DELIVERED
            tally[2] += state == FAILED
        result = []
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            for channel in REPORTING_CHANNELS:
                sent, delivered, failed = counts.get((day, channel), [0, 0, 0])
                result.append(DeliveryDay(day, channel, sent, delivered, failed))
        return result
