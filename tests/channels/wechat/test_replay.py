"""channels/wechat: pushes are fresh, accepted once, encrypted when an AES key is set, de-duplicated in the app store
(two channel instances on one SQLite store stand for two replicas, or one before and after a restart), and rate
limited per sender without an error WeChat would retry."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import defusedxml.ElementTree as SafeET

from channels._base import RateLimit, WebhookLimits
from channels._state import ChannelState
from channels.wechat import WeChatInput
from channels.wechat.render import RATE_LIMITED_REPLY
from tests.channels.support import (
    AES_KEY,
    APP_ID,
    TOKEN,
    FakeAgent,
    encrypt_for_wechat,
    replies,
    run_async,
    serve_channel,
    signed_query,
    text_xml,
    wechat_signature,
)

OPENID = "oReplay_0123456789abcdefghijk"


def make_channel(db_url, gate, **kwargs) -> WeChatInput:
    kwargs.setdefault("api_base", "http://127.0.0.1:9")
    return WeChatInput(TOKEN, APP_ID, "test-app-secret", db_url=db_url, intercept=gate, **kwargs)


async def post(session, url, body: str, query: dict) -> tuple[int, str]:
    async with session.post(f"{url}/webhook", params=query, data=body.encode()) as answer:
        return answer.status, await answer.text()


def content(text: str) -> str:
    return {child.tag: child.text or "" for child in SafeET.fromstring(text)}["Content"]


@run_async
async def test_a_signed_query_is_accepted_once_and_a_logged_url_forges_nothing(db_url, gate):
    agent = FakeAgent(replies({"text": "好的"}))
    query = signed_query()
    async with serve_channel(make_channel(db_url, gate), agent) as url, aiohttp.ClientSession() as session:
        assert (await post(session, url, text_xml(OPENID, "你好", 11), query))[0] == 200
        assert (await post(session, url, text_xml(OPENID, "你好", 11), query))[0] == 403  # replayed as is
        assert (await post(session, url, text_xml("oSomeoneElse", "退订", 12), query))[0] == 403  # forged body
        status, answer = await post(session, url, text_xml(OPENID, "还在吗", 13), signed_query())
    assert status == 200 and content(answer) == "好的"
    assert agent.texts == ["你好", "还在吗"]


@run_async
async def test_the_nonce_is_remembered_by_the_store_not_the_process(db_url, gate):
    query = signed_query()
    first, second = FakeAgent(replies({"text": "好的"})), FakeAgent()
    async with serve_channel(make_channel(db_url, gate), first) as url, aiohttp.ClientSession() as session:
        assert (await post(session, url, text_xml(OPENID, "你好", 21), query))[0] == 200
    async with serve_channel(make_channel(db_url, gate), second) as url, aiohttp.ClientSession() as session:
        assert (await post(session, url, text_xml(OPENID, "你好", 22), query))[0] == 403
    assert second.received == []


@run_async
async def test_timestamps_more_than_five_minutes_off_are_refused(db_url, gate):
    agent = FakeAgent()
    now = int(time.time())
    async with serve_channel(make_channel(db_url, gate), agent) as url, aiohttp.ClientSession() as session:
        for skew in (-310, 310, -86400):  # (a few seconds over: the test's clock and the server's tick apart)
            query = signed_query(timestamp=str(now + skew))
            assert (await post(session, url, text_xml(OPENID, "你好", 31), query))[0] == 403, skew
        for bad in (" ", "abc", "1e9", "-5", "١٧٩٠٠٠٠٠٠٠"):
            query = {"signature": wechat_signature(TOKEN, bad, "n0nce"), "timestamp": bad, "nonce": "n0nce"}
            assert (await post(session, url, text_xml(OPENID, "你好", 32), query))[0] == 403, bad
        async with session.get(
            f"{url}/webhook", params={**signed_query(timestamp=str(now - 3600)), "echostr": "e"}
        ) as answer:
            assert answer.status == 403
        async with session.get(f"{url}/") as answer:
            assert await answer.json() == {"status": "ok"}  # the health check does not tell the mode
    assert agent.received == []


@run_async
async def test_with_an_aes_key_only_encrypted_pushes_are_accepted(db_url, gate):
    agent = FakeAgent(replies({"text": "好的"}))
    channel = make_channel(db_url, gate, encoding_aes_key=AES_KEY)
    async with serve_channel(channel, agent) as url, aiohttp.ClientSession() as session:
        plain = text_xml(OPENID, "你好", 41)
        assert (await post(session, url, plain, signed_query()))[0] == 403
        assert (await post(session, url, plain, {**signed_query(), "encrypt_type": "aes"}))[0] == 403
        query, body = encrypt_for_wechat(text_xml(OPENID, "你好", 42))
        without = {key: value for key, value in query.items() if key != "msg_signature"}
        assert (await post(session, url, body, without))[0] == 403
        assert (await post(session, url, body, query))[0] == 200
        assert (await post(session, url, body, query))[0] == 403  # the encrypted push, replayed
        stale_query, stale_body = encrypt_for_wechat(
            text_xml(OPENID, "你好", 43), timestamp=str(int(time.time()) - 400)
        )
        assert (await post(session, url, stale_body, stale_query))[0] == 403
    assert agent.texts == ["你好"]


@run_async
async def test_a_retry_reaching_another_replica_gets_the_stored_reply_and_runs_no_turn(db_url, gate):
    first, second = FakeAgent(replies({"text": "第一次的回答"})), FakeAgent(replies({"text": "不该出现"}))
    body = text_xml(OPENID, "你好", 51)
    async with serve_channel(make_channel(db_url, gate), first) as url, aiohttp.ClientSession() as session:
        status, answer = await post(session, url, body, signed_query())
    assert status == 200 and content(answer) == "第一次的回答"
    async with serve_channel(make_channel(db_url, gate), second) as url, aiohttp.ClientSession() as session:
        status, again = await post(session, url, body, signed_query())  # WeChat signs its retry afresh
    assert status == 200 and content(again) == "第一次的回答"
    assert second.received == [] and len(first.received) == 1
    assert ChannelState(db_url).message_outcome("wechat", "msg:51") == ("done", "第一次的回答")


@run_async
async def test_a_retry_at_another_replica_while_the_turn_runs_waits_for_its_reply(db_url, gate):
    slow, other = FakeAgent(replies({"text": "慢一点的回答"}), delay=0.6), FakeAgent()
    body = text_xml(OPENID, "你好", 61)
    async with (
        serve_channel(make_channel(db_url, gate, reply_deadline=2.0), slow) as url_a,
        serve_channel(make_channel(db_url, gate, reply_deadline=2.0), other) as url_b,
        aiohttp.ClientSession() as session,
    ):
        running = asyncio.ensure_future(post(session, url_a, body, signed_query()))
        await asyncio.sleep(0.2)
        retry = await post(session, url_b, body, signed_query())
        original = await running
    assert content(original[1]) == content(retry[1]) == "慢一点的回答"
    assert other.received == [] and len(slow.received) == 1


@run_async
async def test_a_retry_of_a_slow_turn_at_another_replica_gets_success(db_url, gate):
    slow, other = FakeAgent(replies({"text": "很慢"}), delay=0.8), FakeAgent()
    body = text_xml(OPENID, "你好", 71)
    async with (
        serve_channel(make_channel(db_url, gate, reply_deadline=0.3), slow) as url_a,
        serve_channel(make_channel(db_url, gate, reply_deadline=0.3), other) as url_b,
        aiohttp.ClientSession() as session,
    ):
        assert (await post(session, url_a, body, signed_query()))[1] == "success"  # goes out as customer service
        assert (await post(session, url_b, body, signed_query()))[1] == "success"
        await asyncio.sleep(0.8)
    assert other.received == [] and len(slow.received) == 1


@run_async
async def test_a_flooding_sender_gets_a_polite_text_while_another_is_served(db_url, gate):
    agent = FakeAgent(replies({"text": "好的"}))
    limits = WebhookLimits(RateLimit(per_minute=3))
    async with serve_channel(make_channel(db_url, gate, limits=limits), agent) as url, aiohttp.ClientSession() as s:
        answers = [await post(s, url, text_xml(OPENID, f"第{n}条", 80 + n), signed_query()) for n in range(6)]
        other = await post(s, url, text_xml("oAnotherWorker", "你好", 90), signed_query())
    assert [status for status, _ in answers] == [200] * 6  # never an error: WeChat would retry into the limit
    assert [content(text) for _, text in answers] == ["好的"] * 3 + [RATE_LIMITED_REPLY] * 3
    assert content(other[1]) == "好的"
    assert agent.texts == ["第0条", "第1条", "第2条", "你好"]
