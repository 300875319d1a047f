"""channels/sms/config.py: the provider the settings name, checked when it is built."""

from __future__ import annotations

import aiohttp
import pytest
from rasa.shared.exceptions import RasaException

from channels._state import ChannelState
from channels.sms import (
    OptOutGuard,
    OutboxProvider,
    SmsOptedOut,
    TencentSmsProvider,
    provider_from_env,
)
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
                "SMS_TENCENT_TEMPLATE_ID": "e",
                "SMS_TENCENT_API_BASE": "http://127.0.0.1:9",
            },
            respect_opt_outs=False,
        )
        assert isinstance(tencent, TencentSmsProvider) and tencent.host == "127.0.0.1:9"
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
    async with aiohttp.ClientSession() as session:
        provider = provider_from_env(session, env)
        assert isinstance(provider, OptOutGuard)
        with pytest.raises(SmsOptedOut):
            await provider.send(PHONE, "接线员回复")
        await provider.send("13900001111", "接线员回复")
    assert outbox_lines(tmp_path / "sms-outbox.jsonl") == [
        {"to": "13900001111", "text": "接线员回复", "time": outbox_lines(tmp_path / "sms-outbox.jsonl")[0]["time"]}
    ]
