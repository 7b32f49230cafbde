"""The Realtime protocol's vocabulary: the client events this door answers (GA names, and the beta
names clients still send), the server events' names in each dialect, ids, and the error event in
OpenAI's shape. Pure.

Dialects: OpenAI's GA API names audio output ``response.output_audio.delta`` and announces items
with ``conversation.item.added`` / ``.done``; the beta API (a client that sends the header
``OpenAI-Beta: realtime=v1`` or the subprotocol ``openai-beta.realtime-v1``) names them
``response.audio.delta`` and ``conversation.item.created``. Each session speaks its client's."""

from __future__ import annotations

import secrets
from typing import Any

from coordinator.errors import CoordinatorError
from coordinator.server.errors import error_event

# Client events, GA and beta (the same names but for the transcription session's update).
SESSION_UPDATE = "session.update"
TRANSCRIPTION_SESSION_UPDATE = "transcription_session.update"  # beta transcription intent
APPEND = "input_audio_buffer.append"
COMMIT = "input_audio_buffer.commit"
CLEAR = "input_audio_buffer.clear"
ITEM_CREATE = "conversation.item.create"
ITEM_TRUNCATE = "conversation.item.truncate"
ITEM_DELETE = "conversation.item.delete"
ITEM_RETRIEVE = "conversation.item.retrieve"
RESPONSE_CREATE = "response.create"
RESPONSE_CANCEL = "response.cancel"
OUTPUT_AUDIO_BUFFER_CLEAR = "output_audio_buffer.clear"  # WebRTC's; harmless over a WebSocket
CLIENT_EVENTS = (
    SESSION_UPDATE,
    TRANSCRIPTION_SESSION_UPDATE,
    APPEND,
    COMMIT,
    CLEAR,
    ITEM_CREATE,
    ITEM_TRUNCATE,
    ITEM_DELETE,
    ITEM_RETRIEVE,
    RESPONSE_CREATE,
    RESPONSE_CANCEL,
    OUTPUT_AUDIO_BUFFER_CLEAR,
)

# Server events whose name differs in the beta dialect (GA name → beta name); None: not sent.
_BETA_NAMES: dict[str, str | None] = {
    "conversation.item.added": "conversation.item.created",
    "conversation.item.done": None,
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
}
# Content part types (GA → beta).
_BETA_PARTS = {"output_audio": "audio", "output_text": "text"}
_TRANSCRIPTION_BETA = {
    "session.created": "transcription_session.created",
    "session.updated": "transcription_session.updated",
}

BETA_HEADER = b"openai-beta"
BETA_PROTOCOL = "openai-beta.realtime-v1"


def new_id(prefix: str) -> str:
    """OpenAI-like ids (``event_…``, ``item_…``, ``resp_…``): unique within a session and beyond."""
    return f"{prefix}_{secrets.token_hex(10)}"


def event_name(name: str, *, beta: bool, transcription: bool = False) -> str | None:
    """The name ``name`` (a GA name) has in the client's dialect; None: that dialect has no such
    event, so it is not sent."""
    if not beta:
        return name
    if transcription and name in _TRANSCRIPTION_BETA:
        return _TRANSCRIPTION_BETA[name]
    return _BETA_NAMES.get(name, name)


def part_type(kind: str, *, beta: bool) -> str:
    return _BETA_PARTS.get(kind, kind) if beta else kind


def is_beta(headers: list[tuple[bytes, bytes]], subprotocols: list[str]) -> bool:
    """Whether the client asked for the beta dialect (its header, or a browser's subprotocol)."""
    for key, value in headers:
        if key.lower() == BETA_HEADER and b"realtime=v1" in value.lower():
            return True
    return BETA_PROTOCOL in subprotocols


def error_payload(error: CoordinatorError, *, client_event_id: str | None = None) -> dict[str, Any]:
    """OpenAI's Realtime ``error`` event: the server's error shape (type, code, message, param,
    from ``server/errors.py``), with the id of the client event that caused it."""
    event = error_event(error)
    return {**event, "event_id": new_id("event"), "error": {**event["error"], "event_id": client_event_id}}
