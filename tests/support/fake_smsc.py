"""A fake SMSC for the SMPP provider's tests: an asyncio SMPP 3.4 server on 127.0.0.1 that speaks the protocol.

It accepts bind_transceiver / bind_transmitter with one system_id and password, answers submit_sm with a message id
of its own, enquire_link and unbind, and a malformed PDU with a generic_nack (keeping the connection); it records
binds, submits and enquire_links, and reassembles concatenated submits (UDH) into whole messages. A test can push
mobile-originated messages and delivery receipts to a bound transceiver, hold submit responses (so submits stay
outstanding), make the next submits fail with a status, and stop the server (gracefully, with an unbind, or by
dropping every connection) and start it again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from dataclasses import dataclass, field

from channels.sms.smpp.pdu import (
    DATA_CODING_UCS2,
    ESM_DELIVERY_RECEIPT,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DeliverSm,
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
    decode_text,
    encode,
    read_segment,
    segments_for,
)
from channels.sms.smpp.stream import read_pdu

__all__ = ["FakeSmsc", "FakeSmscThread", "ReceivedMessage"]


@dataclass(frozen=True)
class ReceivedMessage:
    """A whole message the fake received: its destination, its text, and the message ids of its segments."""

    destination: str
    text: str
    message_ids: tuple[str, ...]
    registered_delivery: int


@dataclass(eq=False)
class _Session:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    bound: str = ""  # "transceiver", "transmitter" or "" before a bind
    waiting: dict[int, asyncio.Future[Pdu]] = field(default_factory=dict)


class FakeSmsc:
    """The fake gateway. `await start()` (a random free port the first time, the same port after a stop)."""

    def __init__(self, system_id: str = "nxa", password: str = "secret") -> None:
        self.system_id = system_id
        self.password = password
        self.port = 0
        self.binds: list[tuple[str, str]] = []  # (kind, system_id) of every bind attempt, refused ones included
        self.submits: list[tuple[SubmitSm, str]] = []  # every submit_sm answered OK, with the id given
        self.messages: list[ReceivedMessage] = []  # whole messages, reassembled from their segments
        self.enquire_links = 0
        self.nacks_received: list[Pdu] = []
        self.fail_next: list[int] = []  # statuses to answer the next submits with, in order
        self.mute = False  # True: read everything, answer nothing (a gateway that hangs)
        self.hold = asyncio.Event()  # set: submits are recorded but not answered until `release()`
        self._held: list[tuple[_Session, Pdu]] = []
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._parts: dict[tuple[str, int], dict[int, tuple[bytes, str, int]]] = {}
        self._ids = itertools.count(0x5A3F0001)
        self._sequence = itertools.count(1)

    @property
    def bound(self) -> list[str]:
        """The kinds of the sessions bound now."""
        return [session.bound for session in self._sessions if session.bound]

    async def start(self) -> FakeSmsc:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self, *, graceful: bool = True) -> None:
        """Stop listening and end every session: with an unbind (answered or not within a second) when `graceful`,
        else by dropping the connections at once (a crash: held submits are never answered)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for session in list(self._sessions):
            if graceful and session.bound:
                with contextlib.suppress(TimeoutError, ConnectionError):
                    await asyncio.wait_for(self._request(session, Unbind()), 1.0)
            if graceful:
                session.writer.close()
            else:
                session.writer.transport.abort()
        self._held.clear()
        self.hold.clear()
        if self._tasks:  # each session's task ends on its closed connection
            _done, late = await asyncio.wait(list(self._tasks), timeout=5.0)
            for task in late:
                task.cancel()
        self._sessions.clear()

    async def release(self) -> None:
        """Answer the held submits and stop holding."""
        self.hold.clear()
        held, self._held = self._held, []
        for session, pdu in held:
            await self._answer_submit(session, pdu)

    async def wait_for(self, condition, timeout: float = 10.0) -> None:
        """Wait until `condition()` holds (polled), or fail the test after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.01)

    # -- pushing to the client ---------------------------------------------------------------------------------------

    def _receiver(self) -> _Session:
        for session in self._sessions:
            if session.bound == "transceiver":
                return session
        raise AssertionError("no transceiver is bound to the fake SMSC")

    async def deliver(self, message: DeliverSm, timeout: float = 10.0, *, sequence: int | None = None) -> int:
        """Push a deliver_sm to a bound transceiver; the status of its deliver_sm_resp. `sequence`: retransmit
        under the sequence number of an earlier one."""
        response = await asyncio.wait_for(self._request(self._receiver(), message, sequence), timeout)
        return response.status

    async def deliver_mo(
        self, source: str, text: str, *, destination: str = "106900", reference: int = 1, sequence: int | None = None
    ) -> list[int]:
        """Push a mobile-originated text (in UCS-2 segments, as a phone sends a long one); each segment's status.
        `sequence`: the (first) sequence number to use, to retransmit an earlier message as an SMSC does."""
        statuses = []
        for number, (short_message, esm) in enumerate(segments_for(text, reference)):
            message = DeliverSm(source, destination, short_message, esm_class=esm, data_coding=DATA_CODING_UCS2)
            statuses.append(await self.deliver(message, sequence=None if sequence is None else sequence + number))
        return statuses

    async def deliver_receipt(
        self, message_id: str, *, state: str = "DELIVRD", form: str = "tlv", error: str = "000"
    ) -> int:
        """Push a delivery receipt for `message_id`: the TLVs (`form="tlv"`) or only the text form (`"text"`)."""
        states = {"ENROUTE": 1, "DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "ACCEPTD": 6, "REJECTD": 8}
        text = (
            f"id:{message_id} sub:001 dlvrd:{'001' if state == 'DELIVRD' else '000'} submit date:2612021200 "
            f"done date:2612021201 stat:{state} err:{error} text:"
        ).encode("ascii")
        tlvs = ((Tag.RECEIPTED_MESSAGE_ID, message_id.encode() + b"\x00"), (Tag.MESSAGE_STATE, bytes([states[state]])))
        destination = next((m.destination for m in self.messages if message_id in m.message_ids), "13800000000")
        return await self.deliver(
            DeliverSm(
                destination,
                "106900",
                text,
                esm_class=ESM_DELIVERY_RECEIPT,
                data_coding=0,
                tlvs=tlvs if form == "tlv" else (),
            )
        )

    async def send_raw(self, data: bytes) -> None:
        """Write raw bytes to a bound transceiver (malformed PDUs for the client)."""
        session = self._receiver()
        session.writer.write(data)
        await session.writer.drain()

    async def enquire(self, timeout: float = 5.0) -> Pdu:
        """Send an enquire_link to a bound transceiver; its response."""
        return await asyncio.wait_for(self._request(self._receiver(), EnquireLink()), timeout)

    async def _request(self, session: _Session, body, sequence: int | None = None) -> Pdu:
        sequence = next(self._sequence) if sequence is None else sequence
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        session.waiting[sequence] = future
        try:
            await self._send(session, Pdu(body, sequence))
            return await future
        finally:
            session.waiting.pop(sequence, None)

    # -- serving -----------------------------------------------------------------------------------------------------

    async def _send(self, session: _Session, pdu: Pdu) -> None:
        session.writer.write(encode(pdu))
        await session.writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(reader, writer)
        self._sessions.add(session)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                try:
                    pdu = await read_pdu(reader)
                except FramingError as error:
                    await self._send(session, Pdu(GenericNack(), error.sequence, error.status))
                    break
                except PduError as error:
                    await self._send(session, Pdu(GenericNack(), error.sequence, error.status))
                    continue
                if not await self._handle(session, pdu):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._sessions.discard(session)
            self._tasks.discard(task)
            for future in session.waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError("the client went away"))
            writer.close()

    async def _handle(self, session: _Session, pdu: Pdu) -> bool:
        """Answer one PDU; False when the session ends."""
        body = pdu.body
        if self.mute:
            return True
        if pdu.is_response:
            if isinstance(body, GenericNack):
                self.nacks_received.append(pdu)
            if (future := session.waiting.get(pdu.sequence)) is not None and not future.done():
                future.set_result(pdu)
            return True
        if isinstance(body, (BindTransceiver, BindTransmitter)):
            kind = "transceiver" if isinstance(body, BindTransceiver) else "transmitter"
            self.binds.append((kind, body.system_id))
            response = BindTransceiverResp if kind == "transceiver" else BindTransmitterResp
            if session.bound:
                status = Status.ALREADY_BOUND
            elif body.system_id != self.system_id:
                status = Status.INVALID_SYSTEM_ID
            elif body.password != self.password:
                status = Status.INVALID_PASSWORD
            else:
                status, session.bound = Status.OK, kind
            await self._send(session, Pdu(response("fake-smsc" if status == Status.OK else ""), pdu.sequence, status))
            return True
        if isinstance(body, EnquireLink):
            self.enquire_links += 1
            await self._send(session, Pdu(EnquireLinkResp(), pdu.sequence))
            return True
        if isinstance(body, Unbind):
            await self._send(session, Pdu(UnbindResp(), pdu.sequence))
            return False
        if not session.bound:
            await self._send(session, Pdu(GenericNack(), pdu.sequence, Status.INCORRECT_BIND_STATUS))
            return True
        if isinstance(body, SubmitSm):
            if self.hold.is_set():
                self._held.append((session, pdu))
            else:
                await self._answer_submit(session, pdu)
            return True
        await self._send(session, Pdu(GenericNack(), pdu.sequence, Status.INVALID_COMMAND_ID))
        return True

    async def _answer_submit(self, session: _Session, pdu: Pdu) -> None:
        body = pdu.body
        assert isinstance(body, SubmitSm)
        if self.fail_next:
            await self._send(session, Pdu(SubmitSmResp(), pdu.sequence, self.fail_next.pop(0)))
            return
        message_id = f"{next(self._ids):08x}"
        self.submits.append((body, message_id))
        self._assemble(body, message_id)
        await self._send(session, Pdu(SubmitSmResp(message_id), pdu.sequence))

    def _assemble(self, body: SubmitSm, message_id: str) -> None:
        segment = read_segment(body)
        if segment is None or segment.total == 1:
            data = body.payload if segment is None else segment.data
            self.messages.append(
                ReceivedMessage(
                    body.destination_addr, decode_text(data, body.data_coding), (message_id,), body.registered_delivery
                )
            )
            return
        key = (body.destination_addr, segment.reference)
        parts = self._parts.setdefault(key, {})
        parts[segment.number] = (segment.data, message_id, body.registered_delivery)
        if len(parts) == segment.total:
            del self._parts[key]
            ordered = [parts[number] for number in range(1, segment.total + 1)]
            self.messages.append(
                ReceivedMessage(
                    body.destination_addr,
                    decode_text(b"".join(data for data, _, _ in ordered), body.data_coding),
                    tuple(message_id for _, message_id, _ in ordered),
                    body.registered_delivery,
                )
            )


class FakeSmscThread:
    """A `FakeSmsc` served by an event loop of its own in a thread, for tests whose client is another process
    (the real assistant): `run(lambda smsc: coroutine)` runs a call on the gateway's loop and returns its result."""

    def __init__(self, **options: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-smsc", daemon=True)
        self.thread.start()
        self.smsc: FakeSmsc = self._call(self._make(options))

    @staticmethod
    async def _make(options: dict[str, str]) -> FakeSmsc:
        return await FakeSmsc(**options).start()

    def _call(self, coroutine, timeout: float = 60.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def run(self, call, timeout: float = 60.0):
        """The result of `await call(smsc)` on the gateway's loop."""

        async def invoke():
            return await call(self.smsc)

        return self._call(invoke(), timeout)

    def close(self) -> None:
        self.run(lambda smsc: smsc.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
