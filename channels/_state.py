"""Queries on the channels' durable state (models in `bot.store.channel_state`).

`ChannelState` is synchronous (SQLAlchemy sessions); the channels call it through `asyncio.to_thread` so a database
wait never blocks the event loop. It works on the process's one app store (`bot.store.app_store()`), whose engine is
built on first use, never at import.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.store import AppStore, app_store
from bot.store.channel_state import ChannelMenu, ChannelMessage, ChannelNonce, SmsContact, SmsOptOut
from bot.store.types import utcnow
from bot.takeover import intercept as takeover_gate

__all__ = ["ChannelState", "OPTED_OUT", "SUBSCRIBED"]

OPTED_OUT = "opted_out"
SUBSCRIBED = "subscribed"


Gate = Callable[[str, str, str], Awaitable[bool]]


class ChannelState:
    """Processed-message keys, signed nonces seen, SMS contacts and opt-outs, remembered menus in the app store."""

    def __init__(self, store: AppStore | str) -> None:
        # A database URL is accepted while channels.sms (being split into a package) still passes one.
        self._store = AppStore(store) if isinstance(store, str) else store

    @property
    def store(self) -> AppStore:
        """The app store this state lives in (the channels' delivery reports are written there too)."""
        return self._store

    # -- processed messages -------------------------------------------------------------------------------------

    def claim_message(self, channel: str, key: str) -> bool:
        """Record `key` as being processed; False when it was already claimed (a duplicate delivery)."""
        try:
            with self._store.begin() as session:
                session.add(
                    ChannelMessage(channel=channel, message_key=key[:128], status="processing", received_at=utcnow())
                )
            return True
        except IntegrityError:
            return False

    def finish_message(self, channel: str, key: str, reply: str | None = None) -> None:
        """Mark a claimed message as done (it will never run again), with the passive reply a retry should get
        (WeChat; None: "success")."""
        with self._store.begin() as session:
            row = session.get(ChannelMessage, (channel, key[:128]))
            if row is not None:
                row.status = "done"
                row.reply = reply

    def message_outcome(self, channel: str, key: str) -> tuple[str, str | None] | None:
        """(status, reply) of a claimed message: "processing" while its turn runs, "done" with the passive reply
        (None: answer "success"); None when the message was never claimed (or its key was pruned)."""
        with self._store.begin() as session:
            row = session.get(ChannelMessage, (channel, key[:128]))
            return None if row is None else (row.status, row.reply)

    def release_message(self, channel: str, key: str) -> None:
        """Forget a claim whose processing failed before the turn ran, so the provider's retry can run it."""
        with self._store.begin() as session:
            session.execute(
                sa.delete(ChannelMessage).where(
                    ChannelMessage.channel == channel, ChannelMessage.message_key == key[:128]
                )
            )

    def prune_messages(self, older_than: timedelta, channel: str | None = None) -> int:
        """Delete processed-message keys older than `older_than` (providers stop retrying long before), of one
        channel or of all."""
        condition = ChannelMessage.received_at < utcnow() - older_than
        if channel is not None:
            condition = sa.and_(condition, ChannelMessage.channel == channel)
        with self._store.begin() as session:
            return session.execute(sa.delete(ChannelMessage).where(condition)).rowcount or 0

    # -- signed nonces ------------------------------------------------------------------------------------------

    def remember_nonce(self, channel: str, nonce: str, signed_at: datetime) -> bool:
        """Record a signed request's nonce; False when it was already seen (the request is a replay)."""
        try:
            with self._store.begin() as session:
                session.add(ChannelNonce(channel=channel, nonce=nonce[:96], signed_at=signed_at))
            return True
        except IntegrityError:
            return False

    def prune_nonces(self, signed_before: datetime) -> int:
        """Forget nonces signed before `signed_before` (their requests are refused as stale anyway)."""
        with self._store.begin() as session:
            return session.execute(sa.delete(ChannelNonce).where(ChannelNonce.signed_at < signed_before)).rowcount or 0

    # -- SMS contacts -------------------------------------------------------------------------------------------

    def record_contact(self, phone: str) -> None:
        """Remember that `phone` wrote to the service (an authenticated callback from that number)."""
        now = utcnow()
        try:
            with self._store.begin() as session:
                row = session.get(SmsContact, phone)
                if row is None:
                    session.add(SmsContact(phone=phone, first_seen_at=now, last_seen_at=now))
                else:
                    row.last_seen_at = now
        except IntegrityError:  # the number's first message was recorded concurrently: it is a contact
            pass

    def has_written(self, phone: str) -> bool:
        """Whether `phone` ever wrote to the service (only those numbers may be sent SMS)."""
        with self._store.begin() as session:
            return session.get(SmsContact, phone) is not None

    # -- SMS opt-outs -------------------------------------------------------------------------------------------

    def subscription(self, phone: str) -> str | None:
        """OPTED_OUT, SUBSCRIBED (opted out once, then came back) or None (never said either)."""
        with self._store.begin() as session:
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
        with self._store.begin() as session:
            row = session.get(SmsOptOut, phone, with_for_update=True)
            previous = row.status if row else None
            if previous == status:
                return False
            if row is None:
                session.add(SmsOptOut(phone=phone, status=status, keyword=keyword[:16], changed_at=utcnow()))
            else:
                row.status, row.keyword, row.changed_at = status, keyword[:16], utcnow()
            return True

    # -- menus --------------------------------------------------------------------------------------------------

    def remember_menu(self, channel: str, sender_id: str, payloads: list[str], ttl: timedelta) -> None:
        """Remember the last menu shown to a user; an empty list forgets it (digits then mean themselves)."""
        with self._store.begin() as session:
            row = session.get(ChannelMenu, (channel, sender_id))
            if not payloads:
                if row is not None:
                    session.delete(row)
                return
            data = json.dumps(payloads, ensure_ascii=False)
            if row is None:
                session.add(ChannelMenu(channel=channel, sender_id=sender_id, payloads=data, expires_at=utcnow() + ttl))
            else:
                row.payloads, row.expires_at = data, utcnow() + ttl

    def menu_choice(self, channel: str, sender_id: str, number: int) -> str | None:
        """The payload of option `number` (1-based) of the user's unexpired last menu, or None."""
        with self._store.begin() as session:
            row = session.get(ChannelMenu, (channel, sender_id))
            if row is None or row.expires_at < utcnow():
                return None
            payloads = json.loads(row.payloads)
            return payloads[number - 1] if 1 <= number <= len(payloads) else None


def state_and_gate(db_url: str | None, intercept: Gate | None = None) -> tuple[ChannelState, Gate]:
    """A channel's durable state and its takeover gate, defaulting to the process's app store and
    `bot.takeover.intercept`.

    Both input channels take these as optional constructor arguments (tests pass their own database URL and gate);
    this is the one place that decides the defaults.
    """
    store = app_store() if db_url is None else AppStore(db_url)
    return ChannelState(store), intercept or takeover_gate
