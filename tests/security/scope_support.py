"""The running assistant of the conversation-scope tests (F1), and the users and attackers that talk to it.

One assistant per test process (both test files share it: a start costs minutes on a shared machine), started with
REST client keys configured, so REST is closed even on this loopback development host: every REST call needs a key
or a widget token. WeChat pushes are signed with the test's token and the fake WeChat API records customer-service
messages; SMS goes to the development outbox (var/sms-outbox.jsonl). The console is the real one, driven over HTTP
with its login and CSRF forms.
"""

from __future__ import annotations

import atexit
import http.cookiejar
import json
import re
import secrets
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from channels.rest_auth import hash_key
from tests.reliability.support import (
    FakeWeChatApi,
    passive_content,
    sms_post,
    text_message,
    wechat_post,
)
from tests.support.assistant import Assistant

SHOP_KEY = secrets.token_urlsafe(32)
MINIAPP_KEY = secrets.token_urlsafe(32)
TOKEN_SECRET = secrets.token_urlsafe(32)
OPERATOR, PASSWORD = "scope-operator", "scope-password-1"

_lock = threading.Lock()
_running: dict[str, object] = {}


START_SECONDS = 1500  # Rasa alone has taken over 7 minutes to load the model on the shared 2-core machine


def running() -> tuple[Assistant, FakeWeChatApi, dict[str, str]]:
    """(assistant, fake WeChat API, its secrets), started on the first call of the process (a failed start is not
    retried by every test: the same error is raised again)."""
    with _lock:
        if "error" in _running:
            raise RuntimeError("the assistant did not start (see the first test's error)")
        if not _running:
            api = FakeWeChatApi().start()
            env = {
                "WECHAT_TOKEN": secrets.token_hex(8),
                "WECHAT_APP_ID": "wxscope000000000000",
                "WECHAT_APP_SECRET": secrets.token_hex(8),
                "WECHAT_ENCODING_AES_KEY": "",
                "WECHAT_API_BASE": api.url,
                "SMS_WEBHOOK_SECRET": secrets.token_hex(8),
                "SMS_PROVIDER": "outbox",
                "REST_CLIENT_KEYS": f"shop={hash_key(SHOP_KEY)},miniapp={hash_key(MINIAPP_KEY)}",
                "REST_TOKEN_SECRET": TOKEN_SECRET,
            }
            import tempfile
            from pathlib import Path

            var = Path(tempfile.mkdtemp(prefix="sec-scope-var-"))
            import tests.support.assistant as assistant_support

            saved, assistant_support.START_TIMEOUT_SECONDS = assistant_support.START_TIMEOUT_SECONDS, START_SECONDS
            try:
                assistant = Assistant(var, extra_env=env).start()
            except BaseException:
                _running["error"] = True
                api.stop()
                raise
            finally:
                assistant_support.START_TIMEOUT_SECONDS = saved
            atexit.register(assistant.stop)
            atexit.register(api.stop)
            _running.update(assistant=assistant, api=api, env=env)
        return _running["assistant"], _running["api"], _running["env"]  # type: ignore[return-value]


# -- HTTP ---------------------------------------------------------------------------------------------------------


def request(
    url: str, payload: dict | None = None, *, headers: dict | None = None, method: str | None = None
) -> tuple[int, object]:
    """(status, decoded JSON or text) for any status."""
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}, method=method
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    try:
        return status, json.loads(body.decode())
    except ValueError:
        return status, body.decode(errors="replace")


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def rest(assistant: Assistant, sender: str, message: str, credential: str | None, **extra) -> tuple[int, object]:
    headers = bearer(credential) if credential else {}
    return request(assistant.rest_url, {"sender": sender, "message": message, **extra}, headers=headers)


def pending(assistant: Assistant, sender: str, credential: str | None) -> tuple[int, object]:
    url = f"{assistant.settings.rasa_url}/webhooks/rest/messages?sender={urllib.parse.quote(sender)}"
    return request(url, headers=bearer(credential) if credential else {})


def tracker(assistant: Assistant, conversation: str) -> dict:
    url = f"{assistant.settings.rasa_url}/conversations/{urllib.parse.quote(conversation, safe=':')}/tracker"
    status, body = request(f"{url}?token=test-token")
    assert status == 200, body
    return body  # type: ignore[return-value]


def stored_senders(assistant: Assistant) -> set[str]:
    """Every conversation id in Rasa's tracker store (the SQLite file)."""
    with sqlite3.connect(assistant.settings.tracker_db) as db:
        return {row[0] for row in db.execute("SELECT DISTINCT sender_id FROM events")}


