"""channels/wechat/channel.py: real signed (and encrypted) pushes posted to the channel served by a real Sanic
server; hostile input, the 5-second rule, events, media, menus, takeover, configuration."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import defusedxml.ElementTree as SafeET
import pytest
import sqlalchemy as sa
from rasa.shared.exceptions import RasaException
from wechatpy.crypto import WeChatCrypto

from bot.settings import Settings
from bot.store import migrate
from channels._http import close_client_session
from channels.wechat import (
    PASSIVE_REPLY_MAX_BYTES,
    UNSUPPORTED_REPLIES,
    WELCOME,
    WeChatInput,
)
from tests.channels.support import (
    ACCOUNT,
    AES_KEY,
    APP_ID,
    TOKEN,
    FakeAgent,
    FakeWeChatApi,
    Gate,
    encrypt_for_wechat,
    event_xml,
    media_xml,
    menu_then_choice,
    replies,
    run_async,
    serve_aiohttp,
    serve_channel,
    signed_query,
    text_xml,
    wait_until,
)

OPENID = "oUser_0123456789abcdefghijklm"
CONVERSATION = f"wechat:{OPENID}"  # the conversation of that follower (bot.conversation_ids)


def make_channel(db_url, gate, **kwargs) -> WeChatInput:
    kwargs.setdefault("api_base", "http://127.0.0.1:9")  # nothing listens there: tests that need it pass a fake
    return WeChatInput(TOKEN, APP_ID, "test-app-secret", db_url=db_url, intercept=gate, **kwargs)


async def post(session: aiohttp.ClientSession, url: str, body: str | bytes, query: dict | None = None):
    async with session.post(
        f"{url}/webhook",
        params=query if query is not None else signed_query(),
        data=body.encode("utf-8") if isinstance(body, str) else body,
    ) as answer:
        return answer.status, await answer.text()


def passive(text: str) -> dict[str, str]:
    root = SafeET.fromstring(text)
    return {child.tag: child.text or "" for child in root}


@run_async
async def test_get_verification_echoes_echostr_only_with_a_valid_signature(db_url, gate):
    async with serve_channel(make_channel(db_url, gate), FakeAgent()) as url, aiohttp.ClientSession() as session:
        async with session.get(f"{url}/webhook", params={**signed_query(), "echostr": "1234567890"}) as answer:
            assert (answer.status, await answer.text()) == (200, "1234567890")
        forged = {**signed_query(token="not-the-token"), "echostr": "1234567890"}
        async with session.get(f"{url}/webhook", params=forged) as answer:
            assert answer.status == 403
            assert "1234567890" not in await answer.text()
        async with session.get(f"{url}/webhook", params={"echostr": "1234567890"}) as answer:
            assert answer.status == 403
        async with session.get(f"{url}/") as answer:
            assert (await answer.json())["status"] == "ok"


@run_async
async def test_plain_text_message_gets_a_passive_reply_with_openid_as_sender(db_url, gate):
    agent = FakeAgent(replies({"text": "您好！我是宁夏农民工政策助手。"}))
    async with serve_channel(make_channel(db_url, gate), agent) as url, aiohttp.ClientSession() as session:
        status, text = await post(session, url, text_xml(OPENID, "你好", 1001))
    assert status == 200
    reply = passive(text)
    assert reply["ToUserName"] == OPENID and reply["FromUserName"] == ACCOUNT
    assert reply["MsgType"] == "text" and reply["Content"] == "您好！我是宁夏农民工政策助手。"
    [message] = agent.received
    assert (message.sender_id, message.text, message.input_channel) == (CONVERSATION, "你好", "wechat")
    assert message.output_channel.name() == "wechat"
    assert gate.calls == [("wechat", CONVERSATION, "你好")]


@run_async
async def test_encrypted_message_is_decrypted_and_the_reply_encrypted(db_url, gate):
    agent = FakeAgent(replies({"text": "收到，这是加密模式的回答。"}))
    channel = make_channel(db_url, gate, encoding_aes_key=AES_KEY)
    query, body = encrypt_for_wechat(text_xml(OPENID, "落户要啥条件", 1002))
    async with serve_channel(channel, agent) as url, aiohttp.ClientSession() as session:
        status, text = await post(session, url, body, query)
    assert status == 200
    envelope = passive(text)
    assert set(envelope) >= {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    inner = WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt_message(
        text, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
    )
    reply = passive(inner)
    assert reply["Content"] == "收到，这是加密模式的回答。" and reply["ToUserName"] == OPENID
    assert agent.texts == ["落户要啥条件"]


@run_async
async def test_encrypted_message_with_bad_msg_signature_or_other_appid_is_refused(db_url, gate):
    agent = FakeAgent()
    channel = make_channel(db_url, gate, encoding_aes_key=AES_KEY)
    async with serve_channel(channel, agent) as url, aiohttp.ClientSession() as session:
        query, body = encrypt_for_wechat(text_xml(OPENID, "你好", 1003))
        query["msg_signature"] = "0" * 40
        assert (await post(session, url, body, query))[0] == 403
        query, body = encrypt_for_wechat(text_xml(OPENID, "你好", 1004), app_id="wxsomeoneelse00000")
        assert (await post(session, url, body, query))[0] == 403
        query, body = encrypt_for_wechat(text_xml(OPENID, "你好", 1005))
        corrupted = body.replace("<Encrypt><![CDATA[", "<Encrypt><![CDATA[AAAA")
        query = {**query, "msg_signature": _resign(query, corrupted)}
        assert (await post(session, url, corrupted, query))[0] == 400
    assert agent.received == []


def _resign(query: dict, body: str) -> str:
    from tests.channels.support import wechat_signature

    encrypt = body.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    return wechat_signature(TOKEN, query["timestamp"], query["nonce"], encrypt)


@run_async
async def test_encrypted_message_without_a_configured_key_is_a_bad_request(db_url, gate):
    agent = FakeAgent()
    query, body = encrypt_for_wechat(text_xml(OPENID, "你好", 1006))
    async with serve_channel(make_channel(db_url, gate), agent) as url, aiohttp.ClientSession() as session:
        assert (await post(session, url, body, query))[0] == 400
    assert agent.received == []


@run_async
async def test_missing_or_forged_signature_is_refused_and_nothing_reaches_the_agent(db_url, gate):
    agent = FakeAgent()
    body = text_xml(OPENID, "你好", 2001)
    good = signed_query()
    async with serve_channel(make_channel(db_url, gate), agent) as url, aiohttp.ClientSession() as session:
        assert (await post(session, url, body, {}))[0] == 403
        assert (await post(session, url, body, signed_query(token="guessed-token")))[0] == 403
        assert (await post(session, url, body, {**good, "signature": good["signature"].upper()}))[0] == 403
        assert (await post(session, url, body, {**good, "nonce": "other"}))[0] == 403
        assert (await post(session, url, body, {**good, "signature": "签名"}))[0] == 403
    assert agent.received == [] and gate.calls == []


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<xml><ToUserName>gh</ToUserName><FromUserName>oUser</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&lol4;</Content><MsgId>1</MsgId></xml>"""


