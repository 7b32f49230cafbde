"""What every streaming response shares: proxy headers, SSE events, audio chunks → encoded bytes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar

import numpy as np
from starlette.requests import Request

from coordinator.audio.encoders import StreamEncoder
from coordinator.server.disconnect import unless_disconnected
from coordinator.service.failures import stream_failure

_T = TypeVar("_T")

# Proxies (nginx) must pass streamed bytes on as they are produced, and nobody may cache them.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# OpenAI's last event of a text stream.
SSE_DONE = "[DONE]"


def sse_event(payload: Mapping[str, Any]) -> dict[str, str]:
    """One SSE event (for sse_starlette) carrying ``payload`` as JSON. JSON escapes every line
    break, so the event is always one ``data:`` line whatever text the payload holds."""
    return {"data": json.dumps(payload, allow_nan=False)}


async def encoded_audio(
    chunks: AsyncIterator[np.ndarray], encoder: StreamEncoder, *, header_first: bool = False
) -> AsyncIterator[bytes]:
    """Encode chunks as they come. ``header_first`` sends the container header at once (for
    replies whose first audio takes a while, so the client learns the format early). The encoder
    is closed however the stream ends (finished, failed, or cancelled by a client gone)."""
    try:
        if header_first:
            yield encoder.encode(np.zeros(0, dtype=np.float32))
        async for chunk in chunks:
            data = encoder.encode(chunk)
            if data:
                yield data
        yield encoder.finish()
    except Exception as exc:
        # Headers are gone: the only honest signal left is ending the stream early (and cleanly:
        # an exception escaping here would make the server abort the connection mid-chunk).
        stream_failure(exc)
    finally:
        encoder.close()


async def primed(items: AsyncIterator[_T], request: Request) -> AsyncIterator[_T]:
    """Wait for the first item before the response starts, so that what fails before any output
    (queue timeout, generation failure) still becomes an HTTP status, not a truncated 200. A
    client that leaves meanwhile (while the request waits for a slot, say) stops the work."""
    return await unless_disconnected(request, _first(items))


async def _first(items: AsyncIterator[_T]) -> AsyncIterator[_T]:
    try:
        first = await anext(items)
    except StopAsyncIteration:
        return _empty()
    return _prepend(first, items)


async def _empty() -> AsyncIterator[_T]:
    return
    yield  # an async generator that yields nothing


async def _prepend(first: _T, rest: AsyncIterator[_T]) -> AsyncIterator[_T]:
    try:
        yield first
        async for item in rest:
            yield item
    finally:
        await rest.aclose()  # type: ignore[attr-defined]
