"""The SMPP 3.4 PDUs this project speaks, encoded and decoded (pure functions, no I/O).

A PDU is a 16-byte header (command_length, command_id, command_status, sequence_number, big-endian) and a body.
The bodies here: bind_transceiver / bind_transmitter and their _resp, submit_sm / deliver_sm (the same layout) and
their _resp, enquire_link, unbind and their _resp, generic_nack; optional parameters (TLVs) after the mandatory ones,
receipted_message_id and message_state among them.

Text: Chinese needs UCS-2, so every outbound text is sent with data_coding 8 (UTF-16-BE, so characters outside the
BMP survive as surrogate pairs). A text over 70 UCS-2 characters is cut into segments of at most 67 characters, each
carrying a concatenation user-data header (UDH `05 00 03 <ref> <total> <seq>`, 8-bit reference, esm_class bit 0x40)
so the phone shows one long SMS; a surrogate pair is never split. Inbound texts are decoded from data_coding 0
(the SMSC default, read as ASCII), 3 (Latin-1), 8 (UCS-2) or 15 (GBK, used by Chinese gateways).

Errors: a frame whose length is impossible (under 16 bytes, or over `MAX_PDU_BYTES`) raises `FramingError`: the
stream cannot be trusted after it, so the connection is dropped and made again. A frame of sane length whose body
cannot be read (or whose command is unknown) raises `PduError` with the sequence number and the SMPP status to answer
in a generic_nack; the connection carries on.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import ClassVar

__all__ = [
    "DATA_CODING_UCS2",
    "ESM_DELIVERY_RECEIPT",
    "ESM_UDHI",
    "HEADER",
    "MAX_PDU_BYTES",
    "MAX_SEGMENTS",
    "SEGMENT_UNITS",
    "SINGLE_UNITS",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "Body",
    "DeliverSm",
    "DeliverSmResp",
    "DeliveryReceipt",
    "EnquireLink",
    "EnquireLinkResp",
    "FramingError",
    "GenericNack",
    "Pdu",
    "PduError",
    "Segment",
    "ShortMessage",
    "Status",
    "SubmitSm",
    "SubmitSmResp",
    "Tag",
    "Unbind",
    "UnbindResp",
    "decode",
    "decode_text",
    "encode",
    "frame_length",
    "parse_receipt",
    "read_segment",
    "segments_for",
]

HEADER = struct.Struct(">IIII")
MAX_PDU_BYTES = 16 * 1024  # far above any PDU this service sends or expects (a submit_sm is under 400 bytes)
DATA_CODING_UCS2 = 8
ESM_UDHI = 0x40  # the short message starts with a user-data header
ESM_DELIVERY_RECEIPT = 0x04  # deliver_sm message type: an SMSC delivery receipt
SINGLE_UNITS = 70  # UTF-16 code units in one UCS-2 SMS (140 octets)
SEGMENT_UNITS = 67  # in one segment of a long SMS (140 octets less the 6-octet UDH)
MAX_SEGMENTS = 255


class Status:
    """The SMPP command_status values this project uses (SMPP 3.4, section 5.1.3)."""

    OK = 0x00000000
    INVALID_MESSAGE_LENGTH = 0x00000001  # ESME_RINVMSGLEN
    INVALID_COMMAND_LENGTH = 0x00000002  # ESME_RINVCMDLEN
    INVALID_COMMAND_ID = 0x00000003  # ESME_RINVCMDID
    INCORRECT_BIND_STATUS = 0x00000004  # ESME_RINVBNDSTS
    ALREADY_BOUND = 0x00000005  # ESME_RALYBND
    SYSTEM_ERROR = 0x00000008  # ESME_RSYSERR
    INVALID_DESTINATION = 0x0000000B  # ESME_RINVDSTADR
    BIND_FAILED = 0x0000000D  # ESME_RBINDFAIL
    INVALID_PASSWORD = 0x0000000E  # ESME_RINVPASWD
    INVALID_SYSTEM_ID = 0x0000000F  # ESME_RINVSYSID
    MESSAGE_QUEUE_FULL = 0x00000014  # ESME_RMSGQFUL
    THROTTLED = 0x00000058  # ESME_RTHROTTLED
    INVALID_OPTIONAL_PARAMETER = 0x000000C3  # ESME_RINVOPTPARAMVAL (also used for a TLV that overruns)
    TEMPORARY_APP_ERROR = 0x00000064  # ESME_RX_T_APPN: the SMSC should retry the deliver_sm
    UNKNOWN_ERROR = 0x000000FF  # ESME_RUNKNOWNERR

    THROTTLING: ClassVar[frozenset[int]] = frozenset({MESSAGE_QUEUE_FULL, THROTTLED})  # not taken: send later


class Tag:
    """Optional-parameter tags (SMPP 3.4, section 5.3.2)."""

    USER_MESSAGE_REFERENCE = 0x0204
    SAR_MSG_REF_NUM = 0x020C
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    RECEIPTED_MESSAGE_ID = 0x001E
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    MESSAGE_STATE = 0x0427


MESSAGE_STATES = {
    1: "ENROUTE",
    2: "DELIVERED",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIVERABLE",
    6: "ACCEPTED",
    7: "UNKNOWN",
    8: "REJECTED",
}
_FINAL_STATE_WORDS = {"DELIVRD": "DELIVERED", "EXPIRED": "EXPIRED", "DELETED": "DELETED", "UNDELIV": "UNDELIVERABLE"}


class PduError(ValueError):
    """A PDU of sane length that cannot be read: answer it with a generic_nack of `status` (and `sequence`)."""

    def __init__(self, message: str, *, status: int, sequence: int = 0, command_id: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.sequence = sequence
        self.command_id = command_id


class FramingError(PduError):
    """The header gives an impossible length: the byte stream cannot be followed any further."""


# -- reading and writing fields --------------------------------------------------------------------------------------


class _Cursor:
    """Reads a PDU body field by field; every overrun is a `ValueError` naming the field."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def cstring(self, name: str, max_octets: int) -> str:
        """A NUL-terminated ASCII string of at most `max_octets` octets, the NUL included."""
        end = self.data.find(b"\x00", self.at, self.at + max_octets)
        if end < 0:
            raise ValueError(f"{name} is not NUL-terminated within {max_octets} octets")
        raw = self.data[self.at : end]
        self.at = end + 1
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError(f"{name} is not ASCII") from None

    def octet(self, name: str) -> int:
        if self.at >= len(self.data):
            raise ValueError(f"the body ends before {name}")
        value = self.data[self.at]
        self.at += 1
        return value

    def octets(self, name: str, count: int) -> bytes:
        if self.at + count > len(self.data):
            raise ValueError(f"{name} runs past the end of the body ({count} octets declared)")
        value = self.data[self.at : self.at + count]
        self.at += count
        return value

    def tlvs(self) -> tuple[tuple[int, bytes], ...]:
        """The optional parameters that fill the rest of the body."""
        found = []
        while self.at < len(self.data):
            if self.at + 4 > len(self.data):
                raise ValueError("a truncated optional parameter header ends the body")
            tag, length = struct.unpack_from(">HH", self.data, self.at)
            self.at += 4
            found.append((tag, self.octets(f"optional parameter 0x{tag:04x}", length)))
        return tuple(found)

    def end(self) -> None:
        if self.at != len(self.data):
            raise ValueError(f"{len(self.data) - self.at} unexpected octet(s) after the body")


