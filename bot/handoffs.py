"""Handoffs: conversations the assistant passed to a person (the 12333 hotline or case intake), with the summary the
operator sees in the console's queue.

    handoffs = HandoffService(app_store(settings))
    handoffs.record_handoff(sender_id, "wechat", "12333", {"topic": …, "facts": {…}, "last_question": …}, reason)

A conversation that asks again while its handoff still waits (nobody has taken the conversation over since the
handoff was first recorded) updates that handoff — the newest target, summary and reason, one more in `requests` —
instead of adding another: 200 scripted "转人工" from one conversation are one line in the queue. `list_handoffs` pages
(`limit`, `offset`) and filters (`waiting=True`: not yet taken over), newest activity first; `count_handoffs` counts
the same selection.

Storage failures raise `bot.store.StoreUnavailable` (`bot.cases.CaseStoreUnavailable`), as in the case service.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.conversation_ids import channel_of
from bot.store import AppStore, storage_errors
from bot.store.cases import Handoff
from bot.store.operators import Takeover
from bot.store.types import to_record, utcnow

__all__ = ["HANDOFF_TARGETS", "HandoffRecord", "HandoffService"]

log = logging.getLogger(__name__)

HANDOFF_TARGETS: tuple[str, ...] = ("12333", "case_intake")
MAX_LAST_QUESTION = 2000


@dataclass(frozen=True)
class HandoffRecord:
    """A recorded handoff with the conversation summary the operator sees."""

    id: int
    sender_id: str
    channel: str
    target: str
    topic: str | None
    facts: Mapping[str, Any] = field(hash=False)
    last_question: str
    reason: str
    created_at: datetime
    updated_at: datetime | None = None  # the last request's time (None on rows recorded before collapsing)
    requests: int = 1  # how many times the conversation asked while this handoff waited

    @property
    def last_requested_at(self) -> datetime:
        return self.updated_at or self.created_at


class HandoffService:
    """Record and list handoffs. Thread-safe: every call uses its own session and transaction."""

    def __init__(self, store: AppStore, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock

    def record_handoff(
        self,
        sender_id: str,
        channel: str,
        target: str,
        summary: Mapping[str, Any] | None = None,
        reason: str = "",
    ) -> HandoffRecord:
        """Record that a conversation goes to a person. `summary` holds topic, facts (a JSON-serialisable dict) and
        last_question, each optional. Raises ValueError on a bad target or summary, StoreUnavailable on storage
        failure. The channel of a scoped conversation id (`sms:…`) is its prefix, whatever `channel` says: the
        console sends the operator's replies over it."""
        channel = channel_of(sender_id or "") or channel
        if target not in HANDOFF_TARGETS:
            raise ValueError(f"unknown handoff target {target!r}; expected one of {HANDOFF_TARGETS}")
        if not (sender_id or "").strip() or not (channel or "").strip():
            raise ValueError("sender_id and channel are required")
        if len(sender_id) > 255 or len(channel) > 32:
            raise ValueError("sender_id (at most 255 characters) or channel (at most 32) is too long")
        summary = dict(summary or {})
        unknown = set(summary) - {"topic", "facts", "last_question"}
        if unknown:
            raise ValueError(f"unknown summary keys {sorted(unknown)}; expected topic, facts, last_question")
        facts = dict(summary.get("facts") or {})
        try:
            facts = json.loads(json.dumps(facts, ensure_ascii=False, default=str, allow_nan=False))
        except (TypeError, ValueError) as error:
            raise ValueError(f"handoff facts are not JSON-serialisable: {error}") from None
        topic = summary.get("topic") or None
        now = self._clock()
        fields = {
            "target": target,
            "topic": str(topic)[:64] if topic else None,
            "facts": facts,
            "last_question": str(summary.get("last_question") or "")[:MAX_LAST_QUESTION],
            "reason": (reason or "")[:255],
        }
        with storage_errors(), self._store.begin() as session:
            waiting = session.execute(
                sa.select(Handoff)
                .where(Handoff.sender_id == sender_id, Handoff.channel == channel, _waiting())
                .order_by(Handoff.created_at.desc(), Handoff.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            if waiting is not None:
                for name, value in fields.items():
                    setattr(waiting, name, value)
                waiting.updated_at = now
                waiting.requests = (waiting.requests or 1) + 1
                handoff = waiting
            else:
                handoff = Handoff(sender_id=sender_id, channel=channel, created_at=now, updated_at=now, requests=1)
                for name, value in fields.items():
                    setattr(handoff, name, value)
                session.add(handoff)
            session.flush()
            record = to_record(HandoffRecord, handoff)
        if record.requests > 1:
            log.info("handoff %s to %s asked again (%d requests, %s)", record.id, target, record.requests, reason)
        else:
            log.info("handoff %s to %s recorded (%s)", record.id, target, reason)
        return record

    def list_handoffs(self, limit: int = 200, offset: int = 0, *, waiting: bool = False) -> list[HandoffRecord]:
        """Handoffs, the latest request first; `waiting=True`: only those nobody has taken over since."""
        last = sa.func.coalesce(Handoff.updated_at, Handoff.created_at)
        query = sa.select(Handoff).order_by(last.desc(), Handoff.id.desc())
        if waiting:
            query = query.where(_waiting())
        query = query.limit(max(0, int(limit))).offset(max(0, int(offset)))
        with storage_errors(), self._store.begin() as session:
            return [to_record(HandoffRecord, handoff) for handoff in session.execute(query).scalars()]

    def count_handoffs(self, *, waiting: bool = False) -> int:
        """How many handoffs `list_handoffs` would page through."""
        query = sa.select(sa.func.count()).select_from(Handoff)
        if waiting:
            query = query.where(_waiting())
        with storage_errors(), self._store.begin() as session:
            return int(session.execute(query).scalar_one())

    def get_handoff(self, handoff_id: int) -> HandoffRecord | None:
        """The handoff with this id, or None."""
        with storage_errors(), self._store.begin() as session:
            handoff = session.get(Handoff, int(handoff_id))
            return to_record(HandoffRecord, handoff) if handoff is not None else None


def _waiting() -> sa.ColumnElement[bool]:
    """A handoff still waits while no operator holds its conversation and none has taken it over since the handoff
    was first recorded."""
    taken = sa.select(Takeover.id).where(
        Takeover.sender_id == Handoff.sender_id,
        Takeover.channel == Handoff.channel,
        sa.or_(Takeover.started_at >= Handoff.created_at, Takeover.released_at.is_(None)),
    )
    return ~taken.exists()
