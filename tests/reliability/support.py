"""Helpers of the reliability suite: a fake WeChat API, signed WeChat and SMS requests, log checks."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import tests.support.assistant as assistant_support
from bench.wechat_path import passive_content, signed_query, text_message
from bot.settings import ROOT
from tests.support.assistant import Assistant, texts

__all__ = [
    "FakeWeChatApi",
    "post",
    "wechat_post",
    "sms_post",
    "log_problems",
    "passive_content",
    "text_message",
    "signed_query",
    "start_patiently",
    "SOAK",
    "PATIENT_START_SECONDS",
    "HAS_INTAKE",
    "INTAKE_ANSWERS",
    "form_state",
    "start_intake",
    "answer_until",
]

SOAK = os.environ.get("NXA_SOAK") == "1"
# On a busy shared 2-core machine loading the model alone can take over 2 minutes (CI has the machine to itself).
PATIENT_START_SECONDS = 420


def start_patiently(assistant: Assistant) -> Assistant:
    """`assistant.start()` with a start-up timeout that survives a busy machine."""
    saved = assistant_support.START_TIMEOUT_SECONDS
    assistant_support.START_TIMEOUT_SECONDS = max(saved, PATIENT_START_SECONDS)
    try:
        return assistant.start()
    finally:
        assistant_support.START_TIMEOUT_SECONDS = saved


_PROBLEM = re.compile(r"\bERROR\b|Traceback \(most recent call last\)|\bCRITICAL\b")


def log_problems(log: str) -> list[str]:
    """The lines of a launcher log that report an error or a traceback."""
    return [line for line in log.splitlines() if _PROBLEM.search(line)]


class FakeWeChatApi:
    """WeChat's token and customer-service endpoints on 127.0.0.1, in a thread; records every message sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, str, str]] = []  # (arrival, openid, text)
        self.changed = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._json({"access_token": "test-access-token", "expires_in": 7200})

            def do_POST(self):
                data = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if "/message/custom/send" in self.path:
                    with outer.changed:
                        outer.sent.append(
                            (time.monotonic(), data.get("touser", ""), (data.get("text") or {}).get("content", ""))
                        )
                        outer.changed.notify_all()
                    self._json({"errcode": 0, "errmsg": "ok"})
                else:
                    self._json({"access_token": "test-access-token", "expires_in": 7200})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeWeChatApi:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def messages_to(self, openid: str, after: float = 0.0) -> list[str]:
        with self.changed:
            return [text for arrival, to, text in self.sent if to == openid and arrival >= after]

    def wait_for(self, openid: str, after: float, timeout: float) -> list[str]:
        """Messages to `openid` that arrived after `after` (time.monotonic()), waiting up to `timeout` for one."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not (found := [t for a, to, t in self.sent if to == openid and a >= after]):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self.changed.wait(remaining)
            return found


def post(url: str, body: bytes, headers: dict | None = None, timeout: float = 30) -> tuple[int, bytes]:
    """POST raw bytes; (status, body) for any status, 2xx or not."""
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wechat_post(base_url: str, token: str, openid: str, body: bytes | str, timeout: float = 30) -> tuple[int, bytes]:
    """A push signed as WeChat signs it (the body as given: a message, or anything hostile)."""
    data = body.encode() if isinstance(body, str) else body
    return post(
        f"{base_url}/webhooks/wechat/webhook?{signed_query(token, openid)}", data, {"Content-Type": "text/xml"}, timeout
    )


def sms_post(base_url: str, secret: str, body: bytes, timeout: float = 30) -> tuple[int, bytes]:
    """A generic-form SMS callback signed with the webhook secret (X-Timestamp: now; X-Signature: hex HMAC-SHA256 of
    "<timestamp>." and the raw body)."""
    timestamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return post(
        f"{base_url}/webhooks/sms/webhook",
        body,
        {"Content-Type": "application/json", "X-Timestamp": timestamp, "X-Signature": signature},
        timeout,
    )


# -- the case intake form, driven the way a worker would answer it ----------------------------------------------

HAS_INTAKE = "case_intake_form" in (ROOT / "domain" / "domain.yml").read_text(encoding="utf-8")
INTAKE_ANSWERS = {
    "case_type": "拖欠工资",
    "worker_name": "马小明",
    "phone": "13912345678",
    "county": "在银川金凤区",
    "employer": "宁夏恒达建筑劳务公司",
    "amount_owed": "三个月工资一万二",
    "owed_period": "今年三月到五月",
    "description": "在金凤区工地干了三个月，包工头一直拖着不给钱",
    "consent": "同意",
    "case_confirmed": "确认",
}
MAX_FORM_TURNS = 25


def form_state(bot, sender: str) -> tuple[str | None, str | None]:
    """(active loop, requested slot) of the conversation; `bot` has `.tracker(sender)` (Assistant, a replica)."""
    tracker = bot.tracker(sender)
    return (tracker.get("active_loop") or {}).get("name"), tracker["slots"].get("requested_slot")


def start_intake(bot, sender: str) -> list[dict]:
    """Start the case intake form as its button does; asserts that it started."""
    reply = bot.say(sender, '/start_case{"case_type": "wage_arrears"}')
    assert form_state(bot, sender)[0] == "case_intake_form", texts(reply)
    return reply


def answer_until(bot, sender: str, stop_at: str | None, *, others=()) -> list[dict]:
    """Answer the form's questions until it asks for `stop_at` (None: until it ends); the last reply.

    With `others` (more bots sharing the conversation, e.g. replicas), the turns go round-robin over all of them."""
    bots = [bot, *others]
    reply: list[dict] = []
    for turn in range(MAX_FORM_TURNS):
        current = bots[turn % len(bots)]
        loop, slot = form_state(current, sender)
        if loop != "case_intake_form" or slot == stop_at:
            return reply
        assert slot in INTAKE_ANSWERS, f"the form asks for {slot!r}, which this test cannot answer: {texts(reply)}"
        reply = current.say(sender, INTAKE_ANSWERS[slot])
        if form_state(current, sender) == (loop, slot):
            raise AssertionError(f"the form did not accept {INTAKE_ANSWERS[slot]!r} for {slot}: {texts(reply)}")
    raise AssertionError(f"the form did not finish in {MAX_FORM_TURNS} turns")
