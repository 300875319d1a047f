"""channels/rest.py on a real Sanic server: the takeover gate keeps the assistant silent, operator messages reach the
REST client (in the next webhook answer or from GET /webhooks/rest/messages, each once), bad input gets a 400."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from unittest import mock

import pytest
import requests

from bot.settings import ROOT
from bot.store import AppStore, migrate
from bot.takeover import TakeoverService
from tests.support.assistant import free_port


@pytest.fixture(scope="module")
def db_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('rest') / 'assistant.db'}"
    migrate(url)
    return url


@pytest.fixture(scope="module")
def rest_server(db_url, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("sanic")
    port = free_port()
    log = (tmp_path / "sanic.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.channels.rest_channel_server", str(port)],
        cwd=ROOT,
        env={**os.environ, "APP_DB_URL": db_url},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/webhooks/rest"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/", timeout=1).json() == {"status": "ok"}:
                break
        except requests.RequestException:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail((tmp_path / "sanic.log").read_text())
    yield base
    process.terminate()
    process.wait(10)


def say(base: str, sender: str, text: str) -> list[dict]:
    response = requests.post(base + "/webhook", json={"sender": sender, "message": text}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def now() -> datetime:
    return datetime.now(UTC)


def test_the_assistant_answers_when_nobody_has_taken_over(rest_server):
    assert say(rest_server, "w0", "你好") == [{"recipient_id": "w0", "text": "机器人：你好"}]


def test_a_turn_without_a_reply_gets_the_apology(rest_server):
    from bot.safety_net import APOLOGY

    assert [m.get("text") for m in say(rest_server, "w9", "沉默")][0] == APOLOGY


def test_a_taken_over_conversation_gets_only_operator_messages(rest_server, db_url):
    takeovers = TakeoverService(AppStore(db_url))
    takeovers.take_over("rest:w1", "rest", "op1", now())  # the open development channel's conversation of "w1"
    assert say(rest_server, "w1", "人呢") == []  # the assistant is silent
    assert [m.text for m in takeovers.messages("rest:w1")] == ["人呢"]  # and the operator sees the message
    assert say(rest_server, "w2", "你好") == [{"recipient_id": "w2", "text": "机器人：你好"}]  # others unaffected

    takeovers.record_operator_message("rest:w1", "op1", "您好，我是12333的小王", now(), delivery="pending")
    polled = requests.get(rest_server + "/messages", params={"sender": "w1"}, timeout=10).json()
    assert polled == [{"recipient_id": "w1", "text": "您好，我是12333的小王", "from": "operator"}]
    assert requests.get(rest_server + "/messages", params={"sender": "w1"}, timeout=10).json() == []

    takeovers.record_operator_message("rest:w1", "op1", "您的情况我记下了", now(), delivery="pending")
    assert say(rest_server, "w1", "好的") == [{"recipient_id": "w1", "text": "您的情况我记下了", "from": "operator"}]

    takeovers.record_operator_message("rest:w1", "op1", "再见", now(), delivery="pending")
    takeovers.release("rest:w1", "op1", now())
    # back with the assistant: the last operator message comes first, then the assistant's reply
    assert say(rest_server, "w1", "落户") == [
        {"recipient_id": "w1", "text": "再见", "from": "operator"},
        {"recipient_id": "w1", "text": "机器人：落户"},
    ]


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"not json", "must be JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"message": "hi"}', "sender"),
        (b'{"sender": "", "message": "hi"}', "sender"),
        (b'{"sender": "w1", "message": 5}', "message must be a string"),
        ('{"sender": "w1", "message": "%s"}' % ("长" * 2001), "longer than"),
    ],
)
def test_bad_requests_get_a_400_with_the_reason(rest_server, body, reason):
    data = body.encode() if isinstance(body, str) else body
    response = requests.post(
        rest_server + "/webhook", data=data, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 400
    assert reason in response.json()["error"]


def test_messages_needs_a_sender(rest_server):
    assert requests.get(rest_server + "/messages", timeout=10).status_code == 400


def test_credentials_register_this_channel_as_rest():
    import yaml

    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text())
    assert "channels.rest.RestInput" in credentials and "rest" not in credentials
    from channels.rest import RestInput

    assert RestInput.name() == "rest"


@pytest.fixture
def store_settings(tmp_path):
    """The process's Settings on a migrated app store of this test (what `takeover.default_service()` uses)."""
    import bot.settings as settings_module

    url = f"sqlite:///{tmp_path / 'assistant.db'}"
    migrate(url)
    saved = settings_module._current
    settings_module.use(settings_module.Settings.from_env({"NXA_VAR_DIR": str(tmp_path), "APP_DB_URL": url}))
    yield url
    settings_module._current = saved


def _gate(text: str, sender: str = "rest:w5"):
    import asyncio

    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    from channels.rest import RestInput

    channel = RestInput()
    return asyncio.run(channel._gate(UserMessage(text, CollectingOutputChannel(), sender, input_channel="rest")))


def test_the_gate_and_the_waiting_operator_messages_come_from_the_store_in_one_trip(store_settings, caplog):
    import channels.rest as rest_module

    takeovers = TakeoverService(AppStore(store_settings))
    with mock.patch.object(rest_module, "_gate_and_pending", wraps=rest_module._gate_and_pending) as trip:
        assert _gate("你好") == (False, [])
    trip.assert_called_once_with("rest", "rest:w5", "你好")  # the gate and the fetch in one worker-thread call
    takeovers.take_over("rest:w5", "rest", "op1", now())
    takeovers.record_operator_message("rest:w5", "op1", "您好，我是12333的小王", now(), delivery="pending")
    assert _gate("人呢") == (True, [{"recipient_id": "w5", "text": "您好，我是12333的小王", "from": "operator"}])
    assert [m.text for m in takeovers.messages("rest:w5") if m.direction == "worker"] == ["人呢"]
    assert _gate("还在吗") == (True, [])  # each operator message handed out once

    takeovers.record_operator_message("rest:w5", "op1", "稍等", now(), delivery="pending")
    broken = RuntimeError("the app store is gone")
    with mock.patch.object(TakeoverService, "take_pending_for_rest", side_effect=broken):
        assert _gate("喂") == (True, [])  # the gate still answers; the message stays for GET /messages
    assert "could not fetch operator messages: RuntimeError" in caplog.text
    assert [m.text for m in takeovers.take_pending_for_rest("rest:w5", now())] == ["稍等"]
