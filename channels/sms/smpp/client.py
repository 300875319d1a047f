"""One SMPP 3.4 connection to the carrier gateway (SMSC), kept bound for the life of the process.

`SmppClient.start()` runs a task that connects, binds (transceiver in the process that takes mobile-originated
messages, transmitter elsewhere so the gateway routes nothing to a process that cannot handle it), and then reads
PDUs until the connection ends, when it connects again after an exponential back-off (1 s, 2 s, 4 s … at most 60 s;
reset by a successful bind). An enquire_link every 30 s keeps the link up and finds a dead one.

Submits (`send_text`) wait for the bind when the client is between connections (up to `queue_seconds`), so a
message sent during a reconnect goes out once, after it. At most `window` submits are outstanding (sent, not yet
answered) at a time; a submit the gateway throttles (not taken) is tried again after 0.5 s, 1 s, 2 s. A submit that was written but whose submit_sm_resp never came (the connection broke, or no
answer in `response_seconds`) raises `SmppOutcomeUnknown` and is never written again: the gateway may have taken it,
so sending it again could text the worker twice; the caller decides.

deliver_sm from the gateway: a delivery receipt (esm_class bit 0x04) goes to `on_receipt`, a mobile-originated
message (its segments reassembled) to `on_message`, each awaited before the deliver_sm_resp, whose status the
callback chooses (an exception answers ESME_RX_T_APPN, so the gateway delivers it again later). A malformed PDU is
answered with a generic_nack and the connection carries on; a frame with an impossible length ends the connection
(the stream cannot be followed) and the client connects again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from channels.sms.providers import SmsSendError
from channels.sms.smpp.pdu import (
    DATA_CODING_UCS2,
    BindTransceiver,
    BindTransmitter,
    Body,
    DeliverSm,
    DeliverSmResp,
    DeliveryReceipt,
    EnquireLink,
    EnquireLinkResp,
    FramingError,
    GenericNack,
    Pdu,
    PduError,
    Status,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    decode_text,
    encode,
    parse_receipt,
    read_segment,
    segments_for,
)
from channels.sms.smpp.stream import read_pdu

__all__ = [
    "PERMANENT_APP_ERROR",
    "MobileMessage",
    "SmppBindRefused",
    "SmppClient",
    "SmppConfig",
    "SmppError",
    "SmppOutcomeUnknown",
    "backoff_delays",
]

logger = logging.getLogger(__name__)

PERMANENT_APP_ERROR = 0x00000065  # ESME_RX_P_APPN: the message cannot be handled; the gateway should not retry
PARTS_KEPT_SECONDS = 600.0  # the parts of a long MO wait this long for the rest
MAX_PARTIAL_MESSAGES = 1000
THROTTLE_RETRIES = 3  # a submit the gateway throttled is tried again this many times
THROTTLE_RETRY_SECONDS = 0.5


class SmppError(SmsSendError):
    """The gateway refused a PDU (`code` is its command_status in hex) or could not be reached."""


class SmppOutcomeUnknown(SmppError):
    """A submit was written but not answered: the gateway may or may not have taken it. It is not sent again."""


class SmppBindRefused(SmppError):
    """The gateway refused the bind (system_id or password wrong, too many binds)."""


@dataclass(frozen=True)
class SmppConfig:
    """Where the gateway is and how to speak to it (the SMS_SMPP_* settings, see `channels.sms.config`)."""

    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    source_addr: str = ""  # the service number messages come from (106…)
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    dest_addr_ton: int = 0  # 0: the 11-digit national number; 1: international, sent as 86…
    dest_addr_npi: int = 1
    transceiver: bool = True
    window: int = 10
    enquire_link_seconds: float = 30.0
    response_seconds: float = 10.0
    connect_seconds: float = 10.0
    queue_seconds: float = 120.0
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    registered_delivery: bool = True

    def __repr__(self) -> str:  # never the password in a log line
        return f"SmppConfig(host={self.host!r}, port={self.port}, system_id={self.system_id!r})"


def backoff_delays(initial: float, maximum: float) -> Iterator[float]:
    """initial, 2×initial, 4×initial, … never over `maximum`."""
    delay = initial
    while True:
        yield min(delay, maximum)
        delay = min(delay * 2, maximum)


@dataclass(frozen=True)
class MobileMessage:
    """A whole mobile-originated message: who sent it, to which number, the text, and a key that de-duplicates a
    gateway's retransmission of the same deliver_sm (same sender, text and sequence number)."""

    source: str
    destination: str
    text: str
    key: str


