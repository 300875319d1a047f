"""Tables of the operator console: operator accounts and sessions, conversation takeovers and their messages, and
the audit log of sensitive actions (revealing a worker's phone number), and the login throttle's counters.

Models only: the takeover queries live in `bot.takeover`, the account and session queries in `bot.console._accounts`;
the schema's versions are the Alembic branch "console" (migrations/versions/console_*.py).
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.store._base import Base
from bot.store.types import UTCDateTime

__all__ = ["Operator", "OperatorSession", "Takeover", "TakeoverMessage", "AuditEvent", "LoginThrottleRow"]


class Operator(Base):
    """A 12333 hotline operator who may log in to the console (argon2 password hash, never the password)."""

    __tablename__ = "console_operators"

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    username = sa.Column(sa.String(64), nullable=False, unique=True)
    password_hash = sa.Column(sa.String(255), nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False)
    disabled = sa.Column(sa.Boolean, nullable=False, default=False)


class OperatorSession(Base):
    """A logged-in browser. The cookie carries the session id; only its SHA-256 is stored, so a copy of the
    database cannot be turned into a working cookie. Logging out deletes the row, which ends the session at once."""

    __tablename__ = "console_sessions"

    id_hash = sa.Column(sa.String(64), primary_key=True)
    operator_id = sa.Column(
        sa.Integer,
        sa.ForeignKey("console_operators.id", name="fk_console_sessions_operator", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    created_at = sa.Column(UTCDateTime, nullable=False)
    expires_at = sa.Column(UTCDateTime, nullable=False, index=True)


class Takeover(Base):
    """An operator holding a conversation: while `released_at` is NULL the assistant stays silent in it.

    At most one open takeover per conversation (a partial unique index), so two operators, or two console
    processes, cannot both take the same conversation.
    """

    __tablename__ = "takeovers"

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    sender_id = sa.Column(sa.String(255), nullable=False, index=True)
    channel = sa.Column(sa.String(32), nullable=False)
    operator = sa.Column(sa.String(64), nullable=False)
    started_at = sa.Column(UTCDateTime, nullable=False)
    # The idle timeout counts from here: the takeover start or the operator's latest message.
    last_operator_at = sa.Column(UTCDateTime, nullable=False)
    released_at = sa.Column(UTCDateTime, nullable=True)
    release_reason = sa.Column(sa.String(16), nullable=True)  # "released" | "timeout"

    __table_args__ = (
        sa.Index(
            "uq_takeovers_open_sender",
            "sender_id",
            unique=True,
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        ),
    )


class TakeoverMessage(Base):
    """A message of a taken-over conversation: the worker's (recorded instead of going to the assistant) or the
    operator's reply with its delivery state ("sending", then "sent" or "failed"; for REST "pending" until its client
    fetches it)."""

    __tablename__ = "takeover_messages"

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    takeover_id = sa.Column(
        sa.Integer,
        sa.ForeignKey("takeovers.id", name="fk_takeover_messages_takeover", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    sender_id = sa.Column(sa.String(255), nullable=False, index=True)
    channel = sa.Column(sa.String(32), nullable=False)
    direction = sa.Column(sa.String(8), nullable=False)  # "worker" | "operator"
    operator = sa.Column(sa.String(64), nullable=True)
    text = sa.Column(sa.Text, nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False)
    delivery = sa.Column(
        sa.String(16), nullable=False
    )  # worker: "received"; operator: "sending", "pending", "sent", "failed"
    error = sa.Column(sa.Text, nullable=True)
    delivered_at = sa.Column(UTCDateTime, nullable=True)


class AuditEvent(Base):
    """Who did what sensitive thing when (e.g. revealed the phone number of case NX…)."""

    __tablename__ = "console_audit"

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    at = sa.Column(UTCDateTime, nullable=False, index=True)
    operator = sa.Column(sa.String(64), nullable=False)
    action = sa.Column(sa.String(32), nullable=False)
    subject = sa.Column(sa.String(255), nullable=False)
    detail = sa.Column(sa.Text, nullable=False, default="")


class LoginThrottleRow(Base):
    """Login attempts of one username ("u:<name>") or one client address ("a:<address>"), shared by every console
    process. `failures` counts attempts reserved since the key was last quiet (a successful login deletes a
    username's row); no attempt is let through before `not_before` (epoch seconds, the back-off). `version` changes on
    every write, so that the reservation is a compare-and-set that two processes cannot both win."""

    __tablename__ = "console_login_throttle"

    key = sa.Column(sa.String(160), primary_key=True)
    failures = sa.Column(sa.Integer, nullable=False)
    not_before = sa.Column(sa.Float, nullable=False)
    last_at = sa.Column(sa.Float, nullable=False)
    version = sa.Column(sa.Integer, nullable=False)
