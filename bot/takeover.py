"""Operator takeover: while a hotline operator has a conversation, the assistant stays silent in it.

Every input channel (REST, WeChat, SMS) asks `intercept()` before handing a user's message to Rasa. Conversations are
keyed by their channel-scoped id (`bot.conversation_ids`: `sms:+8613…`, `wechat:<openid>`, `rest:<client>:<id>`), so
a REST caller can neither read nor write an SMS or WeChat conversation's takeover or pending messages. When an operator
has taken the conversation over, the message is recorded for the operator's console and the channel answers nothing
itself; when the conversation is released, or after 30 minutes without an operator message, the assistant answers
again.

The state lives in the app store (tables of `bot.store.operators`), so the console process that takes a conversation
over and the Rasa process whose channels ask the gate agree without talking to each other; at most one operator holds
a conversation at a time (a partial unique index decides a race). `TakeoverService` is the synchronous API (every call
takes `now`, so the timeout is testable); `intercept()` is the async gate the channels call, one indexed lookup in a
worker thread for a conversation nobody has taken over.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from bot.conversation_ids import channel_of
from bot.store import AppStore, app_store
from bot.store.operators import Takeover, TakeoverMessage
from bot.store.types import to_record, utcnow

__all__ = [
    "TAKEOVER_IDLE_TIMEOUT",
    "MAX_MESSAGE_CHARS",
    "TakeoverRecord",
    "MessageRecord",
    "TakeoverService",
    "AlreadyTakenOver",
    "NotTakenOver",
    "gate",
    "intercept",
]

log = logging.getLogger(__name__)

TAKEOVER_IDLE_TIMEOUT = timedelta(minutes=30)
MAX_MESSAGE_CHARS = 2000

RELEASED = "released"
TIMED_OUT = "timeout"


class AlreadyTakenOver(RuntimeError):
    """Another operator holds this conversation."""

    def __init__(self, holder: TakeoverRecord) -> None:
        super().__init__(f"conversation already taken over by {holder.operator}")
        self.holder = holder


class NotTakenOver(RuntimeError):
    """The operator does not (or no longer) hold this conversation: released, timed out, or someone else's."""


@dataclass(frozen=True)
class TakeoverRecord:
    """A takeover as stored; `released_at` is None while the operator holds the conversation."""

    id: int
    sender_id: str
    channel: str
    operator: str
    started_at: datetime
    last_operator_at: datetime
    released_at: datetime | None
    release_reason: str | None
    idle_timeout: timedelta = TAKEOVER_IDLE_TIMEOUT

    @property
    def expires_at(self) -> datetime:
        """When the conversation goes back to the assistant unless the operator writes again."""
        return self.last_operator_at + self.idle_timeout

    @property
    def is_open(self) -> bool:
        return self.released_at is None


@dataclass(frozen=True)
class MessageRecord:
    """One message of a taken-over conversation (see `bot.store.operators.TakeoverMessage`)."""

    id: int
    sender_id: str
    channel: str
    direction: str
    operator: str | None
    text: str
    created_at: datetime
    delivery: str
    error: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "direction": self.direction,
            "operator": self.operator,
            "text": self.text,
            "created_at": self.created_at.isoformat(),
            "delivery": self.delivery,
            "error": self.error,
        }


