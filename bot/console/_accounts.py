"""Operator accounts, login sessions, the login throttle and the audit log, on the app store (tables of
`bot.store.operators`), so every console process sees the same accounts, sessions and counters.

Synchronous and thread-safe (a session per call): the web handlers call it through `asyncio.to_thread`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy import orm

from bot.console._security import (
    ADDRESS_BACKOFF,
    USER_BACKOFF,
    Backoff,
    check_password_policy,
    check_username,
    hash_password,
    needs_rehash,
    verify_password,
)
from bot.store import AppStore, StoreUnavailable
from bot.store.operators import AuditEvent, LoginThrottleRow, Operator, OperatorSession
from bot.store.types import to_record

__all__ = [
    "SESSION_LIFETIME",
    "OperatorRecord",
    "AuditRecord",
    "Accounts",
    "OperatorExists",
    "NoSuchOperator",
    "LoginThrottle",
]

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(hours=8)  # one shift; the cookie's signed expiry says the same


class OperatorExists(ValueError):
    """An operator with this username already exists."""


class NoSuchOperator(LookupError):
    """No operator has this username."""


@dataclass(frozen=True)
class OperatorRecord:
    id: int
    username: str


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    operator: str
    action: str
    subject: str
    detail: str


def _session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Accounts:
    """Create and authenticate operators; open, check and end their sessions; write and read the audit log."""

    def __init__(self, store: AppStore) -> None:
        self._store = store

    # -- operators --------------------------------------------------------------------------------------------

    def create_operator(self, username: str, password: str, now: datetime) -> OperatorRecord:
        """A new operator. Raises PasswordPolicyError for a bad username or password, OperatorExists if taken."""
        username = check_username(username)
        check_password_policy(password)
        try:
            with self._store.begin() as session:
                operator = Operator(username=username, password_hash=hash_password(password), created_at=now)
                session.add(operator)
                session.flush()
                record = to_record(OperatorRecord, operator)
        except sa_exc.IntegrityError:
            raise OperatorExists(f"操作员 {username} 已存在") from None
        log.info("operator %s created", username)
        return record

    def operator_exists(self, username: str) -> bool:
        with self._store.begin() as session:
            return (
                session.execute(sa.select(Operator.id).where(Operator.username == username.strip())).first() is not None
            )

    def has_operators(self) -> bool:
        with self._store.begin() as session:
            return session.execute(sa.select(Operator.id).limit(1)).first() is not None

    def authenticate(self, username: str, password: str) -> OperatorRecord | None:
        """The operator if the password matches (and the account is enabled), else None. Takes the same time for an
        unknown username; upgrades the hash when its parameters are outdated."""
        with self._store.begin() as session:
            operator = session.execute(
                sa.select(Operator).where(Operator.username == (username or "").strip())
            ).scalar_one_or_none()
            stored = operator.password_hash if operator is not None and not operator.disabled else None
            if not verify_password(stored, password) or operator is None or stored is None:
                return None
            if needs_rehash(stored):
                operator.password_hash = hash_password(password)
            return to_record(OperatorRecord, operator)

    def set_disabled(self, username: str, disabled: bool = True) -> int:
        """Disable (or enable again) an operator's account. Disabling ends every session of the account at once (the
        next request of a logged-in browser goes to the login page, where the account is refused). The number of
        sessions ended; raises NoSuchOperator."""
        with self._store.begin() as session:
            operator = _operator_named(session, username)
            operator.disabled = disabled
            ended = self._end_sessions(session, operator.id) if disabled else 0
        log.info("operator %s %s (%d sessions ended)", username.strip(), "disabled" if disabled else "enabled", ended)
        return ended

    def reset_password(self, username: str, password: str) -> int:
        """Give an operator a new password and end every session of the account (a stolen cookie dies with the old
        password). The number of sessions ended; raises PasswordPolicyError or NoSuchOperator."""
        check_password_policy(password)
        with self._store.begin() as session:
            operator = _operator_named(session, username)
            operator.password_hash = hash_password(password)
            ended = self._end_sessions(session, operator.id)
        log.info("operator %s: password reset (%d sessions ended)", username.strip(), ended)
        return ended

    @staticmethod
    def _end_sessions(session, operator_id: int) -> int:
        result = session.execute(sa.delete(OperatorSession).where(OperatorSession.operator_id == operator_id))
        return int(result.rowcount or 0)

    # -- sessions ---------------------------------------------------------------------------------------------

    def open_session(self, operator: OperatorRecord, now: datetime) -> tuple[str, datetime]:
        """A new session id (the cookie carries it; the store keeps only its hash) and its expiry."""
        session_id = secrets.token_urlsafe(32)
        expires_at = now + SESSION_LIFETIME
        with self._store.begin() as session:
            session.add(
                OperatorSession(
                    id_hash=_session_hash(session_id), operator_id=operator.id, created_at=now, expires_at=expires_at
                )
            )
            # Forget sessions that ended long ago, so the table does not grow without bound.
            session.execute(sa.delete(OperatorSession).where(OperatorSession.expires_at < now))
        return session_id, expires_at

    def session_operator(self, session_id: str, now: datetime) -> OperatorRecord | None:
        """The operator of a live session (not expired, not ended, account enabled), else None."""
        with self._store.begin() as session:
            row = session.execute(
                sa.select(Operator.id, Operator.username)
                .join(OperatorSession, OperatorSession.operator_id == Operator.id)
                .where(
                    OperatorSession.id_hash == _session_hash(session_id),
                    OperatorSession.expires_at > now,
                    Operator.disabled.is_(False),
                )
            ).first()
            return to_record(OperatorRecord, row) if row is not None else None

    def end_session(self, session_id: str) -> None:
        with self._store.begin() as session:
            session.execute(sa.delete(OperatorSession).where(OperatorSession.id_hash == _session_hash(session_id)))

    # -- audit ------------------------------------------------------------------------------------------------

    def audit(self, operator: str, action: str, subject: str, now: datetime, detail: str = "") -> None:
        with self._store.begin() as session:
            session.add(AuditEvent(at=now, operator=operator, action=action, subject=subject, detail=detail))

    def audit_log(
        self, *, subject: str | None = None, action: str | None = None, limit: int = 100
    ) -> list[AuditRecord]:
        """Audit entries newest first, optionally only about `subject` or of one `action`."""
        query = sa.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
        if subject is not None:
            query = query.where(AuditEvent.subject == subject)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        with self._store.begin() as session:
            return [to_record(AuditRecord, event) for event in session.execute(query).scalars()]


class LoginThrottle:
    """Login attempts per username and per client address, counted in the app store (shared by every console
    process) and reserved *before* the password is checked.

    `reserve()` counts the attempt as a failure at once and answers 0, or answers the seconds to wait (the attempt is
    then not made). Each reservation is a compare-and-set on the key's row (its `version`), so a burst of parallel
    logins, in one process or in several, gets exactly the `free` attempts of its key and then waits out the back-off
    (`bot.console._security.Backoff`: doubling delays, capped, never a ban). A successful login clears its username
    and gives its address back the attempt.
    """

    def __init__(self, store: AppStore, *, user: Backoff = USER_BACKOFF, address: Backoff = ADDRESS_BACKOFF) -> None:
        self._store = store
        self.user = user
        self.address = address

    @staticmethod
    def _user_key(username: str) -> str:
        return "u:" + (username or "").strip().casefold()[:64]

    @staticmethod
    def _address_key(address: str) -> str:
        return "a:" + (address or "?")[:64]

    def reserve(self, username: str, address: str, now: float) -> float:
        """0 when the attempt may go ahead (it is counted now), else the seconds until one may."""
        wait = self._reserve(self._address_key(address), self.address, now)
        if wait > 0:
            return wait
        wait = self._reserve(self._user_key(username), self.user, now)
        if wait > 0:  # no guess was made: the address gets its attempt back
            self._refund(self._address_key(address))
        return wait

    def succeeded(self, username: str, address: str) -> None:
        """A correct password: the username starts over, the address gets its reserved attempt back."""
        self.clear(username)
        self._refund(self._address_key(address))

    def _refund(self, key: str) -> None:
        with self._store.begin() as session:
            session.execute(
                sa.update(LoginThrottleRow)
                .where(LoginThrottleRow.key == key, LoginThrottleRow.failures > 0)
                .values(failures=LoginThrottleRow.failures - 1, version=LoginThrottleRow.version + 1)
            )

    def clear(self, username: str) -> None:
        """Forget a username's attempts (after an administrator reset its password)."""
        with self._store.begin() as session:
            session.execute(sa.delete(LoginThrottleRow).where(LoginThrottleRow.key == self._user_key(username)))

    def _reserve(self, key: str, policy: Backoff, now: float) -> float:
        for _ in range(200):  # each round loses only to another reservation of the same key that won
            with self._store.begin() as session:
                row = session.execute(
                    sa.select(LoginThrottleRow.failures, LoginThrottleRow.not_before, LoginThrottleRow.version).where(
                        LoginThrottleRow.key == key
                    )
                ).first()
            if row is None:
                try:
                    with self._store.begin() as session:
                        session.add(
                            LoginThrottleRow(
                                key=key, failures=1, not_before=now + policy.delay(1), last_at=now, version=1
                            )
                        )
                    return 0.0
                except sa_exc.IntegrityError:
                    continue  # another process created it first: read it again
            failures, not_before, version = row
            if now < not_before:
                return not_before - now
            if now >= not_before + policy.forget:
                failures = 0  # quiet long enough after its back-off: the key starts over
            failures += 1
            with self._store.begin() as session:
                won = session.execute(
                    sa.update(LoginThrottleRow)
                    .where(LoginThrottleRow.key == key, LoginThrottleRow.version == version)
                    .values(
                        failures=failures, not_before=now + policy.delay(failures), last_at=now, version=version + 1
                    )
                ).rowcount
            if won:
                return 0.0
        raise StoreUnavailable("the login throttle is too contended to reserve an attempt")


def _operator_named(session: orm.Session, username: str) -> Operator:
    """The operator account `username` (surrounding spaces ignored); raises NoSuchOperator."""
    operator = session.execute(
        sa.select(Operator).where(Operator.username == (username or "").strip())
    ).scalar_one_or_none()
    if operator is None:
        raise NoSuchOperator(f"没有操作员 {(username or '').strip()}")
    return operator