def _cstring(value: str, name: str, max_octets: int) -> bytes:
    raw = value.encode("ascii")
    if len(raw) + 1 > max_octets or b"\x00" in raw:
        raise ValueError(f"{name} must be ASCII of at most {max_octets - 1} characters")
    return raw + b"\x00"


def _tlvs(tlvs: tuple[tuple[int, bytes], ...]) -> bytes:
    return b"".join(struct.pack(">HH", tag, len(value)) + value for tag, value in tlvs)


# -- bodies ----------------------------------------------------------------------------------------------------------


class Body:
    """A PDU's body; each subclass names its command_id."""

    command_id: ClassVar[int]

    def encode_body(self) -> bytes:
        return b""

    @classmethod
    def decode_body(cls, cursor: _Cursor, status: int) -> Body:
        cursor.end()
        return cls()


@dataclass(frozen=True)
class _Bind(Body):
    system_id: str
    password: str
    system_type: str = ""
    interface_version: int = 0x34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""

    def encode_body(self) -> bytes:
        return (
            _cstring(self.system_id, "system_id", 16)
            + _cstring(self.password, "password", 9)
            + _cstring(self.system_type, "system_type", 13)
            + bytes([self.interface_version, self.addr_ton, self.addr_npi])
            + _cstring(self.address_range, "address_range", 41)
        )

    @classmethod
    def decode_body(cls, cursor: _Cursor, status: int) -> Body:
        body = cls(
            cursor.cstring("system_id", 16),
            cursor.cstring("password", 9),
            cursor.cstring("system_type", 13),
            cursor.octet("interface_version"),
            cursor.octet("addr_ton"),
            cursor.octet("addr_npi"),
            cursor.cstring("address_range", 41),
        )
        cursor.end()
        return body

    def __repr__(self) -> str:  # never the password in a log line
        return f"{type(self).__name__}(system_id={self.system_id!r}, system_type={self.system_type!r})"