XXE = """<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>oUser</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>2</MsgId></xml>"""


DTD_ONLY = """<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://attacker.example/x.dtd">
<xml><ToUserName>gh</ToUserName><FromUserName>oUser</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>hi</Content><MsgId>3</MsgId></xml>"""


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        XXE,
        DTD_ONLY,
        "<xml><FromUserName>oUser</FromUserName><MsgType>text",  # truncated
        "not xml at all",
        "",
        "<html><FromUserName>o</FromUserName><MsgType>text</MsgType></html>",  # not a WeChat message
        "<xml><ToUserName>gh</ToUserName><MsgType>text</MsgType><Content>无发送者</Content></xml>",
        "<xml><FromUserName>o</FromUserName><MsgType>text</MsgType><CreateTime>x</CreateTime><MsgId>1</MsgId></xml>",
        b"\xff\xfe<xml/>",
    ],
    ids=[
        "billion-laughs",
        "xxe",
        "dtd",
        "truncated",
        "not-xml",
        "empty",
        "wrong-root",
        "no-sender",
        "bad-number",
        "bad-encoding",
    ],
)
def test_hostile_or_malformed_xml_is_a_bad_request_and_nothing_reaches_the_agent(db_url, gate, body):
    agent = FakeAgent()

    async def scenario():
        async with serve_channel(make_channel(db_url, gate), agent) as url, aiohttp.ClientSession() as session:
            return await post(session, url, body)

    status, text = asyncio.run(scenario())
    assert status == 400
    assert "root:" not in text and "lollol" not in text
    assert agent.received == [] and gate.calls == []


