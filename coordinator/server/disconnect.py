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

from coordinator.errors import ClientDisconnectedError

_T = TypeVar("_T")
DISCONNECT = "http.disconnect"


async def unless_disconnected(request: Request, work: Awaitable[_T]) -> _T:
    """Await ``work``; if the client disconnects first, cancel it (its cleanup cancels the
    generation) and raise ClientDisconnectedError. The request body has been read by then, so the next
    message the server can receive is the disconnect."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
    if not task.cancelled() and task.done():
        return task.result()
    await asyncio.wait({task})  # let the cancelled work clean up before answering
    raise ClientDisconnectedError("the client went away before the response started")


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != DISCONNECT:
        pass
