"""A live spoken conversation, whatever carries it: turns heard from streamed microphone audio,
partial and final transcripts, the history, and each answer (transcribe → chat → speak, every
sentence spoken as soon as it is written).

The door (today the voice WebSocket, ``server/routes/voice_ws.py``) parses the session's settings,
hands over what the client sends (``run``'s ``receive``: PCM bytes, a text message, or None when
the client left) and frames what comes out through a ``SessionSink``: JSON-shaped events, PCM
bytes, and errors (the door gives those its own shape). Events sent: ``session.created``;
``speech.started`` / ``speech.stopped`` (voice activity); ``transcript.partial`` (while the user
speaks, when a transcription slot is free) and ``transcript.final``; ``reply.delta`` (the text as
it is written); ``audio.start``, PCM, ``audio.end``; ``reply.done``; ``response.cancelled``
(barge-in, or the client's ``response.cancel``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from coordinator.audio.encoders import PcmEncoder
from coordinator.clock import Clock
from coordinator.errors import ClientDisconnectedError, CoordinatorError, InvalidInputError
from coordinator.llm.chat import ChatMessage
from coordinator.runtime.loading import Runtime
from coordinator.service.conversation import Answer, Conversation
from coordinator.service.failures import stream_failure
from coordinator.service.json_input import parse_json
from coordinator.service.lifecycle import IdleTimeout, Lifecycle
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics, SpeechEndpoint
from coordinator.service.readiness import stt_of
from coordinator.service.speech import Speaker
from coordinator.stt.audio import PcmResampler, pcm16_to_float
from coordinator.stt.transcript import SAMPLE_RATE as STT_RATE
from coordinator.stt.vad import SileroVad, TurnDetector

logger = logging.getLogger(__name__)

# The label this door's speech is counted under in the metrics.
METRICS_ENDPOINT: SpeechEndpoint = "voice_ws"
# A session that sends nothing (no audio, no message) this long is closed: it holds a session slot.
VOICE_IDLE_TIMEOUT_S = 120.0
# While the user speaks, a partial transcript every this much new audio (if a slot is free).
PARTIAL_INTERVAL_S = 1.0
PCM_FORMAT = "pcm_s16le"
MESSAGES = 'send binary PCM audio, or JSON {"type": "input_audio.commit"} or {"type": "response.cancel"}'
# What a door hands over from its client: PCM audio, a text message, or None once the client left.
Received = bytes | str | None


class SessionSink(Protocol):
    """How the door sends to its client. Each raises ClientDisconnectedError once it is gone."""

    async def event(self, event: dict[str, Any]) -> None: ...

    async def audio(self, pcm: bytes) -> None: ...

    async def error(self, error: CoordinatorError) -> None: ...


@dataclass(frozen=True)
class VoiceSettings:
    """What the client chose: the voice (of any loaded model; ``model`` narrows where to look),
    the user's language (a Whisper code; None: detected), the rate of the PCM it sends, a seed."""

    voice: str | None = None
    model: str | None = None
    language: str | None = None
    sample_rate: int = STT_RATE
    seed: int | None = None


