"""channels/sms/smpp/client.py against the fake SMSC on 127.0.0.1: bind, long messages, the window, keep-alive,
reconnect with back-off, a gateway restart mid-stream (nothing lost, nothing sent twice), MO and receipt dispatch,
and malformed PDUs from the gateway answered without losing the connection."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import replace

import pytest

from channels.sms.smpp.client import (
    PERMANENT_APP_ERROR,
    MobileMessage,
    SmppClient,
    SmppConfig,
    SmppError,
    SmppOutcomeUnknown,
    backoff_delays,
)
from channels.sms.smpp.pdu import DeliverSm, DeliveryReceipt, EnquireLinkResp, Status
from tests.channels.support import run_async
from tests.support.fake_smsc import FakeSmsc

PHONE = "13812341234"
LONG_TEXT = (
    "您的欠薪登记NX2612A有新进展：已转到银川市劳动监察大队处理。劳动监察员会在5个工作日内给您打电话，"
    "请保持电话畅通。有疑问打0951-12333，说您的登记号就行。回复“退订”不再收到短信。"
)


def config_for(smsc: FakeSmsc, **overrides) -> SmppConfig:
    base = SmppConfig(
        host="127.0.0.1",
        port=smsc.port,
        system_id="nxa",
        password="secret",
        source_addr="106900",
        response_seconds=5.0,
        backoff_initial=0.01,
        backoff_max=0.08,
    )
    return replace(base, **overrides)


class Recorder:
    """The client's callbacks: records what the gateway delivered, answers with `status`."""

    def __init__(self, status: int = Status.OK) -> None:
        self.messages: list[MobileMessage] = []
        self.receipts: list[DeliveryReceipt] = []
        self.status = status

    async def on_message(self, message: MobileMessage) -> int:
        self.messages.append(message)
        return self.status

    async def on_receipt(self, receipt: DeliveryReceipt) -> int:
        self.receipts.append(receipt)
        return Status.OK


