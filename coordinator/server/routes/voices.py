"""Custom voices over HTTP: POST /v1/audio/voices (create), GET and DELETE /v1/audio/voices/{voice_id}.

A thin door: the multipart form is read by voice_form.py, everything else is
coordinator/service/voices.py's. The form (OpenAI's fields, and ours): ``name``; the recording as ``audio_sample`` (or ``file`` /
``audio``), repeated for several samples; ``transcript``, one per sample in the samples' order,
optional (the server's Whisper transcribes a missing one); ``consent``, a recording of the speaker
saying VOICE_CONSENT_PHRASE when the server sets one. The answer comes once the voice is kept: at
most VOICE_REFERENCE_MAX_S of audio is prepared and encoded, a few seconds' work, so no progress
events (the page shows a spinner). The key rules (create/delete need the key; without one set, only
from this machine) are security.py's; the body limit is MAX_UPLOAD_BYTES.

GET /v1/audio/voices/{name} is a custom voice for a ``voice_<hex>`` id; any other name is still the
model's voice listing (audio.py's), which SillyTavern reads.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from coordinator.errors import InvalidInputError, VoiceNotFoundError
from coordinator.runtime.loading import Runtime
from coordinator.server.deps import get_runtime
from coordinator.server.disconnect import unless_disconnected
from coordinator.server.routes.audio import voices_of_model
from coordinator.server.schemas.listings import VoiceOptions
from coordinator.server.schemas.voices import CustomVoice, VoiceDeleted
from coordinator.server.voice_form import read_voice_form, voice_form_body
from coordinator.service.voices import NAME_PARAM, VoiceCloning
from coordinator.tts.registry import CLONING_MODEL_KEY, SpeechModel
from coordinator.voices.store import ID_PATTERN

router = APIRouter()

VOICES_PATH = "/v1/audio/voices"
# One path for a custom voice and for a model's voice listing (an OpenAPI path has one template).
VOICE_PATH = VOICES_PATH + "/{name}"


def model_voices(runtime: Runtime, model: SpeechModel) -> list[str]:
    """What a model listing shows as a model's voices: its own, and for the cloning model, the
    custom voices' ids (what to send as voice)."""
    if model is not runtime.speech.cloning:
        return list(model.voices)
    return [*model.voices, *(voice.id for voice in runtime.voices.voices())]


def get_cloning(request: Request, runtime: Runtime = Depends(get_runtime)) -> VoiceCloning:
    """The one cloning service of the loaded runtime (app.py makes it with the runtime)."""
    cloning: VoiceCloning = request.app.state.voice_cloning
    return cloning


def _card(voice_id: str, runtime: Runtime, cloning: VoiceCloning) -> CustomVoice:
    cloned = cloning.get(voice_id)
    model = runtime.speech.cloning
    return CustomVoice.of(cloned, model.model_id if model is not None else None)


@router.post(VOICES_PATH, openapi_extra=voice_form_body())
async def create_voice(
    request: Request,
    runtime: Runtime = Depends(get_runtime),
    cloning: VoiceCloning = Depends(get_cloning),
) -> CustomVoice:
    """Create a custom voice from 3–30 s recordings of one speaker (OpenAI's create-voice shape)."""
    model = runtime.speech.cloning
    if model is None:
        loaded = ",".join(m.key for m in runtime.speech)
        raise InvalidInputError(
            "no cloning model is loaded here, so a custom voice could not be spoken: set "
            f"ORPHEUS_MODELS={loaded},{CLONING_MODEL_KEY} and restart",
            param=NAME_PARAM,
        )
    name, samples, transcripts, consent = await read_voice_form(request)
    voice = await unless_disconnected(request, cloning.create(name, samples, transcripts, consent))
    return CustomVoice.of(voice, model.model_id)


@router.get(VOICE_PATH, response_model=CustomVoice | VoiceOptions)
async def get_voice(
    name: str, runtime: Runtime = Depends(get_runtime), cloning: VoiceCloning = Depends(get_cloning)
) -> CustomVoice | VoiceOptions:
    """A custom voice's id (``voice_<hex>``): that voice. Any other name: that model's voices in
    SillyTavern's TTS WebUI shape (audio.py), as before custom voices."""
    if ID_PATTERN.fullmatch(name):
        return _card(name, runtime, cloning)
    return voices_of_model(name, runtime)


@router.delete(VOICE_PATH)
async def delete_voice(name: str, cloning: VoiceCloning = Depends(get_cloning)) -> VoiceDeleted:
    """Forget a custom voice, by its id. Streams already speaking with it finish: they hold it."""
    voice_id = name
    if not ID_PATTERN.fullmatch(voice_id):
        raise VoiceNotFoundError(
            f"{voice_id!r} is not a custom voice's id (voice_<hex>): only custom voices can be deleted; "
            "GET /v1/audio/voices lists them",
            param="voice_id",
        )
    voice = await cloning.delete(voice_id)
    return VoiceDeleted(id=voice.id)