@run_async
async def test_oversized_bodies_are_refused_with_413(db_url, gate):
    agent = FakeAgent()
    huge = text_xml(OPENID, "长" * 40_000, 3001)  # 120 KB

    async def chunks():
        for _ in range(100):
            yield b"<" * 1024

    async with serve_channel(make_channel(db_url, gate), agent) as url, aiohttp.ClientSession() as session:
        assert (await post(session, url, huge))[0] == 413
        async with session.post(f"{url}/webhook", params=signed_query(), data=chunks()) as answer:  # no length
            assert answer.status == 413
    assert agent.received == []


@run_async
async def test_slow_turn_answers_success_then_delivers_through_customer_service_with_one_cached_token(db_url, gate):
    api = FakeWeChatApi()
    agent = FakeAgent(
        replies({"text": "创业担保贷款个人最高30万元。"}, {"text": "来源：宁人社规〔2023〕5号"}), delay=1.0
    )
    async with serve_aiohttp(api.app()) as api_base:
        channel = make_channel(db_url, gate, api_base=api_base, reply_deadline=0.3)
        async with serve_channel(channel, agent) as url, aiohttp.ClientSession() as session:
            started = time.monotonic()
            results = await asyncio.gather(
                *[post(session, url, text_xml(f"oUser_{n}", "创业贷款能贷多少", 4000 + n)) for n in range(3)]
            )
            elapsed = time.monotonic() - started
            assert [status for status, _ in results] == [200, 200, 200]
            assert [text for _, text in results] == ["success"] * 3
            assert elapsed < 1.0  # answered at the deadline, not when the turn finished
            await wait_until(lambda: len(api.sent) == 3)
    assert len(api.token_requests) == 1  # one token for every message
    assert {item["touser"] for item in api.sent} == {"oUser_0", "oUser_1", "oUser_2"}
    for item in api.sent:
        assert item["msgtype"] == "text"
        assert item["text"]["content"] == "创业担保贷款个人最高30万元。\n\n来源：宁人社规〔2023〕5号"
    assert set(api.send_tokens) == {"TOKEN-1"}
    assert "创业担保贷款".encode() in api.raw_bodies[0]  # real characters, not \\u escapes
    assert len(agent.received) == 3


@run_async
async def test_retries_of_one_msgid_never_run_the_turn_twice(db_url, gate):
    agent = FakeAgent(replies({"text": "好的"}))
    body = text_xml(OPENID, "你好", 5001)
    async with serve_channel(make_channel(db_url, gate), agent) as url, aiohttp.ClientSession() as session:
        first = await post(session, url, body)
        again = await asyncio.gather(post(session, url, body), post(session, url, body))
    assert passive(first[1])["Content"] == "好的"
    assert [passive(text)["Content"] for _, text in again] == ["好的", "好的"]  # the finished reply, not a new turn
    assert len(agent.received) == 1 and len(gate.calls) == 1


@run_async
async def test_retry_of_a_slow_turn_gets_success_and_the_reply_is_delivered_once(db_url, gate):
    api = FakeWeChatApi()
    agent = FakeAgent(replies({"text": "慢慢的回答"}), delay=0.8)
    body = text_xml(OPENID, "慢问题", 5002)
    async with serve_aiohttp(api.app()) as api_base:
        channel = make_channel(db_url, gate, api_base=api_base, reply_deadline=0.3)
        async with serve_channel(channel, agent) as url, aiohttp.ClientSession() as session:
            assert (await post(session, url, body))[1] == "success"  # deadline passed: customer service will send
            assert (await post(session, url, body))[1] == "success"  # retry while the turn still runs
            await wait_until(lambda: len(api.sent) == 1)
            assert (await post(session, url, body))[1] == "success"  # retry after delivery: not again passively
            await asyncio.sleep(0.3)
    assert [item["text"]["content"] for item in api.sent] == ["慢慢的回答"]
    assert len(agent.received) == 1


