"""The SMS channel with SMS_PROVIDER=smpp, served by a real Sanic server and bound to the fake SMSC: a worker's
message from the gateway runs the same pipeline as a webhook callback (claim and de-duplication, opt-out, takeover,
turn) and the reply goes back as submit_sm; delivery receipts reach `on_report`; a gateway restart while a turn runs
loses nothing and sends nothing twice."""

from __future__ import annotations

import asyncio
import logging

from bot.settings import Settings
from channels.sms import OPT_OUT_CONFIRMATION, SmsInput
from channels.sms.smpp.pdu import Status
from channels.sms.templates import REPLY_PREFIX
from tests.channels.support import FakeAgent, Gate, replies, run_async, serve_channel
from tests.support.fake_smsc import FakeSmsc

PHONE = "13812341234"
CONVERSATION = f"sms:{PHONE}"
SECRET = "test-sms-secret"
REPLY = "您好！我是宁夏农民工政策助手。欠工钱了可以直接说，比如“老板欠我三个月工资”。"
TEXTED = REPLY_PREFIX + REPLY  # the reply template's fixed text goes out too: the gateway sends the whole text


def smpp_channel(smsc: FakeSmsc, db_url: str, gate: Gate | None = None, on_report=None) -> SmsInput:
    settings = Settings.from_env(
        {
            "APP_DB_URL": db_url,
            "SMS_PROVIDER": "smpp",
            "SMS_SMPP_HOST": "127.0.0.1",
            "SMS_SMPP_PORT": str(smsc.port),
            "SMS_SMPP_SYSTEM_ID": "nxa",
            "SMS_SMPP_PASSWORD": "secret",
            "SMS_SMPP_SOURCE_ADDR": "106900",
        }
    )
    channel = SmsInput(SECRET, settings=settings, db_url=db_url, intercept=gate or Gate(), on_report=on_report)
    return channel


async def bound(channel: SmsInput) -> None:
    assert channel.gateway is not None, "the channel did not start its gateway connection"
    await channel.gateway.wait_bound(10)


@run_async
async def test_a_message_from_the_gateway_runs_a_turn_and_the_reply_goes_back_as_a_submit(db_url):
    smsc = await FakeSmsc().start()
    agent = FakeAgent(replies({"text": REPLY}))
    try:
        async with serve_channel(smpp_channel(smsc, db_url), agent) as _url:
            channel_bound = smsc.wait_for(lambda: smsc.bound == ["transceiver"])
            await channel_bound
            assert await smsc.deliver_mo(f"86{PHONE}", "你好") == [Status.OK]
            await smsc.wait_for(lambda: len(smsc.messages) == 1)
            [message] = agent.received
            assert (message.sender_id, message.text, message.input_channel) == (CONVERSATION, "你好", "sms")
            assert message.metadata == {"sms_form": "smpp"}
            assert [(m.destination, m.text) for m in smsc.messages] == [(PHONE, TEXTED)]
        assert smsc.bound == []  # the server's stop unbound
    finally:
        await smsc.stop()


@run_async
async def test_a_retransmitted_deliver_sm_runs_no_second_turn_but_the_same_words_sent_again_do(db_url):
    smsc = await FakeSmsc().start()
    agent = FakeAgent(replies({"text": REPLY}))
    try:
        async with serve_channel(smpp_channel(smsc, db_url), agent):
            await smsc.wait_for(lambda: smsc.bound == ["transceiver"])
            assert await smsc.deliver_mo(PHONE, "1", sequence=900) == [Status.OK]
            assert await smsc.deliver_mo(PHONE, "1", sequence=900) == [Status.OK]  # the gateway's retransmission
            await smsc.wait_for(lambda: len(smsc.messages) == 1)
            assert await smsc.deliver_mo(PHONE, "1", sequence=901) == [Status.OK]  # the worker writes 1 again
            await smsc.wait_for(lambda: len(smsc.messages) == 2)
            await asyncio.sleep(0.2)
            assert agent.texts == ["1", "1"]
            assert len(smsc.messages) == 2
    finally:
        await smsc.stop()


