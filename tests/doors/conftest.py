"""One live server for the door table: three Orpheus models (English, the default, French, and the
cloning model with one custom voice in its VOICES_DIR), the chat model, Whisper and SNAC, served over
HTTP, both WebSockets and Wyoming from one lifespan, with small caps so that every rule is cheap to
check and its bound easy to see."""

from __future__ import annotations

import pytest

from coordinator.config.settings import Settings
from coordinator.launch.app import create_app  # the whole server: HTTP and Wyoming
from coordinator.runtime.loading import load_runtime
from coordinator.voices.store import VoiceStore
from tests.doors.server import DoorServer
from tests.rig.language_models import LANGUAGE_VOICES, write_language_rig
from tests.rig.snac_checkpoint import silence_noise_blocks
from tests.server.conftest import serving
from tests.voices.rig import audio_for, random_voice
from tests.wyoming.conftest import free_port

# The caps the rules check (in audio tokens: 7 a frame). TTS_MAX_TOKENS is the looser one, so a
# door that applies only it, not MAX_COMPLETION_TOKENS, speaks longer utterances than the rule
# allows. Both are far below what any text's length cap allows (2 s of lead-in alone: 164).
FRAME_TOKENS = 7
COMPLETION_TOKEN_CAP = 5 * FRAME_TOKENS
TTS_MAX_TOKENS = 2 * COMPLETION_TOKEN_CAP
# Above every text the doors speak in the table; under the 4096 of /v1/audio/speech's schema, so
# that the refusal comes from the server's limit and names it.
MAX_INPUT_CHARS = 1500
WYOMING_SEED = 11
# The door table speaks in the default model and in this one.
MODELS = ("en", "fr")
# ... and in a custom voice, spoken by the cloning model (the tiny pretrained stand-in).
CLONING_MODEL = "pretrained"
CUSTOM_VOICE = random_voice("voice_" + "d" * 16, "Dora")


@pytest.fixture(scope="module")
def door_settings(tmp_path_factory, model_env, pretrained_gguf) -> Settings:
    directory = tmp_path_factory.mktemp("doors")
    catalog = write_language_rig(directory, {key: LANGUAGE_VOICES[key] for key in MODELS})
    voices = directory / "voices"
    VoiceStore(voices, max_count=1).add(CUSTOM_VOICE, audio_for(CUSTOM_VOICE))
    env = {
        **model_env,  # the English model is the session's rig model (ORPHEUS_MODEL_PATH)
        "MODELS_CONFIG": str(catalog),
        "MODELS_DIR": str(directory),
        "ORPHEUS_MODELS": ",".join([*MODELS, CLONING_MODEL]),
        "ORPHEUS_MODEL_PATHS": f"{CLONING_MODEL}={pretrained_gguf}",
        "MEMORY_BUDGET_GB": "1000",  # the cloning model's longer context, beside the others
        "VOICES_DIR": str(voices),
        "TTS_MAX_TOKENS": str(TTS_MAX_TOKENS),
        "MAX_COMPLETION_TOKENS": str(COMPLETION_TOKEN_CAP),
        "MAX_INPUT_CHARS": str(MAX_INPUT_CHARS),
        "WYOMING_HOST": "127.0.0.1",
        "WYOMING_PORT": str(free_port()),
        "WYOMING_SEED": str(WYOMING_SEED),
    }
    return Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})


@pytest.fixture(scope="module")
def door_server(door_settings):
    """The server every door of the table is driven on, through its public protocol only."""
    runtime = load_runtime(door_settings)
    silence_noise_blocks(runtime.tts.codec.model)
    try:
        with serving(create_app(door_settings, runtime=runtime)) as url:
            yield DoorServer(url=url, wyoming_port=door_settings.wyoming_port, runtime_settings=door_settings)
    finally:
        runtime.close()
