"""The takeover state behind `bot.takeover.intercept`, on real SQLite files: taking over silences the assistant in
that conversation only, the worker's messages are recorded, release or 30 minutes without an operator message hands
the conversation back, and two processes (two services on one file) agree."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

import bot.settings
import bot.takeover as takeover_module
from bot.settings import Settings
from bot.store import AppStore, migrate
from bot.takeover import AlreadyTakenOver, NotTakenOver, TakeoverService

T0 = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


@pytest.fixture
def service(db_url) -> TakeoverService:
    return TakeoverService(AppStore(db_url))


def test_nobody_holds_a_conversation_at_first(service):
    assert service.record_worker_message("rest", "w1", "你好", T0) is False
    assert service.messages("w1") == []


def test_taking_over_silences_the_assistant_in_that_conversation_only(service):
    held = service.take_over("w1", "rest", "op1", T0)
    assert (held.operator, held.channel, held.is_open, held.expires_at) == (
        "op1",
        "rest",
        True,
        T0 + timedelta(minutes=30),
    )
    assert service.record_worker_message("rest", "w1", "还在吗", T0 + timedelta(minutes=1)) is True
    assert service.record_worker_message("rest", "w2", "你好", T0 + timedelta(minutes=1)) is False
    [message] = service.messages("w1")
    assert (message.direction, message.text, message.delivery) == ("worker", "还在吗", "received")


def test_release_hands_the_conversation_back(service):
    service.take_over("w1", "rest", "op1", T0)
    with pytest.raises(NotTakenOver):
        service.release("w1", "op2", T0)  # only the holder releases
    released = service.release("w1", "op1", T0 + timedelta(minutes=5))
    assert (released.release_reason, released.released_at) == ("released", T0 + timedelta(minutes=5))
    assert service.record_worker_message("rest", "w1", "谢谢", T0 + timedelta(minutes=6)) is False
    assert service.current("w1", T0 + timedelta(minutes=6)) is None
    assert service.latest("w1", T0 + timedelta(minutes=6)).release_reason == "released"


def test_thirty_minutes_without_an_operator_message_hands_it_back(service):
    service.take_over("w1", "rest", "op1", T0)
    assert service.record_worker_message("rest", "w1", "a", T0 + timedelta(minutes=29, seconds=59)) is True
    assert service.record_worker_message("rest", "w1", "b", T0 + timedelta(minutes=30)) is False
    latest = service.latest("w1", T0 + timedelta(minutes=31))
    assert (latest.release_reason, latest.released_at) == ("timeout", T0 + timedelta(minutes=30))
    with pytest.raises(NotTakenOver):
        service.record_operator_message("w1", "op1", "还在", T0 + timedelta(minutes=31), delivery="pending")


def test_worker_messages_do_not_extend_the_takeover_but_operator_messages_do(service):
    service.take_over("w1", "rest", "op1", T0)
    service.record_operator_message("w1", "op1", "您好，我是12333", T0 + timedelta(minutes=20), delivery="pending")
    assert service.record_worker_message("rest", "w1", "好", T0 + timedelta(minutes=49)) is True
    assert service.record_worker_message("rest", "w1", "在吗", T0 + timedelta(minutes=50)) is False


def test_expire_idle_and_open_takeovers(service):
    service.take_over("w1", "rest", "op1", T0)
    service.take_over("w2", "sms", "op2", T0 + timedelta(minutes=10))
    assert set(service.open_takeovers(T0 + timedelta(minutes=35))) == {"w2"}
    assert service.expire_idle(T0 + timedelta(minutes=41)) == 1
    assert service.open_takeovers(T0 + timedelta(minutes=41)) == {}


def test_a_second_operator_cannot_take_a_held_conversation(service):
    service.take_over("w1", "rest", "op1", T0)
    assert service.take_over("w1", "rest", "op1", T0 + timedelta(minutes=1)).operator == "op1"  # idempotent
    with pytest.raises(AlreadyTakenOver) as taken:
        service.take_over("w1", "rest", "op2", T0 + timedelta(minutes=1))
    assert taken.value.holder.operator == "op1"
    with pytest.raises(NotTakenOver):
        service.record_operator_message("w1", "op2", "我来", T0, delivery="pending")
    # once it has timed out, someone else may take it
    assert service.take_over("w1", "rest", "op2", T0 + timedelta(minutes=31)).operator == "op2"


def test_two_processes_on_one_file_agree(db_url):
    console, rasa = TakeoverService(AppStore(db_url)), TakeoverService(AppStore(db_url))
    console.take_over("w1", "wechat", "op1", T0)
    assert rasa.record_worker_message("wechat", "w1", "在吗", T0) is True
    with pytest.raises(AlreadyTakenOver):
        TakeoverService(AppStore(db_url)).take_over("w1", "wechat", "op2", T0)
    console.release("w1", "op1", T0)
    assert rasa.record_worker_message("wechat", "w1", "在吗", T0) is False


def test_the_database_refuses_two_open_takeovers_of_one_conversation(db_url, service):
    """The partial unique index is what settles a race between two processes that both read "nobody holds it"."""
    import sqlalchemy as sa

    from bot.store import create_engine_for

    service.take_over("w1", "rest", "op1", T0)
    engine = create_engine_for(db_url)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO takeovers (sender_id, channel, operator, started_at, last_operator_at) "
                "VALUES ('w1', 'rest', 'op2', '2026-11-29 02:00:00', '2026-11-29 02:00:00')"
            )
        )
    engine.dispose()


def test_operator_messages_are_validated(service):
    service.take_over("w1", "rest", "op1", T0)
    with pytest.raises(ValueError):
        service.record_operator_message("w1", "op1", "   ", T0, delivery="pending")
    with pytest.raises(ValueError):
        service.record_operator_message("w1", "op1", "长" * 2001, T0, delivery="pending")


def test_rest_pickup_hands_each_operator_message_out_once(service):
    service.take_over("w1", "rest", "op1", T0)
    first = service.record_operator_message("w1", "op1", "第一条", T0, delivery="pending")
    service.record_operator_message("w1", "op1", "第二条", T0, delivery="pending")
    taken = service.take_pending_for_rest("w1", T0)
    assert [m.text for m in taken] == ["第一条", "第二条"]
    assert service.take_pending_for_rest("w1", T0) == []
    assert service.take_pending_for_rest("w2", T0) == []
    assert [m.delivery for m in service.messages("w1")] == ["sent", "sent"]
    assert service.messages("w1", after_id=first.id)[0].text == "第二条"


def process_settings(monkeypatch, url: str) -> None:
    """What the Rasa process's entry point does: its Settings (here on `url`) become `bot.settings.current()`."""
    monkeypatch.setattr(bot.settings, "_current", Settings.from_env({"APP_DB_URL": url}))


def test_intercept_uses_the_processs_app_store(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url)
    process_settings(monkeypatch, url)
    assert asyncio.run(takeover_module.intercept("rest", "w1", "你好")) is False
    TakeoverService(AppStore(url)).take_over("w1", "rest", "op1", datetime.now(UTC))
    assert asyncio.run(takeover_module.intercept("rest", "w1", "人呢")) is True
    assert [m.text for m in TakeoverService(AppStore(url)).messages("w1")] == ["人呢"]


def test_intercept_lets_the_assistant_answer_when_the_store_is_unreadable(tmp_path, monkeypatch, caplog):
    process_settings(monkeypatch, f"sqlite:///{tmp_path / 'never-migrated.db'}")
    assert asyncio.run(takeover_module.intercept("sms", "13812345678", "你好")) is False
    assert "takeover gate unavailable" in caplog.text
    assert "13812345678" not in caplog.text  # the sender id of SMS is a phone number: only its end is logged
