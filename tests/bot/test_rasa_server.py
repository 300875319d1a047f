"""bot.rasa_server's speed-ups keep Rasa's behaviour: same validation outcomes and errors, same event classes."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event

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
    saved = (RemoteAction._validate_action_result, Event.__dict__["resolve_by_type"])
    originals = (RemoteAction._validate_action_result, Event.resolve_by_type)
    rasa_server._installed = False
    rasa_server.install()
    yield originals
    RemoteAction._validate_action_result, resolve = saved
    Event.resolve_by_type = resolve
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
