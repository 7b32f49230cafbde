"""One Realtime response: the assistant's item written and spoken through the service layer's
conversation turn (``Conversation.answer_aloud``: chat with the sentence pipeline, then speech,
with the caps, look-ahead and metrics every door has), framed as OpenAI's events in their order:
``response.created``, ``response.output_item.added``, ``conversation.item.added``,
``response.content_part.added``, the audio deltas (base64 pcm16) with their transcript deltas,
``response.output_audio.done``, ``response.output_audio_transcript.done``,
``response.content_part.done``, ``response.output_item.done``, ``conversation.item.done``,
``response.done`` with the usage (an out-of-band response's item is announced by the
``response.*`` events alone: it joins no conversation). A cancelled response ends with ``response.done`` alone
(status ``cancelled``), sent by whoever cancelled it."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from coordinator.audio.encoders import PcmEncoder
from coordinator.clock import Clock
from coordinator.llm.chat import ChatMessage
from coordinator.server.realtime.config import AUDIO_RATE, SessionConfig
from coordinator.server.realtime.events import new_id
from coordinator.server.realtime.items import MS_PER_S, Item, cut_to_heard
from coordinator.server.realtime.target import Target
from coordinator.service.conversation import Answer, Conversation
from coordinator.service.metrics import SpeechEndpoint

# The label this door's speech is counted under in the metrics.
METRICS_ENDPOINT: SpeechEndpoint = "realtime"
Emit = Callable[[str, dict[str, Any]], Awaitable[None]]


class Response:
    """A response in flight: its item, what it has written and spoken, and when speech began
    (to estimate what the listener heard when it is cut short)."""

    def __init__(
        self, config: SessionConfig, item: Item, *, clock: Clock, target: Target | None = None
    ) -> None:
        self.id = new_id("resp")
        self.config = config
        self.item = item
        self.target = target or Target()
        self.answer = Answer()
        self.status = "in_progress"
        self.status_details: dict[str, Any] | None = None
        self._clock = clock
        self.first_audio_at: float | None = None
        self.input_tokens = 0
        self.output_tokens = 0

    @property
    def audio(self) -> bool:
        return "audio" in self.config.modalities

    @property
    def audio_ms(self) -> int:
        return round(self.answer.samples * MS_PER_S / AUDIO_RATE)

    def audio_sent(self) -> None:
        """Audio is going out: the first time, when the listener starts to hear it."""
        if self.first_audio_at is None:
            self.first_audio_at = self._clock.now()

    def heard_ms(self) -> int:
        """What the client has played so far, if it plays in real time as audio arrives: the
        audio sent, no more than the time since its first chunk."""
        if self.first_audio_at is None:
            return 0
        elapsed_ms = round((self._clock.now() - self.first_audio_at) * MS_PER_S)
        return max(0, min(self.audio_ms, elapsed_ms))

    def spoken_text(self) -> str:
        """The text of what was turned into speech (the look-ahead writes ahead of it)."""
        speech = self.answer.speech
        return " ".join(speech.utterances) if speech is not None else ""

    def truncate(self, heard_ms: int) -> None:
        """Keep in the item only what was heard in its first ``heard_ms``."""
        self.item.text = cut_to_heard(self.spoken_text() or self.answer.text.strip(), heard_ms, self.audio_ms)

    def wire(self, *, beta: bool, output: bool = True) -> dict[str, Any]:
        done = self.status != "in_progress"
        return {
            "id": self.id,
            "object": "realtime.response",
            "status": self.status,
            "status_details": self.status_details,
            "output": [self.item.wire(beta=beta)] if output else [],
            "conversation_id": None,
            "output_modalities": list(self.config.modalities),
            "max_output_tokens": self.config.max_output_tokens or "inf",
            "audio": {
                "output": {"format": {"type": "audio/pcm", "rate": AUDIO_RATE}, "voice": self.config.voice}
            },
            "usage": self._usage() if done else None,
            "metadata": self.target.metadata,
        }

    def _usage(self) -> dict[str, Any]:
        speech = self.answer.speech
        audio_tokens = speech.usage.completion_tokens if speech is not None else 0
        output = self.output_tokens + audio_tokens
        return {
            "total_tokens": self.input_tokens + output,
            "input_tokens": self.input_tokens,
            "output_tokens": output,
            "input_token_details": {"text_tokens": self.input_tokens, "audio_tokens": 0, "cached_tokens": 0},
            "output_token_details": {"text_tokens": self.output_tokens, "audio_tokens": audio_tokens},
        }


async def run_response(
    response: Response,
    conversation: Conversation,
    history: list[ChatMessage],
    said: str,
    *,
    voice: str,
    model: str,
    emit: Emit,
    beta: bool,
    started: float | None,
    previous: str | None,
) -> None:
    """Write (and speak) ``response``'s item as the answer to ``said`` after ``history``,
    emitting every event up to ``response.done``. Cancellation ends it quietly, mid-way."""
    item = response.item
    where = {"response_id": response.id, "item_id": item.id, "output_index": 0, "content_index": 0}
    params = conversation.reply_params(
        max_tokens=response.config.max_output_tokens, temperature=response.config.temperature
    )
    reply = conversation.reply(history, said, params, param="input")
    # The content-part events name a part "audio"/"text" in both dialects (the SDK's
    # ResponseContentPartAddedEvent); only the item's own content says output_audio/output_text.
    part_kind = "audio" if response.audio else "text"
    text_key = "transcript" if response.audio else "text"
    await emit(
        "response.output_item.added",
        {"response_id": response.id, "output_index": 0, "item": item.wire(beta=beta)},
    )
    if not response.target.out_of_band:  # out of band: the item is no conversation's
        await emit("conversation.item.added", {"previous_item_id": previous, "item": item.wire(beta=beta)})
    await emit("response.content_part.added", {**where, "part": {"type": part_kind, text_key: ""}})
    text_delta = "response.output_audio_transcript.delta" if response.audio else "response.output_text.delta"
    try:
        if response.audio:
            encoder = PcmEncoder()

            async def on_audio(chunk: np.ndarray) -> None:
                response.audio_sent()
                delta = base64.b64encode(encoder.encode(chunk)).decode("ascii")
                await emit("response.output_audio.delta", {**where, "delta": delta})

            await conversation.answer_aloud(
                reply,
                response.answer,
                on_text=lambda delta: emit(text_delta, {**where, "delta": delta}),
                on_audio=on_audio,
                voice=voice,
                model=model,
                door=METRICS_ENDPOINT,
                started=started,
            )
        else:
            deltas = reply.deltas()
            try:
                async for delta in deltas:
                    response.answer.deltas.append(delta)
                    await emit(text_delta, {**where, "delta": delta})
            finally:
                await deltas.aclose()  # type: ignore[attr-defined]
    finally:
        response.input_tokens, response.output_tokens = reply.prompt_tokens, reply.completion_tokens
        item.text = response.answer.text.strip()
    item.status = "completed"
    response.status = "completed"
    if response.audio:
        await emit("response.output_audio.done", where)
    await emit(text_delta.replace(".delta", ".done"), {**where, text_key: item.text})
    await emit("response.content_part.done", {**where, "part": {"type": part_kind, text_key: item.text}})
    await emit(
        "response.output_item.done",
        {"response_id": response.id, "output_index": 0, "item": item.wire(beta=beta)},
    )
    if not response.target.out_of_band:
        await emit("conversation.item.done", {"item": item.wire(beta=beta)})
    await emit("response.done", {"response": response.wire(beta=beta)})
