"""POST /v1/audio/speech/captioned: the speech and its words in one JSON answer.

The shape is Kokoro-FastAPI's captioned_speech (``audio`` base64, ``audio_format``,
``timestamps`` of ``{word, start_time, end_time}``), the one clients of OpenAI-style TTS servers
already parse; ElevenLabs' with-timestamps times characters, which Whisper does not hear. Added:
each utterance as heard (its check), WebVTT and SRT captions, the usage (docs/timings.md).
"""

from __future__ import annotations

import base64
import time

from fastapi import APIRouter, Depends, Request

from coordinator.audio.encoders import make_encoder
from coordinator.server.disconnect import unless_disconnected
from coordinator.server.routes.audio import speech_usage
from coordinator.server.schemas.speech import (
    CaptionedSpeechRequest,
    CaptionedSpeechResponse,
    Captions,
    WordTimestamp,
)
from coordinator.server.speaking import get_speaker, sampling_of
from coordinator.service.captioning import captioned
from coordinator.service.speech import ListenRequest, Speaker

router = APIRouter()


@router.post("/v1/audio/speech/captioned")
async def create_captioned_speech(
    request: Request, body: CaptionedSpeechRequest, speaker: Speaker = Depends(get_speaker)
) -> CaptionedSpeechResponse:
    """The whole speech, its words timed, each utterance checked where checks are on; not
    streamed, so an utterance that fails its check is generated again (SPEECH_RETAKES) and the
    better take kept."""
    speech = speaker.speak(
        body.input,
        body.voice,
        body.model,
        door="speech",
        sampling=sampling_of(body),
        started=time.perf_counter(),
        normalize=body.normalize,
        listen=ListenRequest(timings=body.timings, check=body.check, retakes=body.retakes, streamed=False),
    )
    # A whole file: FLAC's header can hold its true length.
    encoder = make_encoder(body.response_format, live=False)
    answer = await unless_disconnected(request, captioned(speech, speed=body.speed, encoder=encoder))
    return CaptionedSpeechResponse(
        audio=base64.b64encode(answer.audio).decode(),
        audio_format=body.response_format,
        duration=round(answer.duration, 3),
        timestamps=[
            WordTimestamp(word=w.text, start_time=round(w.start, 3), end_time=round(w.end, 3))
            for w in answer.words
        ],
        utterances=[heard.as_dict(answer.speed) for heard in answer.heard],
        captions=Captions(vtt=answer.webvtt(), srt=answer.srt()),
        usage=speech_usage(answer.usage),
    )
