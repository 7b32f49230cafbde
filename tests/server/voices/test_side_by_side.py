"""A cloned voice and a built-in voice speak at the same time on one server: each on its own
model's engine (the pretrained stand-in, the English fine-tune), their SNAC windows decoded by the
one shared decode scheduler, and each stream's audio exactly what its model alone says."""

from __future__ import annotations

import threading

import httpx
import numpy as np

from coordinator.engine.sampling import SamplingParams
from tests.rig.snac_checkpoint import silence_noise_blocks
from tests.server.voices.conftest import HTTP_TIMEOUT_S

TEXT = "Hello there."
FRAMES = 8
SEED = 3
PCM_FULL_SCALE = 32768
# Exact up to pcm16 rounding (and float noise of a batched decode).
PCM_TOLERANCE = 1e-4 + 1.5 / PCM_FULL_SCALE


def _body(voice: str) -> dict:
    return {
        "model": "tts-1",
        "input": TEXT,
        "voice": voice,
        "response_format": "pcm",
        "max_tokens": 7 * FRAMES,
        "seed": SEED,
    }


def _alone(model, spoken) -> np.ndarray:
    """What ``model`` alone says for the request, generated and decoded offline in-process."""
    params = SamplingParams(**{**vars(model.tts.default_params), "max_tokens": 7 * FRAMES, "seed": SEED})
    speech = model.tts.synthesize(TEXT, spoken, params)
    streamed = np.concatenate(list(speech))
    offline = model.tts.codec.decode(speech.frames)
    assert np.abs(streamed - offline).max() < 1e-4
    return offline


def test_a_cloned_and_a_built_in_voice_stream_side_by_side_with_exact_audio(url, voice, cloning_runtime):
    speech = cloning_runtime.speech
    silence_noise_blocks(cloning_runtime.snac.codec.model)  # SNAC's noise blocks: exact comparisons
    cloned = speech.resolve(voice["id"])
    builtin = speech.resolve("tara")
    assert cloned.model is speech.cloning and builtin.model is speech.default
    assert cloned.tts.engine is not builtin.tts.engine
    assert cloned.tts.codec is builtin.tts.codec is cloning_runtime.snac.codec  # one SNAC for both
    # The spoken form is what each model is given (TEXT reads the same either way).
    references = {voice["id"]: _alone(cloned.model, cloned.spoken), "tara": _alone(builtin.model, "tara")}
    sampled = {key: m.tts.engine.stats.tokens_sampled for key, m in ((m.key, m) for m in speech)}
    windows = cloning_runtime.snac.stats.windows

    results: dict[str, bytes] = {}
    barrier = threading.Barrier(len(references))

    def ask(name: str) -> None:
        with httpx.Client(base_url=url, timeout=HTTP_TIMEOUT_S) as http:
            barrier.wait()
            response = http.post("/v1/audio/speech", json=_body(name))
            assert response.status_code == 200, response.text
            results[name] = response.content

    threads = [threading.Thread(target=ask, args=(name,)) for name in references]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=HTTP_TIMEOUT_S)
    assert set(results) == set(references)
    for name, body in results.items():
        audio = np.frombuffer(body, dtype="<i2").astype(np.float32) / PCM_FULL_SCALE
        assert audio.shape == references[name].shape, name
        assert np.abs(audio - references[name]).max() <= PCM_TOLERANCE, name
    # Each voice's own engine did its work, and both streams' windows went through the scheduler.
    for model in speech:
        if model.key in ("en", "pretrained"):
            assert model.tts.engine.stats.tokens_sampled - sampled[model.key] >= 7 * FRAMES, model.key
    assert cloning_runtime.snac.stats.windows > windows
