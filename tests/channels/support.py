"""Test support for the channels: a channel's blueprint served by a real Sanic server on 127.0.0.1 (mounted the way
Rasa mounts it), a scripted stand-in for the agent, and local fake WeChat / Tencent Cloud SMS APIs (aiohttp servers)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Sanic
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from channels._http import close_client_session
from channels.sms.templates import REPLY_PREFIX
from channels.sms.tencent import TencentSmsProvider, tc3_authorization


class Gate:
    """A stand-in for `bot.takeover.intercept` that records its calls and takes over the listed senders."""

    def __init__(self, taken_over: set[str] | None = None) -> None:
        self.taken_over = taken_over or set()
        self.calls: list[tuple[str, str, str]] = []

    async def __call__(self, channel: str, sender_id: str, text: str) -> bool:
        self.calls.append((channel, sender_id, text))
        return sender_id in self.taken_over


def outbox_lines(path: Path) -> list[dict]:
    """The records an `OutboxProvider` wrote to `path` (none when it wrote nothing)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def outbox_replies(path: Path) -> list[str]:
    """The answers of the reply-template messages an `OutboxProvider` wrote to `path`, after checking that each
    line is a reply whose text is the template's fixed text around its one variable."""
    answers = []
    for line in outbox_lines(path):
        assert line["template"] == "reply" and len(line["params"]) == 1, line
        assert line["text"] == REPLY_PREFIX + line["params"][0], line
        answers.append(line["params"][0])
    return answers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_async(test: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """Run an `async def` test in its own event loop (no pytest plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper


# ---------------------------------------------------------------------------------------------------------------------
# The agent stand-in


Script = Callable[[UserMessage], Awaitable[None]]


@dataclass
class FakeAgent:
    """Plays the agent's part of `on_new_message`: records each message, then lets `script` answer it through the
    message's output channel (as Rasa's agent does)."""

    script: Script | None = None
    delay: float = 0.0
    received: list[UserMessage] = field(default_factory=list)

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.script is not None:
            await self.script(message)
        else:
            await message.output_channel.send_response(message.sender_id, {"text": f"您说的是：{message.text}"})

    @property
    def texts(self) -> list[str]:
        return [message.text for message in self.received]


def replies(*messages: dict) -> Script:
    """A script that answers every message with the given Rasa message dicts (text / buttons / custom)."""

    async def script(message: UserMessage) -> None:
        for item in messages:
            await message.output_channel.send_response(message.sender_id, dict(item))

    return script


def menu_then_choice(question: str, options: list[tuple[str, str]], chosen: str) -> Script:
    """A script that answers a payload ("/…") with `chosen` + the payload, and anything else with `question` and a
    button per (title, payload) option."""

    async def script(message: UserMessage) -> None:
        if message.text.startswith("/"):
            answer: dict[str, Any] = {"text": f"{chosen}{message.text}"}
        else:
            answer = {"text": question, "buttons": [{"title": t, "payload": p} for t, p in options]}
        await message.output_channel.send_response(message.sender_id, answer)

    return script


# ---------------------------------------------------------------------------------------------------------------------
# Serving a channel


@contextlib.asynccontextmanager
async def serve_channel(channel: InputChannel, on_new_message: Callable[[UserMessage], Awaitable[Any]]):
    """Serve `channel` on a free port at `/webhooks/<name>/` (as `rasa.core.channels.channel.register` mounts it);
    yields the base URL of its blueprint, e.g. http://127.0.0.1:PORT/webhooks/wechat."""
    # Several apps start in one process: test mode makes Sanic's start-up optimisation ("touchup") start from the
    # original methods each time instead of failing on its own rewritten ones.
    Sanic.test_mode = True
    app = Sanic(f"channel_test_{uuid.uuid4().hex}", configure_logging=False)
    app.blueprint(channel.blueprint(on_new_message), url_prefix=f"/webhooks/{channel.url_prefix()}")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}/webhooks/{channel.url_prefix()}"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        await close_client_session()


@contextlib.asynccontextmanager
async def serve_aiohttp(app: web.Application):
    """Serve an aiohttp application on a free port; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------------------------------------------------------------
# WeChat: messages built and signed the way WeChat builds them


APP_ID = "wx1234567890abcdef"
TOKEN = "test-wechat-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as the console issues them
ACCOUNT = "gh_0123456789ab"


def wechat_signature(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def signed_query(token: str = TOKEN, timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
    """The query WeChat signs each push with: now and a fresh random nonce unless given (WeChat signs every request,
    retries included, afresh; the channel accepts a timestamp+nonce once)."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or uuid.uuid4().hex[:10]
    return {"signature": wechat_signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}


def text_xml(openid: str, content: str, msg_id: int, create_time: int | None = None) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def event_xml(openid: str, event: str, create_time: int, key: str = "") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>"
    )


def media_xml(openid: str, kind: str, msg_id: int, extra: str = "") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>{extra}"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


