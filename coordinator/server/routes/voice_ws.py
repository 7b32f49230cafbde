"""Live talk over one WebSocket: /v1/voice/ws.

The client streams microphone audio as binary 16-bit little-endian mono PCM (at ``sample_rate``,
16 kHz by default); voice activity detection ends the user's turn; the server transcribes it,
Gemma answers, Orpheus speaks, and the speech streams back as binary 16-bit 24 kHz PCM while
JSON events say what happens. When the user speaks while the assistant is answering (barge-in),
the answer's generation is cancelled at once.

Events sent (JSON text messages): ``session.created``; ``speech.started`` / ``speech.stopped``
(VAD; a client stops its playback on ``speech.started``); ``transcript.partial`` (while the user
speaks, when a transcription slot is free) and ``transcript.final``; ``reply.delta`` (text as
Gemma writes it); ``audio.start``, binary chunks, ``audio.end``; ``reply.done``;
``response.cancelled`` (barge-in or the client's ``response.cancel``); ``error`` (OpenAI's error
shape; after a bad message, or a failed turn, the session stays open; it closes when the server is
going away, or the session was idle).
Query parameters: ``voice``, ``language`` (of the user; default detected), ``sample_rate`` (of
the PCM sent, 8000-96000), ``seed`` (reproducible replies).
Messages accepted besides audio: ``{"type": "input_audio.commit"}`` ends the turn now
(push-to-talk released), ``{"type": "response.cancel"}`` stops the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import numpy as np
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from coordinator.audio.encoders import PcmEncoder
from coordinator.engine.sampling import MAX_SEED, SamplingParams
from coordinator.errors import (
    ClientDisconnectedError,
    CoordinatorError,
    InvalidInputError,
    NotReadyError,
    ShuttingDownError,
)
from coordinator.llm.chat import ChatMessage
from coordinator.runtime.loading import Runtime
from coordinator.server.errors import error_event, ws_close_code, ws_close_reason
from coordinator.server.protocol import CHAT_TOP_P
from coordinator.service.conversation import SpokenReply
from coordinator.service.failures import stream_failure
from coordinator.service.lifecycle import Lifecycle
from coordinator.service.limits import RequestLimits, speech_max_tokens
from coordinator.service.readiness import LOADING_MESSAGE, SHUTTING_DOWN_MESSAGE, stt_of
from coordinator.stt.audio import PcmResampler, pcm16_to_float
from coordinator.stt.engine import SpeechToText
from coordinator.stt.formats import language_code
from coordinator.stt.transcript import SAMPLE_RATE as STT_RATE
from coordinator.stt.vad import SileroVad, TurnDetector

logger = logging.getLogger(__name__)
router = APIRouter()

VOICE_WS_PATH = "/v1/voice/ws"
# A session that sends nothing (no audio, no message) this long is closed: it holds one of
# MAX_WS_SESSIONS.
VOICE_IDLE_TIMEOUT_S = 120.0
# While the user speaks, a partial transcript every this much new audio (if a slot is free).
PARTIAL_INTERVAL_S = 1.0
REPLY_MAX_TOKENS = 256  # a spoken reply of a few sentences, as /chat's default
REPLY_TEMPERATURE = 0.7
MIN_INPUT_RATE, MAX_INPUT_RATE = PcmResampler.MIN_RATE, PcmResampler.MAX_RATE
PCM_FORMAT = "pcm_s16le"
_MESSAGES = 'send binary PCM audio, or JSON {"type": "input_audio.commit"} or {"type": "response.cancel"}'
Send = Callable[[dict[str, Any]], Awaitable[None]]


class VoiceSession:
    """One conversation: the turn detector, the history, and the answer in flight."""

    def __init__(
        self,
        websocket: WebSocket,
        runtime: Runtime,
        stt: SpeechToText,
        limits: RequestLimits,
        *,
        voice: str,
        language: str | None,
        sample_rate: int,
        seed: int | None = None,
    ) -> None:
        self._ws = websocket
        self._runtime = runtime
        self._stt = stt
        self._limits = limits
        self._voice = voice
        self._language = language
        self._seed = seed
        self._resampler = PcmResampler(sample_rate)
        self._detector = TurnDetector(SileroVad())
        self._history: list[ChatMessage] = []
        self._send_lock = asyncio.Lock()
        self._response: asyncio.Task[None] | None = None
        self._partial: asyncio.Task[None] | None = None
        self._turn = 0  # counts turns, so a late partial of an ended turn is dropped
        self._partial_at = 0  # turn samples when the last partial started

    async def send(self, event: dict[str, Any]) -> None:
        async with self._send_lock:
            await self._ws.send_json(event)

    async def send_bytes(self, data: bytes) -> None:
        async with self._send_lock:
            await self._ws.send_bytes(data)

    # --- input -------------------------------------------------------------------------------

    async def on_audio(self, data: bytes) -> None:
        samples = self._resampler.process(pcm16_to_float(data))
        for event in self._detector.feed(samples):
            if event.kind == "started":
                await self._barge_in()
                await self.send({"type": "speech.started"})
            elif event.audio is not None:
                await self._turn_ended(event.audio)
        if self._detector.speaking:
            self._maybe_partial()

    async def on_message(self, text: str) -> None:
        kind = _message_type(text)
        if kind == "input_audio.commit":
            ended = self._detector.end_turn()
            if ended is not None and ended.audio is not None:
                await self._turn_ended(ended.audio)
        elif kind == "response.cancel":
            await self._cancel_response("client")
        else:
            raise InvalidInputError(f"unknown message: {_MESSAGES}", param="type")

    # --- turns -------------------------------------------------------------------------------

    async def _barge_in(self) -> None:
        await self._cancel_response("barge_in")

    async def _cancel_response(self, reason: str) -> None:
        response, self._response = self._response, None
        if response is None or response.done():
            return
        response.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await response
        await self.send({"type": "response.cancelled", "reason": reason})

    async def _turn_ended(self, audio: np.ndarray) -> None:
        self._turn += 1
        self._partial_at = 0
        await self.send({"type": "speech.stopped", "duration": round(audio.size / STT_RATE, 3)})
        await self._cancel_response("barge_in")  # a turn ended while an answer runs: it is stale
        self._response = asyncio.create_task(self._respond(audio), name="voice-response")

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
            transcript = await self._stt.transcribe(audio, language=self._language)
        except CoordinatorError:
            return  # a partial is a nicety: the final transcript reports real failures
        if turn == self._turn and transcript.text:
            await self.send({"type": "transcript.partial", "text": transcript.text})

    async def _respond(self, audio: np.ndarray) -> None:
        try:
            await self._answer(audio)
        except (WebSocketDisconnect, ClientDisconnectedError):
            return  # the receive loop sees the client leave too, and ends the session
        except Exception as exc:
            error = exc if isinstance(exc, CoordinatorError) else stream_failure(exc)
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self.send(error_event(error))

    async def _answer(self, audio: np.ndarray) -> None:
        transcript = await self._stt.transcribe(audio, language=self._language)
        text = transcript.text.strip()
        await self.send({"type": "transcript.final", "text": text, "language": transcript.language})
        if not text:
            return  # nothing recognised: no answer
        self._limits.check_text(text, param="audio")
        runtime, limits = self._runtime, self._limits
        tts, llm = runtime.tts, runtime.llm
        loop = asyncio.get_running_loop()
        messages = [*self._history, ChatMessage("user", text)]
        max_tokens = limits.completion_tokens(None, default=REPLY_MAX_TOKENS, param="max_tokens")
        params = SamplingParams(
            max_tokens=max_tokens, temperature=REPLY_TEMPERATURE, top_p=CHAT_TOP_P, seed=self._seed
        )
        reply = llm.start(llm.chat_request(messages, params), loop=loop)
        speech_params = replace(tts.default_params, max_tokens=speech_max_tokens(None, runtime, limits))
        spoken = SpokenReply(tts, self._voice, speech_params, loop=loop, snac=runtime.snac)
        written: list[str] = []
        encoder = PcmEncoder()
        samples = 0
        try:
            async for chunk in spoken.audio(self._forwarded(reply.deltas(), written)):
                if samples == 0:
                    await self.send(
                        {"type": "audio.start", "sample_rate": tts.sample_rate, "format": PCM_FORMAT}
                    )
                samples += len(chunk)
                await self.send_bytes(encoder.encode(chunk))
        finally:
            # What was said stays in the conversation, cut short or not.
            self._remember(text, "".join(written))
        if samples:
            await self.send({"type": "audio.end", "samples": samples})
        await self.send({"type": "reply.done", "text": "".join(written).strip()})

    async def _forwarded(self, deltas: AsyncIterator[str], written: list[str]) -> AsyncIterator[str]:
        """The reply's text deltas, each also sent to the client as it is written."""
        try:
            async for delta in deltas:
                written.append(delta)
                await self.send({"type": "reply.delta", "text": delta})
                yield delta
        finally:
            await deltas.aclose()  # type: ignore[attr-defined]

    def _remember(self, user: str, assistant: str) -> None:
        self._history += [ChatMessage("user", user)]
        if assistant.strip():
            self._history += [ChatMessage("assistant", assistant.strip())]
        keep = self._limits.max_history_messages
        # Gemma's template needs turns to alternate starting with the user: drop whole pairs.
        while len(self._history) > keep or (self._history and self._history[0].role != "user"):
            self._history.pop(0)

    async def close(self) -> None:
        for task in (self._response, self._partial):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