@dataclass(frozen=True, repr=False)
class BindTransceiver(_Bind):
    """bind_transceiver: submit and receive on one connection (the Rasa server's SMS channel)."""

    command_id: ClassVar[int] = 0x00000009


@dataclass(frozen=True, repr=False)
class BindTransmitter(_Bind):
    """bind_transmitter: submit only, so no MO or receipt is routed to a process that cannot handle it."""

    command_id: ClassVar[int] = 0x00000002


@dataclass(frozen=True)
class _BindResp(Body):
    system_id: str = ""
    tlvs: tuple[tuple[int, bytes], ...] = ()

    def encode_body(self) -> bytes:
        return _cstring(self.system_id, "system_id", 16) + _tlvs(self.tlvs)

    @classmethod
    def decode_body(cls, cursor: _Cursor, status: int) -> Body:
        if status != Status.OK and not cursor.data:
            return cls()  # an error response may carry no body
        return cls(cursor.cstring("system_id", 16), cursor.tlvs())


@dataclass(frozen=True)
class BindTransceiverResp(_BindResp):
    command_id: ClassVar[int] = 0x80000009


@dataclass(frozen=True)
class BindTransmitterResp(_BindResp):
    command_id: ClassVar[int] = 0x80000002


@dataclass(frozen=True)
class ShortMessage(Body):
    """The submit_sm / deliver_sm body (the same fields, in the same order)."""

    source_addr: str = ""
    destination_addr: str = ""
    short_message: bytes = b""
    esm_class: int = 0
    data_coding: int = DATA_CODING_UCS2
    registered_delivery: int = 0
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    replace_if_present_flag: int = 0
    sm_default_msg_id: int = 0
    tlvs: tuple[tuple[int, bytes], ...] = field(default=())

    def encode_body(self) -> bytes:
        if len(self.short_message) > 254:
            raise ValueError("short_message is over 254 octets (use segments)")
        return (
            _cstring(self.service_type, "service_type", 6)
            + bytes([self.source_addr_ton, self.source_addr_npi])
            + _cstring(self.source_addr, "source_addr", 21)
            + bytes([self.dest_addr_ton, self.dest_addr_npi])
            + _cstring(self.destination_addr, "destination_addr", 21)
            + bytes([self.esm_class, self.protocol_id, self.priority_flag])
            + _cstring(self.schedule_delivery_time, "schedule_delivery_time", 17)
            + _cstring(self.validity_period, "validity_period", 17)
            + bytes([self.registered_delivery, self.replace_if_present_flag, self.data_coding, self.sm_default_msg_id])
            + bytes([len(self.short_message)])
            + self.short_message
            + _tlvs(self.tlvs)
        )

    @classmethod
    def decode_body(cls, cursor: _Cursor, status: int) -> Body:
        service_type = cursor.cstring("service_type", 6)
        source_ton, source_npi = cursor.octet("source_addr_ton"), cursor.octet("source_addr_npi")
        source = cursor.cstring("source_addr", 21)
        dest_ton, dest_npi = cursor.octet("dest_addr_ton"), cursor.octet("dest_addr_npi")
        destination = cursor.cstring("destination_addr", 21)
        esm_class, protocol_id, priority = cursor.octet("esm_class"), cursor.octet("protocol_id"), cursor.octet("p")
        schedule = cursor.cstring("schedule_delivery_time", 17)
        validity = cursor.cstring("validity_period", 17)
        registered, replace = cursor.octet("registered_delivery"), cursor.octet("replace_if_present_flag")
        data_coding, default_msg_id = cursor.octet("data_coding"), cursor.octet("sm_default_msg_id")
        message = cursor.octets("short_message", cursor.octet("sm_length"))
        return cls(
            source_addr=source,
            destination_addr=destination,
            short_message=message,
            esm_class=esm_class,
            data_coding=data_coding,
            registered_delivery=registered,
            service_type=service_type,
            source_addr_ton=source_ton,
            source_addr_npi=source_npi,
            dest_addr_ton=dest_ton,
            dest_addr_npi=dest_npi,
            protocol_id=protocol_id,
            priority_flag=priority,
            schedule_delivery_time=schedule,
            validity_period=validity,
            replace_if_present_flag=replace,
            sm_default_msg_id=default_msg_id,
            tlvs=cursor.tlvs(),
        )

    def tlv(self, tag: int) -> bytes | None:
        """The value of optional parameter `tag`, or None."""
        return next((value for found, value in self.tlvs if found == tag), None)

    @property
    def payload(self) -> bytes:
        """The message octets: message_payload when the short message is empty and it is given."""
        if not self.short_message and (payload := self.tlv(Tag.MESSAGE_PAYLOAD)) is not None:
            return payload
        return self.short_message