def encrypt_for_wechat(
    xml: str,
    *,
    token: str = TOKEN,
    aes_key: str = AES_KEY,
    app_id: str = APP_ID,
    nonce: str | None = None,
    timestamp: str | None = None,
) -> tuple[dict[str, str], str]:
    """(query, body) of an AES "safe mode" push, built with wechatpy the way WeChat's servers build it."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or uuid.uuid4().hex[:10]
    envelope = WeChatCrypto(token, aes_key, app_id).encrypt_message(xml, nonce, timestamp)
    # WeChat's push carries ToUserName and Encrypt; msg_signature signs the Encrypt value.
    encrypt = envelope.split("<Encrypt><![CDATA[")[1].split("]]></Encrypt>")[0]
    body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    query = signed_query(token, timestamp, nonce)
    query.update(encrypt_type="aes", msg_signature=wechat_signature(token, timestamp, nonce, encrypt))
    return query, body


# ---------------------------------------------------------------------------------------------------------------------
# A fake WeChat API (stable_token + customer-service send)


@dataclass
class FakeWeChatApi:
    """cgi-bin/stable_token, cgi-bin/message/custom/send and cgi-bin/message/template/send on 127.0.0.1, recording
    what they receive. A message counts as arrived (`sent`, `templates`) when the request is read, before the answer
    (which waits `response_delay`): a sender killed meanwhile has delivered it without knowing. Template messages
    are dropped as WeChat drops them when `client_msg_id` repeats for the same openid."""

    expires_in: int = 7200
    send_errcode: int = 0
    template_errcode: int = 0
    token_requests: list[dict] = field(default_factory=list)
    sent: list[dict] = field(default_factory=list)
    templates: list[dict] = field(default_factory=list)
    send_tokens: list[str] = field(default_factory=list)
    raw_bodies: list[bytes] = field(default_factory=list)
    token_delay: float = 0.0
    response_delay: float = 0.0
    refuse_tokens: set[str] = field(default_factory=set)
    message_arrived: asyncio.Event | None = None
    _template_ids: dict[tuple[str, str], int] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/cgi-bin/stable_token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        app.router.add_post("/cgi-bin/message/template/send", self._template)
        return app

    def messages_to(self, openid: str) -> list[dict]:
        """Customer-service and template messages that arrived for `openid`, in order."""
        return [m for m in self.sent + self.templates if m.get("touser") == openid]

    async def _template(self, request: web.Request) -> web.Response:
        payload = json.loads((await request.read()).decode("utf-8"))
        if request.query.get("access_token", "") in self.refuse_tokens:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        if self.template_errcode:
            return web.json_response({"errcode": self.template_errcode, "errmsg": "refused"})
        key = (payload.get("touser", ""), payload.get("client_msg_id", ""))
        if key[1] and key in self._template_ids:
            return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": self._template_ids[key]})
        msgid = 200000000 + len(self.templates) + 1
        if key[1]:
            self._template_ids[key] = msgid
        self.templates.append({**payload, "msgid": msgid})
        if self.message_arrived is not None:
            self.message_arrived.set()
        if self.response_delay:
            await asyncio.sleep(self.response_delay)
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": msgid})

    async def _token(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.token_requests.append(payload)
        if self.token_delay:
            await asyncio.sleep(self.token_delay)
        if payload.get("appid") != APP_ID or payload.get("secret") != "test-app-secret":
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        return web.json_response({"access_token": f"TOKEN-{len(self.token_requests)}", "expires_in": self.expires_in})

    async def _send(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.raw_bodies.append(raw)
        token = request.query.get("access_token", "")
        self.send_tokens.append(token)
        if token in self.refuse_tokens:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        if self.send_errcode:
            return web.json_response({"errcode": self.send_errcode, "errmsg": "refused"})
        self.sent.append(json.loads(raw.decode("utf-8")))
        if self.message_arrived is not None:
            self.message_arrived.set()
        if self.response_delay:
            await asyncio.sleep(self.response_delay)
        return web.json_response({"errcode": 0, "errmsg": "ok"})


# ---------------------------------------------------------------------------------------------------------------------
# A fake Tencent Cloud SMS API (SendSms)


class FakeTencentSms:
    """Tencent Cloud SMS `SendSms` on 127.0.0.1: checks the TC3 signature of each request against the secret key."""

    def __init__(self, answer: dict | None = None) -> None:
        self.requests: list[dict] = []
        self.answer = answer

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        expected = tc3_authorization(
            secret_id="AKIDtest",
            secret_key="test-secret-key",
            service="sms",
            host=request.headers["Host"],
            payload=body,
            timestamp=int(request.headers["X-TC-Timestamp"]),
        )
        valid = request.headers.get("Authorization") == expected
        self.requests.append({"headers": dict(request.headers), "body": json.loads(body), "valid": valid})
        if not valid:
            return web.json_response(
                {
                    "Response": {
                        "Error": {"Code": "AuthFailure.SignatureFailure", "Message": "signature"},
                        "RequestId": "r",
                    }
                }
            )
        if self.answer is not None:
            return web.json_response(self.answer)
        return web.json_response(
            {
                "Response": {
                    "SendStatusSet": [
                        {
                            "Code": "Ok",
                            "Message": "send success",
                            "PhoneNumber": body and "+86",
                            "SerialNo": f"2433:{uuid.uuid4().int % 10**20}",
                        }
                    ],
                    "RequestId": "r-1",
                }
            }
        )


def tencent_provider(
    session: aiohttp.ClientSession,
    base: str,
    *,
    secret_key: str = "test-secret-key",
    template_id: str = "123456",
    case_template_id: str = "654321",
) -> TencentSmsProvider:
    """A `TencentSmsProvider` for `FakeTencentSms` at `base` (which accepts secret id AKIDtest with test-secret-key):
    `template_id` for replies, `case_template_id` for case updates."""
    return TencentSmsProvider(
        session,
        secret_id="AKIDtest",
        secret_key=secret_key,
        sdk_app_id="1400000001",
        sign_name="宁夏人社",
        template_ids={"reply": template_id, "case_update": case_template_id},
        api_base=base,
    )


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
