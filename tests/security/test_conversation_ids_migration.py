"""Issue 14 F1: conversations stored before the ids were scoped by channel get their scoped id, nothing lost.

- the app store's Alembic revision `console_sec_scope` on a real SQLite file written at the revisions before it;
- `python -m bot migrate-conversation-ids` on a real Rasa tracker store (written by Rasa's own `SQLTrackerStore`)
  and a real event-broker table: each conversation by the channel its messages came over, conflicts reported and
  left alone, a second run a no-op.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from bot.__main__ import main as bot_main
from bot.conversation_migration import migrate_events_table
from bot.store import migrate
from bot.store._base import MIGRATIONS_DIR

NOW = "2026-11-30 08:00:00"


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    return config


def test_the_app_store_revision_scopes_every_conversation_by_its_recorded_channel(tmp_path):
    path = tmp_path / "assistant.db"
    url = f"sqlite:///{path}"
    for revision in ("cases_0001", "channels_0001", "console_0001"):  # the schema before this revision
        command.upgrade(_config(url), revision)
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO handoffs (sender_id, channel, target, topic, facts, last_question, reason, created_at)"
            " VALUES ('13812345678', 'sms', '12333', NULL, '{}', '', 'user_request', ?),"
            " ('oOpenId0001', 'wechat', '12333', NULL, '{}', '', 'user_request', ?),"
            " ('w1', 'rest', '12333', NULL, '{}', '', 'user_request', ?),"
            " ('sms:13900000000', 'sms', '12333', NULL, '{}', '', 'user_request', ?)",
            (NOW, NOW, NOW, NOW),
        )
        db.execute(
            "INSERT INTO takeovers (sender_id, channel, operator, started_at, last_operator_at)"
            " VALUES ('13812345678', 'sms', 'op1', ?, ?)",
            (NOW, NOW),
        )
        db.execute(
            "INSERT INTO takeover_messages (takeover_id, sender_id, channel, direction, operator, text, created_at,"
            " delivery) VALUES (1, '13812345678', 'sms', 'operator', 'op1', '您好', ?, 'sent')",
            (NOW,),
        )
        db.execute(
            "INSERT INTO channel_menus (channel, sender_id, payloads, expires_at) VALUES ('wechat', 'oOpenId0001',"
            " '[\"/affirm\"]', ?)",
            (NOW,),
        )
    migrate(url)
    migrate(url)  # idempotent: scoped ids are never scoped twice
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT sender_id, channel FROM handoffs ORDER BY id").fetchall() == [
            ("sms:13812345678", "sms"),
            ("wechat:oOpenId0001", "wechat"),
            ("rest:w1", "rest"),
            ("sms:13900000000", "sms"),
        ]
        assert db.execute("SELECT sender_id FROM takeovers").fetchall() == [("sms:13812345678",)]
        assert db.execute("SELECT sender_id, text FROM takeover_messages").fetchall() == [("sms:13812345678", "您好")]
        assert db.execute("SELECT sender_id FROM channel_menus").fetchall() == [("wechat:oOpenId0001",)]
    command.downgrade(_config(url), "console_0001")  # and back, for a rollback
    with sqlite3.connect(path) as db:
        assert [row[0] for row in db.execute("SELECT sender_id FROM handoffs ORDER BY id")] == [
            "13812345678",
            "oOpenId0001",
            "w1",
            "13900000000",
        ]


def _write_trackers(url_db: str) -> None:
    """Conversations as Rasa 3.6 stored them before the scoping, written by Rasa's own SQL tracker store."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    store = SQLTrackerStore(dialect="sqlite", db=url_db)

    async def write() -> None:
        for sender, channel, text in (
            ("13812345678", "sms", "欠薪咋办"),
            ("oOpenId0001", "wechat", "落户要啥条件"),
            ("w1", "rest", "你好"),
            ("13900000000", "sms", "旧的"),
            ("sms:13900000000", "sms", "新的"),  # already scoped (written after the upgrade)
        ):
            tracker = DialogueStateTracker(sender, slots=[])
            tracker.update(ActionExecuted("action_listen"))
            tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}, input_channel=channel))
            tracker.update(BotUttered("您好"))
            await store.save(tracker)

    asyncio.run(write())
    store.engine.dispose()


def _senders(path) -> dict[str, list[str]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT sender_id, type_name, data FROM events ORDER BY id").fetchall()
    texts: dict[str, list[str]] = {}
    for sender, kind, data in rows:
        if kind == "user":
            texts.setdefault(sender, []).append(json.loads(data)["text"])
    return texts


def test_the_tracker_store_command_scopes_rasas_conversations(tmp_path, capsys, monkeypatch):
    tracker_db = tmp_path / "tracker.db"
    _write_trackers(str(tracker_db))
    dry = migrate_events_table(f"sqlite:///{tracker_db}", dry_run=True)
    assert dry.renamed == {"13812345678": "sms:13812345678", "oOpenId0001": "wechat:oOpenId0001", "w1": "rest:w1"}
    assert _senders(tracker_db)["13812345678"] == ["欠薪咋办"]  # a dry run changes nothing

    monkeypatch.setenv("NXA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("TRACKER_DB", str(tracker_db))
    monkeypatch.setenv("APP_DB_URL", f"sqlite:///{tmp_path / 'assistant.db'}")
    monkeypatch.setenv("EVENTS_DB_URL", f"sqlite:///{tmp_path / 'events.db'}")
    assert bot_main(["migrate-conversation-ids"]) == 0
    printed = capsys.readouterr().out
    assert "3 conversation(s)" in printed and "13900000000" in printed  # the conflict is reported

    assert _senders(tracker_db) == {
        "sms:13812345678": ["欠薪咋办"],
        "wechat:oOpenId0001": ["落户要啥条件"],
        "rest:w1": ["你好"],
        "13900000000": ["旧的"],  # its scoped id was taken: not merged, left for a person to decide
        "sms:13900000000": ["新的"],
    }
    # Rasa reads the migrated conversation back whole under its new id
    from rasa.core.tracker_store import SQLTrackerStore

    store = SQLTrackerStore(dialect="sqlite", db=str(tracker_db))
    tracker = asyncio.run(store.retrieve("sms:13812345678"))
    assert tracker is not None and tracker.latest_message.text == "欠薪咋办"
    assert asyncio.run(store.retrieve("13812345678")) is None
    store.engine.dispose()

    again = migrate_events_table(f"sqlite:///{tracker_db}")
    assert again.renamed == {} and again.rows == 0  # a second run changes nothing


def test_the_event_brokers_rows_are_rewritten_with_the_id_inside_their_json(tmp_path):
    url = f"sqlite:///{tmp_path / 'events.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), data TEXT)"))
        for sender, channel in (("13812345678", "sms"), ("oOpenId0001", "wechat")):
            event = {"event": "user", "sender_id": sender, "input_channel": channel, "text": "你好"}
            connection.execute(
                sa.text("INSERT INTO events (sender_id, data) VALUES (:s, :d)"), {"s": sender, "d": json.dumps(event)}
            )
    engine.dispose()
    report = migrate_events_table(url)
    assert report.renamed == {"13812345678": "sms:13812345678", "oOpenId0001": "wechat:oOpenId0001"}
    with sqlite3.connect(tmp_path / "events.db") as db:
        rows = [
            (sender, json.loads(data)["sender_id"]) for sender, data in db.execute("SELECT sender_id, data FROM events")
        ]
    assert rows == [("sms:13812345678", "sms:13812345678"), ("wechat:oOpenId0001", "wechat:oOpenId0001")]
