"""Whole PDUs read from an asyncio stream: the header's length checked before the body is read, so an oversized
frame never makes either side buffer it."""

from __future__ import annotations

import asyncio

from channels.sms.smpp.pdu import HEADER, MAX_PDU_BYTES, Pdu, decode, frame_length

__all__ = ["read_pdu"]


async def read_pdu(reader: asyncio.StreamReader, max_bytes: int = MAX_PDU_BYTES) -> Pdu:
    """The next PDU. `asyncio.IncompleteReadError` when the peer closes; `FramingError` for an impossible length
    (nothing more can be read); `PduError` for a readable frame with a bad body (the next PDU can be read)."""
    header = await reader.readexactly(HEADER.size)
    length = frame_length(header, max_bytes)
    return decode(header + await reader.readexactly(length - HEADER.size), max_bytes)