@dataclass(frozen=True)
class SubmitSm(ShortMessage):
    """submit_sm: one (segment of an) SMS to a phone."""

    command_id: ClassVar[int] = 0x00000004


@dataclass(frozen=True)
class DeliverSm(ShortMessage):
    """deliver_sm: a mobile-originated message, or (esm_class bit 0x04) a delivery receipt."""

    command_id: ClassVar[int] = 0x00000005

    @property
    def is_receipt(self) -> bool:
        return bool(self.esm_class & ESM_DELIVERY_RECEIPT)


@dataclass(frozen=True)
class _MessageIdResp(Body):
    message_id: str = ""

    def encode_body(self) -> bytes:
        return _cstring(self.message_id, "message_id", 65)

    @classmethod
    def decode_body(cls, cursor: _Cursor, status: int) -> Body:
        if status != Status.OK and not cursor.data:
            return cls()
        body = cls(cursor.cstring("message_id", 65))
        cursor.tlvs()  # SMPP 5.0 SMSCs may append TLVs; they are not needed here
        return body


@dataclass(frozen=True)
class SubmitSmResp(_MessageIdResp):
    """submit_sm_resp: the SMSC's message id for the segment (the one its receipt will name)."""

    command_id: ClassVar[int] = 0x80000004


@dataclass(frozen=True)
class DeliverSmResp(_MessageIdResp):
    command_id: ClassVar[int] = 0x80000005


@dataclass(frozen=True)
class EnquireLink(Body):
    command_id: ClassVar[int] = 0x00000015


@dataclass(frozen=True)
class EnquireLinkResp(Body):
    command_id: ClassVar[int] = 0x80000015


@dataclass(frozen=True)
class Unbind(Body):
    command_id: ClassVar[int] = 0x00000006


@dataclass(frozen=True)
class UnbindResp(Body):
    command_id: ClassVar[int] = 0x80000006


@dataclass(frozen=True)
class GenericNack(Body):
    command_id: ClassVar[int] = 0x80000000

    @classmethod
    def decode_body(cls, cursor: _Cursor, status: int) -> Body:
        return cls()  # whatever a peer puts in a nack, the header says it all


BODIES: dict[int, type[Body]] = {
    body.command_id: body
    for body in (
        BindTransceiver,
        BindTransceiverResp,
        BindTransmitter,
        BindTransmitterResp,
        SubmitSm,
        SubmitSmResp,
        DeliverSm,
        DeliverSmResp,
        EnquireLink,
        EnquireLinkResp,
        Unbind,
        UnbindResp,
        GenericNack,
    )
}


# -- PDUs ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pdu:
    """One PDU: its body (which fixes the command_id), sequence number and command_status."""

    body: Body
    sequence: int
    status: int = Status.OK

    @property
    def command_id(self) -> int:
        return self.body.command_id

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & 0x80000000)


