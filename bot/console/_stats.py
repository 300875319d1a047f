"""Figures for the overview page: what the assistant did per day, read from Rasa's SQL tracker store (read-only), and
the handoffs and cases recorded in the app store.

The tracker store is Rasa's: the console opens the SQLite file read-only and never writes to it. Bot messages carry
the machine-readable payloads of the chat contract (`{"kind": "answer", "topic": …}`, `{"kind": "fallback"}`), so
answers and fallbacks are counted from those, and a fallback's question is the worker's message just before it.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path

from bot.cases import CHINA_TZ
from nlu.extract import mask_pii
from nlu.text import normalize_keep_offsets

__all__ = ["LOCAL_TZ", "DayCounts", "Overview", "read_tracker_events", "summarize"]

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
    tracker_available: bool = True
    notes: list[str] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(day, name) for day in self.days)


def read_tracker_events(tracker_db: str | Path, since: datetime) -> tuple[list[tuple], bool]:
    """(sender_id, type_name, timestamp, data) of user and bot events since `since`, in event order, and whether the
    store could be read. The file is opened read-only (`mode=ro`): the console never writes Rasa's store."""
    path = Path(tracker_db)
    if not path.exists():
        return [], False
    uri = f"file:{path.resolve()}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=5)
    except sqlite3.Error:
        return [], False
    try:
        rows = connection.execute(
            "SELECT sender_id, type_name, timestamp, data FROM events "
            "WHERE type_name IN ('user', 'bot') AND timestamp >= ? ORDER BY id",
            (since.timestamp(),),
        ).fetchall()
    except sqlite3.Error:  # no events table yet: Rasa has not stored a conversation
        return [], False
    finally:
        connection.close()
    return rows, True


def _custom(data: dict) -> dict | None:
    custom = (data.get("data") or {}).get("custom")
    return custom if isinstance(custom, dict) else None


def _question_key(text: str) -> str:
    return _PUNCTUATION.sub("", normalize_keep_offsets(text))


def summarize(
    events: Iterable[tuple],
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