OnMessage = Callable[[MobileMessage], Awaitable[int]]
OnReceipt = Callable[[DeliveryReceipt], Awaitable[int]]


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    pending: dict[int, asyncio.Future[Pdu]] = field(default_factory=dict)
    handlers: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def usable(self) -> bool:
        return not self.writer.is_closing()

    def fail_pending(self, error: Exception) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(error)


@dataclass
class _Parts:
    total: int
    data_coding: int
    started: float
    parts: dict[int, bytes] = field(default_factory=dict)


class SmppClient:
    """A bound connection to the gateway, kept up; see the module docstring."""

    def __init__(
        self,
        config: SmppConfig,
        *,
        on_message: OnMessage | None = None,
        on_receipt: OnReceipt | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.on_message = on_message
        self.on_receipt = on_receipt
        self._sleep = sleep
        self._window = asyncio.Semaphore(config.window)
        self._sequence = itertools.cycle(range(1, 0x7FFFFFFF))
        self._references = itertools.cycle(range(256))
        self._connection: _Connection | None = None
        self._bound = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._partial: dict[tuple[str, int], _Parts] = {}
        self.binds = 0  # successful binds so far (the first and every reconnect)

    # -- life cycle ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting in the running loop (returns at once; `wait_bound()` waits for the bind)."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="smpp-client")

    async def wait_bound(self, timeout: float | None = None) -> None:
        """Wait until the client is bound; `TimeoutError` after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            await self._bound.wait()

    @property
    def is_bound(self) -> bool:
        return self._bound.is_set()

    async def stop(self) -> None:
        """Unbind (waiting `response_seconds` at most for the answer), close, and stop reconnecting."""
        self._stopping = True
        connection = self._connection
        if connection is not None and connection.usable and self._bound.is_set():
            with contextlib.suppress(SmppError, OSError, TimeoutError):
                await self._request(connection, Unbind())
        if connection is not None:
            connection.writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- submitting ------------------------------------------------------------------------------------------------

    def destination(self, phone: str) -> str:
        """The destination_addr for an 11-digit mainland number (86… when the gateway wants international form)."""
        return f"86{phone}" if self.config.dest_addr_ton == 1 and not phone.startswith("86") else phone

    async def send_text(self, phone: str, text: str) -> list[str]:
        """Submit `text` to `phone` as one (long) SMS; the gateway's message id of each segment. `SmppError` when
        the gateway refuses a segment or cannot be reached within `queue_seconds` (the segments before it went)."""
        try:
            parts = segments_for(text, next(self._references))
        except ValueError as error:
            raise SmppError(str(error)) from None
        bodies = [
            SubmitSm(
                source_addr=self.config.source_addr,
                destination_addr=self.destination(phone),
                short_message=short_message,
                esm_class=esm_class,
                data_coding=DATA_CODING_UCS2,
                registered_delivery=1 if self.config.registered_delivery else 0,
                source_addr_ton=self.config.source_addr_ton,
                source_addr_npi=self.config.source_addr_npi,
                dest_addr_ton=self.config.dest_addr_ton,
                dest_addr_npi=self.config.dest_addr_npi,
            )
            for short_message, esm_class in parts
        ]
        ids = []
        for body in bodies:  # in order: a phone shows the parts as they arrive when it cannot join them
            ids.append(await self.submit(body))
        return ids

    async def submit(self, body: SubmitSm) -> str:
        """Submit one PDU once bound, within the window; the gateway's message id. A throttling answer
        (ESME_RTHROTTLED, ESME_RMSGQFUL: the gateway did not take it) is retried after 0.5 s, 1 s, 2 s; any other
        refusal raises `SmppError` with the status."""
        delays = backoff_delays(THROTTLE_RETRY_SECONDS, 4 * THROTTLE_RETRY_SECONDS)
        for attempt in range(THROTTLE_RETRIES + 1):
            async with self._window:
                connection = await self._usable_connection()
                response = await self._request(connection, body)
            if response.status == Status.OK and isinstance(response.body, SubmitSmResp):
                return response.body.message_id
            if response.status not in Status.THROTTLING or attempt == THROTTLE_RETRIES:
                break
            await self._sleep(next(delays))
        raise SmppError(f"the gateway refused a submit_sm: status 0x{response.status:08x}", f"{response.status:x}")

    async def _usable_connection(self) -> _Connection:
        """The bound connection, waiting for a (re)connect up to `queue_seconds`."""
        deadline = time.monotonic() + self.config.queue_seconds
        while True:
            connection = self._connection
            if self._bound.is_set() and connection is not None and connection.usable:
                return connection
            if self._stopping:
                raise SmppError("the SMPP client is stopped")
            try:
                await asyncio.wait_for(self._bound.wait(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise SmppError(f"not connected to the SMS gateway within {self.config.queue_seconds:g} s") from None
            await asyncio.sleep(0)  # let a connection that closed meanwhile clear the flag

    async def _request(self, connection: _Connection, body: Body) -> Pdu:
        """Write a request and wait for its response (or a generic_nack); `SmppOutcomeUnknown` when none comes."""
        sequence = next(self._sequence)
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        connection.pending[sequence] = future
        try:
            connection.writer.write(encode(Pdu(body, sequence)))
            try:
                return await asyncio.wait_for(future, self.config.response_seconds)
            except TimeoutError:
                raise SmppOutcomeUnknown(
                    f"no answer to {type(body).__name__} in {self.config.response_seconds:g} s"
                ) from None
        finally:
            connection.pending.pop(sequence, None)

    # -- the connection --------------------------------------------------------------------------------------------

    async def _run(self) -> None:
        delays = backoff_delays(self.config.backoff_initial, self.config.backoff_max)
        while not self._stopping:
            try:
                connection = await self._connect()
            except (OSError, TimeoutError, SmppError, PduError, asyncio.IncompleteReadError) as error:
                delay = next(delays)
                level = logging.ERROR if isinstance(error, SmppBindRefused) else logging.WARNING
                logger.log(
                    level,
                    "smpp: cannot bind to %s:%s (%s); again in %.3g s",
                    self.config.host,
                    self.config.port,
                    error,
                    delay,
                )
                await self._sleep(delay)
                continue
            delays = backoff_delays(self.config.backoff_initial, self.config.backoff_max)
            self.binds += 1
            self._connection = connection
            self._bound.set()
            logger.info("smpp: bound to %s:%s as %s", self.config.host, self.config.port, self.config.system_id)
            try:
                await self._session(connection)
            finally:
                self._bound.clear()
                connection.fail_pending(
                    SmppOutcomeUnknown("the connection to the SMS gateway broke before it answered")
                )
                connection.writer.close()  # handlers still running finish; their answers go nowhere
            if not self._stopping:
                delay = next(delays)
                logger.warning(
                    "smpp: connection to %s:%s ended; again in %.3g s", self.config.host, self.config.port, delay
                )
                await self._sleep(delay)

    async def _connect(self) -> _Connection:
        config = self.config
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(config.host, config.port), config.connect_seconds
        )
        bind_type = BindTransceiver if config.transceiver else BindTransmitter
        bind = bind_type(config.system_id, config.password, config.system_type)
        sequence = next(self._sequence)
        try:
            writer.write(encode(Pdu(bind, sequence)))
            async with asyncio.timeout(config.response_seconds):
                while True:
                    response = await read_pdu(reader)
                    if response.sequence == sequence and response.is_response:
                        break
            if response.status != Status.OK:
                raise SmppBindRefused(f"bind refused with status 0x{response.status:08x}", f"{response.status:x}")
        except BaseException:
            writer.close()
            raise
        return _Connection(reader, writer)

    async def _session(self, connection: _Connection) -> None:
        keepalive = asyncio.get_running_loop().create_task(self._keepalive(connection), name="smpp-keepalive")
        try:
            while True:
                try:
                    pdu = await read_pdu(connection.reader)
                except FramingError as error:
                    logger.error("smpp: unreadable frame from the gateway (%s); connecting again", error)
                    self._write(connection, Pdu(GenericNack(), error.sequence, error.status))
                    return
                except PduError as error:
                    logger.warning("smpp: malformed PDU from the gateway answered with generic_nack: %s", error)
                    self._write(connection, Pdu(GenericNack(), error.sequence, error.status))
                    continue
                if not self._dispatch(connection, pdu):
                    return
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as error:
            logger.warning("smpp: the gateway closed the connection: %s", error or type(error).__name__)
        finally:
            keepalive.cancel()

    def _write(self, connection: _Connection, pdu: Pdu) -> None:
        if connection.usable:
            connection.writer.write(encode(pdu))

    def _dispatch(self, connection: _Connection, pdu: Pdu) -> bool:
        """Handle one PDU read from the gateway; False when the session ends (the gateway unbound)."""
        if pdu.is_response:
            future = connection.pending.get(pdu.sequence)
            if future is not None and not future.done():
                future.set_result(pdu)
            elif not isinstance(pdu.body, GenericNack):
                logger.warning("smpp: response to unknown sequence %d ignored", pdu.sequence)
            return True
        body = pdu.body
        if isinstance(body, EnquireLink):
            self._write(connection, Pdu(EnquireLinkResp(), pdu.sequence))
        elif isinstance(body, Unbind):
            logger.info("smpp: the gateway unbinds")
            self._write(connection, Pdu(UnbindResp(), pdu.sequence))
            return False
        elif isinstance(body, DeliverSm):
            task = asyncio.get_running_loop().create_task(self._deliver(connection, pdu.sequence, body))
            connection.handlers.add(task)
            task.add_done_callback(connection.handlers.discard)
        else:
            self._write(connection, Pdu(GenericNack(), pdu.sequence, Status.INVALID_COMMAND_ID))
        return True

    async def _keepalive(self, connection: _Connection) -> None:
        while True:
            await asyncio.sleep(self.config.enquire_link_seconds)
            try:
                await self._request(connection, EnquireLink())
            except SmppError as error:
                logger.warning("smpp: enquire_link unanswered (%s); connecting again", error)
                connection.writer.close()
                return

    # -- deliver_sm --------------------------------------------------------------------------------------------------

    async def _deliver(self, connection: _Connection, sequence: int, message: DeliverSm) -> None:
        try:
            status = await self._handle_deliver(sequence, message)
        except Exception:
            logger.exception("smpp: handling a deliver_sm failed; the gateway will deliver it again")
            status = Status.TEMPORARY_APP_ERROR
        self._write(connection, Pdu(DeliverSmResp(), sequence, status))

    async def _handle_deliver(self, sequence: int, message: DeliverSm) -> int:
        if message.is_receipt:
            try:
                receipt = parse_receipt(message)
            except ValueError as error:
                logger.warning("smpp: unreadable delivery receipt refused: %s", error)
                return PERMANENT_APP_ERROR
            return await self.on_receipt(receipt) if self.on_receipt else Status.OK
        try:
            whole = self._reassemble(sequence, message)
        except ValueError as error:
            logger.warning("smpp: unreadable mobile-originated message refused: %s", error)
            return PERMANENT_APP_ERROR
        if whole is None or self.on_message is None:
            return Status.OK  # a part waiting for the rest (or nobody takes MOs here)
        return await self.on_message(whole)

    def _reassemble(self, sequence: int, message: DeliverSm) -> MobileMessage | None:
        """The whole message once its last part arrived (None before); `ValueError` for octets that are not text."""
        segment = read_segment(message)
        if segment is None or segment.total == 1:
            data = message.payload if segment is None else segment.data
            return self._mobile(message, decode_text(data, message.data_coding), f"{sequence}")
        now = time.monotonic()
        for key in [key for key, parts in self._partial.items() if now - parts.started > PARTS_KEPT_SECONDS]:
            logger.warning("smpp: parts of a long message never completed; dropped")
            del self._partial[key]
        key = (message.source_addr, segment.reference)
        if key not in self._partial and len(self._partial) >= MAX_PARTIAL_MESSAGES:
            raise ValueError("too many long messages waiting for their parts")
        parts = self._partial.setdefault(key, _Parts(segment.total, message.data_coding, now))
        parts.parts[segment.number] = segment.data
        if len(parts.parts) < parts.total:
            return None
        del self._partial[key]
        data = b"".join(parts.parts[number] for number in range(1, parts.total + 1))
        return self._mobile(message, decode_text(data, parts.data_coding), f"{segment.reference}/{sequence}")

    @staticmethod
    def _mobile(message: DeliverSm, text: str, sequence: str) -> MobileMessage:
        digest = hashlib.sha256(
            f"{message.source_addr}|{message.destination_addr}|{sequence}|{text}".encode()
        ).hexdigest()[:40]
        return MobileMessage(message.source_addr, message.destination_addr, text, f"smpp:{digest}")
