"""Overview figures: per-day counts from the events Rasa's SQL event broker wrote (read-only), answers per topic, the
questions that ended in a fallback (grouped across spelling variants, PII masked), handoffs and cases per day."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rasa.core.brokers.sql import SQLEventBroker

from bot.console import _stats
from bot.console._stats import LOCAL_TZ, EventLog, summarize
from bot.settings import Settings
from bot.store import AppStore


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


def publish(path: Path, events) -> None:
    """Write `events` as Rasa writes them: through Rasa's own SQLEventBroker (endpoints.yml `event_broker: SQL`)."""
    broker = SQLEventBroker(db=str(path))
    try:
        for sender, _type_name, _at, data in events:
            broker.publish({"sender_id": sender, **json.loads(data)})
    finally:
        broker.engine.dispose()


def event_log(tmp_path: Path) -> EventLog:
    settings = Settings.from_env({"NXA_VAR_DIR": str(tmp_path)})
    assert settings.events_db_url == f"sqlite:///{tmp_path / 'events.db'}"  # its own file beside the app store
    return EventLog.for_settings(settings, AppStore(settings.app_db_url))


def test_the_broker_events_are_read_only_and_may_be_missing(tmp_path: Path):
    since = datetime(2026, 11, 27, tzinfo=LOCAL_TZ)
    log = event_log(tmp_path)
    assert log.read(since) == ([], False)  # Rasa has not published yet: no file
    path = tmp_path / "events.db"
    publish(path, EVENTS + [("a", "action", local(27, 9), json.dumps({"event": "action", "timestamp": local(27, 9)}))])
    before = path.read_bytes()
    rows, ok = log.read(since)
    assert ok and [row[:3] for row in rows] == [row[:3] for row in EVENTS[:-1]]  # oldest first, users and bots only
    assert path.read_bytes() == before
    assert summarize(rows, first_day=date(2026, 11, 27), last_day=date(2026, 11, 29)).total("fallbacks") == 3
    (tmp_path / "empty").mkdir()
    sqlite3.connect(tmp_path / "empty" / "events.db").close()
    assert event_log(tmp_path / "empty").read(since) == ([], False)  # a file without the broker's table


def test_reading_stops_well_before_the_period_and_skips_unreadable_rows(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(_stats, "STOP_AFTER_OLD_ROWS", 20)
    old = [user("old", f"问题{i}", local(1, 9)) for i in range(50)]  # weeks before the period
    # a row of the period published before them (a clock far off) is not reached; a single late old one is skipped
    publish(tmp_path / "events.db", [user("lost", "你好", local(27, 8))] + old + EVENTS[:2] + old[:1] + EVENTS[2:3])
    with sqlite3.connect(tmp_path / "events.db") as connection:
        connection.execute("INSERT INTO events (sender_id, data) VALUES ('x', 'not json')")
    rows, ok = event_log(tmp_path).read(datetime(2026, 11, 27, tzinfo=LOCAL_TZ))
    assert ok and [row[0] for row in rows] == ["a", "a", "a"]


def test_the_app_stores_database_is_read_through_the_app_stores_engine(tmp_path: Path):
    """Scaled out, the broker writes to the app store's (PostgreSQL) database: no second engine for it."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    settings = Settings.from_env({"NXA_VAR_DIR": str(tmp_path), "APP_DB_URL": url, "EVENTS_DB_URL": url})
    store = AppStore(url)
    publish(tmp_path / "app.db", EVENTS)
    log = EventLog.for_settings(settings, store)
    assert log._engine is store.engine
    rows, ok = log.read(datetime(2026, 11, 27, tzinfo=LOCAL_TZ))
    assert ok and len(rows) == len(EVENTS) - 1


def test_an_empty_period():
    overview = summarize([], first_day=date(2026, 11, 29) - timedelta(days=6), last_day=date(2026, 11, 29))
    assert len(overview.days) == 7 and overview.total("conversations") == 0 and overview.top_fallback_questions == []
