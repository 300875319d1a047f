"""The WeChat and SMS webhooks of the real assistant (`make run`'s launcher, development configuration: no account)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import defusedxml.ElementTree as SafeET
import pytest

from bot.settings import DEVELOPMENT_CHANNEL_ENV
from channels.sms import OPT_OUT_CONFIRMATION, sign_body
from tests.channels.support import signed_query, text_xml
from tests.support.assistant import texts

pytestmark = pytest.mark.e2e

DEV_TOKEN = DEVELOPMENT_CHANNEL_ENV["WECHAT_TOKEN"]
DEV_SECRET = DEVELOPMENT_CHANNEL_ENV["SMS_WEBHOOK_SECRET"]


def http(url: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, headers=headers or {}, method="POST" if body is not None else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wechat_url(assistant, query: dict) -> str:
    return f"{assistant.settings.rasa_url}/webhooks/wechat/webhook?{urllib.parse.urlencode(query)}"


def test_wechat_webhook_answers_passively_within_the_deadline(assistant):
    assistant.say("channels-e2e-warmup", "你好")  # the first turn of a fresh server loads lazily
    expected = texts(assistant.say("channels-e2e-rest", "你好"))
    openid = "oE2E_wechat_user_000000000001"
    status, echo = http(wechat_url(assistant, {**signed_query(DEV_TOKEN), "echostr": "e2e-echo"}))
    assert (status, echo) == (200, b"e2e-echo")

    started = time.monotonic()
    status, body = http(wechat_url(assistant, signed_query(DEV_TOKEN)), text_xml(openid, "你好", 880001).encode())
    latency = time.monotonic() - started
    assert status == 200
    reply = {child.tag: child.text or "" for child in SafeET.fromstring(body)}
    assert reply["ToUserName"] == openid and reply["MsgType"] == "text"
    assert reply["Content"].startswith(expected.split("\n")[0])
    assert latency < 4.5
    tracker = assistant.tracker(f"wechat:{openid}")  # the follower's conversation
    assert tracker["latest_input_channel"] == "wechat"
    assert tracker["latest_message"]["text"] == "你好"

    forged = signed_query("not-the-dev-token")
    status, _ = http(wechat_url(assistant, forged), text_xml(openid, "你好", 880002).encode())
    assert status == 403


def test_sms_webhook_answers_through_the_outbox_and_honours_opt_out(assistant):
    phone = "13900009999"
    url = f"{assistant.settings.rasa_url}/webhooks/sms/webhook"
    outbox = assistant.var_dir / "sms-outbox.jsonl"

    def send(text: str, msg_id: str, secret: str = DEV_SECRET) -> tuple[int, dict]:
        body = json.dumps({"from": phone, "text": text, "msg_id": msg_id}, ensure_ascii=False).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Timestamp": str(timestamp),
            "X-Signature": sign_body(secret, body, timestamp),
        }
        status, answer = http(url, body, headers)
        return status, json.loads(answer)

    def sent_to_phone() -> list[str]:  # the answers the reply template carried
        lines = (
            [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()] if outbox.exists() else []
        )
        assert all(len(line["text"]) <= 201 and line["template"] == "reply" for line in lines)  # the per-reply cap
        return [line["params"][0] for line in lines if line["to"] == phone]

    assert send("你好", "e2e-1") == (200, {"status": "answered"})
    first = sent_to_phone()
    assert first and "政策助手" in "".join(first)
    assert assistant.tracker(f"sms:{phone}")["latest_input_channel"] == "sms"
    assert send("你好", "e2e-1") == (200, {"status": "duplicate"})
    assert send("你好", "e2e-2", secret="wrong")[0] == 403
    assert send("退订", "e2e-3") == (200, {"status": "opted_out"})
    assert send("你好", "e2e-4") == (200, {"status": "ignored_opted_out"})
    assert sent_to_phone() == first + [OPT_OUT_CONFIRMATION]