@run_async
async def test_a_long_message_from_the_gateway_is_one_turn(db_url):
    smsc = await FakeSmsc().start()
    agent = FakeAgent(replies({"text": REPLY}))
    text = "老板欠我三个月工资，一共一万二千块钱，在银川市金凤区的工地上干活，包工头电话打不通，我该怎么办？" * 2
    try:
        async with serve_channel(smpp_channel(smsc, db_url), agent):
            await smsc.wait_for(lambda: smsc.bound == ["transceiver"])
            assert await smsc.deliver_mo(PHONE, text, reference=77) == [Status.OK, Status.OK]
            await smsc.wait_for(lambda: len(smsc.messages) == 1)
            assert agent.texts == [text]
    finally:
        await smsc.stop()


@run_async
async def test_opt_out_through_the_gateway_is_confirmed_once_and_then_nothing_is_answered(db_url):
    smsc = await FakeSmsc().start()
    agent = FakeAgent(replies({"text": REPLY}))
    try:
        async with serve_channel(smpp_channel(smsc, db_url), agent):
            await smsc.wait_for(lambda: smsc.bound == ["transceiver"])
            assert await smsc.deliver_mo(PHONE, "退订") == [Status.OK]
            await smsc.wait_for(lambda: len(smsc.messages) == 1)
            assert await smsc.deliver_mo(PHONE, "你好") == [Status.OK]
            await asyncio.sleep(0.3)
            assert agent.received == []
            assert [(m.destination, m.text) for m in smsc.messages] == [(PHONE, REPLY_PREFIX + OPT_OUT_CONFIRMATION)]
    finally:
        await smsc.stop()


@run_async
async def test_while_an_operator_has_the_conversation_the_assistant_stays_silent(db_url):
    smsc = await FakeSmsc().start()
    agent = FakeAgent(replies({"text": REPLY}))
    gate = Gate(taken_over={CONVERSATION})
    try:
        async with serve_channel(smpp_channel(smsc, db_url, gate), agent):
            await smsc.wait_for(lambda: smsc.bound == ["transceiver"])
            assert await smsc.deliver_mo(PHONE, "我要找人工") == [Status.OK]
            await smsc.wait_for(lambda: len(gate.calls) == 1)
            await asyncio.sleep(0.3)
            assert gate.calls == [("sms", CONVERSATION, "我要找人工")]
            assert agent.received == [] and smsc.messages == []
    finally:
        await smsc.stop()


@run_async
async def test_an_unreadable_sender_is_refused_permanently_and_nothing_runs(db_url):
    smsc = await FakeSmsc().start()
    agent = FakeAgent(replies({"text": REPLY}))
    try:
        async with serve_channel(smpp_channel(smsc, db_url), agent):
            await smsc.wait_for(lambda: smsc.bound == ["transceiver"])
            assert await smsc.deliver_mo("not-a-phone", "你好") == [0x65]
            assert await smsc.deliver_mo(PHONE, "   ") == [0x65]
            assert agent.received == [] and smsc.messages == []
    finally:
        await smsc.stop()


@run_async
async def test_delivery_receipts_call_on_report_and_a_failing_one_is_delivered_again(db_url):
    smsc = await FakeSmsc().start()
    agent = FakeAgent(replies({"text": REPLY}))
    reports: list[tuple[str, bool, str]] = []
    failing = {"on": False}

    def on_report(provider_id: str, delivered: bool, reason: str) -> None:
        if failing["on"]:
            raise RuntimeError("the delivery log is not reachable")
        reports.append((provider_id, delivered, reason))

    try:
        async with serve_channel(smpp_channel(smsc, db_url, on_report=on_report), agent):
            await smsc.wait_for(lambda: smsc.bound == ["transceiver"])
            await smsc.deliver_mo(PHONE, "你好")
            await smsc.wait_for(lambda: len(smsc.messages) == 1)
            [message_id] = smsc.messages[0].message_ids
            assert await smsc.deliver_receipt(message_id) == Status.OK
            assert await smsc.deliver_receipt(message_id, state="UNDELIV", form="text", error="011") == Status.OK
            assert await smsc.deliver_receipt(message_id, state="ENROUTE") == Status.OK  # not final: not reported
            failing["on"] = True
            assert await smsc.deliver_receipt(message_id, state="EXPIRED") == Status.TEMPORARY_APP_ERROR
            assert reports == [(message_id, True, ""), (message_id, False, "UNDELIVERABLE 011")]
    finally:
        await smsc.stop()


