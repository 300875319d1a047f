"""bot.rasa_server's speed-ups keep Rasa's behaviour: same validation outcomes and errors, same event classes, the
same rows in the event broker's table."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
import sqlalchemy as sa
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
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


@pytest.fixture
def originals_and_patched():
    saved = (RemoteAction._validate_action_result, Event.__dict__["resolve_by_type"], SQLTrackerStore.stream_events)
    originals = (RemoteAction._validate_action_result, Event.resolve_by_type)
    rasa_server._installed = False
    rasa_server.install()
    yield originals
    RemoteAction._validate_action_result, resolve, SQLTrackerStore.stream_events = saved
    Event.resolve_by_type = resolve
    del SQLEventBroker.publish_many
    rasa_server._installed = False


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


def _converse(folder, sender: str = "rest:w1") -> SQLEventBroker:
    """Three turns saved as Rasa's processor saves them (one save per turn, the tracker read back in between)."""
    folder.mkdir()
    broker = SQLEventBroker(db=str(folder / "events.db"))
    store = SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(folder / "tracker.db"), event_broker=broker)

    async def run() -> None:
        tracker = DialogueStateTracker(sender, DOMAIN.slots)
        for turn in TURNS:
            for event in turn:
                tracker.update(event, DOMAIN)
            await store.save(tracker)
            tracker = await store.retrieve(sender)

    asyncio.run(run())
    return broker


def _rows(folder) -> list[tuple[str, str]]:
    with sqlite3.connect(folder / "events.db") as db:
        return db.execute("SELECT sender_id, data FROM events ORDER BY id").fetchall()


def test_the_event_broker_gets_the_rows_rasa_writes_one_transaction_per_save(tmp_path):
    _converse(tmp_path / "rasa")  # Rasa's own stream_events and publish
    rasa_server._installed = False
    saved = SQLTrackerStore.stream_events
    try:
        rasa_server.install()
        commits: list[str] = []
        original_publish_many = SQLEventBroker.publish_many

        def counting(self, bodies):
            commits.append(threading.current_thread().name)
            original_publish_many(self, bodies)

        SQLEventBroker.publish_many = counting
        _converse(tmp_path / "ours")
    finally:
        SQLTrackerStore.stream_events = saved
        del SQLEventBroker.publish_many
        rasa_server._installed = False
    expected = _rows(tmp_path / "rasa")
    assert len(expected) == sum(len(turn) for turn in TURNS)
    assert _rows(tmp_path / "ours") == expected  # same rows, same JSON, same order
    assert len(commits) == len(TURNS)  # one write per save, not one per event
    assert threading.main_thread().name not in commits  # off the event loop's thread


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