class Sleeps:
    """An `asyncio.sleep` stand-in that records the back-off delays asked for (and sleeps a tick)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0.01)


async def started(smsc: FakeSmsc, recorder: Recorder | None = None, **overrides) -> SmppClient:
    recorder = recorder or Recorder()
    client = SmppClient(config_for(smsc, **overrides), on_message=recorder.on_message, on_receipt=recorder.on_receipt)
    client.start()
    await client.wait_bound(10)
    return client


def test_back_off_doubles_up_to_its_maximum():
    delays = backoff_delays(1.0, 60.0)
    assert [next(delays) for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]


@run_async
async def test_binds_as_transceiver_and_a_long_message_arrives_whole():
    smsc = await FakeSmsc().start()
    client = await started(smsc)
    try:
        ids = await client.send_text(PHONE, LONG_TEXT)
        [message] = smsc.messages
        assert (message.destination, message.text, message.registered_delivery) == (PHONE, LONG_TEXT, 1)
        assert list(message.message_ids) == ids and len(ids) == 2
        assert smsc.binds == [("transceiver", "nxa")]
        assert all(submit.source_addr == "106900" and submit.data_coding == 8 for submit, _ in smsc.submits)
    finally:
        await client.stop()
        await smsc.stop()


@run_async
async def test_a_transmitter_bind_and_international_destinations_when_configured():
    smsc = await FakeSmsc().start()
    client = await started(smsc, transceiver=False, dest_addr_ton=1)
    try:
        await client.send_text(PHONE, "你好")
        assert smsc.binds == [("transmitter", "nxa")]
        assert [message.destination for message in smsc.messages] == [f"86{PHONE}"]
    finally:
        await client.stop()
        await smsc.stop()


@run_async
async def test_a_refused_bind_backs_off_exponentially_until_the_gateway_accepts():
    smsc = await FakeSmsc(password="other").start()
    sleeps = Sleeps()
    client = SmppClient(config_for(smsc), sleep=sleeps)
    client.start()
    try:
        await smsc.wait_for(lambda: len(sleeps.delays) >= 5)
        assert not client.is_bound
        assert sleeps.delays[:5] == [0.01, 0.02, 0.04, 0.08, 0.08]
        smsc.password = "secret"
        await client.wait_bound(10)
        assert smsc.binds[-1] == ("transceiver", "nxa") and len(smsc.binds) >= 6
    finally:
        await client.stop()
        await smsc.stop()


@run_async
async def test_no_more_than_the_window_of_submits_is_outstanding():
    smsc = await FakeSmsc().start()
    client = await started(smsc, window=3)
    try:
        smsc.hold.set()
        sends = [asyncio.ensure_future(client.send_text(PHONE, f"第{n}条")) for n in range(5)]
        await smsc.wait_for(lambda: len(smsc._held) == 3)
        await asyncio.sleep(0.2)  # give a fourth submit every chance to be written
        assert len(smsc._held) == 3 and not any(send.done() for send in sends)
        await smsc.release()
        ids = await asyncio.gather(*sends)
        assert sorted(message.text for message in smsc.messages) == sorted(f"第{n}条" for n in range(5))
        assert len({id_ for [id_] in ids}) == 5
    finally:
        await client.stop()
        await smsc.stop()


@run_async
async def test_enquire_link_keeps_the_link_and_a_hung_gateway_is_left_for_a_new_connection():
    smsc = await FakeSmsc().start()
    client = await started(smsc, enquire_link_seconds=0.05, response_seconds=2.0)
    try:
        await smsc.wait_for(lambda: smsc.enquire_links >= 3)
        assert client.binds == 1
        smsc.mute = True  # the gateway stops answering: the unanswered enquire_link drops the connection
        await smsc.wait_for(lambda: not client.is_bound)
        smsc.mute = False
        await smsc.wait_for(lambda: client.binds >= 2)
        assert (await client.send_text(PHONE, "还在"))[0]
    finally:
        await client.stop()
        await smsc.stop()


@run_async
async def test_a_gateway_restart_mid_stream_loses_nothing_and_sends_nothing_twice():
    smsc = await FakeSmsc().start()
    client = await started(smsc)
    try:
        for n in range(3):
            await client.send_text(PHONE, f"重启前第{n}条")
        await smsc.stop()  # a graceful restart: the gateway unbinds first
        while_down = [asyncio.ensure_future(client.send_text(PHONE, f"重启中第{n}条" + LONG_TEXT)) for n in range(3)]
        await asyncio.sleep(0.2)
        assert not any(send.done() for send in while_down)  # queued, waiting for the bind
        await smsc.start()
        await asyncio.gather(*while_down)
        for n in range(2):
            await client.send_text(PHONE, f"重启后第{n}条")
        texts = [message.text for message in smsc.messages]
        expected = (
            [f"重启前第{n}条" for n in range(3)]
            + [f"重启中第{n}条" + LONG_TEXT for n in range(3)]
            + [f"重启后第{n}条" for n in range(2)]
        )
        assert sorted(texts) == sorted(expected)  # each exactly once
        assert client.binds == 2
    finally:
        await client.stop()
        await smsc.stop()


@run_async
async def test_a_submit_unanswered_when_the_gateway_crashes_is_reported_unknown_and_never_sent_again():
    smsc = await FakeSmsc().start()
    client = await started(smsc)
    try:
        smsc.hold.set()
        in_flight = asyncio.ensure_future(client.send_text(PHONE, "没有回音的一条"))
        await smsc.wait_for(lambda: len(smsc._held) == 1)
        await smsc.stop(graceful=False)
        with pytest.raises(SmppOutcomeUnknown, match="broke before it answered"):
            await in_flight
        await smsc.start()
        await client.send_text(PHONE, "之后的一条")
        assert [message.text for message in smsc.messages] == ["之后的一条"]
    finally:
        await client.stop()
        await smsc.stop()


@run_async
async def test_a_refused_submit_raises_with_the_gateway_status():
    smsc = await FakeSmsc().start()
    client = await started(smsc)
    try:
        smsc.fail_next = [Status.INVALID_DESTINATION]
        with pytest.raises(SmppError, match="status 0x0000000b") as raised:
            await client.send_text(PHONE, "你好")
        assert raised.value.code == "b"
        assert smsc.messages == []  # not tried again: the gateway will never take it
        assert await client.send_text(PHONE, "你好")
        assert len(smsc.messages) == 1
    finally:
        await client.stop()
        await smsc.stop()


@run_async
async def test_without_a_gateway_a_submit_fails_clearly_after_the_queue_time():
    smsc = await FakeSmsc().start()
    await smsc.stop()
    client = SmppClient(config_for(smsc, queue_seconds=0.3))
    client.start()
    try:
        with pytest.raises(SmppError, match="not connected to the SMS gateway"):
            await client.send_text(PHONE, "你好")
    finally:
        await client.stop()


@run_async
async def test_a_long_mobile_originated_message_is_reassembled_and_handed_over_once():
    smsc = await FakeSmsc().start()
    recorder = Recorder()
    client = await started(smsc, recorder)
    try:
        assert await smsc.deliver_mo(f"86{PHONE}", LONG_TEXT, reference=9) == [Status.OK, Status.OK]
        [message] = recorder.messages
        assert (message.source, message.destination, message.text) == (f"86{PHONE}", "106900", LONG_TEXT)
        assert message.key.startswith("smpp:")
        assert await smsc.deliver_mo(PHONE, "退订") == [Status.OK]
        assert [message.text for message in recorder.messages] == [LONG_TEXT, "退订"]
        recorder.status = Status.TEMPORARY_APP_ERROR  # the pipeline could not take it: the gateway should retry
        assert await smsc.deliver_mo(PHONE, "你好") == [Status.TEMPORARY_APP_ERROR]
    finally:
        await client.stop()
        await smsc.stop()


@run_async
async def test_delivery_receipts_in_both_forms_reach_the_callback():
    smsc = await FakeSmsc().start()
    recorder = Recorder()
    client = await started(smsc, recorder)
    try:
        [message_id] = await client.send_text(PHONE, "你好")
        assert await smsc.deliver_receipt(message_id) == Status.OK
        assert await smsc.deliver_receipt(message_id, state="UNDELIV", form="text", error="011") == Status.OK
        assert [(r.message_id, r.delivered, r.state, r.error) for r in recorder.receipts] == [
            (message_id, True, "DELIVERED", ""),
            (message_id, False, "UNDELIVERABLE", "011"),
        ]
        assert recorder.messages == []
    finally:
        await client.stop()
        await smsc.stop()


@run_async
async def test_an_unreadable_mo_is_refused_permanently_and_the_connection_carries_on():
    smsc = await FakeSmsc().start()
    recorder = Recorder()
    client = await started(smsc, recorder)
    try:
        assert await smsc.deliver(DeliverSm(PHONE, "106900", b"\xff\xfe\x00", data_coding=8)) == PERMANENT_APP_ERROR
        assert await smsc.deliver(DeliverSm(PHONE, "106900", b"\x01", data_coding=4)) == PERMANENT_APP_ERROR
        assert recorder.messages == []
        assert (await smsc.enquire()).body == EnquireLinkResp()
    finally:
        await client.stop()
        await smsc.stop()


@run_async
async def test_malformed_pdus_from_the_gateway_get_generic_nacks_and_an_oversized_one_a_new_connection():
    smsc = await FakeSmsc().start()
    client = await started(smsc)
    try:
        await smsc.send_raw(struct.pack(">IIII", 16, 0x00000103, 0, 501))  # unknown command
        await smsc.send_raw(struct.pack(">IIII", 20, 0x00000005, 0, 502) + b"\x00\x00\x00\x31")  # truncated
        await smsc.wait_for(lambda: len(smsc.nacks_received) == 2)
        assert [(nack.sequence, nack.status) for nack in smsc.nacks_received] == [
            (501, Status.INVALID_COMMAND_ID),
            (502, Status.INVALID_COMMAND_LENGTH),
        ]
        assert (await smsc.enquire()).body == EnquireLinkResp() and client.binds == 1
        await smsc.send_raw(struct.pack(">IIII", 1 << 30, 0x00000005, 0, 503))  # a gigabyte declared
        await smsc.wait_for(lambda: client.binds == 2)
        assert smsc.nacks_received[-1].sequence == 503
        assert await client.send_text(PHONE, "你好")
    finally:
        await client.stop()
        await smsc.stop()


@run_async
async def test_stop_unbinds_and_a_stopped_client_sends_nothing():
    smsc = await FakeSmsc().start()
    client = await started(smsc)
    await client.stop()
    try:
        await smsc.wait_for(lambda: smsc.bound == [])
        with pytest.raises(SmppError, match="stopped"):
            await client.send_text(PHONE, "你好")
        assert smsc.messages == []
    finally:
        await smsc.stop()


@run_async
async def test_a_throttled_submit_is_tried_again_after_a_back_off_and_sent_once():
    smsc = await FakeSmsc().start()
    sleeps = Sleeps()
    client = SmppClient(config_for(smsc), sleep=sleeps)
    client.start()
    await client.wait_bound(10)
    try:
        smsc.fail_next = [Status.THROTTLED, Status.MESSAGE_QUEUE_FULL]
        [message_id] = await client.send_text(PHONE, "慢一点")
        assert [(m.text, m.message_ids) for m in smsc.messages] == [("慢一点", (message_id,))]
        assert sleeps.delays == [0.5, 1.0]
        smsc.fail_next = [Status.THROTTLED] * 4
        with pytest.raises(SmppError, match="status 0x00000058"):
            await client.send_text(PHONE, "太快了")
        assert sleeps.delays == [0.5, 1.0, 0.5, 1.0, 2.0]
        assert len(smsc.messages) == 1
    finally:
        await client.stop()
        await smsc.stop()
