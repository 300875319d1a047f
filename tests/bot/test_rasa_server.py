"""bot.rasa_server's speed-ups keep Rasa's behaviour: same validation outcomes and errors, same event classes, the
same rows in the event broker's table."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from unittest import mock

import pytest
import sqlalchemy as sa
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

import bot.rasa_server as rasa_server
from bot.launcher import process_specs
from bot.settings import Settings

RESPONSES = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "topic", "value": "housing"}], "responses": [{"text": "好"}]},
    {"events": [{"event": "followup", "name": "action_listen"}]},
    {"events": "not a list"},
    {"events": [{"name": "no event key"}]},
    {"events": [{"event": "slot", "timestamp": "yesterday"}]},
    {"responses": [{"text": "responses are not checked in depth"}], "events": [{"event": "bot", "text": "好"}]},
]


PATCHED = [
    (RemoteAction, "_validate_action_result"),
    (Event, "resolve_by_type"),
    (SQLTrackerStore, "_retrieve"),
    (SQLTrackerStore, "save"),
]


@contextlib.contextmanager
def speed_ups():
    """bot.rasa_server.install() for the block, Rasa's own classes again after it."""
    saved = [(owner, name, owner.__dict__.get(name)) for owner, name in PATCHED]  # None: inherited
    rasa_server._installed = False
    rasa_server.install()
    try:
        yield
    finally:
        for owner, name, value in saved:
            if value is None:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
        del SQLEventBroker.publish_many
        rasa_server._installed = False


@pytest.fixture
def originals_and_patched():
    originals = (RemoteAction._validate_action_result, Event.resolve_by_type)
    with speed_ups():
        yield originals


def _outcome(validate, response):
    try:
        return validate(RemoteAction("action_answer_policy", None), response)
    except ValidationError as error:
        return ("invalid", error.message, list(error.path))


def test_action_responses_are_judged_exactly_as_rasa_judges_them(originals_and_patched):
    original_validate, _ = originals_and_patched
    outcomes = [_outcome(RemoteAction._validate_action_result, response) for response in RESPONSES]
    assert outcomes == [_outcome(original_validate, response) for response in RESPONSES]
    assert outcomes[:3] == [True, True, True] and outcomes[-1] is True
    assert all(
        outcome[0] == "invalid" and "Failed to validate Action server response" in outcome[1]
        for outcome in outcomes[3:-1]
    )
    assert RemoteAction._validate_action_result is not original_validate


def test_every_event_type_resolves_to_rasas_class(originals_and_patched):
    from rasa.shared.utils.common import all_subclasses

    _, original_resolve = originals_and_patched
    names = {cls.type_name for cls in all_subclasses(Event)}
    assert len(names) > 20
    assert all(Event.resolve_by_type(name) is original_resolve(name) for name in names)
    assert Event.resolve_by_type("topic") is None  # Rasa's backwards-compatible answer for old TopicSet events
    assert Event.resolve_by_type("no_such_event", default=Event) is Event
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no_such_event")


def test_the_launcher_runs_rasa_through_the_speed_ups(tmp_path):
    settings = Settings.from_env({"NXA_VAR_DIR": str(tmp_path), "RASA_AUTH_TOKEN": "t"})
    rasa = next(spec for spec in process_specs(settings, tmp_path / "model.tar.gz") if spec.name == "rasa")
    assert rasa.argv[1:4] == ["-m", "bot.rasa_server", "run"]


DOMAIN = Domain.from_dict(
    {
        "intents": ["greet", "ask"],
        "slots": {"topic": {"type": "text", "mappings": [{"type": "custom"}]}},
        "responses": {"utter_greet": [{"text": "您好"}]},
    }
)


def _turn(text: str, reply: str) -> list[Event]:
    return [
        UserUttered(text, {"name": "ask", "confidence": 0.9}),
        ActionExecuted("action_answer_policy"),
        SlotSet("topic", "housing"),
        BotUttered(reply),
        ActionExecuted("action_listen"),
    ]


TURNS = [
    [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"), *_turn("你好", "您好")],
    _turn("公租房咋申请", "带上身份证……"),
    _turn("要多久", "一般20个工作日"),
]


def _converse(folder, sender: str = "rest:w1") -> list[dict]:
    """Three turns saved as Rasa's processor saves them (one save per turn, the tracker read back in between); the
    trackers read back, as dictionaries."""
    folder.mkdir()
    broker = SQLEventBroker(db=str(folder / "events.db"))
    store = SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(folder / "tracker.db"), event_broker=broker)
    read: list[dict] = []

    async def run() -> None:
        tracker = DialogueStateTracker(sender, DOMAIN.slots)
        for turn in TURNS:
            for event in turn:
                tracker.update(event, DOMAIN)
            await store.save(tracker)
            tracker = await store.retrieve(sender)
            read.append(tracker.current_state())
        read.append((await store.retrieve_full_tracker(sender)).current_state())

    asyncio.run(run())
    return read


