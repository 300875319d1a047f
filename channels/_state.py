"""Queries on the channels' durable state (models in `bot.store.channel_state`).

`ChannelState` is synchronous (SQLAlchemy sessions); the channels call it through `asyncio.to_thread` so a database
wait never blocks the event loop. The engine is created on first use, never at import.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.store import create_engine_for, session_scope, sessionmaker_for
from bot.store.channel_state import ChannelMenu, ChannelMessage, SmsOptOut

__all__ = ["ChannelState", "OPTED_OUT", "SUBSCRIBED"]

OPTED_OUT = "opted_out"
SUBSCRIBED = "subscribed"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class ChannelState:
    """Processed-message keys, SMS opt-outs and remembered menus in the app store at `url`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._factory = None
        self._lock = threading.Lock()

    def _sessions(self):
        with self._lock:
            if self._factory is None:
                self._factory = sessionmaker_for(create_engine_for(self.url))
            return self._factory

    # -- processed messages -------------------------------------------------------------------------------------

    def claim_message(self, channel: str, key: str) -> bool:
        """Record `key` as being processed; False when it was already claimed (a duplicate delivery)."""
        try:
            with session_scope(self._sessions()) as session:
                session.add(
                    ChannelMessage(channel=channel, message_key=key[:128], status="processing", received_at=_now())
                )
            return True
        except IntegrityError:
            return False

    def finish_message(self, channel: str, key: str) -> None:
        """Mark a claimed message as done (it will never run again)."""
        with session_scope(self._sessions()) as session:
            row = session.get(ChannelMessage, (channel, key[:128]))
            if row is not None:
                row.status = "done"

    def release_message(self, channel: str, key: str) -> None:
        """Forget a claim whose processing failed before the turn ran, so the provider's retry can run it."""
        with session_scope(self._sessions()) as session:
            session.execute(
                sa.delete(ChannelMessage).where(
                    ChannelMessage.channel == channel, ChannelMessage.message_key == key[:128]
                )
            )

    def prune_messages(self, older_than: timedelta) -> int:
        """Delete processed-message keys older than `older_than` (providers stop retrying long before)."""
        with session_scope(self._sessions()) as session:
            result = session.execute(sa.delete(ChannelMessage).where(ChannelMessage.received_at < _now() - older_than))
            return result.rowcount or 0

    # -- SMS opt-outs -------------------------------------------------------------------------------------------

    def subscription(self, phone: str) -> str | None:
        """OPTED_OUT, SUBSCRIBED (opted out once, then came back) or None (never said either)."""
        with session_scope(self._sessions()) as session:
            row = session.get(SmsOptOut, phone)
            return row.status if row else None

    def is_opted_out(self, phone: str) -> bool:
        return self.subscription(phone) == OPTED_OUT

    def set_subscription(self, phone: str, status: str, keyword: str) -> bool:
        """Record the number's choice; True when it changed the state (so the confirmation is sent only once)."""
        if status not in (OPTED_OUT, SUBSCRIBED):
            raise ValueError(f"unknown subscription status {status!r}")
        try:
            return self._set_subscription(phone, status, keyword)
        except IntegrityError:  # the same number's first row was written concurrently: that write decided
            return False

    def _set_subscription(self, phone: str, status: str, keyword: str) -> bool:
        with session_scope(self._sessions()) as session:
            row = session.get(SmsOptOut, phone, with_for_update=True)
            previous = row.status if row else None
            if previous == status:
                return False
            if row is None:
                session.add(SmsOptOut(phone=phone, status=status, keyword=keyword[:16], changed_at=_now()))
            else:
                row.status, row.keyword, row.changed_at = status, keyword[:16], _now()
            return True

    # -- menus --------------------------------------------------------------------------------------------------

    def remember_menu(self, channel: str, sender_id: str, payloads: list[str], ttl: timedelta) -> None:
        """Remember the last menu shown to a user; an empty list forgets it (digits then mean themselves)."""
        with session_scope(self._sessions()) as session:
            row = session.get(ChannelMenu, (channel, sender_id))
            if not payloads:
                if row is not None:
                    session.delete(row)
                return
            data = json.dumps(payloads, ensure_ascii=False)
            if row is None:
                session.add(ChannelMenu(channel=channel, sender_id=sender_id, payloads=data, expires_at=_now() + ttl))
            else:
                row.payloads, row.expires_at = data, _now() + ttl

    def menu_choice(self, channel: str, sender_id: str, number: int) -> str | None:
        """The payload of option `number` (1-based) of the user's unexpired last menu, or None."""
        with session_scope(self._sessions()) as session:
            row = session.get(ChannelMenu, (channel, sender_id))
            if row is None or row.expires_at < _now():
                return None
            payloads = json.loads(row.payloads)
            return payloads[number - 1] if 1 <= number <= len(payloads) else None


def state_and_gate(db_url: str | None, intercept=None):
    """A channel's durable state and its takeover gate, defaulting to the app store and `bot.takeover.intercept`.

    Both input channels take these as optional constructor arguments (tests pass their own); this is the one place
    that decides the defaults.
    """
    if db_url is None:
        from bot.settings import Settings

        db_url = Settings.from_env().app_db_url
    if intercept is None:
        from bot.takeover import intercept
    return ChannelState(db_url), intercept
