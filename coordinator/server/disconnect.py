"""Stopping work whose client has gone before its response started.

Once a response streams, Starlette watches the connection and closes the body iterator when the
client leaves, which cancels the generation. Before that nothing watches it: a non-streaming
completion, or the wait for a stream's first audio, would go on holding its sequence slot for a
client that gave up (a short read timeout, a closed tab) until the generation ended by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request
from starlette.websockets import WebSocket

from coordinator.errors import ClientDisconnectedError

_T = TypeVar("_T")
DISCONNECT = "http.disconnect"
WEBSOCKET_DISCONNECT = "websocket.disconnect"


async def unless_disconnected(request: Request, work: Awaitable[_T]) -> _T:
    """Await ``work``; if the client disconnects first, cancel it (its cleanup cancels the
    generation) and raise ClientDisconnectedError. The request body has been read by then, so the
    next message the server can receive is the disconnect."""
    return await _unless_gone(work, _disconnected(request))


async def unless_websocket_closed(websocket: WebSocket, work: Awaitable[_T]) -> _T:
    """The same for a WebSocket session: a client that closes it stops its speech at once, not
    when the next chunk fails to send (which, with seconds of audio in hand, can be seconds later)."""
    return await _unless_gone(work, _websocket_closed(websocket))


async def _unless_gone(work: Awaitable[_T], gone: Awaitable[None]) -> _T:
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(gone)
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
    if task.done() and not task.cancelled():
        return task.result()
    await asyncio.wait({task})  # let the cancelled work clean up before answering
    raise ClientDisconnectedError("the client went away before the response was complete")


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != DISCONNECT:
        pass


async def _websocket_closed(websocket: WebSocket) -> None:
    # Messages after the text to speak are ignored; only the close matters.
    while (await websocket.receive())["type"] != WEBSOCKET_DISCONNECT:
        pass
