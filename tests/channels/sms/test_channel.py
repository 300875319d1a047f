"""channels/sms/channel.py: signed callbacks posted to the channel served by a real Sanic server; duplicates,
opt-out, takeover, menus, failures and logs, with the outbox provider writing a real file."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time

import aiohttp
import pytest
from rasa.shared.exceptions import RasaException

from bot.settings import Settings
from channels._state import ChannelState
from channels.sms import (
    OPT_IN_CONFIRMATION,
    OPT_OUT_CONFIRMATION,
    OutboxProvider,
    SmsInput,
    sign_body,
    tencent_callback_token,
)
from channels.sms.templates import REPLY_PREFIX, TemplateLimits
from tests.channels.support import (
    FakeAgent,
    FakeTencentSms,
    Gate,
    menu_then_choice,
    outbox_lines,
    outbox_replies,
    replies,
    run_async,
    serve_aiohttp,
    serve_channel,
    tencent_provider,
)

PHONE = "13812341234"
CONVERSATION = f"sms:{PHONE}"  # the conversation of that number (bot.conversation_ids)
SECRET = "test-sms-secret"


def make_channel(db_url, outbox, gate=None) -> SmsInput:
    return SmsInput(SECRET, provider=OutboxProvider(outbox), db_url=db_url, intercept=gate or Gate())


async def send_generic(
    session, url, payload, *, secret=SECRET, signature=None, raw: bytes | None = None, timestamp: int | None = None
):
    body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": "application/json",
        "X-Timestamp": str(timestamp),
        "X-Signature": signature if signature is not None else sign_body(secret, body, timestamp),
    }
    async with session.post(f"{url}/webhook", data=body, headers=headers) as answer:
        return answer.status, await answer.json()


def sms(text, msg_id, phone=PHONE):
    return {"from": phone, "text": text, "msg_id": msg_id}


@run_async
async def test_signed_generic_message_is_answered_through_the_provider(db_url, tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    agent = FakeAgent(replies({"text": "您好！我是宁夏农民工政策助手。"}))
    async with serve_channel(make_channel(db_url, outbox), agent) as url, aiohttp.ClientSession() as session:
        status, answer = await send_generic(session, url, sms("你好", "m-1"))
    assert (status, answer) == (200, {"status": "answered"})
    [message] = agent.received
    assert (message.sender_id, message.text, message.input_channel) == (CONVERSATION, "你好", "sms")
    assert message.output_channel.name() == "sms"
    [line] = outbox_lines(outbox)
    assert (line["to"], line["text"]) == (PHONE, "宁夏农民工政策助手答复您的咨询：您好！我是宁夏农民工政策助手。")
    assert (line["template"], line["params"]) == ("reply", ["您好！我是宁夏农民工政策助手。"])
    assert re.match(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$", line["time"])


@run_async
async def test_missing_or_bad_signature_is_refused_and_nothing_reaches_the_agent(db_url, tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    agent = FakeAgent()
    body = json.dumps(sms("你好", "m-2")).encode()
    async with serve_channel(make_channel(db_url, outbox), agent) as url, aiohttp.ClientSession() as session:
        async with session.post(f"{url}/webhook", data=body) as answer:  # no signature, no token
            assert answer.status == 403
        assert (await send_generic(session, url, None, raw=body, secret="guessed"))[0] == 403
        other = sign_body(SECRET, json.dumps(sms("别的", "m-3")).encode(), int(time.time()))
        assert (await send_generic(session, url, None, raw=body, signature=other))[0] == 403
        assert (await send_generic(session, url, None, raw=body, signature=""))[0] == 403
        assert (await send_generic(session, url, None, raw=body, signature="签名"))[0] == 403
    assert agent.received == [] and not outbox.exists()


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        json.dumps({"text": "你好", "msg_id": "1"}).encode(),
        json.dumps(sms("你好", "1", phone="12345")).encode(),
        json.dumps(sms("你好", "1", phone="1381234123x")).encode(),
        json.dumps(sms("   ", "1")).encode(),
        json.dumps(sms("长" * 1001, "1")).encode(),
        json.dumps({"from": PHONE, "text": "你好"}).encode(),
        json.dumps({"from": PHONE, "text": "你好", "msg_id": True}).encode(),
        json.dumps({"from": PHONE, "text": ["你好"], "msg_id": "1"}).encode(),
        b"\xff\xfe{}",
    ],
    ids=[
        "not-json",
        "array",
        "no-from",
        "short-phone",
        "phone-letters",
        "blank-text",
        "long-text",
        "no-msg-id",
        "bool-msg-id",
        "text-list",
        "bad-encoding",
    ],
)
def test_malformed_signed_bodies_are_bad_requests(db_url, tmp_path, raw):
    agent = FakeAgent()

    async def scenario():
        async with (
            serve_channel(make_channel(db_url, tmp_path / "o.jsonl"), agent) as url,
            aiohttp.ClientSession() as session,
        ):
            return await send_generic(session, url, None, raw=raw)

    status, answer = asyncio.run(scenario())
    assert status == 400 and answer["error"]
    assert agent.received == []


@run_async
async def test_oversized_body_is_refused_with_413(db_url, tmp_path):
    agent = FakeAgent()
    async with (
        serve_channel(make_channel(db_url, tmp_path / "o.jsonl"), agent) as url,
        aiohttp.ClientSession() as session,
    ):
        status, _ = await send_generic(session, url, sms("长" * 10_000, "big"))
    assert status == 413 and agent.received == []


def tencent_body(text, *, mobile=PHONE, time_=1700000000):
    return json.dumps(
        {"extend": "", "mobile": mobile, "nationcode": "86", "sign": "宁夏人社", "text": text, "time": time_},
        ensure_ascii=False,
    ).encode("utf-8")


@run_async
async def test_tencent_callback_with_the_url_token_is_answered_once(db_url, tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    agent = FakeAgent(replies({"text": "收到"}))
    token = tencent_callback_token(SECRET)
    async with serve_channel(make_channel(db_url, outbox), agent) as url, aiohttp.ClientSession() as session:
        for _ in range(2):  # Tencent retries the same callback
            async with session.post(f"{url}/webhook", params={"token": token}, data=tencent_body("欠薪咋办")) as answer:
                assert (answer.status, await answer.json()) == (200, {"result": 0, "errmsg": "OK"})
        async with session.post(f"{url}/webhook", params={"token": "0" * 40}, data=tencent_body("欠薪咋办")) as answer:
            assert answer.status == 403
        async with session.post(
            f"{url}/webhook", params={"token": token}, data=json.dumps({"mobile": PHONE, "text": "x"}).encode()
        ) as answer:
            assert answer.status == 400 and (await answer.json())["result"] == 1
    assert agent.texts == ["欠薪咋办"] and agent.received[0].sender_id == CONVERSATION
    assert outbox_replies(outbox) == ["收到"]
    assert token != SECRET and SECRET not in token


LONG_ANSWER = (
    "被拖欠工资可以先找用人单位协商，协商不成可以向工程所在地人社局劳动保障监察机构投诉，也可以申请劳动仲裁，"
    "仲裁时效为1年，从知道权利被侵害之日起算。拖欠金额在5000元以上的可以申请法律援助。"
    "全国根治欠薪线索反映平台可以实名反映，咨询电话0951-12333，也可以拨打12333。"
    "建筑工地实行农民工工资专用账户和实名制管理，总包单位对分包单位拖欠的工资先行清偿。"
)


@run_async
async def test_long_reply_goes_as_one_long_sms_within_the_cap_with_the_source_last(db_url, tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    agent = FakeAgent(
        replies(
            {"text": LONG_ANSWER},
            {"text": "来源：《保障农民工工资支付条例》（国令第724号）第三条、第四十九条，2020-05-01施行"},
            {
                "custom": {
                    "kind": "answer",
                    "topic": "labor_rights",
                    "rule_id": "labor_rights.arrears",
                    "sources": [
                        {
                            "title": "保障农民工工资支付条例",
                            "doc_no": "国令第724号",
                            "issuer": "国务院",
                            "date": "2019-12-30",
                            "url": "http://www.gov.cn/",
                        }
                    ],
                    "valid_on": "2025-01-01",
                }
            },
        )
    )
    async with serve_channel(make_channel(db_url, outbox), agent) as url, aiohttp.ClientSession() as session:
        assert (await send_generic(session, url, sms("欠工钱了咋办", "long-1")))[0] == 200
    [answer] = outbox_replies(outbox)  # one long SMS, not three each with the signature
    [line] = outbox_lines(outbox)
    assert len(line["text"]) <= 201  # the default per-reply cap: three billed segments
    assert answer.endswith("来源：国令第724号")  # shortened from the answer payload, kept last
    assert "kind" not in answer and "{" not in answer
    assert "…" in answer  # the long answer was cut at a clean boundary
    numbers = set(re.findall(r"\d[\d\-]*\d|\d", LONG_ANSWER + " 724"))
    assert set(re.findall(r"\d[\d\-]*\d|\d", answer)) <= numbers  # every number whole


@run_async
async def test_buttons_become_a_menu_and_digits_map_back_even_after_a_restart(db_url, tmp_path):
    outbox = tmp_path / "outbox.jsonl"

    agent = FakeAgent(
        menu_then_choice(
            "您问哪个？",
            [("失业保险金", "/ask_rule{\"rule\": \"unemployment\"}"), ("养老保险", "/ask_rule{\"rule\": \"pension\"}")],
            "好的：",
        )
    )
    async with serve_channel(make_channel(db_url, outbox), agent) as url, aiohttp.ClientSession() as session:
        await send_generic(session, url, sms("社保", "menu-1"))
    assert outbox_replies(outbox)[-1] == "您问哪个？\n回复1 失业保险金\n回复2 养老保险"
    async with serve_channel(make_channel(db_url, outbox), agent) as url, aiohttp.ClientSession() as session:
        await send_generic(session, url, sms("２", "menu-2"))  # full-width digit, after a restart
        await send_generic(session, url, sms("2", "menu-3"))  # that reply had no menu: "2" is just text
    assert agent.texts == ["社保", '/ask_rule{"rule": "pension"}', "2"]


@run_async
async def test_opt_out_is_confirmed_once_durable_across_restarts_and_resubscribe_works(db_url, tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    agent = FakeAgent(replies({"text": "答复"}))
    async with serve_channel(make_channel(db_url, outbox), agent) as url, aiohttp.ClientSession() as session:
        assert (await send_generic(session, url, sms("你好", "o-1")))[1]["status"] == "answered"
        assert (await send_generic(session, url, sms(" 退订 ", "o-2")))[1]["status"] == "opted_out"
        assert (await send_generic(session, url, sms("你好", "o-3")))[1]["status"] == "ignored_opted_out"
        assert (await send_generic(session, url, sms("Td", "o-4")))[1]["status"] == "opted_out"  # no 2nd confirmation
    # restart: a new channel and server on the same app store
    async with serve_channel(make_channel(db_url, outbox), agent) as url, aiohttp.ClientSession() as session:
        assert (await send_generic(session, url, sms("还在吗", "o-5")))[1]["status"] == "ignored_opted_out"
        assert (await send_generic(session, url, sms("start", "o-6")))[1]["status"] == "opted_in"
        assert (await send_generic(session, url, sms("你好", "o-7")))[1]["status"] == "answered"
        assert (await send_generic(session, url, sms("STOP！", "o-8")))[1]["status"] == "opted_out"
        assert (await send_generic(session, url, sms("退订吧这个", "o-9")))[1]["status"] == "ignored_opted_out"
    assert outbox_replies(outbox) == [
        "答复",
        OPT_OUT_CONFIRMATION,
        OPT_IN_CONFIRMATION,
        "答复",
        OPT_OUT_CONFIRMATION,
    ]
    assert agent.texts == ["你好", "你好"]


@run_async
async def test_words_containing_an_opt_out_keyword_are_normal_messages(db_url, tmp_path):
    agent = FakeAgent(replies({"text": "答复"}))
    async with (
        serve_channel(make_channel(db_url, tmp_path / "o.jsonl"), agent) as url,
        aiohttp.ClientSession() as session,
    ):
        assert (await send_generic(session, url, sms("怎么退订社保", "w-1")))[1]["status"] == "answered"
        assert (await send_generic(session, url, sms("订阅", "w-2")))[1]["status"] == "answered"
    assert agent.texts == ["怎么退订社保", "订阅"]


@run_async
async def test_duplicate_msg_id_is_processed_once_even_concurrently_and_after_a_restart(db_url, tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    agent = FakeAgent(replies({"text": "一次"}), delay=0.2)
    async with serve_channel(make_channel(db_url, outbox), agent) as url, aiohttp.ClientSession() as session:
        results = await asyncio.gather(*[send_generic(session, url, sms("你好", "dup-1")) for _ in range(4)])
    assert sorted(answer["status"] for _, answer in results) == ["answered", "duplicate", "duplicate", "duplicate"]
    async with serve_channel(make_channel(db_url, outbox), agent) as url, aiohttp.ClientSession() as session:
        assert (await send_generic(session, url, sms("你好", "dup-1")))[1]["status"] == "duplicate"
    assert len(agent.received) == 1 and len(outbox_lines(outbox)) == 1


@run_async
async def test_a_turn_that_fails_is_released_so_the_providers_retry_runs_it(db_url, tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    calls = []

    async def flaky(message):
        calls.append(message.text)
        if len(calls) == 1:
            raise RuntimeError("rasa not ready")
        await message.output_channel.send_response(message.sender_id, {"text": "第二次成功"})

    async with serve_channel(make_channel(db_url, outbox), FakeAgent(flaky)) as url, aiohttp.ClientSession() as session:
        assert (await send_generic(session, url, sms("你好", "f-1")))[0] == 500
        assert (await send_generic(session, url, sms("你好", "f-1")))[1]["status"] == "answered"
    assert outbox_replies(outbox) == ["第二次成功"]


@run_async
async def test_taken_over_number_gets_no_reply_and_no_turn(db_url, tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    gate = Gate(taken_over={CONVERSATION})
    agent = FakeAgent()
    async with serve_channel(make_channel(db_url, outbox, gate), agent) as url, aiohttp.ClientSession() as session:
        assert (await send_generic(session, url, sms("我要找人", "t-1")))[1]["status"] == "taken_over"
    assert agent.received == [] and not outbox.exists() and gate.calls == [("sms", CONVERSATION, "我要找人")]


def test_logs_mask_the_phone_number_and_never_show_the_text_at_info(db_url, tmp_path, caplog):
    agent = FakeAgent(replies({"text": "私密答复"}))

    async def scenario():
        async with (
            serve_channel(make_channel(db_url, tmp_path / "o.jsonl"), agent) as url,
            aiohttp.ClientSession() as session,
        ):
            await send_generic(session, url, sms("我的私事", "l-1"))
            await send_generic(session, url, sms("退订", "l-2"))

    with caplog.at_level(logging.INFO, logger="channels.sms"):
        asyncio.run(scenario())
    info = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "138****1234" in info
    assert PHONE not in info and "我的私事" not in info and "私密答复" not in info


def test_from_credentials_requires_a_secret_and_refuses_the_development_one_in_production(db_url):
    development = Settings.from_env({"APP_DB_URL": db_url})
    with pytest.raises(RasaException):
        SmsInput.from_credentials(None, settings=development)
    with pytest.raises(RasaException, match="SMS_WEBHOOK_SECRET"):
        SmsInput.from_credentials({"webhook_secret": ""}, settings=development)
    assert isinstance(
        SmsInput.from_credentials({"webhook_secret": "dev-sms-webhook-secret"}, settings=development), SmsInput
    )
    production = {"APP_DB_URL": db_url, "NXA_ENV": "production"}
    with pytest.raises(RasaException, match="development values"):
        SmsInput.from_credentials(
            {"webhook_secret": "dev-sms-webhook-secret"},
            settings=Settings.from_env({**production, "SMS_PROVIDER": "outbox"}),
        )
    with pytest.raises(RasaException, match="SMS_PROVIDER"):
        SmsInput.from_credentials({"webhook_secret": "a-real-secret"}, settings=Settings.from_env(production))


@run_async
async def test_output_channel_for_messages_outside_a_turn_respects_opt_out(db_url, tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    channel = make_channel(db_url, outbox)
    output = channel.get_output_channel()
    assert output.name() == "sms"
    await output.send_response(CONVERSATION, {"text": "发给从没来过短信的号码"})  # refused: the number never wrote
    ChannelState(db_url).record_contact(PHONE)
    await output.send_response(CONVERSATION, {"text": "提醒：案件已受理", "custom": {"kind": "case_created"}})
    ChannelState(db_url).set_subscription(PHONE, "opted_out", "退订")
    await output.send_response(CONVERSATION, {"text": "不该发出"})
    assert outbox_replies(outbox) == ["提醒：案件已受理"]


def test_from_credentials_fails_at_start_when_tencent_delivery_is_incomplete(db_url):
    settings = Settings.from_env({"APP_DB_URL": db_url, "SMS_PROVIDER": "tencent", "SMS_TENCENT_SECRET_ID": "AKIDtest"})
    with pytest.raises(RasaException, match="SMS_TENCENT_SECRET_KEY"):
        SmsInput.from_credentials({"webhook_secret": "s"}, settings=settings)


@run_async
async def test_a_long_reply_reaches_tencent_as_one_reply_template_request_within_the_cap(db_url):
    fake = FakeTencentSms()
    agent = FakeAgent(replies({"text": LONG_ANSWER}, {"text": "来源：《保障农民工工资支付条例》（国令第724号）"}))
    async with serve_aiohttp(fake.app()) as base, aiohttp.ClientSession() as client:
        channel = SmsInput(
            SECRET,
            provider=tencent_provider(client, base),
            db_url=db_url,
            intercept=Gate(),
            templates=TemplateLimits(signature="宁夏人社"),
        )
        async with serve_channel(channel, agent) as url, aiohttp.ClientSession() as session:
            assert (await send_generic(session, url, sms("欠工钱了咋办", "tc-1")))[1]["status"] == "answered"
    [request] = fake.requests  # one long SMS, not three each with the signature
    assert request["valid"] and request["body"]["TemplateId"] == "123456"
    [answer] = request["body"]["TemplateParamSet"]
    assert len("【宁夏人社】") + len(REPLY_PREFIX) + len(answer) <= 201
    assert (
        answer.endswith("\n来源：《保障农民工工资支付条例》") and "…" in answer
    )  # source shortened to its title, kept
    assert set(re.findall(r"\d[\d\-]*\d|\d", answer)) <= set(re.findall(r"\d[\d\-]*\d|\d", LONG_ANSWER + " 724"))
