"""The test rig: tiny GGUF models and a random-weight SNAC, built once per session.

Nothing is faked: tests run real llama.cpp inference on the tiny models and real SNAC decoding.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from coordinator.config.settings import Settings
from tests.rig.snac_checkpoint import silence_noise_blocks, write_random_snac
from tests.rig.tiny_gguf import build_chat_gguf, build_orpheus_gguf, build_pretrained_orpheus_gguf
from tests.rig.tiny_whisper import build_tiny_whisper

REPO = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config, items):
    """`gpu` tests run only where torch sees a CUDA GPU (benchmarks/gpu_proof.sh runs them there)."""
    gpu_tests = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_tests:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (benchmarks/gpu_proof.sh runs these on one)")
    for item in gpu_tests:
        item.add_marker(skip)


def _own_handlers() -> list[logging.Handler]:
    """The root logger's handlers, less pytest's (it adds and removes those around each phase)."""
    return [h for h in logging.getLogger().handlers if not type(h).__module__.startswith("_pytest")]


@pytest.fixture(autouse=True)
def root_logging():
    """Put the root logger back as it was after every test. `serve` (and configure_logging) replace
    its handlers with one on sys.stderr, which under pytest is a capture stream closed after the
    test: a handler left there makes every later record a "Logging error" on a closed file."""
    root = logging.getLogger()
    before, level = _own_handlers(), root.level
    yield
    for handler in _own_handlers():
        if handler not in before:
            root.removeHandler(handler)
    for handler in before:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


TEST_N_CTX = 1024
TEST_STREAMS = 4


@pytest.fixture(scope="session")
def rig_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def orpheus_gguf(rig_dir) -> Path:
    return build_orpheus_gguf(rig_dir / "tiny-orpheus.gguf", seed=0)


@pytest.fixture(scope="session")
def pretrained_gguf(rig_dir) -> Path:
    """The tiny stand-in for the pretrained (cloning) Orpheus, at its own token offset."""
    return build_pretrained_orpheus_gguf(rig_dir / "tiny-orpheus-pretrained.gguf")


@pytest.fixture(scope="session")
def chat_gguf(rig_dir) -> Path:
    return build_chat_gguf(rig_dir / "tiny-chat.gguf", seed=0)


@pytest.fixture(scope="session")
def snac_dir(rig_dir) -> Path:
    return write_random_snac(rig_dir / "snac_24khz", seed=0)


@pytest.fixture(scope="session")
def whisper_dir(rig_dir) -> Path:
    return build_tiny_whisper(rig_dir / "tiny-whisper", seed=0)


@pytest.fixture(scope="session")
def model_env(orpheus_gguf, chat_gguf, snac_dir, whisper_dir) -> dict[str, str]:
    """Environment that points the app at the rig's models."""
    return {
        "MODELS_CONFIG": str(REPO / "models.yaml"),
        "ORPHEUS_MODEL_PATH": str(orpheus_gguf),
        "LLM_MODEL_PATH": str(chat_gguf),
        "SNAC_MODEL_PATH": str(snac_dir),
        "STT_MODEL_PATH": str(whisper_dir),
        # One pass per window: the random model's text would set off every fallback temperature.
        "STT_TEMPERATURE_FALLBACK": "0",
        "SNAC_DEVICE": "cpu",
        "N_CTX": str(TEST_N_CTX),
        "MAX_CONCURRENT_STREAMS": str(TEST_STREAMS),
        "N_THREADS": "2",
        # The random model never says end of speech: keep default utterances short in tests.
        "TTS_MAX_TOKENS": "140",
    }


@pytest.fixture(scope="session")
def settings(model_env) -> Settings:
    return Settings(_env_file=None, **{k.lower(): v for k, v in model_env.items()})


@pytest.fixture(scope="session")
def tts(settings):
    """The real speech pipeline on the tiny models. SNAC's noise is silenced so that decodes can be
    compared exactly; everything else is as in production."""
    from coordinator.runtime.loading import load_tts

    speech = load_tts(settings)
    silence_noise_blocks(speech.codec.model)
    yield speech
    speech.close()


@pytest.fixture(scope="session")
def stt(settings):
    """The real faster-whisper pipeline on the tiny random Whisper (its text is meaningless)."""
    from coordinator.config.catalog import load_catalog
    from coordinator.runtime.loading import load_stt

    recogniser = load_stt(settings, load_catalog(settings.catalog_path()))
    yield recogniser
    recogniser.close()


@pytest.fixture
def cli_env(model_env, monkeypatch, tmp_path):
    """Run CLI commands from an empty directory with the rig's models configured."""
    for key, value in model_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return tmp_path
