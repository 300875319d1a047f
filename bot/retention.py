"""Retention: `python -m bot purge --older-than 180d [--dry-run]` removes what the assistant no longer needs to keep.

- **Conversations** whose last event is older than the cut-off: every row of the tracker store's `events` table
  (Rasa's SQL tracker store: var/tracker.db, or PostgreSQL with endpoints.postgres.yml) and of the SQL event
  broker's `events` table (EVENTS_DB_URL, the console's overview) for that conversation. A conversation with a
  recent turn is kept whole.
- **Closed cases** (已办结) last changed before the cut-off: the worker's personal fields are cleared (the name and
  employer become "（已清除）", the phone its masked form "139****5678", the description empty); the case row, its
  number, type, county, amount, status and its whole history stay, and the history gets one line saying so.
- **Operator-takeover messages** older than the cut-off: their text is cleared (the rows stay for the audit).
- **Case notifications** (the outbox) created before the cut-off and no longer waiting to be sent: their text and
  progress (an operator's message to the worker) are cleared and the conversation id keeps only its masked form
  ("sms:139****5678"); the row, its state and attempts stay for the case's history.
- **Delivery-log rows** (one per provider message id, with the conversation id) sent before the cut-off are removed:
  the overview's delivered share looks at recent days only.

`--dry-run` counts what would go and changes nothing. Run it from cron, e.g. daily: the job is idempotent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bot.settings import Settings

__all__ = ["PURGED", "PurgeReport", "parse_age", "purge", "tracker_store_url"]

PURGED = "（已清除）"
RETENTION_ACTOR = "retention"
_AGE = re.compile(r"^\s*(\d+)\s*([dhw]?)\s*$")


def parse_age(text: str) -> timedelta:
    """ "180d" (days; the unit may be left out), "26w" (weeks) or "12h" (hours) as a timedelta (at least 1 hour)."""
    found = _AGE.match(text or "")
    if not found:
        raise ValueError(f"--older-than must look like 180d, 26w or 12h, got {text!r}")
    amount, unit = int(found.group(1)), found.group(2) or "d"
    age = {"d": timedelta(days=amount), "w": timedelta(weeks=amount), "h": timedelta(hours=amount)}[unit]
    if age < timedelta(hours=1):
        raise ValueError("--older-than must be at least 1h")
    return age


@dataclass
class PurgeReport:
    cutoff: datetime
    dry_run: bool
    conversations: int = 0  # tracker-store conversations removed
    tracker_events: int = 0
    broker_events: int = 0
    cases: int = 0  # closed cases whose personal fields were cleared
    takeover_messages: int = 0
    notifications: int = 0  # case notifications whose text was cleared
    deliveries: int = 0  # delivery-log rows removed

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        return [
            f"cut-off {self.cutoff.isoformat(timespec='seconds')}{' (dry run: nothing changed)' if self.dry_run else ''}",
            f"{verb} {self.conversations} conversations ({self.tracker_events} tracker events, "
            f"{self.broker_events} event-broker rows)",
            f"{'would clear' if self.dry_run else 'cleared'} the personal fields of {self.cases} closed cases",
            f"{'would clear' if self.dry_run else 'cleared'} the text of {self.takeover_messages} takeover messages",
            f"{'would clear' if self.dry_run else 'cleared'} the text of {self.notifications} case notifications",
            f"{verb} {self.deliveries} delivery-log rows",
        ]


def tracker_store_url(settings: Settings) -> str:
    """The tracker store's SQLAlchemy URL, as the Rasa endpoints file in use configures it."""
    if settings.endpoints.name == "endpoints.postgres.yml":
        env = settings.rasa_environment()
        return str(
            sa.engine.URL.create(
                "postgresql",
                username=env.get("TRACKER_DB_USER") or None,
                password=env.get("TRACKER_DB_PASSWORD") or None,
                host=env.get("TRACKER_DB_HOST"),
                port=int(env.get("TRACKER_DB_PORT") or 5432),
                database=env.get("TRACKER_DB_NAME"),
            ).render_as_string(hide_password=False)
        )
    return f"sqlite:///{settings.tracker_db}"


def _has_table(engine: sa.engine.Engine, name: str) -> bool:
    return sa.inspect(engine).has_table(name)


def _in_chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _count_or_delete(connection: sa.Connection, events: sa.TableClause, senders: list[str], dry_run: bool) -> int:
    """How many rows of `events` (a table with `sender_id`) belong to `senders`: counted, or deleted unless `dry_run`."""
    removed = 0
    for chunk in _in_chunks(senders):
        condition = events.c.sender_id.in_(chunk)
        if dry_run:
            removed += connection.execute(sa.select(sa.func.count()).select_from(events).where(condition)).scalar_one()
        else:
            removed += connection.execute(sa.delete(events).where(condition)).rowcount
    return removed