def app_rows(assistant: Assistant, sql: str, *params) -> list[tuple]:
    path = assistant.settings.app_db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return db.execute(sql, params).fetchall()


def outbox_to(assistant: Assistant, phone: str) -> list[str]:
    outbox = assistant.var_dir / "sms-outbox.jsonl"
    if not outbox.exists():
        return []
    records = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [record["params"][0] for record in records if record.get("to") == phone]  # the answers


# -- the three kinds of worker, each with .say(sender, text) and .tracker(sender) for the intake helpers ----------


class RestClient:
    """An integrating client with its key; conversations `rest:<client>:<sender>`."""

    def __init__(self, assistant: Assistant, client: str, key: str) -> None:
        self.assistant, self.client, self.key = assistant, client, key

    def say(self, sender: str, message: str) -> list[dict]:
        status, body = rest(self.assistant, sender, message, self.key)
        assert status == 200, body
        return body  # type: ignore[return-value]

    def tracker(self, sender: str) -> dict:
        return tracker(self.assistant, f"rest:{self.client}:{sender}")


class WeChatWorker:
    """A WeChat follower: signed pushes; the reply is the passive one or the customer-service messages."""

    def __init__(self, assistant: Assistant, api: FakeWeChatApi, token: str) -> None:
        self.assistant, self.api, self.token = assistant, api, token

    def say(self, openid: str, message: str) -> list[dict]:
        started = time.monotonic()
        status, body = wechat_post(self.assistant.settings.rasa_url, self.token, openid, text_message(openid, message))
        assert status == 200, body
        passive = passive_content(body.decode())  # either way the turn has finished: both wait for it
        texts = [passive] if passive else self.api.wait_for(openid, started, 60)
        return [{"text": text} for text in texts]

    def tracker(self, openid: str) -> dict:
        return tracker(self.assistant, f"wechat:{openid}")


class SmsWorker:
    """A phone: signed generic-form callbacks; the reply is what the outbox got for the number."""

    def __init__(self, assistant: Assistant, secret: str) -> None:
        self.assistant, self.secret = assistant, secret

    def say(self, phone: str, message: str) -> list[dict]:
        seen = len(outbox_to(self.assistant, phone))
        body = json.dumps({"from": phone, "text": message, "msg_id": f"scope-{time.monotonic_ns()}"}).encode()
        status, answer = sms_post(self.assistant.settings.rasa_url, self.secret, body, timeout=120)
        assert status == 200, answer
        return [{"text": text} for text in outbox_to(self.assistant, phone)[seen:]]

    def tracker(self, phone: str) -> dict:
        return tracker(self.assistant, f"sms:{phone}")


# -- the console, driven over HTTP ----------------------------------------------------------------------------------


class ConsoleOperator:
    """An operator logged in to the real console (cookies, CSRF tokens from the forms)."""

    def __init__(self, assistant: Assistant) -> None:
        from bot.console._accounts import Accounts
        from bot.store import AppStore
        from bot.store.types import utcnow

        accounts = Accounts(AppStore(assistant.settings.app_db_url))
        if not accounts.operator_exists(OPERATOR):
            accounts.create_operator(OPERATOR, PASSWORD, utcnow())
        self.base = assistant.settings.console_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = self.get("/login")
        self.post("/login", {"csrf_token": self._csrf(page), "next": "/", "username": OPERATOR, "password": PASSWORD})

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=60) as response:
            return response.read().decode()

    def post(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode()
        try:
            with self.opener.open(urllib.request.Request(self.base + path, data=data), timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    @staticmethod
    def _csrf(page: str) -> str:
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, page[:500]
        return match.group(1)

    def take_over(self, handoff_id: int) -> None:
        page = self.get(f"/handoffs/{handoff_id}")
        status, body = self.post(f"/handoffs/{handoff_id}/takeover", {"csrf_token": self._csrf(page)})
        assert status == 200, body[:500]

    def reply(self, handoff_id: int, text: str) -> tuple[int, str]:
        page = self.get(f"/handoffs/{handoff_id}")
        return self.post(f"/handoffs/{handoff_id}/reply", {"csrf_token": self._csrf(page), "text": text})

    def release(self, handoff_id: int) -> None:
        page = self.get(f"/handoffs/{handoff_id}")
        self.post(f"/handoffs/{handoff_id}/release", {"csrf_token": self._csrf(page)})