def _message_type(text: str) -> str | None:
    """The ``type`` of a JSON text message (None when it has none); what is not JSON is refused."""
    try:
        message = json.loads(text)
    except ValueError:
        raise InvalidInputError(f"this text message is not JSON: {_MESSAGES}", param="type") from None
    except RecursionError:  # "[[[[…": deeper than Python's parser goes
        raise InvalidInputError(
            f"this text message is JSON nested too deeply to read: {_MESSAGES}", param="type"
        ) from None
    kind = message.get("type") if isinstance(message, dict) else None
    return kind if isinstance(kind, str) else None


def _seed_of(query: dict[str, str]) -> int | None:
    raw = query.get("seed")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) > MAX_SEED:
        raise InvalidInputError(f"seed={raw!r} must be an integer from 0 to {MAX_SEED}", param="seed")
    return int(raw)


def _settings_of(query: dict[str, str], runtime: Runtime) -> tuple[str, str | None, int]:
    voice = runtime.tts.resolve_voice(query.get("voice") or runtime.catalog.orpheus.default_voice)
    language = language_code(query.get("language"))
    raw_rate = query.get("sample_rate") or str(STT_RATE)
    if not raw_rate.isdigit() or not MIN_INPUT_RATE <= int(raw_rate) <= MAX_INPUT_RATE:
        raise InvalidInputError(
            f"sample_rate={raw_rate!r} is not a rate this server takes: send an integer from "
            f"{MIN_INPUT_RATE} to {MAX_INPUT_RATE} (Hz) matching your PCM",
            param="sample_rate",
        )
    return voice, language, int(raw_rate)