@run_async
async def test_retry_within_the_deadline_gets_the_finished_reply(db_url, gate):
    agent = FakeAgent(replies({"text": "稍等就好"}), delay=0.4)
    body = text_xml(OPENID, "问题", 5003)
    async with (
        serve_channel(make_channel(db_url, gate, reply_deadline=2.0), agent) as url,
        aiohttp.ClientSession() as session,
    ):
        first, retry = await asyncio.gather(post(session, url, body), post(session, url, body))
    assert passive(first[1])["Content"] == passive(retry[1])["Content"] == "稍等就好"
    assert len(agent.received) == 1


@run_async
async def test_subscribe_gets_a_welcome_and_the_topic_menu_from_the_assistant(db_url, gate):
    agent = FakeAgent(
        replies(
            {
                "text": "我能帮您查这些政策：",
                "buttons": [
                    {"title": "落户", "payload": '/ask_topic{"topic": "settlement"}'},
                    {"title": "社保", "payload": '/ask_topic{"topic": "insurance"}'},
                ],
            }
        )
    )
    now = int(time.time())
    async with serve_channel(make_channel(db_url, gate), agent) as url, aiohttp.ClientSession() as session:
        status, text = await post(session, url, event_xml(OPENID, "subscribe", now))
        assert (await post(session, url, event_xml(OPENID, "subscribe", now)))[0] == 200  # retry: same event
        choice = passive((await post(session, url, text_xml(OPENID, "２", 6001)))[1])
    content = passive(text)["Content"]
    assert content.startswith(WELCOME)
    assert "回复1 落户\n回复2 社保" in content
    assert agent.texts == ["/ask_capabilities", '/ask_topic{"topic": "insurance"}']
    assert choice["MsgType"] == "text"


@run_async
async def test_unsubscribe_and_unknown_events_get_success_and_no_turn(db_url, gate):
    agent = FakeAgent()
    async with serve_channel(make_channel(db_url, gate), agent) as url, aiohttp.ClientSession() as session:
        assert (await post(session, url, event_xml(OPENID, "unsubscribe", 1700000000)))[1] == "success"
        assert (await post(session, url, event_xml(OPENID, "VIEW", 1700000001, "http://x")))[1] == "success"
    assert agent.received == []


@pytest.mark.parametrize(
    "kind, extra, expected",
    [
        ("image", "<PicUrl><![CDATA[http://mmbiz/x.jpg]]></PicUrl><MediaId><![CDATA[m1]]></MediaId>", "image"),
        ("voice", "<MediaId><![CDATA[m2]]></MediaId><Format><![CDATA[amr]]></Format>", "voice"),
        (
            "location",
            "<Location_X>38.48</Location_X><Location_Y>106.23</Location_Y><Scale>15</Scale>"
            "<Label><![CDATA[银川市金凤区]]></Label>",
            "location",
        ),
        ("video", "<MediaId><![CDATA[m3]]></MediaId><ThumbMediaId><![CDATA[t]]></ThumbMediaId>", "image"),
    ],
)
def test_unsupported_media_get_a_polite_text_and_no_turn(db_url, gate, kind, extra, expected):
    agent = FakeAgent()

    async def scenario():
        async with serve_channel(make_channel(db_url, gate), agent) as url, aiohttp.ClientSession() as session:
            return await post(session, url, media_xml(OPENID, kind, 7001, extra))

    status, text = asyncio.run(scenario())
    assert status == 200 and passive(text)["Content"] == UNSUPPORTED_REPLIES[expected]
    assert agent.received == []
    assert gate.calls == [("wechat", CONVERSATION, f"[{kind}]")]


@run_async
async def test_voice_with_speech_recognition_is_answered_as_text(db_url, gate):
    agent = FakeAgent(replies({"text": "工钱的事可以找劳动监察。"}))
    extra = "<MediaId><![CDATA[m]]></MediaId><Format><![CDATA[amr]]></Format><Recognition><![CDATA[欠工钱了咋办]]></Recognition>"
    async with serve_channel(make_channel(db_url, gate), agent) as url, aiohttp.ClientSession() as session:
        status, text = await post(session, url, media_xml(OPENID, "voice", 7002, extra))
    assert passive(text)["Content"] == "工钱的事可以找劳动监察。"
    assert agent.texts == ["欠工钱了咋办"]


