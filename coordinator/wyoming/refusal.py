"""Turning a connection away (too many connections) with its reason: one ``error`` event, then a
close that lets the client read it."""

from __future__ import annotations

import asyncio

from wyoming.error import Error
from wyoming.event import async_write_event

from coordinator.errors import CoordinatorError

# How long the client gets to read the error event and hang up before the server closes anyway.
# Closing with the client's events still unread would send a reset, which can destroy the error
# event before the client reads it.
REFUSAL_LINGER_S = 2.0
REFUSAL_READ_BYTES = 64 * 1024


async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, error: CoordinatorError) -> None:
    """Tell a connection that is not served why (one error event), then close it."""
    try:
        await async_write_event(Error(text=error.message, code=error.code).event(), writer)
        writer.write_eof()
        await asyncio.wait_for(_until_hung_up(reader), timeout=REFUSAL_LINGER_S)
    except (ConnectionError, asyncio.TimeoutError):
        pass
    finally:
        writer.close()


async def _until_hung_up(reader: asyncio.StreamReader) -> None:
    """Read (and drop) what the client sends until it hangs up."""
    while await reader.read(REFUSAL_READ_BYTES):
        pass
