"""channels/sms/config.py: the provider the settings name, checked when it is built."""

from __future__ import annotations

import aiohttp
import pytest
from rasa.shared.exceptions import RasaException

from bot.settings import Settings
from channels._state import ChannelState
from channels.sms import (
    OptOutGuard,
    OutboxProvider,
    SmsInput,
    SmsOptedOut,
    TencentSmsProvider,
    check_provider_config,
    provider_from_env,
)
from channels.sms.config import check_replies, template_limits
from channels.sms.templates import SmsMessage, TemplateLimits, reply_messages
from tests.channels.support import (
    outbox_lines,
    run_async,
)

PHONE = "13812341234"


@run_async
async def test_provider_from_env_builds_the_configured_provider(db_url, tmp_path):
    base = {"NXA_VAR_DIR": str(tmp_path), "APP_DB_URL": db_url}
    async with aiohttp.ClientSession() as session:
        outbox = provider_from_env(session, base, respect_opt_outs=False)
        assert isinstance(outbox, OutboxProvider) and outbox.path == tmp_path / "sms-outbox.jsonl"
        tencent = provider_from_env(
            session,
            {
                **base,
                "SMS_PROVIDER": "tencent",
                "SMS_TENCENT_SECRET_ID": "a",
                "SMS_TENCENT_SECRET_KEY": "b",
                "SMS_TENCENT_SDK_APP_ID": "c",
                "SMS_TENCENT_SIGN_NAME": "d",
                "SMS_TENCENT_TEMPLATE_ID": "e",  # the reply template's old name still works
                "SMS_TENCENT_CASE_TEMPLATE_ID": "f",
                "SMS_TENCENT_API_BASE": "http://127.0.0.1:9",
            },
            respect_opt_outs=False,
        )
        assert isinstance(tencent, TencentSmsProvider) and tencent.host == "127.0.0.1:9"
        assert tencent.template_ids == {"reply": "e", "case_update": "f"}
        with pytest.raises(RasaException, match="SMS_TENCENT_SECRET_KEY"):
            provider_from_env(session, {**base, "SMS_PROVIDER": "tencent", "SMS_TENCENT_SECRET_ID": "a"})
        with pytest.raises(RasaException, match="SMS_PROVIDER"):
            provider_from_env(session, {**base, "NXA_ENV": "production"})
        with pytest.raises(RasaException, match="unknown"):
            provider_from_env(session, {**base, "SMS_PROVIDER": "carrier-pigeon"})


@run_async
async def test_provider_from_env_refuses_to_send_to_opted_out_numbers(db_url, tmp_path):
    env = {"NXA_VAR_DIR": str(tmp_path), "APP_DB_URL": db_url}
    state = ChannelState(db_url)
    state.set_subscription(PHONE, "opted_out", "退订")
    for number in (PHONE, "13900001111"):
        state.record_contact(number)  # both wrote to the service
    [message] = reply_messages("接线员回复", TemplateLimits())
    async with aiohttp.ClientSession() as session:
        provider = provider_from_env(session, env)
        assert isinstance(provider, OptOutGuard)
        with pytest.raises(SmsOptedOut):
            await provider.send(PHONE, message)
        [message_id] = await provider.send("13900001111", message)
    [line] = outbox_lines(tmp_path / "sms-outbox.jsonl")
    assert line == {
        "id": message_id,
        "to": "13900001111",
        "template": "reply",
        "params": ["接线员回复"],
        "text": "宁夏农民工政策助手答复您的咨询：接线员回复",
        "time": line["time"],
    }
    assert message == SmsMessage("reply", ("接线员回复",), "宁夏农民工政策助手答复您的咨询：接线员回复")


TENCENT = {
    "SMS_PROVIDER": "tencent",
    "SMS_TENCENT_SECRET_ID": "a",
    "SMS_TENCENT_SECRET_KEY": "b",
    "SMS_TENCENT_SDK_APP_ID": "c",
    "SMS_TENCENT_SIGN_NAME": "宁夏人社",
    "SMS_TENCENT_CASE_TEMPLATE_ID": "f",
}


def test_tencent_needs_a_reply_template_unless_the_account_is_personal(db_url):
    settings = Settings.from_env({"APP_DB_URL": db_url, **TENCENT})
    with pytest.raises(RasaException, match="SMS_TENCENT_REPLY_TEMPLATE_ID"):
        check_provider_config(settings)
    assert check_provider_config(
        Settings.from_env({"APP_DB_URL": db_url, **TENCENT, "SMS_TENCENT_REPLY_TEMPLATE_ID": "e"})
    )
    personal = Settings.from_env({"APP_DB_URL": db_url, **TENCENT, "SMS_TENCENT_ACCOUNT_TYPE": "personal"})
    assert check_provider_config(personal) == "tencent"  # it can send the fixed case notification
    with pytest.raises(RasaException, match="SMS_TENCENT_CASE_TEMPLATE_ID"):
        check_provider_config(Settings.from_env({"APP_DB_URL": db_url, **TENCENT, "SMS_TENCENT_CASE_TEMPLATE_ID": ""}))


def test_the_account_type_and_the_reply_cap_are_checked_at_start_up(db_url):
    full = {"APP_DB_URL": db_url, **TENCENT, "SMS_TENCENT_REPLY_TEMPLATE_ID": "e"}
    limits = template_limits(Settings.from_env(full))
    assert (limits.account_type, limits.signature_chars, limits.reply_chars) == ("enterprise", 6, 201)
    assert template_limits(Settings.from_env({"APP_DB_URL": db_url})).signature_chars == 0  # the outbox: no sign
    with pytest.raises(RasaException, match="SMS_TENCENT_ACCOUNT_TYPE"):
        check_provider_config(Settings.from_env({**full, "SMS_TENCENT_ACCOUNT_TYPE": "company"}))
    for provider in ("tencent", "outbox"):
        with pytest.raises(RasaException, match="SMS_REPLY_MAX_CHARS"):
            check_provider_config(Settings.from_env({**full, "SMS_PROVIDER": provider, "SMS_REPLY_MAX_CHARS": "x"}))


def test_the_sms_channel_refuses_to_start_on_a_personal_account(db_url):
    personal = Settings.from_env({"APP_DB_URL": db_url, **TENCENT, "SMS_TENCENT_ACCOUNT_TYPE": "personal"})
    with pytest.raises(RasaException, match="personal Tencent account allows 6 characters"):
        check_replies(personal)
    with pytest.raises(RasaException, match="enterprise or government"):
        SmsInput.from_credentials({"webhook_secret": "s"}, settings=personal)
