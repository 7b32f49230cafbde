"""POST /chat with ``stream_format: "sse"``: the reply's text and its speech in one event stream.

The WAV answer carries only the sound and ``stream_text`` only the words; a page that shows the
reply as it is written while it speaks it needs both, in order, from one generation. The events
(named after OpenAI's Realtime API), each one SSE ``data:`` line of JSON:

- ``response.text.delta`` ``{"delta"}``: text as the chat model writes it;
- ``response.audio.delta`` ``{"audio"}``: base64 of 16-bit little-endian 24 kHz mono PCM, the exact
  samples the WAV answer would hold, sentence after sentence;
- ``response.audio.heard``: with timings or checks, after each utterance's audio: the words of
  the reply as the model wrote them, timed in the speech, and the utterance's check
  (docs/timings.md; ``char_start``/``char_end`` count in the reply's text);
- ``response.done`` ``{"text", "truncated"}``: the whole reply (``truncated``: longer than
  MAX_UTTERANCES, the rest was not spoken);
- ``error`` ``{"error"}`` in OpenAI's shape, after which the stream ends.

A sentence's text goes out before its speech, and text keeps flowing while earlier speech plays.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

from coordinator.audio.encoders import PcmEncoder
from coordinator.server.errors import error_event
from coordinator.server.streaming import sse_event
from coordinator.service.failures import stream_failure
from coordinator.service.speech import Speech

TEXT_DELTA = "response.text.delta"
AUDIO_DELTA = "response.audio.delta"
HEARD = "response.audio.heard"
DONE = "response.done"
EVENT_TYPES = (TEXT_DELTA, AUDIO_DELTA, HEARD, DONE, "error")

_TEXT, _AUDIO, _HEARD, _END, _FAILED = "text", "audio", "heard", "end", "failed"

# Speaks a stream of text (Speaker.speak_stream, with the request's voice and door).
SpeakText = Callable[[AsyncIterator[str]], Speech]


async def chat_events(deltas: AsyncIterator[str], speak: SpeakText) -> AsyncIterator[dict[str, str]]:
    """SSE events (for sse_starlette) of the reply whose text ``deltas`` ``speak`` speaks."""
    # Unbounded: text is small, and audio arrives no faster than SNAC decodes it.
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    written: list[str] = []

    async def tapped() -> AsyncIterator[str]:
        try:
            async for delta in deltas:
                written.append(delta)
                queue.put_nowait((_TEXT, delta))
                yield delta
        finally:
            await _close(deltas)  # the speech closes this tap; the tap closes the generation

    speech = speak(tapped())

    async def speaking_task() -> None:
        try:
            async for chunk in speech.chunks():
                queue.put_nowait((_AUDIO, chunk))
                for heard in speech.new_heard():
                    queue.put_nowait((_HEARD, heard.as_dict()))
            await speech.finish_listening()
            for heard in speech.new_heard():
                queue.put_nowait((_HEARD, heard.as_dict()))
        except Exception as exc:
            queue.put_nowait((_FAILED, exc))
            return
        queue.put_nowait((_END, None))

    # Speech runs beside the event loop below, so text is sent while earlier audio is decoded.
    speaking = asyncio.create_task(speaking_task(), name="chat-events-speech")
    encoder = PcmEncoder()
    try:
        while True:
            kind, item = await queue.get()
            if kind == _TEXT:
                yield sse_event({"type": TEXT_DELTA, "delta": item})
            elif kind == _AUDIO:
                audio = base64.b64encode(encoder.encode(item)).decode()
                yield sse_event({"type": AUDIO_DELTA, "audio": audio})
            elif kind == _HEARD:
                yield sse_event({"type": HEARD, **item})
            elif kind == _FAILED:
                yield sse_event(error_event(stream_failure(item)))
                return
            else:
                yield sse_event({"type": DONE, "text": "".join(written), "truncated": speech.truncated})
                return
    finally:
        # Only synchronous cleanup (see Speech.chunks): a client gone cancels this scope.
        # Cancelling the speech task ends its utterances and, through the tap, the generation.
        speaking.cancel()
        encoder.close()


async def _close(items: AsyncIterator[str]) -> None:
    aclose = getattr(items, "aclose", None)
    if aclose is not None:
        await aclose()