def _rows(folder, table: str = "events", columns: str = "sender_id, data") -> list[tuple]:
    with sqlite3.connect(folder / f"{table}.db") as db:
        return db.execute(f"SELECT {columns} FROM events ORDER BY id").fetchall()


TRACKER_COLUMNS = "sender_id, type_name, timestamp, intent_name, action_name, data"


def test_the_stores_get_the_rows_rasa_writes_one_transaction_per_save_off_the_loop(tmp_path):
    rasa_read = _converse(tmp_path / "rasa")  # Rasa's own stream_events, publish, save and retrieve
    with speed_ups():
        threads: dict[str, list[str]] = {"publish": [], "store": [], "read": []}

        def recorded(key, function):
            def run(*args):
                threads[key].append(threading.current_thread().name)
                return function(*args)

            return run

        SQLEventBroker.publish_many = recorded("publish", SQLEventBroker.publish_many)
        with (
            mock.patch.object(rasa_server, "_save", recorded("store", rasa_server._save)),
            mock.patch.object(rasa_server, "run_awaitless", recorded("read", rasa_server.run_awaitless)),
        ):
            our_read = _converse(tmp_path / "ours")
    expected = _rows(tmp_path / "rasa")
    assert len(expected) == sum(len(turn) for turn in TURNS)
    assert _rows(tmp_path / "ours") == expected  # same rows, same JSON, same order
    tracker_rows = _rows(tmp_path / "rasa", "tracker", TRACKER_COLUMNS)
    assert len(tracker_rows) == len(expected)
    assert _rows(tmp_path / "ours", "tracker", TRACKER_COLUMNS) == tracker_rows
    assert our_read == rasa_read  # the trackers read back are Rasa's
    assert len(threads["publish"]) == len(threads["store"]) == len(TURNS)  # one write each per save, not per event
    assert len(threads["read"]) == len(TURNS) + 1
    assert {name.split("_")[0] for names in threads.values() for name in names} == {"tracker-store"}  # off the loop


def test_a_tracker_read_that_would_await_is_refused():
    async def awaits() -> None:
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="cannot run outside the event loop"):
        rasa_server.run_awaitless(awaits())


def test_a_save_with_nothing_new_writes_nothing(originals_and_patched, tmp_path):
    broker = SQLEventBroker(db=str(tmp_path / "events.db"))
    store = SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "tracker.db"), event_broker=broker)
    tracker = DialogueStateTracker("rest:w2", DOMAIN.slots)
    for event in TURNS[1]:  # no session start: every stored event counts as the latest session's
        tracker.update(event, DOMAIN)
    commits: list[int] = []
    sa.event.listen(broker.engine, "commit", lambda _connection: commits.append(1))
    asyncio.run(store.save(tracker))
    asyncio.run(store.save(tracker))  # nothing new: no row, no transaction
    assert len(_rows(tmp_path)) == len(TURNS[1]) and len(commits) == 1
    assert rasa_server.stored_event_count(store, "rest:w2") == len(TURNS[1])


class RecordingBroker(EventBroker):
    """Another kind of broker (Kafka, Pika: `publish` sends without blocking): what it was given, on which thread."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict]] = []

    def publish(self, event: dict) -> None:
        self.published.append((threading.current_thread().name, event))


def test_another_broker_gets_rasas_publish_of_each_new_event_on_the_loop(originals_and_patched, tmp_path):
    broker = RecordingBroker()
    store = SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "tracker.db"), event_broker=broker)

    async def run() -> None:
        tracker = DialogueStateTracker("rest:w3", DOMAIN.slots)
        for turn in TURNS[1:]:
            for event in turn:
                tracker.update(event, DOMAIN)
            await store.save(tracker)
            tracker = await store.retrieve("rest:w3")

    asyncio.run(run())
    expected = [{"sender_id": "rest:w3", **event.as_dict()} for event in TURNS[1] + TURNS[2]]
    assert [event for _, event in broker.published] == expected
    assert {thread for thread, _ in broker.published} == {threading.main_thread().name}
    assert len(_rows(tmp_path, "tracker", TRACKER_COLUMNS)) == len(expected)
