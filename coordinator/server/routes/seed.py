"""The seed guide's speech endpoints: GET|POST /tts (speech as one streaming WAV) and GET /models
(the models and their licenses)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from coordinator.audio.encoders import WavEncoder
from coordinator.runtime.loading import Runtime
from coordinator.server.deps import get_runtime
from coordinator.server.routes.voices import model_voices
from coordinator.server.schemas.speech import SeedTTSRequest
from coordinator.server.speaking import get_speaker, sampling_of
from coordinator.server.streaming import STREAM_HEADERS, encoded_audio, primed
from coordinator.service.speech import Speaker

router = APIRouter()


async def _seed_tts(request: Request, body: SeedTTSRequest, speaker: Speaker) -> StreamingResponse:
    started = time.perf_counter()
    speech = speaker.speak(
        body.prompt, body.voice, door="tts", sampling=sampling_of(body), param="prompt", started=started
    )
    chunks = await primed(speech.chunks(), request)
    return StreamingResponse(
        encoded_audio(chunks, WavEncoder(), header_first=True), media_type="audio/wav", headers=STREAM_HEADERS
    )


@router.get("/tts", response_model=None)
async def seed_tts_get(
    request: Request, query: Annotated[SeedTTSRequest, Query()], speaker: Speaker = Depends(get_speaker)
) -> StreamingResponse:
    return await _seed_tts(request, query, speaker)


@router.post("/tts", response_model=None)
async def seed_tts_post(
    request: Request, body: SeedTTSRequest, speaker: Speaker = Depends(get_speaker)
) -> StreamingResponse:
    return await _seed_tts(request, body, speaker)


@router.get("/models")
async def seed_models(runtime: Runtime = Depends(get_runtime)) -> dict:
    """The seed guide's model description, with the license block."""
    catalog = runtime.catalog
    return {
        "llm": {
            "id": runtime.llm.model_id,
            "name": catalog.llm.name,
            "provider": catalog.llm.provider,
            "quantization": runtime.llm.quant,
            "license": catalog.llm.license,
            "license_url": catalog.llm.license_url,
            "capabilities": ["conversational_ai", "streaming", "instruction_following"],
            "loaded": True,
        },
        "tts": {
            "id": runtime.orpheus_text.model_id,
            "name": catalog.orpheus.name,
            "provider": catalog.orpheus.provider,
            "quantization": runtime.tts.quant,
            "license": catalog.orpheus.license,
            "license_url": catalog.orpheus.license_url,
            "capabilities": ["text_to_speech", "streaming", "emotion_control"],
            "voices": runtime.tts.voices,
            "languages": runtime.speech.default.languages,
            "loaded": True,
        },
        # Every loaded Orpheus model (the default one, "tts", first); a voice picks its model.
        "tts_models": [
            {
                "id": model.model_id,
                "key": model.key,
                "name": model.spec.name,
                "languages": model.languages,
                "quantization": model.tts.quant,
                "license": model.spec.license,
                "voices": model_voices(runtime, model),
            }
            for model in runtime.speech
        ],
        "codec": {
            "name": catalog.snac.name,
            "license": catalog.snac.license,
            "license_url": catalog.snac.license_url,
        },
    }
