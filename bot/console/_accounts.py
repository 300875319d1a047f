"""Operator accounts, login sessions and the audit log, on the app store (tables of `bot.store.operators`).

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

from bot.console._security import (
    check_password_policy,
    check_username,
    hash_password,
    needs_rehash,
    verify_password,
)
from bot.store import AppStore
from bot.store.operators import AuditEvent, Operator, OperatorSession
from bot.store.types import to_record

__all__ = ["SESSION_LIFETIME", "OperatorRecord", "AuditRecord", "Accounts", "OperatorExists"]

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(hours=8)  # one shift; the cookie's signed expiry says the same


class OperatorExists(ValueError):
    """An operator with this username already exists."""


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