@run_async
async def test_a_gateway_restart_while_a_turn_runs_sends_the_reply_once_after_the_reconnect(db_url):
    smsc = await FakeSmsc().start()
    agent = FakeAgent(replies({"text": REPLY}), delay=0.5)
    try:
        channel = smpp_channel(smsc, db_url)
        async with serve_channel(channel, agent):
            await bound(channel)
            assert await smsc.deliver_mo(PHONE, "你好") == [Status.OK]  # answered at the claim, before the turn
            await smsc.wait_for(lambda: len(agent.received) == 1)
            await smsc.stop()  # the gateway restarts while the assistant thinks
            await asyncio.sleep(0.6)
            assert smsc.messages == []
            await smsc.start()
            await smsc.wait_for(lambda: len(smsc.messages) == 1)
            assert await smsc.deliver_mo(PHONE, "谢谢") == [Status.OK]
            await smsc.wait_for(lambda: len(smsc.messages) == 2)
            await asyncio.sleep(0.2)
            assert [(m.destination, m.text) for m in smsc.messages] == [(PHONE, TEXTED), (PHONE, TEXTED)]
            assert agent.texts == ["你好", "谢谢"]
            assert channel.gateway is not None and channel.gateway.binds == 2
    finally:
        await smsc.stop()


@run_async
async def test_without_on_report_a_receipt_is_logged_with_the_phone_number_masked(db_url, caplog):
    smsc = await FakeSmsc().start()
    agent = FakeAgent(replies({"text": REPLY}))
    try:
        async with serve_channel(smpp_channel(smsc, db_url), agent):
            await smsc.wait_for(lambda: smsc.bound == ["transceiver"])
            await smsc.deliver_mo(PHONE, "你好")
            await smsc.wait_for(lambda: len(smsc.messages) == 1)
            [message_id] = smsc.messages[0].message_ids
            with caplog.at_level(logging.INFO, logger="channels.sms.channel"):
                assert await smsc.deliver_receipt(message_id, state="UNDELIV", error="011") == Status.OK
        [record] = [r for r in caplog.records if "delivery report" in r.getMessage()]
        assert record.getMessage() == f"sms: delivery report for {message_id} (138****1234): failed UNDELIVERABLE 011"
        assert PHONE not in caplog.text
    finally:
        await smsc.stop()


@run_async
async def test_built_from_credentials_a_reply_and_its_receipt_meet_in_the_delivery_log(db_url):
    """credentials.yml's channel logs the reply under the gateway's message id, and the gateway's receipt settles it
    in the delivery log (what the console's overview counts)."""
    from bot.deliveries import DeliveryLog
    from bot.store import AppStore

    smsc = await FakeSmsc().start()
    agent = FakeAgent(replies({"text": REPLY}))
    settings = smpp_channel(smsc, db_url)._settings
    channel = SmsInput.from_credentials({"webhook_secret": SECRET}, settings=settings)
    channel.intercept = Gate()
    try:
        async with serve_channel(channel, agent):
            await smsc.wait_for(lambda: smsc.bound == ["transceiver"])
            await smsc.deliver_mo(PHONE, "你好")
            await smsc.wait_for(lambda: len(smsc.messages) == 1)
            [message_id] = smsc.messages[0].message_ids
            log = DeliveryLog(AppStore(db_url))
            await smsc.wait_for(lambda: any(d.sent for d in log.daily_share(days=1) if d.channel == "sms"))
            assert await smsc.deliver_receipt(message_id, state="UNDELIV", error="011") == Status.OK
    finally:
        await smsc.stop()
    [day] = [d for d in DeliveryLog(AppStore(db_url)).daily_share(days=1) if d.channel == "sms"]
    assert (day.sent, day.delivered, day.failed) == (1, 0, 1)
