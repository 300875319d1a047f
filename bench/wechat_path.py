"""The WeChat path under load: how many turns get their reply passively, within WeChat's 5-second window.

Simulated WeChat users post text messages to the running assistant's `/webhooks/wechat/webhook` exactly as WeChat
does (plain mode: query `signature` = SHA-1 of the sorted token, timestamp and nonce; XML body with MsgId and the
user's OpenID). A reply in the HTTP response is *passive*; a `success` means the channel missed its ~4 s deadline and
will send the reply through the customer-service API, which a local fake WeChat API (this module, on 127.0.0.1)
receives and timestamps, so the reply time of every turn is known either way. Loops and waits are bounded.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import secrets
import time
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field

import aiohttp
import defusedxml.ElementTree as SafeET
from aiohttp import web

from bench.latency import _round, percentile

PASSIVE_WINDOW_SECONDS = 4.0
ASYNC_WAIT_SECONDS = 30.0
# The channel sends a customer-service reply only after its passive deadline: arrivals sooner than this after a
# turn started are the overflow parts of an earlier, long passive reply, not this turn's reply.
EARLIEST_ASYNC_SECONDS = 3.5
ACCOUNT = "gh_bench_account"

_msg_ids = itertools.count(int(time.time() * 1000))


def signed_query(token: str, openid: str) -> str:
    """The query string WeChat adds to every push: timestamp, nonce, signature (and the user's openid)."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return urllib.parse.urlencode({"signature": signature, "timestamp": timestamp, "nonce": nonce, "openid": openid})


def text_message(openid: str, content: str, msg_id: int | None = None) -> str:
    """A plain-mode text push as WeChat sends it."""
    msg_id = next(_msg_ids) if msg_id is None else msg_id
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def passive_content(body: str) -> str | None:
    """The text of a passive XML reply, or None for `success` / an empty body."""
    body = body.strip()
    if not body or body == "success":
        return None
    return SafeET.fromstring(body).findtext("Content")


class FakeWeChatApi:
    """The parts of the WeChat API the channel calls (access token, customer-service send), recording each send."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sent: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self.arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _token(self, _request: web.Request) -> web.Response:
        return web.json_response({"access_token": "bench-access-token", "expires_in": 7200})

    async def _send(self, request: web.Request) -> web.Response:
        data = await request.json()
        async with self.arrived:
            self.sent[data.get("touser", "")].append((time.perf_counter(), data.get("text", {}).get("content", "")))
            self.arrived.notify_all()
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/cgi-bin/token", self._token)
        app.router.add_route("*", "/cgi-bin/stable_token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def wait_for(self, openid: str, after: float, timeout: float) -> float | None:
        """The arrival time of the first customer-service message to `openid` later than `after`, or None."""
        deadline = time.perf_counter() + timeout

        def found():
            return next((t for t, _ in self.sent[openid] if t >= after), None)

        async with self.arrived:
            while (arrival := found()) is None:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    return None
                try:
                    await asyncio.wait_for(self.arrived.wait(), remaining)
                except TimeoutError:
                    return None
            return arrival


@dataclass
class WeChatRun:
    users: int
    turns_per_user: int
    reply_seconds: list[float] = field(default_factory=list)
    passive_in_window: int = 0
    delivered_later: int = 0
    unanswered: int = 0
    errors: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0

    def summary(self) -> dict:
        turns = self.users * self.turns_per_user
        return {
            "users": self.users,
            "turns": turns,
            "passive_within_4s": self.passive_in_window,
            "passive_share": round(self.passive_in_window / turns, 4) if turns else None,
            "delivered_by_customer_service": self.delivered_later,
            "unanswered": self.unanswered,
            "errors": len(self.errors),
            "first_errors": self.errors[:3],
            "reply_p50_ms": _ms(percentile(self.reply_seconds, 0.50)),
            "reply_p99_ms": _ms(percentile(self.reply_seconds, 0.99)),
            "reply_max_ms": _ms(max(self.reply_seconds) if self.reply_seconds else None),
            "wall_seconds": round(self.wall_seconds, 2),
        }


def _ms(seconds: float | None) -> float | None:
    return _round(None if seconds is None else seconds * 1000)


async def _user(session, webhook_url, token, openid, messages, offset, turns, api, run) -> None:
    for turn in range(turns):
        content = messages[(offset + turn) % len(messages)]
        started = time.perf_counter()
        try:
            async with session.post(
                f"{webhook_url}?{signed_query(token, openid)}",
                data=text_message(openid, content).encode(),
                headers={"Content-Type": "text/xml"},
                timeout=aiohttp.ClientTimeout(total=15),
            ) as response:
                body = await response.text()
                if response.status != 200:
                    run.errors.append(f"HTTP {response.status}: {body[:100]}")
                    continue
        except (TimeoutError, aiohttp.ClientError) as exc:
            run.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            continue
        answered = time.perf_counter()
        if passive_content(body):
            run.reply_seconds.append(answered - started)
            run.passive_in_window += answered - started <= PASSIVE_WINDOW_SECONDS
            continue
        arrival = await api.wait_for(openid, started + EARLIEST_ASYNC_SECONDS, ASYNC_WAIT_SECONDS)
        if arrival is None:
            run.unanswered += 1
        else:
            run.delivered_later += 1
            run.reply_seconds.append(arrival - started)


async def measure_async(
    webhook_url: str,
    token: str,
    api: FakeWeChatApi,
    *,
    users: int,
    turns: int,
    messages: list[str],
    deadline: float = 300,
) -> WeChatRun:
    """`users` WeChat users × `turns` text messages each, concurrently; the fake API must be started."""
    run = WeChatRun(users, turns)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=users + 4)) as session:
        started = time.perf_counter()
        tasks = [
            asyncio.ensure_future(
                _user(session, webhook_url, token, f"o-bench-{secrets.token_hex(4)}-{i}", messages, i, turns, api, run)
            )
            for i in range(users)
        ]
        _, pending = await asyncio.wait(tasks, timeout=deadline)
        for task in pending:
            task.cancel()
        if pending:
            run.errors.append(f"deadline of {deadline:.0f} s reached with {len(pending)} users unfinished")
        run.wall_seconds = time.perf_counter() - started
    return run


def measure(webhook_url: str, token: str, api_port: int, **kwargs) -> dict:
    """Start the fake WeChat API on `api_port` (the assistant's WECHAT_API_BASE), run the load, return the summary."""

    async def main() -> dict:
        api = FakeWeChatApi(api_port)
        await api.start()
        try:
            return (await measure_async(webhook_url, token, api, **kwargs)).summary()
        finally:
            await api.stop()

    return asyncio.run(main())