def encode(pdu: Pdu) -> bytes:
    """The PDU's bytes on the wire."""
    body = pdu.body.encode_body()
    return HEADER.pack(HEADER.size + len(body), pdu.command_id, pdu.status, pdu.sequence) + body


def frame_length(header: bytes, max_bytes: int = MAX_PDU_BYTES) -> int:
    """The command_length a 16-byte header declares; `FramingError` when it is under 16 or over `max_bytes`."""
    length, command_id, _status, sequence = HEADER.unpack(header)
    if length < HEADER.size or length > max_bytes:
        raise FramingError(
            f"command_length {length} is outside 16..{max_bytes}",
            status=Status.INVALID_COMMAND_LENGTH,
            sequence=sequence,
            command_id=command_id,
        )
    return length


def decode(frame: bytes, max_bytes: int = MAX_PDU_BYTES) -> Pdu:
    """The PDU in one whole frame (header and body). `FramingError` for an impossible length, `PduError` for an
    unknown command or an unreadable body."""
    if len(frame) < HEADER.size:
        raise FramingError(f"a PDU of {len(frame)} octets has no whole header", status=Status.INVALID_COMMAND_LENGTH)
    length = frame_length(frame[: HEADER.size], max_bytes)
    _length, command_id, status, sequence = HEADER.unpack_from(frame)
    if length != len(frame):
        raise FramingError(
            f"command_length {length} but {len(frame)} octets",
            status=Status.INVALID_COMMAND_LENGTH,
            sequence=sequence,
            command_id=command_id,
        )
    body_type = BODIES.get(command_id)
    if body_type is None:
        raise PduError(
            f"unknown command_id 0x{command_id:08x}",
            status=Status.INVALID_COMMAND_ID,
            sequence=sequence,
            command_id=command_id,
        )
    try:
        body = body_type.decode_body(_Cursor(frame[HEADER.size :]), status)
    except ValueError as error:
        code = (
            Status.INVALID_OPTIONAL_PARAMETER if "optional parameter" in str(error) else Status.INVALID_COMMAND_LENGTH
        )
        raise PduError(
            f"{body_type.__name__}: {error}", status=code, sequence=sequence, command_id=command_id
        ) from None
    return Pdu(body, sequence, status)


# -- text, segments and receipts -------------------------------------------------------------------------------------


def segments_for(text: str, reference: int) -> list[tuple[bytes, int]]:
    """(short_message, esm_class) for each segment of `text` in UCS-2: one without a header when it fits in 70
    UTF-16 units, else segments of at most 67 units, each with the 8-bit-reference concatenation header, a
    surrogate pair never cut. `ValueError` for an empty text or one over 255 segments."""
    if not text:
        raise ValueError("an SMS needs some text")
    units = text.encode("utf-16-be")
    if len(units) <= SINGLE_UNITS * 2:
        return [(units, 0)]
    chunks: list[bytes] = []
    at = 0
    while at < len(units):
        end = min(at + SEGMENT_UNITS * 2, len(units))
        if end < len(units) and 0xD8 <= units[end - 2] <= 0xDB:  # a high surrogate ends the chunk: keep the pair
            end -= 2
        chunks.append(units[at:end])
        at = end
    if len(chunks) > MAX_SEGMENTS:
        raise ValueError(f"the text needs {len(chunks)} segments, over {MAX_SEGMENTS}")
    reference &= 0xFF
    return [(bytes([5, 0, 3, reference, len(chunks), seq]) + chunk, ESM_UDHI) for seq, chunk in enumerate(chunks, 1)]


@dataclass(frozen=True)
class Segment:
    """One part of a concatenated message: its reference, the number of parts, its place (from 1), its octets."""

    reference: int
    total: int
    number: int
    data: bytes


