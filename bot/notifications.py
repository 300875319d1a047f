"""Case notifications: the outbox that tells a worker when their case moves.

When an operator changes a case's status or writes a message to the worker, `CaseService` calls
`queue_case_notification` inside the transaction of that change: the `case_notifications` row commits with the change
or not at all, so no process can die "between" them. The notifier (`bot.notifier`, its own process in the launcher)
then takes the rows out:

    service = NotificationService(store)
    for notification in service.claim("notifier-1"):         # due rows, each claimed by one notifier only
        attempt = service.start_attempt(notification.id, "notifier-1", "custom")   # committed before the call
        ... send ...
        service.mark_sent(notification.id, "notifier-1", attempt, provider_ids)     # or mark_retry / mark_failed

Claiming is a compare-and-set (`UPDATE … WHERE id = ? AND state = 'queued' AND next_attempt_at <= now`, or a lease
that ran out) with a lease of LEASE, so two notifiers, on one machine or on replicas, never take the same row. Each
call to a provider is an attempt row written before the call: a notifier killed before it called leaves a claim
without an open attempt, and the next notifier sends once the lease runs out; one killed during the call leaves an
open attempt, and the send is in doubt. An in-doubt notification is sent again only where the provider drops a
repeat itself (a WeChat template message carries `client_msg_id`, the idempotency key, which WeChat honours for 10
minutes; the REST queue is written in one transaction with the outcome, so it is never in doubt); otherwise it is
marked failed ("不确定是否送到") and the console offers to resend: the notifier never sends a message twice by itself.

Transient failures (the provider unreachable, a 5xx) are tried again with back-off (BACKOFF doubling up to
MAX_BACKOFF), up to MAX_ATTEMPTS claims; permanent ones (an opted-out number, a closed WeChat window with no template
configured) fail at once. A failed notification can be resent by an operator (`resend`); the same row goes back to
the queue with a fresh idempotency key.

REST clients have no address to push to: a REST notification is queued for `GET /webhooks/rest/messages`
(`take_rest_pending`) and counts as delivered once the client fetched it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.conversation_ids import split
from bot.store import AppStore, storage_errors
from bot.store.cases import Case, CaseEvent
from bot.store.notifications import CaseNotification, NotificationAttempt
from bot.store.types import to_record, utcnow

__all__ = [
    "BACKOFF",
    "HOTLINE",
    "LEASE",
    "MAX_ATTEMPTS",
    "MAX_BACKOFF",
    "STATES",
    "STATE_LABELS",
    "AttemptRecord",
    "NotificationNotFound",
    "NotificationRecord",
    "NotificationService",
    "NotResendable",
    "notification_text",
    "progress_for",
    "queue_case_notification",
]

log = logging.getLogger(__name__)

HOTLINE = "0951-12333"

QUEUED, SENDING, SENT, DELIVERED, FAILED = "queued", "sending", "sent", "delivered", "failed"
STATES: tuple[str, ...] = (QUEUED, SENDING, SENT, DELIVERED, FAILED)
STATE_LABELS = {QUEUED: "排队中", SENDING: "发送中", SENT: "已发出", DELIVERED: "已送达", FAILED: "没发成"}

LEASE = timedelta(seconds=60)  # longer than any provider call (their HTTP timeouts are 15-20 s)
BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
MAX_ATTEMPTS = 6
# Ways of sending whose provider drops a repeat of the same idempotency key, and for how long it does.
REPEAT_SAFE_VIA = {"template": timedelta(minutes=10)}

IN_DOUBT = "发送时程序中断了，不确定工人是否收到；核实后可以重发。"
GAVE_UP = "试了 {n} 次都没发出去（最后一次：{reason}）"

# What the worker is told for each status change (None: nothing, unless the operator wrote a message).
_STATUS_NEWS: dict[tuple[str | None, str], str | None] = {
    ("新建", "处理中"): "工作人员已经开始处理",
    ("处理中", "已办结"): "已经办结",
    ("已办结", "处理中"): "重新开始处理",
    ("处理中", "新建"): None,  # back in the queue: an internal step, the worker hears of it only with a message
}


class NotificationNotFound(LookupError):
    """No notification with this id."""


class NotResendable(ValueError):
    """Only a failed notification can be resent (the others are on their way or arrived)."""


@dataclass(frozen=True)
class AttemptRecord:
    """One call to a provider for a notification."""

    id: int
    via: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str  # "" while running, sent | retry | failed | unknown
    reason: str
    provider_ids: list[str]


@dataclass(frozen=True)
class NotificationRecord:
    """A notification as stored, with its attempts (oldest first) when read for the console."""

    id: int
    key: str
    case_id: str
    kind: str
    case_status: str
    channel: str
    conversation: str
    progress: str
    text: str
    actor: str
    state: str
    attempts: int
    resends: int
    next_attempt_at: datetime
    via: str
    reason: str
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    attempt_log: tuple[AttemptRecord, ...] = field(default=())

    @property
    def state_label(self) -> str:
        """The state in Chinese (排队中, 已送达, …)."""
        return STATE_LABELS.get(self.state, self.state)

    @property
    def can_resend(self) -> bool:
        return self.state == FAILED

    @property
    def idempotency_key(self) -> str:
        """The key a provider that drops repeats is given: the same for every attempt of one send, new per resend."""
        return f"{self.key}.{self.resends}"

    @property
    def custom(self) -> dict[str, str]:
        """The machine-readable payload a REST client gets with the text."""
        return {"kind": "case_update", "case_id": self.case_id, "status": self.case_status}


def progress_for(previous_status: str | None, status: str, worker_message: str) -> str | None:
    """The news in a few words: the operator's message to the worker, else what the status change means to the
    worker; None when there is nothing to tell (an internal step without a message)."""
    message = (worker_message or "").strip().rstrip("。.！!")
    if message:
        return message
    if previous_status == status:
        return None
    return _STATUS_NEWS.get((previous_status, status))


def notification_text(case_id: str, progress: str) -> str:
    """The whole notification as the worker reads it on WeChat or REST (SMS uses its approved template)."""
    return f"您登记的案件{case_id}有新进展：{progress}。详询{HOTLINE}"


def queue_case_notification(
    session: Session, case: Case, event: CaseEvent, previous_status: str | None, now: datetime
) -> CaseNotification | None:
    """Add the notification of `event` (already flushed) to `session`, the transaction that changes the case.

    Nothing is queued when there is no news (`progress_for`) or when the case's conversation has no channel that can
    reach the worker (an unscoped legacy id)."""
    progress = progress_for(previous_status, event.status, event.worker_message or "")
    if progress is None:
        return None
    parts = split(case.sender_id)
    if parts is None:
        log.warning("case %s: its conversation has no channel; no notification queued", case.case_id)
        return None
    notification = CaseNotification(
        key=f"case-event:{event.id}",
        case_id=case.case_id,
        case_event_id=event.id,
        kind="status" if previous_status != event.status else "message",
        case_status=event.status,
        channel=parts[0],
        conversation=case.sender_id,
        progress=progress,
        text=notification_text(case.case_id, progress),
        actor=event.actor,
        state=QUEUED,
        attempts=0,
        resends=0,
        next_attempt_at=now,
        via="",
        reason="",
        created_at=now,
    )
    session.add(notification)
    session.flush()
    return notification


def _record(row: CaseNotification, attempts: Iterable[NotificationAttempt] = ()) -> NotificationRecord:
    return to_record(
        NotificationRecord,
        row,
        attempt_log=tuple(
            to_record(AttemptRecord, attempt, provider_ids=list(attempt.provider_ids or [])) for attempt in attempts
        ),
    )


def backoff(attempts: int) -> timedelta:
    """The pause before the next try after `attempts` claims: BACKOFF, doubling, at most MAX_BACKOFF."""
    return min(BACKOFF * 2 ** max(0, attempts - 1), MAX_BACKOFF)


class NotificationService:
    """Queries and commands of the outbox. Thread-safe: every call uses its own session and transaction. Every
    storage failure raises `bot.store.StoreUnavailable`."""

    def __init__(self, store: AppStore, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock

    # ---------------------------------------------------------------- the console

    def for_case(self, case_id: str) -> list[NotificationRecord]:
        """The case's notifications, newest first, each with its attempts."""
        with storage_errors(), self._store.begin() as session:
            rows = (
                session.execute(
                    sa.select(CaseNotification)
                    .where(CaseNotification.case_id == case_id)
                    .order_by(CaseNotification.created_at.desc(), CaseNotification.id.desc())
                )
                .scalars()
                .all()
            )
            return [_record(row, self._attempts(session, row.id)) for row in rows]

    def get(self, notification_id: int) -> NotificationRecord | None:
        with storage_errors(), self._store.begin() as session:
            row = session.get(CaseNotification, notification_id)
            return _record(row, self._attempts(session, row.id)) if row is not None else None

    def resend(self, notification_id: int, actor: str) -> NotificationRecord:
        """Put a failed notification back in the queue (a new idempotency key: this is meant as a second message).
        Raises NotificationNotFound or NotResendable (someone else resent it already, or it is not failed)."""
        now = self._clock()
        with storage_errors(), self._store.begin() as session:
            row = session.get(CaseNotification, notification_id)
            if row is None:
                raise NotificationNotFound(notification_id)
            updated = session.execute(
                sa.update(CaseNotification)
                .where(
                    CaseNotification.id == notification_id,
                    CaseNotification.state == FAILED,
                    CaseNotification.text != "",  # cleared by the retention job: nothing left to send
                )
                .values(
                    state=QUEUED,
                    resends=CaseNotification.resends + 1,
                    attempts=0,
                    next_attempt_at=now,
                    claimed_by=None,
                    lease_until=None,
                    reason="",
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            if updated != 1:
                why = "cleared by the retention job" if not row.text else f"{row.state}, not failed"
                raise NotResendable(f"notification {notification_id} is {why}")
            session.expire(row)
            record = _record(session.get(CaseNotification, notification_id))
        log.info("notification %s of case %s: resent by %s", notification_id, record.case_id, actor)
        return record

    # ---------------------------------------------------------------- the notifier

    def claim(self, worker: str, *, limit: int = 10, lease: timedelta = LEASE) -> list[NotificationRecord]:
        """Claim up to `limit` due notifications for `worker` (each for `lease`); a row another notifier claimed
        meanwhile is skipped. A claim whose lease ran out is taken over, unless its send is in doubt (see the
        module's docstring): then it is marked failed, or sent again where the provider drops repeats."""
        now = self._clock()
        due = sa.or_(
            sa.and_(CaseNotification.state == QUEUED, CaseNotification.next_attempt_at <= now),
            sa.and_(CaseNotification.state == SENDING, CaseNotification.lease_until < now),
        )
        claimed: list[NotificationRecord] = []
        with storage_errors():
            with self._store.begin() as session:
                candidates = session.execute(
                    sa.select(
                        CaseNotification.id, CaseNotification.state, CaseNotification.claimed_by, CaseNotification.via
                    )
                    .where(due)
                    .order_by(CaseNotification.next_attempt_at, CaseNotification.id)
                    .limit(max(1, limit))
                ).all()
            for notification_id, state, holder, _via in candidates:
                with self._store.begin() as session:
                    if state == SENDING and not self._take_over_expired(session, notification_id, holder, now):
                        continue
                    won = session.execute(
                        sa.update(CaseNotification)
                        .where(
                            CaseNotification.id == notification_id,
                            due,
                            CaseNotification.state == state,
                            CaseNotification.claimed_by.is_(None)
                            if holder is None
                            else CaseNotification.claimed_by == holder,
                        )
                        .values(
                            state=SENDING,
                            claimed_by=worker,
                            lease_until=now + lease,
                            attempts=CaseNotification.attempts + 1,
                        )
                        .execution_options(synchronize_session=False)
                    ).rowcount
                    if won == 1:
                        claimed.append(_record(session.get(CaseNotification, notification_id)))
        return claimed

    def _take_over_expired(self, session: Session, notification_id: int, holder: str | None, now: datetime) -> bool:
        """A claim whose notifier died: True when it may be sent (again); False when it was marked failed."""
        open_attempts = (
            session.execute(
                sa.select(NotificationAttempt).where(
                    NotificationAttempt.notification_id == notification_id, NotificationAttempt.outcome == ""
                )
            )
            .scalars()
            .all()
        )
        if not open_attempts:
            return True  # the notifier died before it called the provider: nothing went out
        repeat_safe = all(
            attempt.via in REPEAT_SAFE_VIA and now - attempt.started_at < REPEAT_SAFE_VIA[attempt.via]
            for attempt in open_attempts
        )
        for attempt in open_attempts:
            attempt.outcome, attempt.finished_at = "unknown", now
            attempt.reason = "通知程序在调用时中断"
        if repeat_safe:
            return True
        updated = session.execute(
            sa.update(CaseNotification)
            .where(CaseNotification.id == notification_id, CaseNotification.state == SENDING)
            .where(
                CaseNotification.claimed_by == holder if holder is not None else CaseNotification.claimed_by.is_(None)
            )
            .values(state=FAILED, reason=IN_DOUBT, claimed_by=None, lease_until=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if updated == 1:
            log.warning("notification %s: its notifier died while sending; marked failed (in doubt)", notification_id)
        return False

    def start_attempt(self, notification_id: int, worker: str, via: str) -> int | None:
        """Record (and commit) that `worker` is about to call the provider `via`; the attempt's id, or None when the
        claim is no longer the worker's (its lease ran out and another notifier took the row): do not send then."""
        now = self._clock()
        with storage_errors(), self._store.begin() as session:
            if not self._holds(session, notification_id, worker, now):
                return None
            attempt = NotificationAttempt(
                notification_id=notification_id, worker=worker, via=via, started_at=now, outcome="", provider_ids=[]
            )
            session.add(attempt)
            session.flush()
            return int(attempt.id)

    def finish_attempt(self, attempt_id: int, outcome: str, reason: str = "", provider_ids: Iterable[str] = ()) -> None:
        """Record how a provider call ended without settling the notification (e.g. the WeChat window was closed,
        so a template message follows)."""
        with storage_errors(), self._store.begin() as session:
            self._finish(session, attempt_id, outcome, reason, provider_ids, self._clock())

    def mark_sent(
        self, notification_id: int, worker: str, attempt_id: int | None, via: str, provider_ids: Iterable[str] = ()
    ) -> bool:
        """The provider accepted the message: the notification is sent (delivered for REST once fetched)."""
        now = self._clock()
        ids = [str(value) for value in provider_ids]
        with storage_errors(), self._store.begin() as session:
            if attempt_id is not None:
                self._finish(session, attempt_id, "sent", "", ids, now)
            return self._settle(session, notification_id, worker, state=SENT, via=via, reason="", sent_at=now) == 1

    def mark_retry(self, notification_id: int, worker: str, attempt_id: int | None, reason: str) -> str:
        """A transient failure: back in the queue after the back-off, or failed after MAX_ATTEMPTS claims. Returns
        the new state."""
        now = self._clock()
        with storage_errors(), self._store.begin() as session:
            if attempt_id is not None:
                self._finish(session, attempt_id, "retry", reason, (), now)
            row = session.get(CaseNotification, notification_id)
            if row is None:
                raise NotificationNotFound(notification_id)
            if row.attempts >= MAX_ATTEMPTS:
                self._settle(
                    session, notification_id, worker, state=FAILED, reason=GAVE_UP.format(n=row.attempts, reason=reason)
                )
                return FAILED
            self._settle(
                session,
                notification_id,
                worker,
                state=QUEUED,
                reason=reason,
                next_attempt_at=now + backoff(row.attempts),
            )
            return QUEUED

    def mark_failed(self, notification_id: int, worker: str, attempt_id: int | None, reason: str) -> None:
        """A permanent failure (opted out, window closed without a template, refused): failed, resendable."""
        now = self._clock()
        with storage_errors(), self._store.begin() as session:
            if attempt_id is not None:
                self._finish(session, attempt_id, "failed", reason, (), now)
            self._settle(session, notification_id, worker, state=FAILED, reason=reason)

    def queue_for_rest(self, notification_id: int, worker: str) -> bool:
        """Queue a REST notification for the client's pickup: the attempt and the outcome in one transaction, so a
        REST notification is never in doubt and never queued twice."""
        now = self._clock()
        with storage_errors(), self._store.begin() as session:
            if not self._holds(session, notification_id, worker, now):
                return False
            session.add(
                NotificationAttempt(
                    notification_id=notification_id,
                    worker=worker,
                    via="rest",
                    started_at=now,
                    finished_at=now,
                    outcome="sent",
                    reason="",
                    provider_ids=[],
                )
            )
            return self._settle(session, notification_id, worker, state=SENT, via="rest", reason="", sent_at=now) == 1

    def take_rest_pending(self, conversation: str, now: datetime | None = None) -> list[NotificationRecord]:
        """The REST conversation's notifications waiting for pickup, oldest first; each is handed out once (a
        compare-and-set) and is then delivered."""
        now = now or self._clock()
        taken: list[NotificationRecord] = []
        with storage_errors(), self._store.begin() as session:
            rows = (
                session.execute(
                    sa.select(CaseNotification)
                    .where(
                        CaseNotification.conversation == conversation,
                        CaseNotification.channel == "rest",
                        CaseNotification.state == SENT,
                    )
                    .order_by(CaseNotification.id)
                )
                .scalars()
                .all()
            )
            for row in rows:
                won = session.execute(
                    sa.update(CaseNotification)
                    .where(CaseNotification.id == row.id, CaseNotification.state == SENT)
                    .values(state=DELIVERED, delivered_at=now)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if won == 1:
                    taken.append(_record(row))
        return taken

    def due_count(self) -> int:
        """Notifications waiting to be sent (queued), for health checks and tests."""
        with storage_errors(), self._store.begin() as session:
            return int(
                session.execute(
                    sa.select(sa.func.count()).select_from(CaseNotification).where(CaseNotification.state == QUEUED)
                ).scalar_one()
            )

    # ---------------------------------------------------------------- internals

    @staticmethod
    def _attempts(session: Session, notification_id: int) -> list[NotificationAttempt]:
        return list(
            session.execute(
                sa.select(NotificationAttempt)
                .where(NotificationAttempt.notification_id == notification_id)
                .order_by(NotificationAttempt.id)
            ).scalars()
        )

    @staticmethod
    def _holds(session: Session, notification_id: int, worker: str, now: datetime) -> bool:
        row = session.get(CaseNotification, notification_id)
        return (
            row is not None
            and row.state == SENDING
            and row.claimed_by == worker
            and row.lease_until is not None
            and row.lease_until > now
        )

    @staticmethod
    def _finish(
        session: Session, attempt_id: int, outcome: str, reason: str, provider_ids: Iterable[str], now: datetime
    ) -> None:
        session.execute(
            sa.update(NotificationAttempt)
            .where(NotificationAttempt.id == attempt_id, NotificationAttempt.outcome == "")
            .values(
                outcome=outcome, reason=reason, provider_ids=[str(value) for value in provider_ids], finished_at=now
            )
            .execution_options(synchronize_session=False)
        )

    @staticmethod
    def _settle(session: Session, notification_id: int, worker: str, **values: Any) -> int:
        """Set the outcome of `worker`'s claim (only while the claim is still its own)."""
        return int(
            session.execute(
                sa.update(CaseNotification)
                .where(
                    CaseNotification.id == notification_id,
                    CaseNotification.state == SENDING,
                    CaseNotification.claimed_by == worker,
                )
                .values(claimed_by=None, lease_until=None, **values)
                .execution_options(synchronize_session=False)
            ).rowcount
        )
