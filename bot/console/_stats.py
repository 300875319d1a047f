"""Figures for the overview page: what the assistant did per day, read from the events Rasa publishes through its SQL
event broker, and the handoffs and cases recorded in the app store.

endpoints.yml (and endpoints.postgres.yml for replicas) configure Rasa's `SQLEventBroker`: every Rasa server writes
each new conversation event as one row `(id, sender_id, data)` of a table `events`, `data` being the event's JSON,
into `Settings.events_db_url` (its own SQLite file by default, the PostgreSQL app store's database when scaled out).
Replicas all write to the same table, so the overview is the same on one machine and on several. The console only
reads it (a SQLite file is opened read-only). Bot messages carry the machine-readable payloads of the chat contract
(`{"kind": "answer", "topic": …}`, `{"kind": "fallback"}`), so answers and fallbacks are counted from those, and a
fallback's question is the worker's message just before it.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from bot.cases import CHINA_TZ
from bot.settings import Settings
from bot.store import AppStore
from nlu.extract import mask_pii
from nlu.text import normalize_keep_offsets

__all__ = ["LOCAL_TZ", "DayCounts", "Overview", "EventLog", "summarize"]

log = logging.getLogger(__name__)

# The table of rasa.core.brokers.sql.SQLEventBroker (Rasa 3.6): id INTEGER, sender_id VARCHAR(255), data TEXT.
_EVENTS = sa.text("SELECT id, sender_id, data FROM events ORDER BY id DESC")
# Rows are in publishing order, which is time order up to a turn's length and the replicas' clock skew: reading
# newest first stops after this many rows in a row from more than _ORDER_SLACK before the period's start.
_ORDER_SLACK = timedelta(hours=1)
STOP_AFTER_OLD_ROWS = 500

# Ningxia is on China Standard Time; days are counted from local midnight (the case numbers' day, too).
LOCAL_TZ = CHINA_TZ

_PUNCTUATION = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass
class DayCounts:
    day: date
    conversations: int = 0
    answers: int = 0
    fallbacks: int = 0
    handoffs: int = 0
    cases: int = 0


@dataclass
class Overview:
    """Per-day counts (oldest first), answers per topic, and the questions that most often ended in a fallback."""

    days: list[DayCounts]
    answers_by_topic: dict[str, int]
    top_fallback_questions: list[tuple[str, int]]

    def total(self, name: str) -> int:
        return sum(getattr(day, name) for day in self.days)


class EventLog:
    """The conversation events of Rasa's SQL event broker, read-only."""

    def __init__(self, engine: Engine, *, owned: bool = True) -> None:
        self._engine = engine
        self._owned = owned

    @classmethod
    def for_settings(cls, settings: Settings, store: AppStore) -> EventLog:
        """The broker's table at `settings.events_db_url`: through the app store's engine when it is the same
        database, else a SQLite file opened read-only (a connection per read: the file appears when Rasa first
        publishes) or its own engine for a server database."""
        url = sa.engine.make_url(settings.events_db_url)
        if settings.events_db_url == store.url:
            return cls(store.engine, owned=False)
        if url.get_backend_name() == "sqlite":
            uri = f"file:{url.database}?mode=ro"
            return cls(
                sa.create_engine(
                    "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, timeout=5), poolclass=NullPool
                )
            )
        return cls(sa.create_engine(url, future=True, pool_pre_ping=True))

    def read(self, since: datetime) -> tuple[list[tuple[str, str, float, str]], bool]:
        """(sender_id, type_name, timestamp, data) of the user and bot events since `since`, oldest first, and
        whether the events could be read at all (False before Rasa has published anything, or when the database
        cannot be reached)."""
        start = since.timestamp()
        stop = (since - _ORDER_SLACK).timestamp()
        rows: list[tuple[str, str, float, str]] = []
        old = 0
        try:
            with self._engine.connect() as connection:
                for _, sender_id, raw in connection.execution_options(stream_results=True).execute(_EVENTS):
                    try:
                        event: dict[str, Any] = json.loads(raw or "{}")
                        timestamp = float(event.get("timestamp") or 0)
                    except (TypeError, ValueError):
                        continue
                    old = old + 1 if timestamp < stop else 0
                    if old >= STOP_AFTER_OLD_ROWS:
                        break
                    if timestamp >= start and event.get("event") in ("user", "bot"):
                        rows.append((sender_id, event["event"], timestamp, raw))
        except sa.exc.SQLAlchemyError as error:  # no events table yet, or the database is unreachable
            log.warning("conversation events unavailable: %s", type(getattr(error, "orig", None) or error).__name__)
            return [], False
        rows.reverse()
        return rows, True

    def dispose(self) -> None:
        if self._owned:
            self._engine.dispose()


def _custom(data: dict[str, Any]) -> dict[str, Any] | None:
    custom = (data.get("data") or {}).get("custom")
    return custom if isinstance(custom, dict) else None


def _question_key(text: str) -> str:
    return _PUNCTUATION.sub("", normalize_keep_offsets(text))


def summarize(
    events: Iterable[tuple[str, str, float, str]],
    *,
    first_day: date,
    last_day: date,
    handoff_times: Iterable[datetime] = (),
    case_times: Iterable[datetime] = (),
    tz: tzinfo = LOCAL_TZ,
    top: int = 10,
) -> Overview:
    """Count, per local day from `first_day` to `last_day`, conversations (senders who wrote that day), answers,
    fallbacks, handoffs and cases; answers per topic; the `top` questions followed by a fallback (PII masked)."""
    days = {
        first_day + timedelta(days=i): DayCounts(first_day + timedelta(days=i))
        for i in range((last_day - first_day).days + 1)
    }
    senders_by_day: dict[date, set[str]] = defaultdict(set)
    answers_by_topic: Counter[str] = Counter()
    last_question: dict[str, str] = {}
    fallback_counts: Counter[str] = Counter()
    fallback_wording: dict[str, Counter[str]] = defaultdict(Counter)

    for sender_id, type_name, timestamp, raw in events:
        day = datetime.fromtimestamp(timestamp or 0, tz).date()
        try:
            data = json.loads(raw or "{}")
        except ValueError:
            continue
        if type_name == "user":
            text = (data.get("text") or "").strip()
            if text and not text.startswith("/"):  # "/intent" payloads are button presses, not questions
                last_question[sender_id] = text
            if day in days:
                senders_by_day[day].add(sender_id)
            continue
        custom = _custom(data)
        if not custom or day not in days:
            continue
        if custom.get("kind") == "answer":
            days[day].answers += 1
            answers_by_topic[str(custom.get("topic") or "未知")] += 1
        elif custom.get("kind") == "fallback":
            days[day].fallbacks += 1
            question = last_question.get(sender_id)
            if question:
                key = _question_key(question)
                fallback_counts[key] += 1
                fallback_wording[key][question] += 1

    for day, senders in senders_by_day.items():
        days[day].conversations = len(senders)
    for name, times in (("handoffs", handoff_times), ("cases", case_times)):
        for moment in times:
            day = moment.astimezone(tz).date()
            if day in days:
                setattr(days[day], name, getattr(days[day], name) + 1)

    top_questions = [
        (mask_pii(fallback_wording[key].most_common(1)[0][0]), count) for key, count in fallback_counts.most_common(top)
    ]
    return Overview(
        days=[days[day] for day in sorted(days)],
        answers_by_topic=dict(answers_by_topic.most_common()),
        top_fallback_questions=top_questions,
    )
