"""SMS_PROVIDER=smpp: the SMS_SMPP_* settings checked at start-up, and the provider `provider_for` builds sending
through the fake SMSC as a transmitter (ids returned, only to mainland mobiles, opt-outs honoured by the guard)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.settings import Settings
from channels._config import ChannelConfigError
from channels._state import ChannelState
from channels.sms import OptOutGuard, SmsRecipientRefused, check_provider_config, provider_for
from channels.sms.smpp.provider import SmppProvider, smpp_config
from channels.sms.templates import REPLY, SmsMessage
from tests.channels.support import run_async
from tests.support.fake_smsc import FakeSmsc

PHONE = "13812341234"


def smpp_env(port: int = 2775, **overrides: str) -> dict[str, str]:
    return {
        "SMS_PROVIDER": "smpp",
        "SMS_SMPP_HOST": "127.0.0.1",
        "SMS_SMPP_PORT": str(port),
        "SMS_SMPP_SYSTEM_ID": "nxa",
        "SMS_SMPP_PASSWORD": "secret",
        "SMS_SMPP_SOURCE_ADDR": "106900",
        **overrides,
    }


def sms(text: str) -> SmsMessage:
    """A message as the template builders make one (a free-text gateway sends its `text`)."""
    return SmsMessage(REPLY, (text,), text)


def test_the_settings_give_the_connection_with_defaults():
    config = smpp_config(Settings.from_env(smpp_env()), transceiver=True)
    assert (config.host, config.port, config.system_id, config.password, config.source_addr) == (
        "127.0.0.1",
        2775,
        "nxa",
        "secret",
        "106900",
    )
    assert (config.transceiver, config.window, config.enquire_link_seconds, config.dest_addr_ton) == (True, 10, 30, 0)
    assert "secret" not in repr(config)
    assert check_provider_config(Settings.from_env(smpp_env())) == "smpp"


def test_missing_settings_are_named_at_start_up():
    with pytest.raises(ChannelConfigError) as raised:
        check_provider_config(Settings.from_env({"SMS_PROVIDER": "smpp"}))
    for name in ("SMS_SMPP_HOST", "SMS_SMPP_SYSTEM_ID", "SMS_SMPP_PASSWORD", "SMS_SMPP_SOURCE_ADDR"):
        assert name in str(raised.value)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SMS_SMPP_PORT", "70000", "SMS_SMPP_PORT must be a whole number from 1 to 65535"),
        ("SMS_SMPP_PORT", "abc", "SMS_SMPP_PORT must be a whole number"),
        ("SMS_SMPP_WINDOW", "0", "SMS_SMPP_WINDOW must be a whole number from 1 to 100"),
        ("SMS_SMPP_DEST_TON", "5", "SMS_SMPP_DEST_TON must be a whole number from 0 to 1"),
        ("SMS_SMPP_PASSWORD", "longer-than-8", "SMS_SMPP_PASSWORD must be ASCII of at most 8"),
        ("SMS_SMPP_SYSTEM_ID", "系统", "SMS_SMPP_SYSTEM_ID must be ASCII"),
    ],
)
def test_a_bad_setting_is_refused_with_its_name(name, value, message):
    with pytest.raises(ChannelConfigError, match=message):
        check_provider_config(Settings.from_env(smpp_env(**{name: value})))


@run_async
async def test_provider_for_sends_through_a_transmitter_bind_and_returns_the_ids():
    smsc = await FakeSmsc().start()
    provider = provider_for(Settings.from_env(smpp_env(smsc.port)), session=None)
    assert isinstance(provider, SmppProvider)
    try:
        ids = await provider.send(f"+86{PHONE}", sms("您的欠薪登记有新进展：已受理。详询0951-12333"))
        [message] = smsc.messages
        assert (message.destination, message.text, list(message.message_ids)) == (
            PHONE,
            "您的欠薪登记有新进展：已受理。详询0951-12333",
            ids,
        )
        assert smsc.binds == [("transmitter", "nxa")]
        assert provider_for(Settings.from_env(smpp_env(smsc.port)), session=None).client is provider.client
        assert provider_for(Settings.from_env(smpp_env(smsc.port)), session=None).client.config.transceiver is False
    finally:
        await provider.client.stop()
        await smsc.stop()


@run_async
async def test_only_mainland_mobiles_are_texted_and_the_guard_refuses_a_number_that_never_wrote(db_url):
    smsc = await FakeSmsc().start()
    settings = Settings.from_env(smpp_env(smsc.port, APP_DB_URL=db_url))
    provider = provider_for(settings, session=None)
    assert isinstance(provider, SmppProvider)
    try:
        with pytest.raises(SmsRecipientRefused, match="mainland"):
            await provider.send("+4479460000", sms("hello"))
        with pytest.raises(SmsRecipientRefused):
            await OptOutGuard(provider, ChannelState(db_url)).send(PHONE, sms("你好"))
        assert smsc.binds == [] and smsc.messages == []
    finally:
        await provider.client.stop()
        await smsc.stop()


def test_a_provider_built_outside_an_event_loop_connects_in_the_loop_that_sends():
    async def serve_and_send(provider) -> tuple[list[str], list[str]]:
        smsc = await FakeSmsc().start()
        provider._config = replace(provider._config, port=smsc.port)  # the fake's port is known only now
        try:
            ids = await provider.send(PHONE, sms("你好"))
            return ids, [message_id for message in smsc.messages for message_id in message.message_ids]
        finally:
            await provider.client.stop()
            await smsc.stop()

    provider = provider_for(Settings.from_env(smpp_env()), session=None)  # no loop runs here (the console's case)
    ids, received = asyncio.run(serve_and_send(provider))
    assert ids == received and len(ids) == 1
