"""channels/outbound.py: operator replies through each channel's outbound, against the local fakes (a fake WeChat
API, the SMS outbox file and a fake Tencent Cloud SMS, the takeover tables of a real SQLite app store)."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest

from bot.deliveries import DeliveryLog
from bot.settings import Settings
from bot.store import AppStore
from bot.takeover import TakeoverService
from channels._config import ChannelConfigError
from channels._state import ChannelState
from channels.outbound import (
    DeliveryError,
    DeliveryRefused,
    OptedOut,
    RestOutbound,
    SmsOutbound,
    WindowClosed,
    outbound_for,
)
from tests.channels.support import (
    APP_ID,
    FakeTencentSms,
    FakeWeChatApi,
    outbox_lines,
    run_async,
    serve_aiohttp,
    tencent_provider,
)

PHONE = "13812341234"
OPENID = "oOutbound_0123456789abcdefghij"


def settings_for(db_url: str, tmp_path, **env: str) -> Settings:
    return Settings.from_env({"APP_DB_URL": db_url, "NXA_VAR_DIR": str(tmp_path), **env})


# -- WeChat ------------------------------------------------------------------------------------------------------------


@run_async
async def test_wechat_outbound_sends_a_customer_service_message(db_url, tmp_path):
    api = FakeWeChatApi()
    async with serve_aiohttp(api.app()) as api_base, aiohttp.ClientSession() as session:
        settings = settings_for(
            db_url, tmp_path, WECHAT_APP_ID=APP_ID, WECHAT_APP_SECRET="test-app-secret", WECHAT_API_BASE=api_base
        )
        outbound = outbound_for("wechat", settings=settings, store=None, session=session)
        assert outbound.channel == "wechat"
        await outbound.send(f"wechat:{OPENID}", "您好，我是12333的小王")
        await outbound.send(f"wechat:{OPENID}", "还有别的问题吗")
    assert [m["text"]["content"] for m in api.sent] == ["您好，我是12333的小王", "还有别的问题吗"]
    assert all(m["touser"] == OPENID for m in api.sent)
    assert len(api.token_requests) == 1  # one outbound, one cached token


@pytest.mark.parametrize("errcode, error, words", [(45015, WindowClosed, "48 小时"), (40003, DeliveryRefused, "40003")])
@run_async
async def test_wechat_refusals_become_typed_errors_with_a_reason(db_url, tmp_path, errcode, error, words):
    api = FakeWeChatApi(send_errcode=errcode)
    async with serve_aiohttp(api.app()) as api_base, aiohttp.ClientSession() as session:
        settings = settings_for(
            db_url, tmp_path, WECHAT_APP_ID=APP_ID, WECHAT_APP_SECRET="test-app-secret", WECHAT_API_BASE=api_base
        )
        outbound = outbound_for("wechat", settings=settings, store=None, session=session)
        with pytest.raises(error) as raised:
            await outbound.send(f"wechat:{OPENID}", "太晚了")
    assert isinstance(raised.value, DeliveryError) and words in raised.value.reason
    assert api.sent == []


@run_async
async def test_wechat_unreachable_api_is_refused_not_crashed(db_url, tmp_path):
    async with aiohttp.ClientSession() as session:
        settings = settings_for(
            db_url, tmp_path, WECHAT_APP_ID=APP_ID, WECHAT_APP_SECRET="s", WECHAT_API_BASE="http://127.0.0.1:9"
        )
        outbound = outbound_for("wechat", settings=settings, store=None, session=session)
        with pytest.raises(DeliveryRefused, match="连不上微信接口"):
            await outbound.send(f"wechat:{OPENID}", "在吗")


# -- SMS ---------------------------------------------------------------------------------------------------------------


@run_async
async def test_sms_outbound_writes_the_outbox_and_refuses_opted_out_numbers(db_url, tmp_path):
    state = ChannelState(db_url)
    state.set_subscription(PHONE, "opted_out", "退订")
    for number in (PHONE, "13900001111"):
        state.record_contact(number)  # both wrote to the service
    async with aiohttp.ClientSession() as session:
        outbound = outbound_for("sms", settings=settings_for(db_url, tmp_path), store=AppStore(db_url), session=session)
        assert outbound.channel == "sms"
        with pytest.raises(DeliveryRefused, match="从没有给本服务发过短信"):
            await outbound.send("sms:13700002222", "发给从没来过短信的号码")
        await outbound.send("sms:13900001111", "接线员回复")
        with pytest.raises(OptedOut) as raised:
            await outbound.send(f"sms:{PHONE}", "不该发出")
    assert "退订" in raised.value.reason
    [line] = outbox_lines(tmp_path / "sms-outbox.jsonl")
    assert (line["to"], line["text"]) == (
        "13900001111",
        "宁夏农民工政策助手答复您的咨询：接线员回复",
    )  # the reply template
    # in the delivery log under the provider's id, for its delivery report
    assert DeliveryLog(AppStore(db_url)).report("sms", line["id"], True, "DELIVRD")


@run_async
async def test_sms_provider_refusal_names_tencents_code(db_url):
    fake = FakeTencentSms(
        answer={"Response": {"SendStatusSet": [{"Code": "LimitExceeded.PhoneNumberDailyLimit", "Message": "limit"}]}}
    )
    async with serve_aiohttp(fake.app()) as base, aiohttp.ClientSession() as session:
        provider = tencent_provider(session, base, template_id="1")
        ChannelState(db_url).record_contact(PHONE)
        with pytest.raises(DeliveryRefused, match="LimitExceeded.PhoneNumberDailyLimit"):
            await SmsOutbound(provider, ChannelState(db_url)).send(f"sms:{PHONE}", "x")
    assert fake.requests[0]["valid"] is True


# -- REST --------------------------------------------------------------------------------------------------------------


@run_async
async def test_rest_outbound_queues_the_text_for_the_rest_client(db_url, tmp_path):
    takeovers = TakeoverService(AppStore(db_url))
    takeovers.take_over("w1", "rest", "op1", datetime.now(UTC))
    async with aiohttp.ClientSession() as session:
        outbound = outbound_for(
            "rest", settings=settings_for(db_url, tmp_path), store=AppStore(db_url), session=session
        )
    assert outbound.channel == "rest"
    await outbound.send("w1", "您好，我是12333的小王")
    pending = takeovers.take_pending_for_rest("w1", datetime.now(UTC))
    assert [(m.text, m.operator, m.direction) for m in pending] == [("您好，我是12333的小王", "op1", "operator")]
    assert takeovers.take_pending_for_rest("w1", datetime.now(UTC)) == []  # handed out once


@run_async
async def test_rest_outbound_refuses_a_conversation_nobody_holds_or_an_empty_text(db_url):
    takeovers = TakeoverService(AppStore(db_url))
    outbound = RestOutbound(takeovers)
    with pytest.raises(DeliveryRefused, match="没有人工接管"):
        await outbound.send("w-nobody", "有人吗")
    takeovers.take_over("w2", "rest", "op1", datetime.now(UTC))
    with pytest.raises(DeliveryRefused, match="不能为空"):
        await outbound.send("w2", "   ")
    assert takeovers.take_pending_for_rest("w2", datetime.now(UTC)) == []


# -- configuration -----------------------------------------------------------------------------------------------------


@run_async
async def test_unknown_or_unconfigured_channels_fail_when_built(db_url, tmp_path):
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ChannelConfigError, match="carrier-pigeon"):
            outbound_for("carrier-pigeon", settings=settings_for(db_url, tmp_path), store=None, session=session)
        production = settings_for(db_url, tmp_path, NXA_ENV="production")
        with pytest.raises(ChannelConfigError, match="WECHAT_APP_ID"):
            outbound_for("wechat", settings=production, store=None, session=session)
        with pytest.raises(ChannelConfigError, match="SMS_PROVIDER"):
            outbound_for("sms", settings=production, store=None, session=session)
