"""Ending a connection with an ``error`` event so that its client can read it: a connection
turned away (too many connections), or one whose request was refused.

Closing a socket while its client still sends (the rest of its events) answers them with a reset,
which can destroy the error event before the client reads it: the server first half-closes, then
reads (and drops) what the client still sends until it hangs up, for REFUSAL_LINGER_S at most."""

from __future__ import annotations

import asyncio

from wyoming.error import Error
from wyoming.event import async_write_event

from coordinator.errors import CoordinatorError

# How long the client gets to read the error event and hang up before the server closes anyway.
REFUSAL_LINGER_S = 2.0
REFUSAL_READ_BYTES = 64 * 1024


async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, error: CoordinatorError) -> None:
    """Tell a connection why it is not served (one error event), then close it."""
    try:
        await async_write_event(Error(text=error.message, code=error.code).event(), writer)
    except ConnectionError:  # the client has gone already
        writer.close()
        return
    await close_after_error(reader, writer)


async def close_after_error(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Close a connection whose last event was an error, once its client has hung up (or after
    REFUSAL_LINGER_S): the error is never lost to a reset."""
    try:
        writer.write_eof()
        await asyncio.wait_for(_until_hung_up(reader), timeout=REFUSAL_LINGER_S)
    except (OSError, asyncio.TimeoutError):  # the client reset the connection, or lingers
        pass
    finally:
        writer.close()


async def _until_hung_up(reader: asyncio.StreamReader) -> None:
    """Read (and drop) what the client sends until it hangs up."""
    while await reader.read(REFUSAL_READ_BYTES):
        pass