def _purge_tracker(url: str, cutoff: datetime, dry_run: bool, report: PurgeReport) -> set[str]:
    engine = sa.create_engine(url, future=True)
    try:
        if not _has_table(engine, "events"):
            return set()
        events = sa.table("events", sa.column("sender_id"), sa.column("timestamp"))
        with engine.begin() as connection:
            old = sorted(
                connection.execute(
                    sa.select(events.c.sender_id)
                    .group_by(events.c.sender_id)
                    .having(sa.func.max(events.c.timestamp) < cutoff.timestamp())
                ).scalars()
            )
            report.conversations += len(old)
            report.tracker_events += _count_or_delete(connection, events, old, dry_run)
        return set(old)
    finally:
        engine.dispose()


def _purge_broker(url: str, cutoff: datetime, dry_run: bool, report: PurgeReport) -> None:
    """The SQL event broker's rows (sender_id, JSON data with the event's timestamp) of conversations whose latest
    row is older than the cut-off."""
    engine = sa.create_engine(url, future=True)
    try:
        if not _has_table(engine, "events"):
            return
        events = sa.table("events", sa.column("id"), sa.column("sender_id"), sa.column("data"))
        with engine.begin() as connection:
            latest: dict[str, float] = {}
            for sender_id, data in connection.execute(sa.select(events.c.sender_id, events.c.data)):
                try:
                    stamp = float(json.loads(data).get("timestamp") or 0)
                except (TypeError, ValueError, AttributeError):
                    stamp = 0.0  # an unreadable row counts as old, never as a reason to keep a conversation
                latest[sender_id] = max(latest.get(sender_id, 0.0), stamp)
            old = sorted(sender for sender, stamp in latest.items() if stamp < cutoff.timestamp())
            report.broker_events += _count_or_delete(connection, events, old, dry_run)
    finally:
        engine.dispose()


def _masked_phone(phone: str) -> str:
    from nlu.extract import mask_pii

    masked = mask_pii(phone or "")
    return masked if masked != phone else "*" * min(len(phone or "") or 3, 11)


def _masked_conversation(conversation: str) -> str:
    """The conversation id with its address masked: a phone as 139****5678, anything else (an OpenID, a REST id)
    kept to its channel and the first characters."""
    from nlu.extract import mask_pii

    channel, separator, address = (conversation or "").partition(":")
    if not separator:  # an id from before the channel scoping: all of it is the address
        channel, address = "", channel
    masked = mask_pii(address)
    if masked == address and address:
        masked = address[:4] + "****"
    return f"{channel}{separator}{masked}"


def _purge_app_store(url: str, cutoff: datetime, dry_run: bool, report: PurgeReport) -> None:
    from bot.cases import STATUS_CLOSED
    from bot.notifications import QUEUED, SENDING
    from bot.store import AppStore
    from bot.store.cases import Case, CaseEvent
    from bot.store.notifications import CaseNotification, Delivery
    from bot.store.operators import TakeoverMessage

    store = AppStore(url)
    try:
        with store.begin() as session:
            cases = session.scalars(
                sa.select(Case).where(
                    Case.status == STATUS_CLOSED, Case.updated_at < cutoff, Case.worker_name != PURGED
                )
            ).all()
            report.cases += len(cases)
            messages = session.scalars(
                sa.select(TakeoverMessage).where(TakeoverMessage.created_at < cutoff, TakeoverMessage.text != "")
            ).all()
            report.takeover_messages += len(messages)
            notifications = session.scalars(
                sa.select(CaseNotification).where(
                    CaseNotification.created_at < cutoff,
                    CaseNotification.state.not_in((QUEUED, SENDING)),
                    sa.or_(CaseNotification.text != "", CaseNotification.progress != ""),
                )
            ).all()
            report.notifications += len(notifications)
            old_deliveries = Delivery.sent_at < cutoff
            report.deliveries += session.execute(
                sa.select(sa.func.count()).select_from(Delivery).where(old_deliveries)
            ).scalar_one()
            if dry_run:
                return
            for notification in notifications:
                notification.text = ""
                notification.progress = ""
                notification.conversation = _masked_conversation(notification.conversation)
            session.execute(sa.delete(Delivery).where(old_deliveries))
            now = datetime.now(UTC)
            for case in cases:
                case.worker_name = PURGED
                case.phone = _masked_phone(case.phone)
                case.employer = PURGED
                case.description = ""
                session.add(
                    CaseEvent(
                        case_id=case.case_id,
                        at=now,
                        status=case.status,
                        note="按保留期限清除了个人信息（姓名、电话、单位、情况说明）",
                        actor=RETENTION_ACTOR,
                    )
                )
            for message in messages:
                message.text = ""
    finally:
        store.dispose()


def purge(
    settings: Settings, older_than: timedelta, *, dry_run: bool = False, now: datetime | None = None
) -> PurgeReport:
    """Apply the retention rules with cut-off `now - older_than` (see the module's docstring)."""
    cutoff = (now or datetime.now(UTC)) - older_than
    report = PurgeReport(cutoff=cutoff, dry_run=dry_run)
    tracker_url = tracker_store_url(settings)
    _purge_tracker(tracker_url, cutoff, dry_run, report)
    if settings.events_db_url != tracker_url:
        _purge_broker(settings.events_db_url, cutoff, dry_run, report)
    _purge_app_store(settings.app_db_url, cutoff, dry_run, report)
    return report