def read_segment(message: ShortMessage) -> Segment | None:
    """The concatenation header of a message (UDH 8- or 16-bit reference, or the sar_* TLVs), or None when the
    message is whole. `ValueError` for a header that overruns or numbers its part outside 1..total."""
    payload = message.payload
    if message.esm_class & ESM_UDHI:
        if not payload or payload[0] + 1 > len(payload):
            raise ValueError("the user-data header runs past the message")
        header, data = payload[1 : payload[0] + 1], payload[payload[0] + 1 :]
        at = 0
        while at + 2 <= len(header):
            ie, size = header[at], header[at + 1]
            value = header[at + 2 : at + 2 + size]
            if len(value) != size:
                raise ValueError("an element of the user-data header overruns it")
            if ie == 0x00 and size == 3:
                return _segment(value[0], value[1], value[2], data)
            if ie == 0x08 and size == 4:
                return _segment(int.from_bytes(value[:2], "big"), value[2], value[3], data)
            at += 2 + size
        return Segment(0, 1, 1, data)  # a header without concatenation (e.g. port addressing)
    reference, total, number = (
        message.tlv(tag) for tag in (Tag.SAR_MSG_REF_NUM, Tag.SAR_TOTAL_SEGMENTS, Tag.SAR_SEGMENT_SEQNUM)
    )
    if reference is not None and total and number:
        return _segment(int.from_bytes(reference, "big"), total[0], number[0], payload)
    return None


def _segment(reference: int, total: int, number: int, data: bytes) -> Segment:
    if total < 1 or not 1 <= number <= total:
        raise ValueError(f"segment {number} of {total} is not a place in a message")
    return Segment(reference, total, number, data)


def decode_text(data: bytes, data_coding: int) -> str:
    """The text of message octets in `data_coding` (0 SMSC default read as ASCII, 3 Latin-1, 8 UCS-2, 15 GBK);
    `ValueError` for another coding or octets that are not text in it."""
    try:
        if data_coding == DATA_CODING_UCS2:
            if len(data) % 2:
                raise ValueError("UCS-2 text of an odd number of octets")
            return data.decode("utf-16-be")
        if data_coding == 0:
            return data.decode("ascii")
        if data_coding == 3:
            return data.decode("latin-1")
        if data_coding == 15:
            return data.decode("gbk")
    except UnicodeDecodeError as error:
        raise ValueError(f"octets are not text in data_coding {data_coding}: {error.reason}") from None
    raise ValueError(f"data_coding {data_coding} is not a text coding this service reads")


@dataclass(frozen=True)
class DeliveryReceipt:
    """What a delivery receipt says: the SMSC's id of the message, whether it reached the phone, and why not."""

    message_id: str
    delivered: bool
    state: str  # DELIVERED, EXPIRED, UNDELIVERABLE, REJECTED, ...
    error: str = ""
    phone: str = ""  # the handset's address as the gateway gives it (the receipt's source_addr)

    @property
    def final(self) -> bool:
        """Whether the state is the message's last (not ENROUTE or ACCEPTED, which a later receipt follows)."""
        return self.state not in ("ENROUTE", "ACCEPTED")


_RECEIPT_FIELD = re.compile(r"(id|stat|err):\s*(\S+)", re.IGNORECASE)


def parse_receipt(message: DeliverSm) -> DeliveryReceipt:
    """The receipt in a deliver_sm: the receipted_message_id and message_state TLVs when present, else the text
    form "id:… sub:… dlvrd:… submit date:… done date:… stat:DELIVRD err:…". `ValueError` when neither names an id."""
    fields: dict[str, str] = {}
    try:
        text = message.payload.decode("ascii" if message.data_coding != DATA_CODING_UCS2 else "utf-16-be")
    except UnicodeDecodeError:
        text = ""
    for name, value in _RECEIPT_FIELD.findall(text):
        fields.setdefault(name.lower(), value)
    raw_id = message.tlv(Tag.RECEIPTED_MESSAGE_ID)
    message_id = raw_id.rstrip(b"\x00").decode("ascii", "replace") if raw_id else fields.get("id", "")
    if not message_id:
        raise ValueError("the delivery receipt names no message id")
    raw_state = message.tlv(Tag.MESSAGE_STATE)
    if raw_state:
        state = MESSAGE_STATES.get(raw_state[0], f"STATE_{raw_state[0]}")
    else:
        word = fields.get("stat", "UNKNOWN").upper()
        state = _FINAL_STATE_WORDS.get(word, word)
    error = fields.get("err", "")
    if (network := message.tlv(Tag.NETWORK_ERROR_CODE)) and len(network) == 3:
        error = error or f"network {network[0]}:{int.from_bytes(network[1:], 'big')}"
    return DeliveryReceipt(
        message_id, state == "DELIVERED", state, "" if error in ("000", "0") else error, message.source_addr
    )