@run_async
async def test_buttons_become_a_numbered_menu_and_digits_map_back_to_payloads(db_url, gate):
    agent = FakeAgent(
        menu_then_choice(
            "您想问哪方面？",
            [("创业担保贷款", "/ask_rule{\"rule\": \"loan\"}"), ("宁岗贷", "/ask_rule{\"rule\": \"ninggang\"}")],
            "选了 ",
        )
    )
    async with serve_channel(make_channel(db_url, gate), agent) as url, aiohttp.ClientSession() as session:
        menu = passive((await post(session, url, text_xml(OPENID, "贷款", 8001)))[1])["Content"]
        picked = passive((await post(session, url, text_xml(OPENID, " 2。", 8002)))[1])["Content"]
        out_of_range = passive((await post(session, url, text_xml(OPENID, "3", 8003)))[1])["Content"]
        after_reply_without_menu = passive((await post(session, url, text_xml(OPENID, "1", 8004)))[1])["Content"]
    assert menu == "您想问哪方面？\n\n回复1 创业担保贷款\n回复2 宁岗贷"
    assert picked == '选了 /ask_rule{"rule": "ninggang"}'
    assert agent.texts[2] == "3"  # no such option: the digit goes through as text
    assert "您想问哪方面" in out_of_range  # the agent answered "3" with the menu again
    assert agent.texts[3] == '/ask_rule{"rule": "loan"}'
    assert after_reply_without_menu.startswith("选了")


@run_async
async def test_custom_payloads_render_as_nothing_and_the_source_line_comes_last(db_url, gate):
    agent = FakeAgent(
        replies(
            {"text": "随迁子女可以在居住地入学。"},
            {"text": "来源：宁教基〔2022〕3号 第二条"},
            {"custom": {"kind": "answer", "topic": "schooling", "rule_id": "schooling.x", "sources": []}},
            {"text": "还有别的想问的吗？"},
        )
    )
    async with serve_channel(make_channel(db_url, gate), agent) as url, aiohttp.ClientSession() as session:
        content = passive((await post(session, url, text_xml(OPENID, "娃娃上学", 8101)))[1])["Content"]
    assert content == "随迁子女可以在居住地入学。\n\n还有别的想问的吗？\n\n来源：宁教基〔2022〕3号 第二条"
    assert "kind" not in content and "{" not in content


@run_async
async def test_long_reply_is_split_under_2000_bytes_with_the_rest_sent_through_customer_service(db_url, gate):
    api = FakeWeChatApi()
    paragraphs = [
        f"第{n}条：农民工在宁夏就业可以享受职业技能培训补贴，咨询电话0951-12333，补贴标准按证书等级确定。"
        for n in range(1, 40)
    ]
    agent = FakeAgent(replies(*[{"text": p} for p in paragraphs], {"text": "来源：宁人社函〔2023〕81号"}))
    async with serve_aiohttp(api.app()) as api_base:
        channel = make_channel(db_url, gate, api_base=api_base)
        async with serve_channel(channel, agent) as url, aiohttp.ClientSession() as session:
            first = passive((await post(session, url, text_xml(OPENID, "培训补贴", 8201)))[1])["Content"]
            await wait_until(lambda: len(api.sent) >= 1)
            await asyncio.sleep(0.3)
    parts = [first] + [item["text"]["content"] for item in api.sent]
    assert all(len(part.encode("utf-8")) <= PASSIVE_REPLY_MAX_BYTES for part in parts)
    assert len(parts) >= 2
    assert parts[-1].endswith("来源：宁人社函〔2023〕81号")
    joined = "".join(parts)
    assert joined.count("0951-12333") == 39  # no phone number cut in two
    assert all(p in "\n\n".join(parts) for p in paragraphs)


@run_async
async def test_taken_over_conversation_gets_success_and_no_turn(db_url):

    gate = Gate(taken_over={CONVERSATION})
    agent = FakeAgent()
    async with serve_channel(make_channel(db_url, gate), agent) as url, aiohttp.ClientSession() as session:
        assert (await post(session, url, text_xml(OPENID, "我要找人工", 9001)))[1] == "success"
    assert agent.received == [] and gate.calls == [("wechat", CONVERSATION, "我要找人工")]


@run_async
async def test_failing_turn_gets_an_apology(db_url, gate):
    async def broken(message):
        raise RuntimeError("model not loaded")

    async with serve_channel(make_channel(db_url, gate), FakeAgent(broken)) as url, aiohttp.ClientSession() as session:
        content = passive((await post(session, url, text_xml(OPENID, "你好", 9101)))[1])["Content"]
    assert "0951-12333" in content


