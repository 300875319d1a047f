"""HTTP plumbing shared by the channels: the process's one aiohttp session, and request bodies read with a limit.

One `aiohttp.ClientSession` per process (connection pooling, one place for timeouts): `client_session()` creates it
inside the running event loop on first use (the channels' blueprints also open it on Sanic's `before_server_start`
and close it on `after_server_stop`), never at import time.
"""

from __future__ import annotations

import asyncio

import aiohttp
from sanic.request import Request

__all__ = ["BodyTooLarge", "client_session", "close_client_session", "read_body", "CLIENT_TIMEOUT"]

# Outbound calls (WeChat API, SMS provider) must never hold a turn for long.
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)

_session: aiohttp.ClientSession | None = None
_session_loop: asyncio.AbstractEventLoop | None = None


def client_session() -> aiohttp.ClientSession:
    """The shared session of this process, created in the running loop on first use."""
    global _session, _session_loop
    loop = asyncio.get_running_loop()
    if _session is None or _session.closed or _session_loop is not loop:
        _session = aiohttp.ClientSession(timeout=CLIENT_TIMEOUT)
        _session_loop = loop
    return _session


async def close_client_session() -> None:
    """Close the shared session (idempotent); the next `client_session()` opens a new one."""
    global _session, _session_loop
    if _session is not None and not _session.closed and _session_loop is asyncio.get_running_loop():
        await _session.close()
    _session, _session_loop = None, None


class BodyTooLarge(Exception):
    """The request body is over the channel's limit (answer 413)."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read from a streaming route chunk by chunk and abandoned as soon as it passes `limit` bytes.

    A declared Content-Length over the limit is refused before anything is read; a chunked body is counted as it
    arrives, so a huge upload never sits in memory.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise BodyTooLarge(f"Content-Length {declared} over {limit}")
        except ValueError:
            pass  # Sanic itself rejects a malformed Content-Length
    if request.stream is None:  # a non-streaming route: Sanic already read it
        if len(request.body) > limit:
            raise BodyTooLarge(f"{len(request.body)} bytes over {limit}")
        return request.body
    chunks, size = [], 0
    while True:
        chunk = await request.stream.read()
        if chunk is None:
            break
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