@router.websocket(VOICE_WS_PATH)
async def voice_websocket(websocket: WebSocket) -> None:
    await websocket.accept()
    runtime: Runtime | None = websocket.app.state.runtime
    session: VoiceSession | None = None
    try:
        if runtime is None:
            raise NotReadyError(websocket.app.state.not_ready_reason or LOADING_MESSAGE)
        stt = stt_of(runtime)
        voice, language, rate = _settings_of(dict(websocket.query_params), runtime)
        limits: RequestLimits = websocket.app.state.limits
        session = VoiceSession(
            websocket,
            runtime,
            stt,
            limits,
            voice=voice,
            language=language,
            sample_rate=rate,
            seed=_seed_of(dict(websocket.query_params)),
        )
        stt.transcriber.check(language=language, task="transcribe")
        await session.send(
            {
                "type": "session.created",
                "input": {"format": PCM_FORMAT, "sample_rate": rate, "channels": 1},
                "output": {"format": PCM_FORMAT, "sample_rate": runtime.tts.sample_rate, "channels": 1},
                "voice": voice,
            }
        )
        await _serve(websocket, session)
    except (WebSocketDisconnect, ClientDisconnectedError):
        logger.info("voice websocket: client left")
    except Exception as exc:
        error = stream_failure(exc) if not isinstance(exc, CoordinatorError) else exc
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await websocket.send_json(error_event(error))
            await websocket.close(code=ws_close_code(error), reason=ws_close_reason(error))
    finally:
        if session is not None:
            await session.close()


async def _serve(websocket: WebSocket, session: VoiceSession) -> None:
    """Receive until the client leaves, goes idle, or the server drains."""
    lifecycle: Lifecycle = websocket.app.state.lifecycle
    drain = asyncio.ensure_future(lifecycle.until_draining())
    try:
        while True:
            receive = asyncio.ensure_future(websocket.receive())
            done, _ = await asyncio.wait(
                {receive, drain}, timeout=VOICE_IDLE_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
            )
            if receive not in done:
                receive.cancel()
                if drain in done:
                    raise ShuttingDownError(SHUTTING_DOWN_MESSAGE)
                raise InvalidInputError(
                    f"nothing arrived for {VOICE_IDLE_TIMEOUT_S:g} s: the voice session is closed; "
                    "reconnect to talk again"
                )
            message = receive.result()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            try:
                if message.get("bytes") is not None:
                    await session.on_audio(message["bytes"])
                elif message.get("text") is not None:
                    await session.on_message(message["text"])
            except InvalidInputError as exc:  # one bad message: said, and the conversation goes on
                await session.send(error_event(exc))
    finally:
        drain.cancel()
