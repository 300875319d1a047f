"""Overview figures: per-day counts from the tracker store's events (read-only), answers per topic, the questions
that ended in a fallback (grouped across spelling variants, PII masked), handoffs and cases per day."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.console._stats import LOCAL_TZ, read_tracker_events, summarize


def local(day: int, hour: int) -> float:
    return datetime(2026, 11, day, hour, tzinfo=LOCAL_TZ).timestamp()


def user(sender: str, text: str, at: float) -> tuple:
    return (sender, "user", at, json.dumps({"event": "user", "text": text, "timestamp": at}))


def bot(sender: str, at: float, custom: dict | None = None, text: str = "") -> tuple:
    data = {"event": "bot", "text": text or None, "timestamp": at, "data": {"custom": custom} if custom else {}}
    return (sender, "bot", at, json.dumps(data, ensure_ascii=False))


EVENTS = [
    user("a", "在县城落户要啥条件", local(27, 9)),
    bot("a", local(27, 9), text="……"),
    bot("a", local(27, 9), {"kind": "answer", "topic": "settlement"}),
    user("a", "我电话13812345678，老板跑了咋办", local(27, 10)),
    bot("a", local(27, 10), {"kind": "fallback"}),
    user("b", "老板跑了咋办？", local(28, 0)),  # 00:00 local on the 28th is still the 27th in UTC
    bot("b", local(28, 0), {"kind": "fallback"}),
    user("c", "老闆跑了 咋辦", local(28, 23)),
    bot("c", local(28, 23), {"kind": "fallback"}),
    user("c", "/affirm", local(28, 23)),  # a button press is not a question
    bot("c", local(28, 23), {"kind": "answer", "topic": "labor_rights"}),
    user("d", "你好", local(26, 12)),  # before the period
]


def test_counts_per_local_day_topics_and_fallback_questions():
    overview = summarize(
        EVENTS,
        first_day=date(2026, 11, 27),
        last_day=date(2026, 11, 29),
        handoff_times=[datetime(2026, 11, 28, 16, 30, tzinfo=UTC)],  # 00:30 on the 29th locally
        case_times=[datetime(2026, 11, 27, 3, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)],
    )
    assert [(d.day.day, d.conversations, d.answers, d.fallbacks, d.handoffs, d.cases) for d in overview.days] == [
        (27, 1, 1, 1, 0, 1),
        (28, 2, 1, 2, 0, 0),
        (29, 0, 0, 0, 1, 0),
    ]
    assert overview.answers_by_topic == {"settlement": 1, "labor_rights": 1}
    assert overview.total("fallbacks") == 3
    # "老板跑了咋办？" and "老闆跑了 咋辦" are one question; the phone number is masked
    assert overview.top_fallback_questions[0][1] == 2
    assert overview.top_fallback_questions[0][0] in ("老板跑了咋办？", "老闆跑了 咋辦")
    [(masked, count)] = overview.top_fallback_questions[1:]
    assert count == 1 and "13812345678" not in masked and "老板跑了咋办" in masked


def test_the_tracker_store_is_read_only_and_may_be_missing(tmp_path: Path):
    assert read_tracker_events(tmp_path / "none.db", datetime(2026, 1, 1, tzinfo=UTC)) == ([], False)
    path = tmp_path / "tracker.db"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, "
            "timestamp REAL, intent_name TEXT, action_name TEXT, data TEXT)"
        )
        connection.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
            EVENTS + [("a", "action", local(27, 9), "{}")],
        )
    before = path.read_bytes()
    rows, ok = read_tracker_events(path, datetime(2026, 11, 27, tzinfo=LOCAL_TZ))
    assert ok and len(rows) == len(EVENTS) - 1 and all(row[1] in ("user", "bot") for row in rows)
    assert path.read_bytes() == before
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert read_tracker_events(empty, datetime(2026, 1, 1, tzinfo=UTC)) == ([], False)


def test_an_empty_period():
    overview = summarize([], first_day=date(2026, 11, 29) - timedelta(days=6), last_day=date(2026, 11, 29))
    assert len(overview.days) == 7 and overview.total("conversations") == 0 and overview.top_fallback_questions == []
