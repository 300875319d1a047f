"""Tables of case notifications and the delivery log: what the worker is told when their case moves, every attempt
to tell them, and what the providers reported back.

Models only: the queries live in `bot.notifications.NotificationService` (the outbox) and `bot.deliveries.DeliveryLog`
(the delivery log); the schema's versions continue the Alembic branch "cases" (migrations/versions/cases_*.py).

- `case_notifications`: the outbox. A row is written in the transaction that changes the case (a status change, a
  message to the worker), so a change is never without its notification nor a notification without its change. The
  notifier claims a due row (`state` queued and `next_attempt_at` passed, or a lease that ran out), sends it and
  records the outcome; `key` is the notification's idempotency key (one per case event).
- `notification_attempts`: one row per call to a provider (WeChat customer-service or template message, SMS, the
  REST queue), written before the call and finished after it: an attempt left unfinished by a killed notifier shows
  the send is in doubt.
- `deliveries`: every message that left through a provider that may report on it (SMS replies, case notifications by
  SMS or WeChat template), by provider message id; a delivery report sets `state` to delivered or failed.
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.store._base import Base
from bot.store.types import UTCDateTime

__all__ = ["CaseNotification", "Delivery", "NotificationAttempt"]


class CaseNotification(Base):
    """One message to the worker about their case, sent on the channel the case was recorded from."""

    __tablename__ = "case_notifications"

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    key = sa.Column(sa.String(96), nullable=False)  # idempotency key: "case-event:<case_events.id>"
    case_id = sa.Column(
        sa.String(20),
        sa.ForeignKey("cases.case_id", name="fk_case_notifications_case_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    case_event_id = sa.Column(sa.Integer, nullable=True)
    kind = sa.Column(sa.String(16), nullable=False)  # "status" (a status change) | "message" (a message only)
    case_status = sa.Column(sa.String(8), nullable=False)  # the case's status after the change
    channel = sa.Column(sa.String(16), nullable=False)  # "wechat" | "sms" | "rest"
    conversation = sa.Column(sa.String(255), nullable=False)  # the case's scoped conversation id
    progress = sa.Column(sa.Text, nullable=False)  # the short news (the templates' variable)
    text = sa.Column(sa.Text, nullable=False)  # the whole message as the worker reads it
    actor = sa.Column(sa.String(64), nullable=False)
    # queued → sending (claimed) → sent (the provider took it) → delivered (the provider reported it arrived);
    # failed with `reason` when it cannot be sent (or a report said it did not arrive). A failed one may be resent.
    state = sa.Column(sa.String(16), nullable=False, index=True)
    attempts = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    resends = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    next_attempt_at = sa.Column(UTCDateTime, nullable=False, index=True)
    claimed_by = sa.Column(sa.String(64), nullable=True)
    lease_until = sa.Column(UTCDateTime, nullable=True)
    via = sa.Column(sa.String(16), nullable=False, default="", server_default="")  # custom | template | sms | rest
    reason = sa.Column(sa.Text, nullable=False, default="", server_default="")
    created_at = sa.Column(UTCDateTime, nullable=False, index=True)
    sent_at = sa.Column(UTCDateTime, nullable=True)
    delivered_at = sa.Column(UTCDateTime, nullable=True)

    __table_args__ = (
        sa.UniqueConstraint("key", name="uq_case_notifications_key"),
        # every REST webhook request asks for its conversation's notifications waiting for pickup
        sa.Index("ix_case_notifications_conversation", "conversation", "state"),
    )


class NotificationAttempt(Base):
    """One call to a provider for a notification: `outcome` is empty while the call runs, then sent, retry (a
    transient failure: tried again later), failed (permanent), or unknown (the notifier died during the call)."""

    __tablename__ = "notification_attempts"

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    notification_id = sa.Column(
        sa.Integer,
        sa.ForeignKey("case_notifications.id", name="fk_notification_attempts_notification", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    worker = sa.Column(sa.String(64), nullable=False)
    via = sa.Column(sa.String(16), nullable=False)
    started_at = sa.Column(UTCDateTime, nullable=False)
    finished_at = sa.Column(UTCDateTime, nullable=True)
    outcome = sa.Column(sa.String(16), nullable=False, default="", server_default="")
    reason = sa.Column(sa.Text, nullable=False, default="", server_default="")
    provider_ids = sa.Column(sa.JSON, nullable=False, default=list)


class Delivery(Base):
    """A message that left through a provider, under the id the provider gave it (one row per id)."""

    __tablename__ = "deliveries"

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    channel = sa.Column(sa.String(16), nullable=False)
    provider_id = sa.Column(sa.String(128), nullable=False)
    conversation = sa.Column(sa.String(255), nullable=False)
    kind = sa.Column(sa.String(16), nullable=False)  # "reply" | "case_update" | "operator"
    notification_id = sa.Column(
        sa.Integer,
        sa.ForeignKey("case_notifications.id", name="fk_deliveries_notification", ondelete="SET NULL"),
        nullable=True,
        index=True,
    )
    sent_at = sa.Column(UTCDateTime, nullable=False, index=True)
    state = sa.Column(sa.String(16), nullable=False)  # sent | delivered | failed
    reason = sa.Column(sa.Text, nullable=False, default="", server_default="")
    reported_at = sa.Column(UTCDateTime, nullable=True)

    __table_args__ = (sa.Index("ix_deliveries_provider_id", "channel", "provider_id"),)
