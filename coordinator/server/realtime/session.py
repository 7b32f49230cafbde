"""One Realtime session: the protocol adapter between OpenAI's Realtime events and the service
layer (the recogniser, the turn detector, the conversation turn). It holds the session's
settings, the input audio buffer, the conversation's items and the response in flight; the route
(``server/routes/realtime_ws.py``) only hands it the client's frames and sends what it emits.

Why this module is near 500 lines: it is the protocol's state machine (audio in → turns →
items → responses, the conversation's and out-of-band ones, barge-in and truncation between
them), one set of state that splitting would only pass around; the settings, the items, the
response's framing and its target live beside it (config.py, items.py, response.py, target.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from coordinator.clock import Clock
from coordinator.errors import (
    ClientDisconnectedError,
    CoordinatorError,
    InvalidInputError,
    VoiceNotFoundError,
)
from coordinator.runtime.loading import Runtime
from coordinator.server.realtime import events as ev
from coordinator.server.realtime.config import (
    AUDIO_RATE,
    SessionConfig,
    SessionKind,
    parse_session,
    session_object,
    updated,
)
from coordinator.server.realtime.input_audio import InputAudio, decode_item_audio
from coordinator.server.realtime.items import Conversation, Item, item_audio, item_from_client
from coordinator.server.realtime.response import Response, run_response
from coordinator.server.realtime.target import response_target
from coordinator.service.conversation import Conversation as Turn
from coordinator.service.failures import stream_failure
from coordinator.service.json_input import parse_json
from coordinator.service.lifecycle import IdleTimeout, Lifecycle
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics
from coordinator.service.readiness import stt_of
from coordinator.service.speech import Speaker

logger = logging.getLogger(__name__)

Received = bytes | str | None
# What one bad event raises: answered with an error event, and the session goes on (a voice that
# was deleted is the client's mistake too). Other failures end the session (the route says why).
EVENT_ERRORS = (InvalidInputError, VoiceNotFoundError)
# Out-of-band responses (conversation "none") that may run at once beside the conversation's
# one: OpenAI allows several; each holds a chat and a speech slot, so a client gets a few.
MAX_OUT_OF_BAND = 2


class RealtimeSink(Protocol):
    async def event(self, event: dict[str, Any]) -> None:
        """Send one JSON event; ClientDisconnectedError once the client is gone."""


class RealtimeSession:
    def __init__(
        self,
        runtime: Runtime,
        sink: RealtimeSink,
        *,
        limits: RequestLimits,
        metrics: Metrics,
        lifecycle: Lifecycle,
        idle_timeout_s: float,
        model: str,
        kind: SessionKind = "realtime",
        beta: bool = False,
        clock: Clock | None = None,
    ) -> None:
        self._stt = stt_of(runtime)
        self._runtime = runtime
        self._sink = sink
        self._limits = limits
        self._speaker = Speaker(runtime, limits, metrics)
        self._lifecycle = lifecycle
        self._idle_timeout_s = idle_timeout_s
        self._clock = clock or lifecycle.clock
        self._model = model
        self._beta = beta
        self._id = ev.new_id("sess")
        default_voice = runtime.resolve_voice(None).voice
        self.config = SessionConfig(kind=kind, voice=default_voice)
        self.items = Conversation()
        self._send_lock = asyncio.Lock()
        self._input = InputAudio(self.config.turn_detection)
        self._speech_item: str | None = None  # the item id of the turn being spoken
        self._transcripts: dict[str, asyncio.Task[None]] = {}
        self._response: Response | None = None  # the default conversation's response
        self._response_task: asyncio.Task[None] | None = None
        self._out_of_band: dict[str, tuple[Response, asyncio.Task[None]]] = {}

    @property
    def hearing_speech(self) -> bool:
        """Whether the server VAD hears the user speak now (between speech_started and _stopped)."""
        return self._speech_item is not None

    # --- the door's side -----------------------------------------------------------------------

    async def run(self, receive: Callable[[], Awaitable[Received]]) -> None:
        """Say the session is open, then answer the client's events until it leaves. A bad event
        is answered with an ``error`` event, and the session goes on."""
        await self._emit("session.created", {"session": self._session()})
        while (received := await self._next(receive)) is not None:
            client_event_id = None
            try:
                if isinstance(received, bytes):
                    raise InvalidInputError(
                        "binary frames are not part of the Realtime protocol: send audio as "
                        '{"type": "input_audio_buffer.append", "audio": "<base64 pcm16>"}',
                        param="type",
                    )
                event = _parse(received)
                client_event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
                await self.handle(event)
            except EVENT_ERRORS as exc:
                await self._error(exc, client_event_id)

    async def _next(self, receive: Callable[[], Awaitable[Received]]) -> Received:
        try:
            return await self._lifecycle.arrival(receive(), self._idle_timeout_s, clock=self._clock)
        except IdleTimeout:
            raise InvalidInputError(
                f"nothing arrived for {self._idle_timeout_s:g} s: the realtime session is closed; "
                "reconnect to talk again"
            ) from None

    async def close(self) -> None:
        tasks = [self._response_task, *self._transcripts.values()]
        tasks += [task for _, task in self._out_of_band.values()]
        for task in tasks:
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    # --- events --------------------------------------------------------------------------------

    async def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind in (ev.SESSION_UPDATE, ev.TRANSCRIPTION_SESSION_UPDATE):
            await self._update(event.get("session"), transcription=kind == ev.TRANSCRIPTION_SESSION_UPDATE)
        elif kind == ev.APPEND:
            await self._append(event.get("audio"))
        elif kind == ev.COMMIT:
            await self._commit()
        elif kind == ev.CLEAR:
            self._input.clear(self.config.turn_detection)
            self._speech_item = None
            await self._emit("input_audio_buffer.cleared", {})
        elif kind == ev.ITEM_CREATE:
            await self._create_item(event)
        elif kind == ev.ITEM_TRUNCATE:
            await self._truncate(event)
        elif kind == ev.ITEM_DELETE:
            self.items.delete(event.get("item_id"))
            await self._emit("conversation.item.deleted", {"item_id": event["item_id"]})
        elif kind == ev.ITEM_RETRIEVE:
            item = self.items.get(event.get("item_id"))
            await self._emit("conversation.item.retrieved", {"item": item.wire(beta=self._beta)})
        elif kind == ev.RESPONSE_CREATE:
            await self._start_response(event.get("response"))
        elif kind == ev.RESPONSE_CANCEL:
            if not await self._cancel_response("client_cancelled", response_id=event.get("response_id")):
                raise InvalidInputError(
                    "Cancellation failed: no active response found",
                    param="type",
                    code="response_cancel_not_active",
                )
        elif kind == ev.OUTPUT_AUDIO_BUFFER_CLEAR:
            pass  # WebRTC's playback buffer: over a WebSocket the client holds the audio itself
        else:
            raise InvalidInputError(
                f"unknown event type {kind!r}: send one of {', '.join(ev.CLIENT_EVENTS)}",
                param="type",
                code="invalid_event",
            )

    async def _update(self, raw: Any, *, transcription: bool) -> None:
        given = parse_session(raw)
        config = updated(self.config, given)
        self._limits.check_text(config.instructions, param="session.instructions")
        if transcription:
            config = replace(config, kind="transcription")
        if config.voice != self.config.voice:  # a voice no loaded model speaks is refused here
            config = replace(
                config, voice=self._runtime.resolve_voice(config.voice, param="session.voice").voice
            )
        if config.turn_detection != self.config.turn_detection:
            self._input.detect(config.turn_detection)
        self.config = config
        await self._emit("session.updated", {"session": self._session()})

    def _session(self) -> dict[str, Any]:
        return session_object(self.config, session_id=self._id, model=self._model, beta=self._beta)

    # --- input audio ---------------------------------------------------------------------------

    async def _append(self, audio: Any) -> None:
        for turn, at in self._input.append(audio):
            detection = self.config.turn_detection
            if turn.kind == "started":
                self._speech_item = ev.new_id("item")
                await self._emit(
                    "input_audio_buffer.speech_started", {"audio_start_ms": at, "item_id": self._speech_item}
                )
                if detection is not None and detection.interrupt_response:
                    await self._cancel_response("turn_detected", truncate=True)  # barge-in
            elif turn.audio is not None:
                item_id, self._speech_item = self._speech_item or ev.new_id("item"), None
                await self._emit(
                    "input_audio_buffer.speech_stopped", {"audio_end_ms": at, "item_id": item_id}
                )
                respond = detection is not None and detection.create_response
                await self._committed(turn.audio, item_id, respond=respond)

    async def _commit(self) -> None:
        audio = self._input.commit()
        item_id, self._speech_item = self._speech_item or ev.new_id("item"), None
        await self._committed(audio, item_id, respond=False)

    async def _committed(self, audio: np.ndarray, item_id: str, *, respond: bool) -> None:
        """A user turn's audio is in: its item, its transcription, and (VAD) the answer to it."""
        ended_at = time.perf_counter()  # what the user waits from: their turn's end
        item = Item(id=item_id, role="user", content_type="input_audio", text=None)
        previous = self.items.add(item)
        await self._emit("input_audio_buffer.committed", {"previous_item_id": previous, "item_id": item_id})
        await self._emit(
            "conversation.item.added", {"previous_item_id": previous, "item": item.wire(beta=self._beta)}
        )
        self._transcripts[item_id] = asyncio.create_task(
            self._transcribe(item, audio), name="realtime-transcript"
        )
        if respond and self.config.kind == "realtime":
            try:
                await self._start_response(None, started=ended_at)
            except EVENT_ERRORS as exc:
                # OpenAI's: with interrupt_response off, a turn that ends while the model answers
                # gets no response of its own (the next response.create reads it); the error says
                # so, and the append's other turns still go out.
                await self._error(exc, None)

    async def _transcribe(self, item: Item, audio: np.ndarray) -> None:
        language = self.config.transcription.language if self.config.transcription else None
        try:
            transcript = await self._stt.transcribe(audio, language=language)
        except CoordinatorError as exc:
            item.text = ""
            error = ev.error_payload(exc)["error"]
            await self._emit(
                "conversation.item.input_audio_transcription.failed",
                {"item_id": item.id, "content_index": 0, "error": error},
            )
            return
        finally:
            self._transcripts.pop(item.id, None)
        item.text = transcript.text.strip()
        if self.config.transcription is not None or self.config.kind == "transcription":
            if item.text:  # whisper-1's way: one delta carrying the whole transcript, then .completed
                await self._emit(
                    "conversation.item.input_audio_transcription.delta",
                    {"item_id": item.id, "content_index": 0, "delta": item.text},
                )
            await self._emit(
                "conversation.item.input_audio_transcription.completed",
                {
                    "item_id": item.id,
                    "content_index": 0,
                    "transcript": item.text,
                    "usage": {"type": "duration", "seconds": round(transcript.duration, 3)},
                },
            )
        await self._emit("conversation.item.done", {"item": item.wire(beta=self._beta)})

    # --- items ---------------------------------------------------------------------------------

    async def _create_item(self, event: dict[str, Any]) -> None:
        raw = event.get("item")
        item = item_from_client(raw)
        encoded = item_audio(raw) if isinstance(raw, dict) else None
        audio = None if encoded is None else decode_item_audio(encoded, "item.content[0].audio")
        self._limits.check_text(item.text or "", param="item.content")
        previous = self.items.add(item, after=event.get("previous_item_id"))
        await self._emit(
            "conversation.item.added", {"previous_item_id": previous, "item": item.wire(beta=self._beta)}
        )
        if audio is not None:  # heard as a committed turn is: its transcript, then conversation.item.done
            self._transcripts[item.id] = asyncio.create_task(
                self._transcribe(item, audio), name="realtime-transcript"
            )
            return
        await self._emit(
            "conversation.item.done", {"previous_item_id": previous, "item": item.wire(beta=self._beta)}
        )

    async def _truncate(self, event: dict[str, Any]) -> None:
        item = self.items.get(event.get("item_id"))
        end = event.get("audio_end_ms")
        if item.role != "assistant" or not item.content_type.endswith("audio"):
            raise InvalidInputError("only an assistant's audio item can be truncated", param="item_id")
        if not isinstance(end, int) or isinstance(end, bool) or end < 0:
            raise InvalidInputError(
                "audio_end_ms must be a whole number of milliseconds, 0 or more", param="audio_end_ms"
            )
        response = item.response
        if response is None:
            raise InvalidInputError("this item has no audio of this session to truncate", param="item_id")
        if self._response is response:
            await self._cancel_response("client_cancelled")
        if end > response.audio_ms:
            raise InvalidInputError(
                f"audio_end_ms ({end}) is beyond the item's audio ({response.audio_ms} ms)",
                param="audio_end_ms",
            )
        response.truncate(end)
        await self._emit(
            "conversation.item.truncated", {"item_id": item.id, "content_index": 0, "audio_end_ms": end}
        )

    # --- responses -----------------------------------------------------------------------------

    async def _start_response(self, overrides: Any, *, started: float | None = None) -> None:
        if self.config.kind != "realtime":
            raise InvalidInputError(
                "a transcription session does not respond: open a realtime session (session.type "
                "'realtime') for answers",
                param="type",
            )
        target = response_target(overrides, self.items)
        if target.out_of_band and len(self._out_of_band) >= MAX_OUT_OF_BAND:
            raise InvalidInputError(
                f"{MAX_OUT_OF_BAND} out-of-band responses are running: wait for a response.done",
                param="response.conversation",
                code="too_many_active_responses",
            )
        if not target.out_of_band and self._response is not None:
            raise InvalidInputError(
                "Conversation already has an active response in progress: cancel it (response.cancel) "
                "or wait for response.done",
                param="type",
                code="conversation_already_has_active_response",
            )
        config = (
            self.config
            if overrides is None
            else updated(self.config, parse_session(overrides, param="response"), param="response")
        )
        voice = self._runtime.resolve_voice(config.voice, param="response.voice")
        if "audio" in config.modalities and voice.tts.sample_rate != AUDIO_RATE:
            raise InvalidInputError(
                f"voice {voice.voice!r} speaks at {voice.tts.sample_rate} Hz and the Realtime protocol's "
                f"audio is {AUDIO_RATE} Hz: choose a voice of a 24 kHz model",
                param="response.voice",
            )
        context = self.items if target.context is None else target.context
        if target.context is not None or not self._transcripts:  # (a transcript on its way: a turn)
            context.history(config.instructions, max_messages=0)  # refused before it starts
        kind = "output_audio" if "audio" in config.modalities else "output_text"
        item = Item(
            id=ev.new_id("item"), role="assistant", content_type=kind, text=None, status="in_progress"
        )
        response = Response(config, item, clock=self._clock, target=target)
        item.response = response
        await self._emit("response.created", {"response": response.wire(beta=self._beta, output=False)})
        task = asyncio.create_task(
            self._respond(
                response, context, voice.voice, voice.model.model_id, started or time.perf_counter()
            ),
            name="realtime-response",
        )
        if target.out_of_band:
            self._out_of_band[response.id] = (response, task)
        else:
            self._response, self._response_task = response, task

    async def _respond(
        self, response: Response, context: Conversation, voice: str, model: str, started: float
    ) -> None:
        try:
            for pending in list(self._transcripts.values()):
                await asyncio.shield(pending)  # the answer reads the transcripts
            history, said = context.history(
                response.config.instructions, max_messages=self._limits.max_history_messages - 1
            )
            # Out of band, the item joins no conversation (and is no earlier item's successor).
            previous = None if response.target.out_of_band else self.items.add(response.item)
            turn = Turn(self._runtime, self._limits, self._speaker)
            turn.check_history(history, param="conversation")
            await run_response(
                response,
                turn,
                history,
                said,
                voice=voice,
                model=model,
                emit=self._emit,
                beta=self._beta,
                started=started,
                previous=previous,
            )
        except asyncio.CancelledError:
            raise
        except ClientDisconnectedError:
            return  # the receive loop sees the client leave too, and ends the session
        except Exception as exc:
            error = exc if isinstance(exc, CoordinatorError) else stream_failure(exc)
            response.status = "failed"
            response.status_details = {"type": "failed", "error": ev.error_payload(error)["error"]}
            with contextlib.suppress(ClientDisconnectedError):
                await self._error(error, None)
                await self._emit("response.done", {"response": response.wire(beta=self._beta)})
        finally:
            if self._response is response:
                self._response = None
            self._out_of_band.pop(response.id, None)

    async def _cancel_response(self, reason: str, *, truncate: bool = False, response_id: Any = None) -> bool:
        """Stop a response in flight (True), or say there was none (False): the one named by
        ``response_id``, else the conversation's (out-of-band ones run on, as OpenAI's do).
        ``truncate`` (barge-in): its item keeps only what the listener heard, by the estimate of
        real-time playback, and the client is told with ``conversation.item.truncated``."""
        found: tuple[Response | None, asyncio.Task[None] | None]
        if response_id is not None and response_id in self._out_of_band:
            found = self._out_of_band.pop(response_id)
        elif response_id is None or (self._response is not None and self._response.id == response_id):
            found, self._response = (self._response, self._response_task), None
        else:
            return False
        response, task = found
        if response is None or task is None or task.done():
            return False
        heard = response.heard_ms()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        response.status = "cancelled"
        response.status_details = {"type": "cancelled", "reason": reason}
        response.item.status = "incomplete"
        if response.item.text is None:
            response.item.text = response.answer.text.strip()
        truncate = truncate and response.audio
        if truncate:  # nothing heard yet: nothing of it stays (what was only written was not said)
            response.truncate(heard)
        await self._emit("response.done", {"response": response.wire(beta=self._beta)})
        if truncate:
            await self._emit(
                "conversation.item.truncated",
                {"item_id": response.item.id, "content_index": 0, "audio_end_ms": heard},
            )
        return True

    # --- output --------------------------------------------------------------------------------

    async def _emit(self, name: str, fields: dict[str, Any]) -> None:
        wire_name = ev.event_name(name, beta=self._beta, transcription=self.config.kind == "transcription")
        if wire_name is None:
            return
        async with self._send_lock:
            await self._sink.event({"type": wire_name, "event_id": ev.new_id("event"), **fields})

    async def _error(self, error: CoordinatorError, client_event_id: str | None) -> None:
        async with self._send_lock:
            await self._sink.event(ev.error_payload(error, client_event_id=client_event_id))


def _parse(text: str) -> dict[str, Any]:
    # The one JSON reader of every socket door: it names "nested too deeply" apart from "not JSON".
    event = parse_json(text, what="the message", fix="send one JSON event object per frame", param="type")
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise InvalidInputError('each event must be a JSON object with a string "type"', param="type")
    return event
