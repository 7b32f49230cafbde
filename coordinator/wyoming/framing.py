"""Reading one Wyoming event with the server's size limit.

The frame is the protocol's: a line of JSON (``type``, optional ``data``, ``data_length``,
``payload_length``), then ``data_length`` bytes of JSON merged into ``data``, then
``payload_length`` bytes of payload. ``wyoming.event.async_read_event`` reads whatever lengths a
header claims into memory and ends the connection silently on a malformed one; this reader
checks the lengths against MAX_BODY_BYTES before reading anything, and names what is wrong, so
the client gets an ``error`` event. Writing stays the package's (``async_write_event``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from wyoming.event import Event

from coordinator.errors import InvalidInputError, PayloadTooLargeError
from coordinator.service.json_input import parse_json

_EVENT_SHAPE = "each event starts with one line of JSON holding its type"
_NOT_AN_EVENT = f"not a Wyoming event: {_EVENT_SHAPE}"


async def read_event(reader: asyncio.StreamReader, *, max_bytes: int) -> Event | None:
    """The next event, or None at the end of the connection (also one cut mid-event)."""
    try:
        line = await reader.readline()
    except ValueError:  # longer than the reader's line limit (64 KiB)
        raise InvalidInputError(f"{_NOT_AN_EVENT} (this header line is too long)") from None
    if not line:
        return None
    header = _json(line, "header line")
    kind = header.get("type")
    data = header.get("data") or {}
    if not isinstance(kind, str) or not isinstance(data, dict):
        raise InvalidInputError(_NOT_AN_EVENT)
    data_length, payload_length = _length(header, "data_length"), _length(header, "payload_length")
    if data_length + payload_length > max_bytes:
        raise PayloadTooLargeError(
            f"a {kind} event of {data_length + payload_length} bytes is over this server's limit of "
            f"{max_bytes} bytes (MAX_BODY_BYTES): send smaller events"
        )
    try:
        if data_length:
            more = _json(await reader.readexactly(data_length), "data part")
            data.update(more)
        payload = await reader.readexactly(payload_length) if payload_length else None
    except asyncio.IncompleteReadError:
        return None
    return Event(type=kind, data=data, payload=payload)


def _json(raw: bytes, part: str) -> dict[str, Any]:
    value = parse_json(raw, what=f"not a Wyoming event: this event's {part}", fix=_EVENT_SHAPE)
    if not isinstance(value, dict):
        raise InvalidInputError(_NOT_AN_EVENT)
    return value


def _length(header: dict[str, Any], key: str) -> int:
    value = header.get(key) or 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInputError(f"{key} must be a byte count (a non-negative integer), not {value!r}")
    return value
