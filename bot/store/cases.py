"""Tables of the case store: recorded cases, their history, and handoffs to a person.

Models only: the queries live in `bot.cases.CaseService` and `bot.handoffs.HandoffService`, the schema's versions in
the Alembic branch "cases" (migrations/versions/cases_*.py). Datetimes are `bot.store.types.UTCDateTime`.
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.store._base import Base
from bot.store.types import UTCDateTime

__all__ = ["Case", "CaseEvent", "CaseLookupFailure", "Handoff"]


class Case(Base):
    """A worker's complaint, recorded with their consent to pass it to the 人社 department."""

    __tablename__ = "cases"

    # NX + yymmdd (China time) + a per-day sequence of at least four digits + four check characters (three random,
    # one computed), e.g. NX2612020007K7FQ: short enough to read out over SMS, not guessable by stepping the sequence.
    # Numbers recorded before the check characters (NX2611290007) stay valid.
    case_id = sa.Column(sa.String(20), primary_key=True)
    # The readable part (NX + date + sequence) on its own: UNIQUE, so two writers racing for the same sequence number
    # cannot both win with different random letters.
    # (Nullable only so the migration adds it without copying the table; every row has it.)
    sequence_id = sa.Column(sa.String(20), nullable=True)
    case_type = sa.Column(sa.String(32), nullable=False, index=True)
    worker_name = sa.Column(sa.String(64), nullable=False)
    phone = sa.Column(sa.String(11), nullable=False, index=True)
    county = sa.Column(sa.String(16), nullable=False, index=True)
    employer = sa.Column(sa.String(200), nullable=False)
    amount_owed = sa.Column(sa.Integer, nullable=True)  # whole yuan
    owed_period = sa.Column(sa.String(100), nullable=True)
    description = sa.Column(sa.Text, nullable=False, default="")
    consent = sa.Column(sa.Boolean, nullable=False)
    status = sa.Column(sa.String(8), nullable=False, index=True)
    sender_id = sa.Column(sa.String(255), nullable=False)
    channel = sa.Column(sa.String(32), nullable=False)
    dedupe_key = sa.Column(sa.String(128), nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False, index=True)
    updated_at = sa.Column(UTCDateTime, nullable=False)

    __table_args__ = (
        sa.CheckConstraint("consent", name="ck_cases_consent"),
        sa.UniqueConstraint("dedupe_key", name="uq_cases_dedupe_key"),
        sa.Index("ux_cases_sequence_id", "sequence_id", unique=True),
    )


class CaseEvent(Base):
    """One step of a case's history: its creation and every status change."""

    __tablename__ = "case_events"

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    case_id = sa.Column(
        sa.String(20),
        sa.ForeignKey("cases.case_id", name="fk_case_events_case_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    at = sa.Column(UTCDateTime, nullable=False)
    status = sa.Column(sa.String(8), nullable=False)
    note = sa.Column(sa.Text, nullable=False, default="")  # internal: operators only, never shown to the worker
    actor = sa.Column(sa.String(64), nullable=False)
    # What the worker sees when they look the case up (the newest non-empty one is shown).
    worker_message = sa.Column(sa.Text, nullable=False, default="", server_default="")


class Handoff(Base):
    """A conversation passed to a person (the 12333 hotline or case intake), with a summary for the operator."""

    __tablename__ = "handoffs"

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    sender_id = sa.Column(sa.String(255), nullable=False, index=True)
    channel = sa.Column(sa.String(32), nullable=False)
    target = sa.Column(sa.String(16), nullable=False)
    topic = sa.Column(sa.String(64), nullable=True)
    facts = sa.Column(sa.JSON, nullable=False, default=dict)
    last_question = sa.Column(sa.Text, nullable=False, default="")
    reason = sa.Column(sa.String(255), nullable=False, default="")
    created_at = sa.Column(UTCDateTime, nullable=False, index=True)
    # A conversation asking again while its handoff still waits updates that handoff (newest summary, one more
    # request) instead of adding a row: a flood from one conversation is one line in the queue.
    updated_at = sa.Column(UTCDateTime, nullable=True, index=True)  # NULL on rows older than the column: created_at
    requests = sa.Column(sa.Integer, nullable=False, default=1, server_default="1")


class CaseLookupFailure(Base):
    """One failed (or not yet confirmed) case-status look-up, counted against one key: the conversation that asked
    ("sender"), the case number tried ("case") or the phone number tried ("phone").

    `key_hash` is a SHA-256 of the key, so the table holds no phone number; `label` is what the console shows
    (a masked phone, a shortened sender id, the case number). Rows older than the counting window are not read.
    """

    __tablename__ = "case_lookup_failures"

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    at = sa.Column(UTCDateTime, nullable=False, index=True)
    kind = sa.Column(sa.String(8), nullable=False)  # "sender" | "case" | "phone"
    key_hash = sa.Column(sa.String(64), nullable=False)
    label = sa.Column(sa.String(64), nullable=False)
    attempt = sa.Column(sa.String(32), nullable=False, index=True)  # groups the rows of one look-up

    __table_args__ = (sa.Index("ix_case_lookup_failures_key", "kind", "key_hash", "at"),)
