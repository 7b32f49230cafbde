"""The request body limit: the whole body is read before the route runs, counting what actually
arrives (a chunked upload has no Content-Length to trust), and refused past the limit."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope

from coordinator.errors import PayloadTooLargeError
from coordinator.server.credentials import header


def too_large(limit: int, setting: str) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the request body is larger than this server's limit of {limit} bytes "
        f"({setting}): send a smaller request"
    )


async def read_body(scope: Scope, receive: Receive, *, limit: int, setting: str) -> Receive | None:
    """Read the whole body, at most ``limit`` bytes (``setting`` names the limit in the refusal),
    then give a ``receive`` that hands it to the app as if it were arriving now; None when the
    client left during the upload."""
    declared = header(scope, b"content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise too_large(limit, setting)  # refused before a byte of the body is read
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit, setting)
        chunks.append(chunk)
        more = message.get("more_body", False)
    body: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    async def replay() -> Message:
        nonlocal body
        if body is not None:
            message, body = body, None
            return message
        return await receive()  # later calls: the app waits for the client to disconnect

    return replay
