"""channels/sms/smpp/pdu.py: PDUs against bytes written out from the SMPP 3.4 layout by hand, round trips, UCS-2
segments with their concatenation headers, delivery receipts in both forms, and every malformed frame refused with
the status a generic_nack should carry."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.sms.smpp.pdu import (
    ESM_DELIVERY_RECEIPT,
    ESM_UDHI,
    MAX_PDU_BYTES,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    FramingError,
    GenericNack,
    Pdu,
    PduError,
    Status,
    SubmitSm,
    SubmitSmResp,
    Tag,
    Unbind,
    UnbindResp,
    decode,
    decode_text,
    encode,
    frame_length,
    parse_receipt,
    read_segment,
    segments_for,
)


def header(length: int, command_id: int, status: int = 0, sequence: int = 1) -> bytes:
    return struct.pack(">IIII", length, command_id, status, sequence)


def test_enquire_link_is_a_bare_header():
    assert encode(Pdu(EnquireLink(), 1)) == bytes.fromhex("00000010000000150000000000000001")
    assert decode(bytes.fromhex("00000010800000150000000000000001")) == Pdu(EnquireLinkResp(), 1)


def test_bind_transceiver_matches_the_layout_of_the_specification():
    body = b"nxa\x00secret\x00\x00" + bytes([0x34, 0, 0]) + b"\x00"
    expected = header(16 + len(body), 0x00000009, 0, 5) + body
    assert encode(Pdu(BindTransceiver("nxa", "secret"), 5)) == expected
    assert decode(expected) == Pdu(BindTransceiver("nxa", "secret"), 5)


def test_a_bind_never_shows_its_password():
    assert "secret" not in repr(BindTransceiver("nxa", "secret"))
    assert "secret" not in repr(BindTransmitter("nxa", "secret"))


def test_submit_sm_matches_the_layout_of_the_specification():
    text = "你好".encode("utf-16-be")
    body = (
        b"\x00"  # service_type
        + b"\x00\x00106900\x00"  # source ton, npi, addr
        + b"\x00\x0113812341234\x00"  # dest ton, npi, addr
        + bytes([0, 0, 0])  # esm_class, protocol_id, priority_flag
        + b"\x00\x00"  # schedule_delivery_time, validity_period
        + bytes([1, 0, 8, 0])  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id
        + bytes([len(text)])
        + text
    )
    pdu = Pdu(
        SubmitSm(
            source_addr="106900",
            destination_addr="13812341234",
            dest_addr_npi=1,
            short_message=text,
            registered_delivery=1,
        ),
        9,
    )
    assert encode(pdu) == header(16 + len(body), 0x00000004, 0, 9) + body
    assert decode(encode(pdu)) == pdu


@pytest.mark.parametrize(
    "pdu",
    [
        Pdu(BindTransceiverResp("smsc", ((Tag.SC_INTERFACE_VERSION, b"\x34"),)), 1),
        Pdu(BindTransceiverResp(), 2, Status.INVALID_PASSWORD),
        Pdu(SubmitSmResp("5a3f0001"), 3),
        Pdu(SubmitSmResp(), 4, Status.THROTTLED),
        Pdu(DeliverSmResp(), 5),
        Pdu(Unbind(), 6),
        Pdu(UnbindResp(), 7),
        Pdu(GenericNack(), 8, Status.INVALID_COMMAND_ID),
        Pdu(DeliverSm("8613812341234", "106900", "退订".encode("utf-16-be"), tlvs=((Tag.MESSAGE_STATE, b"\x02"),)), 9),
    ],
)
def test_every_pdu_survives_a_round_trip(pdu):
    assert decode(encode(pdu)) == pdu


def test_an_error_response_without_a_body_reads_as_empty():
    assert decode(header(16, 0x80000004, Status.MESSAGE_QUEUE_FULL, 3)) == Pdu(
        SubmitSmResp(""), 3, Status.MESSAGE_QUEUE_FULL
    )


# -- malformed and oversized ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 15, MAX_PDU_BYTES + 1, 0xFFFFFFFF])
def test_an_impossible_length_is_a_framing_error(length):
    with pytest.raises(FramingError, match="command_length") as raised:
        frame_length(header(length, 0x00000004, 0, 42))
    assert (raised.value.status, raised.value.sequence) == (Status.INVALID_COMMAND_LENGTH, 42)


def test_a_frame_shorter_than_its_length_is_a_framing_error():
    with pytest.raises(FramingError, match="command_length 40 but 16 octets"):
        decode(header(40, 0x00000015))


def test_an_unknown_command_is_answered_with_invalid_command_id():
    with pytest.raises(PduError, match="unknown command_id 0x00000103") as raised:
        decode(header(16, 0x00000103, 0, 77))
    assert not isinstance(raised.value, FramingError)
    assert (raised.value.status, raised.value.sequence) == (Status.INVALID_COMMAND_ID, 77)


def valid_deliver() -> bytes:
    return encode(Pdu(DeliverSm("13812341234", "106900", "你好".encode("utf-16-be")), 11))


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        # the body stops in the middle of the fields
        (lambda f: header(20, 0x00000005, 0, 11) + f[16:20], "the body ends before|not NUL-terminated"),
        # sm_length says more octets than there are
        (lambda f: f[:-5] + bytes([200]) + f[-4:], "short_message runs past the end"),
        # a source address with no NUL within 21 octets
        (lambda f: header(16 + 40, 0x00000005, 0, 11) + b"\x00\x00\x00" + b"1" * 37, "source_addr is not NUL"),
        # an optional parameter whose length runs past the body
        (lambda f: f + struct.pack(">HH", Tag.MESSAGE_STATE, 9) + b"\x02", "optional parameter 0x0427 runs past"),
        # a truncated optional-parameter header
        (lambda f: f + b"\x04", "truncated optional parameter"),
    ],
)
def test_a_malformed_body_is_a_pdu_error_naming_what_is_wrong(frame, message):
    raw = frame(valid_deliver())
    raw = struct.pack(">I", len(raw)) + raw[4:]  # the length is right: only the body is wrong
    with pytest.raises(PduError, match=message) as raised:
        decode(raw)
    assert not isinstance(raised.value, FramingError)
    assert raised.value.sequence == 11
    assert raised.value.status in (Status.INVALID_COMMAND_LENGTH, Status.INVALID_OPTIONAL_PARAMETER)


def test_a_bind_with_trailing_octets_is_refused():
    raw = encode(Pdu(BindTransceiver("nxa", "pw"), 1)) + b"\x01"
    raw = struct.pack(">I", len(raw)) + raw[4:]
    with pytest.raises(PduError, match="unexpected octet"):
        decode(raw)


def test_fields_over_their_size_are_refused_when_encoding():
    with pytest.raises(ValueError, match="system_id"):
        encode(Pdu(BindTransceiver("x" * 16, "pw"), 1))
    with pytest.raises(ValueError, match="254 octets"):
        encode(Pdu(SubmitSm("106", "138", b"x" * 255), 1))


# -- text and segments ----------------------------------------------------------------------------------------------


def test_seventy_chinese_characters_go_in_one_sms_without_a_header():
    [(message, esm)] = segments_for("字" * 70, 1)
    assert (len(message), esm) == (140, 0)


def test_a_long_text_is_cut_in_67_character_segments_with_the_8_bit_reference_header():
    text = "宁夏农民工政策助手：" * 20  # 200 characters
    parts = segments_for(text, 0x1A3)  # the reference is taken modulo 256
    assert [esm for _, esm in parts] == [ESM_UDHI] * 3
    assert [message[:6] for message, _ in parts] == [bytes([5, 0, 3, 0xA3, 3, n]) for n in (1, 2, 3)]
    assert [len(message) - 6 for message, _ in parts] == [134, 134, 132]
    assert b"".join(message[6:] for message, _ in parts).decode("utf-16-be") == text


def test_a_surrogate_pair_is_never_cut_between_segments():
    text = "字" * 66 + "😀" + "字" * 10
    parts = segments_for(text, 1)
    for message, _ in parts:
        message[6:].decode("utf-16-be")  # each segment on its own is whole text
    assert "".join(message[6:].decode("utf-16-be") for message, _ in parts) == text


def test_an_empty_text_or_one_over_255_segments_is_refused():
    with pytest.raises(ValueError, match="some text"):
        segments_for("", 1)
    with pytest.raises(ValueError, match="over 255"):
        segments_for("字" * 67 * 256, 1)


@given(st.text(min_size=1, max_size=600))
def test_any_text_comes_back_whole_from_its_segments(text):
    parts = segments_for(text, 7)
    assert all(len(message) <= 140 for message, _ in parts)
    rebuilt = []
    for number, (message, esm) in enumerate(parts, 1):
        segment = read_segment(SubmitSm("106", "138", message, esm_class=esm))
        if len(parts) == 1:
            assert segment is None
            rebuilt.append(message)
        else:
            assert segment is not None and (segment.reference, segment.total, segment.number) == (7, len(parts), number)
            rebuilt.append(segment.data)
    assert decode_text(b"".join(rebuilt), 8) == text


def test_segments_are_read_from_a_16_bit_header_and_from_sar_tlvs():
    udh16 = DeliverSm(short_message=bytes([6, 8, 4, 0x12, 0x34, 2, 1]) + "甲".encode("utf-16-be"), esm_class=ESM_UDHI)
    segment = read_segment(udh16)
    assert segment is not None and (segment.reference, segment.total, segment.number) == (0x1234, 2, 1)
    sar = DeliverSm(
        short_message=b"ab",
        tlvs=((Tag.SAR_MSG_REF_NUM, b"\x00\x09"), (Tag.SAR_TOTAL_SEGMENTS, b"\x02"), (Tag.SAR_SEGMENT_SEQNUM, b"\x02")),
    )
    assert read_segment(sar) == type(segment)(9, 2, 2, b"ab")


@pytest.mark.parametrize(
    "message",
    [bytes([9, 0, 3, 1, 2]), bytes([5, 0, 3, 1, 2, 3]), bytes([5, 0, 3, 1, 0, 0])],
    ids=["header-overruns", "part-3-of-2", "part-0-of-0"],
)
def test_a_bad_concatenation_header_is_refused(message):
    with pytest.raises(ValueError):
        read_segment(DeliverSm(short_message=message, esm_class=ESM_UDHI))


def test_text_codings_a_gateway_uses_are_read():
    assert decode_text("欠薪".encode("utf-16-be"), 8) == "欠薪"
    assert decode_text("欠薪".encode("gbk"), 15) == "欠薪"
    assert decode_text(b"TD", 0) == "TD"
    with pytest.raises(ValueError, match="data_coding 4"):
        decode_text(b"\x00", 4)
    with pytest.raises(ValueError, match="odd number"):
        decode_text(b"\x4e", 8)


# -- delivery receipts ----------------------------------------------------------------------------------------------


def test_a_receipt_is_read_from_its_tlvs():
    receipt = DeliverSm(
        "13812341234",
        "106900",
        b"",
        esm_class=ESM_DELIVERY_RECEIPT,
        tlvs=(
            (Tag.RECEIPTED_MESSAGE_ID, b"5a3f0001\x00"),
            (Tag.MESSAGE_STATE, b"\x05"),
            (Tag.NETWORK_ERROR_CODE, b"\x03\x00\x0b"),
        ),
    )
    assert receipt.is_receipt
    parsed = parse_receipt(receipt)
    assert (parsed.message_id, parsed.delivered, parsed.state, parsed.error) == (
        "5a3f0001",
        False,
        "UNDELIVERABLE",
        "network 3:11",
    )


def test_a_receipt_is_read_from_its_text_form():
    text = b"id:5a3f0002 sub:001 dlvrd:001 submit date:2612021200 done date:2612021201 stat:DELIVRD err:000 text:"
    parsed = parse_receipt(DeliverSm("13812341234", "106900", text, esm_class=ESM_DELIVERY_RECEIPT, data_coding=0))
    assert (parsed.message_id, parsed.delivered, parsed.state, parsed.error) == ("5a3f0002", True, "DELIVERED", "")
    failed = b"id:77 sub:001 dlvrd:000 submit date:2612021200 done date:2612021201 stat:UNDELIV err:011 text:"
    parsed = parse_receipt(DeliverSm(short_message=failed, esm_class=ESM_DELIVERY_RECEIPT, data_coding=0))
    assert (parsed.delivered, parsed.state, parsed.error) == (False, "UNDELIVERABLE", "011")


def test_a_receipt_without_an_id_is_refused():
    with pytest.raises(ValueError, match="no message id"):
        parse_receipt(DeliverSm(short_message=b"stat:DELIVRD", esm_class=ESM_DELIVERY_RECEIPT, data_coding=0))
