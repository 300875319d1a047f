"""The real assistant (`python -m bot run`) with SMS_PROVIDER=smpp bound to the fake SMSC: a worker's SMS from the
gateway reaches Rasa and its reply goes back to the gateway as submit_sm; 退订 is confirmed and then honoured."""

from __future__ import annotations

import time

import pytest

from channels.sms import OPT_OUT_CONFIRMATION
from channels.sms.templates import REPLY_PREFIX
from tests.support.assistant import Assistant, texts
from tests.support.fake_smsc import FakeSmscThread

pytestmark = pytest.mark.e2e

PHONE = "13900008888"


@pytest.fixture(scope="module")
def gateway():
    running = FakeSmscThread()
    yield running
    running.close()


@pytest.fixture(scope="module")
def smpp_assistant(trained_model, tmp_path_factory, gateway):
    env = {
        "SMS_PROVIDER": "smpp",
        "SMS_SMPP_HOST": "127.0.0.1",
        "SMS_SMPP_PORT": str(gateway.smsc.port),
        "SMS_SMPP_SYSTEM_ID": "nxa",
        "SMS_SMPP_PASSWORD": "secret",
        "SMS_SMPP_SOURCE_ADDR": "106900",
    }
    running = Assistant(tmp_path_factory.mktemp("smpp-assistant-var"), extra_env=env).start()
    yield running
    running.stop()


def wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(0.1)


def test_an_sms_from_the_gateway_reaches_rasa_and_the_reply_is_submitted(smpp_assistant, gateway):
    smsc = gateway.smsc
    wait_until(lambda: "transceiver" in smsc.bound)  # the Rasa server's SMS channel bound at start-up
    smpp_assistant.say("smpp-e2e-warmup", "你好")  # the first turn of a fresh server loads lazily
    expected = texts(smpp_assistant.say("smpp-e2e-rest", "你好"))

    assert gateway.run(lambda s: s.deliver_mo(f"86{PHONE}", "你好")) == [0]
    wait_until(lambda: any(m.destination == PHONE for m in smsc.messages))
    [reply] = [m for m in smsc.messages if m.destination == PHONE]
    assert reply.text.startswith(REPLY_PREFIX + expected.split("\n")[0][:20])  # the reply template's whole text
    tracker = smpp_assistant.tracker(f"sms:{PHONE}")
    assert tracker["latest_input_channel"] == "sms"
    assert tracker["latest_message"]["text"] == "你好"

    assert gateway.run(lambda s: s.deliver_mo(PHONE, "退订")) == [0]
    wait_until(lambda: len([m for m in smsc.messages if m.destination == PHONE]) == 2)
    assert [m.text for m in smsc.messages if m.destination == PHONE][1] == REPLY_PREFIX + OPT_OUT_CONFIRMATION
    assert gateway.run(lambda s: s.deliver_mo(PHONE, "你好")) == [0]
    time.sleep(2)
    assert len([m for m in smsc.messages if m.destination == PHONE]) == 2
