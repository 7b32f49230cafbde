"""POST /v1/audio/speech (and /stream); the voice and model listings clients read."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import AsyncIterator

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sse_starlette import EventSourceResponse

from coordinator.audio.encoders import StreamEncoder, make_encoder
from coordinator.audio.tempo import at_speed
from coordinator.orpheus.voices import Voice
from coordinator.runtime.loading import Runtime
from coordinator.server.deps import get_runtime
from coordinator.server.errors import error_event
from coordinator.server.schemas.listings import (
    SpeechModelCard,
    SpeechModelList,
    VoiceCard,
    VoiceList,
    VoiceOption,
    VoiceOptions,
)
from coordinator.server.schemas.speech import SpeechRequest
from coordinator.server.speaking import get_speaker, sampling_of
from coordinator.server.streaming import STREAM_HEADERS, encoded_audio, primed, sse_event
from coordinator.service.failures import stream_failure
from coordinator.service.speech import ListenRequest, Speaker, Speech, Usage
from coordinator.tts.registry import GENERIC_SPEECH_MODELS

logger = logging.getLogger(__name__)
router = APIRouter()

# OpenAI's TTS model names, accepted so existing clients work unchanged: the voice picks the model.
OPENAI_SPEECH_ALIASES = GENERIC_SPEECH_MODELS


def voices_of(runtime: Runtime) -> list[Voice]:
    """Every voice a speech request may name: each model's own, then the aliases."""
    return runtime.speech.voice_listing()


# The listings reveal only names, and clients fetch them without a key (security.py: OPEN_PATHS).
@router.get("/v1/audio/voices")
async def list_voices(runtime: Runtime = Depends(get_runtime)) -> VoiceList:
    """Open WebUI's shape: ``{"voices": [{"id", "name"}, ...]}``, each with its model and
    language; aliases carry ``alias_of``."""
    return VoiceList(
        voices=[VoiceCard(**vars(voice)) for voice in voices_of(runtime)],
        default=runtime.speech.default.default_voice,
    )


@router.get("/v1/audio/models")
async def list_speech_models(runtime: Runtime = Depends(get_runtime)) -> SpeechModelList:
    """Open WebUI's shape: ``{"models": [{"id"}, ...]}``: every loaded Orpheus model with its
    languages, then the OpenAI names, served by the model the voice picks (the default one's
    id stands in ``alias_of``)."""
    models = [SpeechModelCard(id=m.model_id, alias_of=None, languages=m.languages) for m in runtime.speech]
    default = runtime.speech.default.model_id
    aliases = [SpeechModelCard(id=alias, alias_of=default) for alias in OPENAI_SPEECH_ALIASES]
    return SpeechModelList(models=[*models, *aliases])


def voices_of_model(model: str, runtime: Runtime) -> VoiceOptions:
    """GET /v1/audio/voices/{name} for a model's name (routes/voices.py serves the path: a custom
    voice's id there is that voice). SillyTavern's TTS WebUI shape: ``{"voices": [{"value",
    "label"}, ...]}``: that model's voices (a generic name such as tts-1: every voice)."""
    chosen = runtime.speech.model(model)
    voices = [v for v in voices_of(runtime) if chosen is None or v.model == chosen.model_id]
    return VoiceOptions(voices=[VoiceOption(value=v.id, label=v.name) for v in voices])


@router.post("/v1/audio/speech", response_model=None)
async def create_speech(
    request: Request, body: SpeechRequest, speaker: Speaker = Depends(get_speaker)
) -> Response:
    """OpenAI-compatible speech; the audio streams while it is generated (FLAC: once complete,
    so that its header holds the true length)."""
    return await _speech_response(request, body, speaker, live=False)


@router.post("/v1/audio/speech/stream", response_model=None)
async def create_speech_stream(
    request: Request, body: SpeechRequest, speaker: Speaker = Depends(get_speaker)
) -> Response:
    """The same request, always streamed, FLAC too (its header then says "length unknown")."""
    return await _speech_response(request, body, speaker, live=True)


async def _speech_response(
    request: Request, body: SpeechRequest, speaker: Speaker, *, live: bool
) -> Response:
    started = time.perf_counter()
    encoder = make_encoder(body.response_format, live=live)
    try:
        # Validation (voice, length, caps, context) happens here, before any byte is sent: 4xx.
        speech = speaker.speak(
            body.input,
            body.voice,
            body.model,
            door="speech",
            sampling=sampling_of(body),
            started=started,
            normalize=body.normalize,
            listen=ListenRequest(timings=body.timings, check=body.check, retakes=body.retakes),
        )
        chunks = await primed(at_speed(speech.chunks(), body.speed), request)
    except BaseException:
        encoder.close()  # no response will own it
        raise
    if body.stream_format == "sse":
        return EventSourceResponse(_sse_events(speech, chunks, encoder, body.speed), headers=STREAM_HEADERS)
    return StreamingResponse(
        encoded_audio(chunks, encoder), media_type=encoder.media_type, headers=STREAM_HEADERS
    )


async def _sse_events(
    speech: Speech, chunks: AsyncIterator[np.ndarray], encoder: StreamEncoder, speed: float
) -> AsyncIterator[dict[str, str]]:
    """OpenAI's speech SSE: ``speech.audio.delta`` events, then ``speech.audio.done``; with
    timings or checks, a ``speech.audio.heard`` after each utterance (docs/timings.md)."""
    try:
        async for chunk in chunks:
            data = encoder.encode(chunk)
            if data:
                yield sse_event({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()})
            for heard in speech.new_heard():
                yield sse_event({"type": "speech.audio.heard", **heard.as_dict(speed)})
        tail = encoder.finish()
        if tail:
            yield sse_event({"type": "speech.audio.delta", "audio": base64.b64encode(tail).decode()})
        await speech.finish_listening()
        for heard in speech.new_heard():
            yield sse_event({"type": "speech.audio.heard", **heard.as_dict(speed)})
        yield sse_event({"type": "speech.audio.done", "usage": speech_usage(speech.usage)})
    except Exception as exc:
        yield sse_event(error_event(stream_failure(exc)))
    finally:
        encoder.close()


def speech_usage(spent: Usage) -> dict[str, int]:
    """OpenAI's speech usage, with what Orpheus adds."""
    return {
        "input_tokens": spent.prompt_tokens,
        "output_tokens": spent.completion_tokens,
        "total_tokens": spent.prompt_tokens + spent.completion_tokens,
        # Utterances the text was spoken in, and how many of them were cut at the length their
        # text can plausibly need because the model did not end them (TTS_LENGTH_CAP).
        "utterances": spent.utterances,
        "length_capped": spent.length_capped,
        # Utterances generated again because their check failed (docs/timings.md).
        "retakes": spent.retakes,
    }
