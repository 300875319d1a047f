"""tests/support/fake_smsc.py speaks SMPP 3.4: checked over a raw TCP connection with the codec, so the client's tests
rest on a gateway that binds, answers, reassembles and refuses the way the specification says."""

from __future__ import annotations

import asyncio
import struct

import pytest

from channels.sms.smpp.pdu import (
    BindTransceiver,
    BindTransceiverResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    Status,
    SubmitSm,
    SubmitSmResp,
    encode,
    segments_for,
)
from channels.sms.smpp.stream import read_pdu
from tests.channels.support import run_async
from tests.support.fake_smsc import FakeSmsc


async def connect(smsc: FakeSmsc, password: str = "secret"):
    reader, writer = await asyncio.open_connection("127.0.0.1", smsc.port)
    writer.write(encode(Pdu(BindTransceiver("nxa", password), 1)))
    return reader, writer, await read_pdu(reader)


@run_async
async def test_a_bind_with_the_wrong_password_is_refused_and_the_right_one_accepted():
    smsc = await FakeSmsc().start()
    try:
        reader, writer, response = await connect(smsc, password="wrong")
        assert (type(response.body), response.status, response.sequence) == (
            BindTransceiverResp,
            Status.INVALID_PASSWORD,
            1,
        )
        writer.close()
        reader, writer, response = await connect(smsc)
        assert (response.body, response.status) == (BindTransceiverResp("fake-smsc"), Status.OK)
        assert smsc.binds == [("transceiver", "nxa"), ("transceiver", "nxa")]
        await smsc.wait_for(lambda: smsc.bound == ["transceiver"])
        writer.close()
    finally:
        await smsc.stop()


@run_async
async def test_a_submit_before_the_bind_gets_a_generic_nack():
    smsc = await FakeSmsc().start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", smsc.port)
        writer.write(encode(Pdu(SubmitSm("106900", "13812341234", b"\x4e\x2d"), 3)))
        assert await read_pdu(reader) == Pdu(GenericNack(), 3, Status.INCORRECT_BIND_STATUS)
        assert smsc.submits == []
        writer.close()
    finally:
        await smsc.stop()


@run_async
async def test_segments_of_a_long_submit_are_reassembled_into_one_message():
    smsc = await FakeSmsc().start()
    try:
        reader, writer, _ = await connect(smsc)
        text = "您的欠薪登记NX2612A有新进展：已转到银川市劳动监察大队处理，请保持电话畅通。" * 4
        parts = segments_for(text, 42)
        assert len(parts) == 3
        for sequence, (message, esm) in enumerate(parts, 2):
            writer.write(encode(Pdu(SubmitSm("106900", "13812341234", message, esm_class=esm), sequence)))
            response = await read_pdu(reader)
            assert (type(response.body), response.status, response.sequence) == (SubmitSmResp, Status.OK, sequence)
        [whole] = smsc.messages
        assert (whole.destination, whole.text) == ("13812341234", text)
        assert len(whole.message_ids) == len(smsc.submits) == 3
        assert len(set(whole.message_ids)) == 3
        writer.close()
    finally:
        await smsc.stop()


@run_async
async def test_a_malformed_pdu_gets_a_generic_nack_and_the_connection_carries_on():
    smsc = await FakeSmsc().start()
    try:
        reader, writer, _ = await connect(smsc)
        writer.write(struct.pack(">IIII", 16, 0x00000103, 0, 9))  # no such command
        assert await read_pdu(reader) == Pdu(GenericNack(), 9, Status.INVALID_COMMAND_ID)
        broken = encode(Pdu(SubmitSm("106900", "13812341234", b"\x4e\x2d"), 10))[:-3]  # sm_length overruns
        writer.write(struct.pack(">I", len(broken)) + broken[4:])
        assert await read_pdu(reader) == Pdu(GenericNack(), 10, Status.INVALID_COMMAND_LENGTH)
        writer.write(encode(Pdu(EnquireLink(), 11)))
        assert await read_pdu(reader) == Pdu(EnquireLinkResp(), 11)
        assert smsc.enquire_links == 1 and smsc.submits == []
        writer.close()
    finally:
        await smsc.stop()


@run_async
async def test_an_oversized_pdu_gets_a_generic_nack_and_the_connection_is_closed():
    smsc = await FakeSmsc().start()
    try:
        reader, writer, _ = await connect(smsc)
        writer.write(struct.pack(">IIII", 1 << 30, 0x00000004, 0, 12))  # a gigabyte declared
        assert await read_pdu(reader) == Pdu(GenericNack(), 12, Status.INVALID_COMMAND_LENGTH)
        assert await reader.read() == b""  # closed by the gateway; it still serves new connections
        _, writer2, response = await connect(smsc)
        assert response.status == Status.OK
        writer.close()
        writer2.close()
    finally:
        await smsc.stop()


@run_async
async def test_the_fake_pushes_a_message_and_can_restart_on_the_same_port():
    smsc = await FakeSmsc().start()
    try:
        reader, writer, _ = await connect(smsc)
        push = asyncio.ensure_future(smsc.deliver_mo("13812341234", "你好"))
        request = await read_pdu(reader)
        assert isinstance(request.body, DeliverSm) and request.body.short_message == "你好".encode("utf-16-be")
        writer.write(encode(Pdu(DeliverSmResp(), request.sequence)))
        assert await push == [Status.OK]
        port = smsc.port
        await smsc.stop(graceful=False)
        assert await reader.read() == b""
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
        await smsc.start()
        assert smsc.port == port
        _, writer2, response = await connect(smsc)
        assert response.status == Status.OK
        writer2.close()
    finally:
        await smsc.stop()