class TakeoverService:
    """Take over, release and time out conversations; record their messages. Thread-safe (a session per call).

    The schema must exist (`bot.store.migrate`). Every method that depends on the time takes `now` (aware UTC).
    """

    def __init__(self, store: AppStore, *, idle_timeout: timedelta = TAKEOVER_IDLE_TIMEOUT) -> None:
        self._store = store
        self.idle_timeout = idle_timeout

    # -- the gate ---------------------------------------------------------------------------------------------

    def record_worker_message(self, channel: str, sender_id: str, text: str, now: datetime) -> bool:
        """The gate: True (and the message recorded for the operator) when an operator holds the conversation.

        A channel only ever asks about its own conversations (`sms:…` from SMS): a question about another channel's
        conversation is answered False and records nothing."""
        owner = channel_of(sender_id)
        if owner is not None and owner != channel:
            log.warning("takeover gate: %s asked about a %s conversation; refused", channel, owner)
            return False
        with self._store.begin() as session:
            takeover = self._open(session, sender_id, now)
            if takeover is None:
                return False
            session.add(
                TakeoverMessage(
                    takeover_id=takeover.id,
                    sender_id=sender_id,
                    channel=channel,
                    direction="worker",
                    text=(text or "")[:MAX_MESSAGE_CHARS],
                    created_at=now,
                    delivery="received",
                )
            )
            return True

    # -- operator commands ------------------------------------------------------------------------------------

    def take_over(self, sender_id: str, channel: str, operator: str, now: datetime) -> TakeoverRecord:
        """Give `operator` the conversation. Taking one you already hold is a no-op; raises AlreadyTakenOver when
        another operator holds it. The channel of a scoped conversation id is its prefix (`sms:…` is SMS, whatever
        `channel` says): replies go back where the conversation came from."""
        channel = channel_of(sender_id) or channel
        if not sender_id or not channel or not operator:
            raise ValueError("sender_id, channel and operator are required")
        try:
            with self._store.begin() as session:
                takeover = self._open(session, sender_id, now)
                if takeover is not None:
                    if takeover.operator != operator:
                        raise AlreadyTakenOver(self._record(takeover))
                    return self._record(takeover)
                takeover = Takeover(
                    sender_id=sender_id,
                    channel=channel,
                    operator=operator,
                    started_at=now,
                    last_operator_at=now,
                )
                session.add(takeover)
                session.flush()
                record = self._record(takeover)
        except sa_exc.IntegrityError:
            # Another process opened a takeover between our read and our insert: report who won.
            holder = self.current(sender_id, now)
            if holder is not None and holder.operator == operator:
                return holder
            if holder is None:
                raise
            raise AlreadyTakenOver(holder) from None
        log.info("conversation %s taken over by %s", _short(sender_id), operator)
        return record

    def release(self, sender_id: str, operator: str, now: datetime) -> TakeoverRecord:
        """Hand the conversation back to the assistant. Raises NotTakenOver unless `operator` holds it."""
        with self._store.begin() as session:
            takeover = self._held(session, sender_id, operator, now)
            takeover.released_at = now
            takeover.release_reason = RELEASED
            session.flush()
            record = self._record(takeover)
        log.info("conversation %s released by %s", _short(sender_id), operator)
        return record

    def record_operator_message(
        self, sender_id: str, operator: str, text: str, now: datetime, *, delivery: str
    ) -> MessageRecord:
        """Record the operator's reply (and restart the idle timer). Raises NotTakenOver unless `operator` holds the
        conversation, ValueError for an empty or too long text."""
        text = (text or "").strip()
        if not text:
            raise ValueError("回复内容不能为空")
        if len(text) > MAX_MESSAGE_CHARS:
            raise ValueError(f"回复太长（最多 {MAX_MESSAGE_CHARS} 字）")
        with self._store.begin() as session:
            takeover = self._held(session, sender_id, operator, now)
            takeover.last_operator_at = now
            message = TakeoverMessage(
                takeover_id=takeover.id,
                sender_id=sender_id,
                channel=takeover.channel,
                direction="operator",
                operator=operator,
                text=text,
                created_at=now,
                delivery=delivery,
            )
            session.add(message)
            session.flush()
            return to_record(MessageRecord, message)

    def mark_delivery(self, message_id: int, delivery: str, now: datetime, error: str | None = None) -> None:
        """Record how sending an operator message went ("sent", or "failed" with the error). Only a message still
        "sending" changes: one the REST outbound queued for pickup stays "pending" until its client fetches it."""
        with self._store.begin() as session:
            session.execute(
                sa.update(TakeoverMessage)
                .where(TakeoverMessage.id == message_id, TakeoverMessage.delivery == "sending")
                .values(delivery=delivery, error=error, delivered_at=now if delivery == "sent" else None)
                .execution_options(synchronize_session=False)
            )

    def queue_for_rest(self, sender_id: str) -> int:
        """Make the conversation's operator messages that are being sent pending for the REST client's pickup
        (`take_pending_for_rest`); returns how many."""
        with self._store.begin() as session:
            result = session.execute(
                sa.update(TakeoverMessage)
                .where(
                    TakeoverMessage.sender_id == sender_id,
                    TakeoverMessage.direction == "operator",
                    TakeoverMessage.delivery == "sending",
                )
                .values(delivery="pending")
                .execution_options(synchronize_session=False)
            )
            return result.rowcount or 0

    def take_pending_for_rest(self, sender_id: str, now: datetime) -> list[MessageRecord]:
        """Operator messages of a REST conversation not yet fetched, oldest first; each is handed out once even when
        two requests ask at the same time (a compare-and-set on its delivery state)."""
        query = (
            sa.select(TakeoverMessage)
            .where(
                TakeoverMessage.sender_id == sender_id,
                TakeoverMessage.direction == "operator",
                TakeoverMessage.delivery == "pending",
            )
            .order_by(TakeoverMessage.id)
        )
        taken: list[MessageRecord] = []
        with self._store.begin() as session:
            for message in session.execute(query).scalars().all():
                claimed = session.execute(
                    sa.update(TakeoverMessage)
                    .where(TakeoverMessage.id == message.id, TakeoverMessage.delivery == "pending")
                    .values(delivery="sent", delivered_at=now)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if claimed == 1:
                    taken.append(to_record(MessageRecord, message))
        return taken

    # -- queries ----------------------------------------------------------------------------------------------

    def current(self, sender_id: str, now: datetime) -> TakeoverRecord | None:
        """The open takeover of this conversation (timing it out first if it is idle), or None."""
        with self._store.begin() as session:
            takeover = self._open(session, sender_id, now)
            return self._record(takeover) if takeover is not None else None

    def latest(self, sender_id: str, now: datetime) -> TakeoverRecord | None:
        """The conversation's most recent takeover, open or closed (timing it out first if idle), or None."""
        with self._store.begin() as session:
            self._open(session, sender_id, now)
            takeover = session.execute(
                sa.select(Takeover).where(Takeover.sender_id == sender_id).order_by(Takeover.id.desc()).limit(1)
            ).scalar_one_or_none()
            return self._record(takeover) if takeover is not None else None

    def open_takeovers(self, now: datetime) -> dict[str, TakeoverRecord]:
        """Every open takeover by sender id (idle ones are timed out first)."""
        self.expire_idle(now)
        with self._store.begin() as session:
            rows = session.execute(sa.select(Takeover).where(Takeover.released_at.is_(None))).scalars()
            return {row.sender_id: self._record(row) for row in rows}

    def expire_idle(self, now: datetime) -> int:
        """Hand back every conversation idle for the timeout; returns how many."""
        with self._store.begin() as session:
            rows = (
                session.execute(
                    sa.select(Takeover).where(
                        Takeover.released_at.is_(None), Takeover.last_operator_at <= now - self.idle_timeout
                    )
                )
                .scalars()
                .all()
            )
            for takeover in rows:
                self._time_out(takeover)
            return len(rows)

    def messages(self, sender_id: str, after_id: int = 0, limit: int = 500) -> list[MessageRecord]:
        """The conversation's takeover messages with id > after_id, oldest first."""
        query = (
            sa.select(TakeoverMessage)
            .where(TakeoverMessage.sender_id == sender_id, TakeoverMessage.id > after_id)
            .order_by(TakeoverMessage.id)
            .limit(limit)
        )
        with self._store.begin() as session:
            return [to_record(MessageRecord, m) for m in session.execute(query).scalars()]

    # -- internals --------------------------------------------------------------------------------------------

    def _open(self, session: Session, sender_id: str, now: datetime) -> Takeover | None:
        takeover = session.execute(
            sa.select(Takeover).where(Takeover.sender_id == sender_id, Takeover.released_at.is_(None))
        ).scalar_one_or_none()
        if takeover is not None and takeover.last_operator_at + self.idle_timeout <= now:
            self._time_out(takeover)
            session.flush()
            return None
        return takeover

    def _held(self, session: Session, sender_id: str, operator: str, now: datetime) -> Takeover:
        """The open takeover of the conversation if `operator` holds it; NotTakenOver otherwise."""
        takeover = self._open(session, sender_id, now)
        if takeover is None or takeover.operator != operator:
            raise NotTakenOver(sender_id)
        return takeover

    def _time_out(self, takeover: Takeover) -> None:
        # Released at the moment it expired, not when somebody noticed.
        takeover.released_at = takeover.last_operator_at + self.idle_timeout
        takeover.release_reason = TIMED_OUT
        log.info(
            "conversation %s handed back to the assistant after %s without an operator message",
            _short(takeover.sender_id),
            self.idle_timeout,
        )

    def _record(self, takeover: Takeover) -> TakeoverRecord:
        return to_record(TakeoverRecord, takeover, idle_timeout=self.idle_timeout)


def _short(sender_id: str) -> str:
    """A conversation id for logs: its channel and the last four characters (an SMS one ends in a phone number)."""
    prefix = f"{channel_of(sender_id)}:" if channel_of(sender_id) else ""
    return f"{prefix}…{sender_id[-4:]}" if len(sender_id) - len(prefix) > 4 else sender_id


# -- the process-wide gate ------------------------------------------------------------------------------------


def default_service() -> TakeoverService:
    """The service on the process's app store (`bot.store.app_store()`, built on first use, not at import)."""
    return TakeoverService(app_store())


async def intercept(channel: str, sender_id: str, text: str) -> bool:
    """True when an operator has this conversation: the message was recorded for them and the bot must not answer.

    If the app store cannot be read, the error is logged and the assistant answers (False): a worker is never left
    without a reply because the console's tables are unavailable.
    """
    return await asyncio.to_thread(gate, channel, sender_id, text, utcnow())


def gate(channel: str, sender_id: str, text: str, now: datetime) -> bool:
    """`intercept`'s work, synchronously, for a caller already in a worker thread."""
    try:
        return default_service().record_worker_message(channel, sender_id, text, now)
    except sa_exc.SQLAlchemyError as error:
        # The DBAPI error only: SQLAlchemy's own message would quote the parameters, i.e. the sender id.
        log.error(
            "takeover gate unavailable (%s); the assistant answers %s",
            getattr(error, "orig", None) or type(error).__name__,
            _short(sender_id),
        )
        return False