class VoiceSession:
    """One conversation: the turn detector, the history, and the answer in flight."""

    def __init__(
        self,
        runtime: Runtime,
        settings: VoiceSettings,
        sink: SessionSink,
        *,
        limits: RequestLimits,
        metrics: Metrics,
        lifecycle: Lifecycle,
        idle_timeout_s: float = VOICE_IDLE_TIMEOUT_S,
        clock: Clock | None = None,
    ) -> None:
        """Refuses (a CoordinatorError) a voice no loaded model speaks, a language the recogniser
        does not know, and a server without speech in. ``clock`` measures the idle timeout
        (default: the lifecycle's; tests pass their own, so that nobody waits for it)."""
        self._stt = stt_of(runtime)
        self._resolved = runtime.resolve_voice(settings.voice, settings.model)
        self._stt.transcriber.check(language=settings.language, task="transcribe")
        self._runtime = runtime
        self._settings = settings
        self._sink = sink
        self._limits = limits
        self._metrics = metrics
        self._lifecycle = lifecycle
        self._idle_timeout_s = idle_timeout_s
        self._clock = clock
        self._resampler = PcmResampler(settings.sample_rate)
        self._detector = TurnDetector(SileroVad())
        self._history: list[ChatMessage] = []
        self._send_lock = asyncio.Lock()  # the answer, a partial and the input all send
        self._response: asyncio.Task[None] | None = None
        self._partial: asyncio.Task[None] | None = None
        self._turn = 0  # counts turns, so a late partial of an ended turn is dropped
        self._partial_at = 0  # turn samples when the last partial started

    # --- the door's side -----------------------------------------------------------------------

    async def run(self, receive: Callable[[], Awaitable[Received]]) -> None:
        """Say the session is open, then hear the client until it leaves. Raises ShuttingDownError
        when the server drains and InvalidInputError when the client sent nothing for the idle
        timeout (the door reports either, and closes); a bad message is reported, and the
        conversation goes on."""
        output = {"format": PCM_FORMAT, "sample_rate": self._resolved.tts.sample_rate, "channels": 1}
        await self._emit(
            {
                "type": "session.created",
                "input": {"format": PCM_FORMAT, "sample_rate": self._settings.sample_rate, "channels": 1},
                "output": output,
                "voice": self._resolved.voice,
                "model": self._resolved.model.model_id,
            }
        )
        while (received := await self._next(receive)) is not None:
            try:
                if isinstance(received, bytes):
                    await self.on_audio(received)
                else:
                    await self.on_message(received)
            except InvalidInputError as exc:  # one bad message: said, and the conversation goes on
                await self._error(exc)

    async def _next(self, receive: Callable[[], Awaitable[Received]]) -> Received:
        try:
            return await self._lifecycle.arrival(receive(), self._idle_timeout_s, clock=self._clock)
        except IdleTimeout:
            raise InvalidInputError(
                f"nothing arrived for {self._idle_timeout_s:g} s: the voice session is closed; "
                "reconnect to talk again"
            ) from None

    async def close(self) -> None:
        for task in (self._response, self._partial):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    # --- input -------------------------------------------------------------------------------

    async def on_audio(self, data: bytes) -> None:
        samples = self._resampler.process(pcm16_to_float(data))
        for event in self._detector.feed(samples):
            if event.kind == "started":
                await self._cancel_response("barge_in")
                await self._emit({"type": "speech.started"})
            elif event.audio is not None:
                await self._turn_ended(event.audio)
        if self._detector.speaking:
            self._maybe_partial()

    async def on_message(self, text: str) -> None:
        message = parse_json(text, what="this text message", fix=MESSAGES, param="type")
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "input_audio.commit":
            ended = self._detector.end_turn()
            if ended is not None and ended.audio is not None:
                await self._turn_ended(ended.audio)
        elif kind == "response.cancel":
            await self._cancel_response("client")
        else:
            raise InvalidInputError(f"unknown message: {MESSAGES}", param="type")

    # --- output ------------------------------------------------------------------------------

    async def _emit(self, event: dict[str, Any]) -> None:
        async with self._send_lock:
            await self._sink.event(event)

    async def _emit_audio(self, pcm: bytes) -> None:
        async with self._send_lock:
            await self._sink.audio(pcm)

    async def _error(self, error: CoordinatorError) -> None:
        async with self._send_lock:
            await self._sink.error(error)

    # --- turns -------------------------------------------------------------------------------

    async def _cancel_response(self, reason: str) -> None:
        response, self._response = self._response, None
        if response is None or response.done():
            return
        response.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await response
        await self._emit({"type": "response.cancelled", "reason": reason})

    async def _turn_ended(self, audio: np.ndarray) -> None:
        ended_at = time.perf_counter()  # what the user waits from: their turn's end
        self._turn += 1
        self._partial_at = 0
        await self._emit({"type": "speech.stopped", "duration": round(audio.size / STT_RATE, 3)})
        await self._cancel_response("barge_in")  # a turn ended while an answer runs: it is stale
        self._response = asyncio.create_task(self._respond(audio, ended_at), name="voice-response")

    def _maybe_partial(self) -> None:
        audio = self._detector.turn_audio()
        due = audio.size - self._partial_at >= PARTIAL_INTERVAL_S * STT_RATE
        free = self._stt.busy < self._stt.slots and self._stt.waiting == 0
        if not due or not free or (self._partial is not None and not self._partial.done()):
            return
        self._partial_at = audio.size
        self._partial = asyncio.create_task(self._send_partial(audio, self._turn), name="voice-partial")

    async def _send_partial(self, audio: np.ndarray, turn: int) -> None:
        try:
            transcript = await self._stt.transcribe(audio, language=self._settings.language)
        except CoordinatorError:
            return  # a partial is a nicety: the final transcript reports real failures
        if turn == self._turn and transcript.text:
            with contextlib.suppress(ClientDisconnectedError):  # the receive loop sees it too
                await self._emit({"type": "transcript.partial", "text": transcript.text})

    async def _respond(self, audio: np.ndarray, ended_at: float) -> None:
        try:
            await self._answer(audio, ended_at)
        except ClientDisconnectedError:
            return  # the receive loop sees the client leave too, and ends the session
        except Exception as exc:
            error = exc if isinstance(exc, CoordinatorError) else stream_failure(exc)
            with contextlib.suppress(ClientDisconnectedError):
                await self._error(error)

    async def _answer(self, audio: np.ndarray, ended_at: float) -> None:
        transcript = await self._stt.transcribe(audio, language=self._settings.language)
        text = transcript.text.strip()
        await self._emit({"type": "transcript.final", "text": text, "language": transcript.language})
        if not text:
            return  # nothing recognised: no answer
        conversation = Conversation(
            self._runtime, self._limits, Speaker(self._runtime, self._limits, self._metrics)
        )
        params = conversation.reply_params(max_tokens=None, seed=self._settings.seed)
        reply = conversation.reply(self._history, text, params, param="audio")
        answer = Answer()
        encoder = PcmEncoder()
        rate = self._resolved.tts.sample_rate

        async def on_audio(chunk: np.ndarray) -> None:
            if answer.samples == 0:
                await self._emit({"type": "audio.start", "sample_rate": rate, "format": PCM_FORMAT})
            await self._emit_audio(encoder.encode(chunk))

        try:
            await conversation.answer_aloud(
                reply,
                answer,
                on_text=lambda delta: self._emit({"type": "reply.delta", "text": delta}),
                on_audio=on_audio,
                voice=self._resolved.voice,
                model=self._resolved.model.model_id,
                door=METRICS_ENDPOINT,
                seed=self._settings.seed,
                started=ended_at,
            )
        finally:
            # What was said stays in the conversation, cut short or not.
            self._remember(text, answer.text)
        if answer.samples:
            await self._emit({"type": "audio.end", "samples": answer.samples})
        await self._emit({"type": "reply.done", "text": answer.text.strip()})

    def _remember(self, user: str, assistant: str) -> None:
        self._history += [ChatMessage("user", user)]
        if assistant.strip():
            self._history += [ChatMessage("assistant", assistant.strip())]
        keep = self._limits.max_history_messages
        # Gemma's template needs turns to alternate starting with the user: drop whole pairs.
        while len(self._history) > keep or (self._history and self._history[0].role != "user"):
            self._history.pop(0)