def test_message_contents_are_not_logged_at_info(db_url, gate, caplog):
    agent = FakeAgent(replies({"text": "秘密的回答"}))

    async def scenario():
        async with serve_channel(make_channel(db_url, gate), agent) as url, aiohttp.ClientSession() as session:
            await post(session, url, text_xml(OPENID, "我的私事", 9201))

    with caplog.at_level(logging.INFO, logger="channels.wechat"):
        asyncio.run(scenario())
    info = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert OPENID in info  # the sender is logged...
    assert "我的私事" not in info and "秘密的回答" not in info  # ...never what was said


def test_from_credentials_requires_credentials_and_refuses_development_values_in_production(db_url):
    development_settings = Settings.from_env({"APP_DB_URL": db_url})
    production_settings = Settings.from_env({"APP_DB_URL": db_url, "NXA_ENV": "production"})
    with pytest.raises(RasaException):
        WeChatInput.from_credentials(None, settings=development_settings)
    with pytest.raises(RasaException, match="WECHAT_TOKEN"):
        WeChatInput.from_credentials({"token": "", "app_id": APP_ID, "app_secret": "s"}, settings=development_settings)
    development = {
        "token": "dev-wechat-token",
        "app_id": "wxdev00000000000000",
        "app_secret": "dev-wechat-app-secret",
        "encoding_aes_key": "",
        "api_base": "",
    }
    assert WeChatInput.from_credentials(development, settings=development_settings).token == "dev-wechat-token"
    with pytest.raises(RasaException, match="development values"):
        WeChatInput.from_credentials(development, settings=production_settings)
    real = {"token": "a-real-token", "app_id": APP_ID, "app_secret": "a-real-secret", "encoding_aes_key": AES_KEY}
    assert WeChatInput.from_credentials(real, settings=production_settings).crypto is not None
    with pytest.raises(RasaException, match="43-character"):
        WeChatInput.from_credentials({**real, "encoding_aes_key": "short"}, settings=production_settings)


@run_async
async def test_without_the_menu_store_the_turn_still_answers(tmp_path, gate):
    agent = FakeAgent(replies({"text": "请选择", "buttons": [{"title": "落户", "payload": "/a"}]}))
    url = f"sqlite:///{tmp_path / 'no-menus.db'}"
    migrate(url)
    with sa.create_engine(url).begin() as connection:  # the menu table is lost; nonces and claims still work
        connection.execute(sa.text("DROP TABLE channel_menus"))
    channel = make_channel(url, gate)
    async with serve_channel(channel, agent) as url, aiohttp.ClientSession() as session:
        first = passive((await post(session, url, text_xml(OPENID, "你好", 9301)))[1])["Content"]
        await post(session, url, text_xml(OPENID, "1", 9302))
    assert first == "请选择\n\n回复1 落户"
    assert agent.texts == ["你好", "1"]  # the menu could not be stored, so the digit went through as text


@run_async
async def test_reply_text_cannot_break_the_reply_xml(db_url, gate):
    agent = FakeAgent(replies({"text": "您说的是：]]></Content><MsgType>news</MsgType>\x01 好的"}))
    async with serve_channel(make_channel(db_url, gate), agent) as url, aiohttp.ClientSession() as session:
        reply = passive((await post(session, url, text_xml(OPENID, "你好", 9401)))[1])
    assert reply["MsgType"] == "text"
    assert reply["Content"] == "您说的是：]]></Content><MsgType>news</MsgType> 好的"


@run_async
async def test_output_channel_for_messages_outside_a_turn_uses_customer_service(db_url, gate):
    api = FakeWeChatApi()
    async with serve_aiohttp(api.app()) as api_base:
        channel = make_channel(db_url, gate, api_base=api_base)
        output = channel.get_output_channel()
        assert output.name() == "wechat"
        await output.send_response(
            CONVERSATION,
            {
                "text": "提醒：明天去办理",
                "buttons": [{"title": "好的", "payload": "/affirm"}],
                "custom": {"kind": "answer"},
            },
        )
        await close_client_session()  # the process-wide session this channel opened
    assert [item["text"]["content"] for item in api.sent] == ["提醒：明天去办理\n\n回复1 好的"]
    assert channel.state.menu_choice("wechat", CONVERSATION, 1) == "/affirm"
