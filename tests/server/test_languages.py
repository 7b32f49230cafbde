"""Several Orpheus models in one server: three tiny Orpheus-like GGUFs (English, French, Chinese)
with their own voices and custom-token offsets, loaded through the real path (models.yaml,
ORPHEUS_MODELS, MODELS_DIR, the memory plan), each on its own engine, sharing one SNAC."""

from __future__ import annotations

import io
import json
import threading

import httpx
import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from coordinator.audio.format import SAMPLE_RATE
from coordinator.config.settings import Settings
from coordinator.engine.sampling import sampling_with
from coordinator.launch.app import create_app  # the whole server: HTTP and Wyoming
from coordinator.runtime.loading import load_runtime
from coordinator.stt.audio import decode_audio
from tests.rig.audio_samples import encode, pcm16, spoken
from tests.rig.language_models import LANGUAGE_VOICES, write_language_rig
from tests.rig.snac_checkpoint import silence_noise_blocks
from tests.server.conftest import serving

VOICES = LANGUAGE_VOICES
FRAMES = 8
PCM_FULL_SCALE = 32768
# SNAC batched with other streams vs decoded alone, then 16-bit quantized: within one step.
PCM_TOLERANCE = 1e-4 + 1.5 / PCM_FULL_SCALE


@pytest.fixture(scope="module")
def languages_env(tmp_path_factory, model_env) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("languages")
    catalog_path = write_language_rig(directory)
    return {
        **model_env,  # the English model stays the session's rig model (ORPHEUS_MODEL_PATH)
        "MODELS_CONFIG": str(catalog_path),
        "MODELS_DIR": str(directory),
        "ORPHEUS_MODELS": "en,fr,zh",
    }


def _settings(env: dict[str, str], **overrides: str) -> Settings:
    return Settings(_env_file=None, **{k.lower(): v for k, v in {**env, **overrides}.items()})


@pytest.fixture(scope="module")
def multi_runtime(languages_env):
    runtime = load_runtime(_settings(languages_env))
    silence_noise_blocks(runtime.tts.codec.model)  # one codec for all: exact comparisons
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def multi_client(multi_runtime):
    with TestClient(create_app(multi_runtime.settings, runtime=multi_runtime)) as client:
        yield client


def _speech(voice: str, **extra) -> dict:
    return {
        "model": "tts-1",
        "input": "Hello there.",
        "voice": voice,
        "response_format": "pcm",
        "max_tokens": 7 * FRAMES,
        "seed": 3,
        **extra,
    }


def _reference(runtime, key: str, voice: str) -> np.ndarray:
    """What that model alone says for the request: generated and decoded offline in-process."""
    model = runtime.speech.find(key)
    params = sampling_with(model.tts.default_params, max_tokens=7 * FRAMES, seed=3)
    speech = model.tts.synthesize("Hello there.", voice, params)
    streamed = np.concatenate(list(speech))
    offline = model.tts.codec.decode(speech.frames)
    assert np.abs(streamed - offline).max() < 1e-4
    return offline


def test_every_selected_model_loads_on_its_own_engine_sharing_one_codec(multi_runtime):
    models = list(multi_runtime.speech)
    assert [m.key for m in models] == ["en", "fr", "zh"]
    assert len({id(m.tts.engine) for m in models}) == 3
    assert {id(m.tts.codec) for m in models} == {id(multi_runtime.snac.codec)}
    # Each model's audio tokens were found at its own offset.
    starts = [int(m.tts.vocab.slot_ids.min()) for m in models]
    assert len(set(starts)) == 3
    assert multi_runtime.tts is multi_runtime.speech.default.tts  # runtime.tts: the English model


def test_voices_of_each_model_are_spoken_concurrently_by_their_model_with_exact_audio(
    multi_runtime, languages_env
):
    wanted = {"tara": "en", "pierre": "fr", "长乐": "zh", "白芷": "zh"}
    references = {voice: _reference(multi_runtime, key, voice) for voice, key in wanted.items()}
    before = {m.key: m.tts.engine.stats.tokens_sampled for m in multi_runtime.speech}
    results: dict[str, bytes] = {}
    with serving(create_app(multi_runtime.settings, runtime=multi_runtime)) as url:
        barrier = threading.Barrier(len(wanted))

        def ask(voice: str) -> None:
            with httpx.Client(base_url=url, timeout=120) as http:
                barrier.wait()
                response = http.post("/v1/audio/speech", json=_speech(voice))
                assert response.status_code == 200, response.text
                results[voice] = response.content

        threads = [threading.Thread(target=ask, args=(voice,)) for voice in wanted]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    assert set(results) == set(wanted)
    for voice, body in results.items():
        audio = np.frombuffer(body, dtype="<i2").astype(np.float32) / PCM_FULL_SCALE
        reference = references[voice]
        assert audio.shape == reference.shape
        assert np.abs(audio - reference).max() <= PCM_TOLERANCE, voice
    # The voices' own models did the work: each engine sampled its requests' tokens.
    after = {m.key: m.tts.engine.stats.tokens_sampled for m in multi_runtime.speech}
    spoken = {key: sum(1 for k in wanted.values() if k == key) for key in before}
    for key in before:
        assert after[key] - before[key] >= spoken[key] * 7 * FRAMES


def test_the_same_seed_in_different_models_gives_different_audio(multi_runtime):
    # The French model speaking "max" is not the English one speaking "max".
    assert not np.array_equal(_reference(multi_runtime, "en", "max"), _reference(multi_runtime, "fr", "max"))


def test_a_voice_two_models_share_is_ambiguous_until_named(multi_client, multi_runtime):
    response = multi_client.post("/v1/audio/speech", json=_speech("max"))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "voice" and error["code"] == "ambiguous_voice"
    assert "en/max" in error["message"] and "fr/max" in error["message"]

    french = _reference(multi_runtime, "fr", "max")
    for body in (
        _speech("fr/max"),
        _speech("orpheus-3b-french-ft/max"),
        _speech("max", model="orpheus-3b-french-ft"),
        _speech("max", model="fr"),
        # model/voice wins over the model field
        _speech("fr/max", model="orpheus-3b-ft"),
    ):
        response = multi_client.post("/v1/audio/speech", json=body)
        assert response.status_code == 200, (body, response.text)
        audio = np.frombuffer(response.content, dtype="<i2").astype(np.float32) / PCM_FULL_SCALE
        assert np.abs(audio - french).max() <= PCM_TOLERANCE, body


def test_openai_voice_names_are_spoken_by_the_default_english_model(multi_client, multi_runtime):
    english_max = _reference(multi_runtime, "en", "max")
    for body in (
        _speech("onyx"),
        _speech("Onyx"),
        _speech("onyx", model="orpheus-3b-ft"),
        _speech("en/onyx"),
    ):
        response = multi_client.post("/v1/audio/speech", json=body)
        assert response.status_code == 200, (body, response.text)
        audio = np.frombuffer(response.content, dtype="<i2").astype(np.float32) / PCM_FULL_SCALE
        assert np.abs(audio - english_max).max() <= PCM_TOLERANCE, body
    # The aliases belong to the English model: the French one does not take them.
    response = multi_client.post("/v1/audio/speech", json=_speech("onyx", model="fr"))
    assert response.status_code == 400


def test_a_voice_is_matched_regardless_of_case_and_sent_as_trained(multi_client, multi_runtime):
    response = multi_client.post("/v1/audio/speech", json=_speech("Pierre"))
    assert response.status_code == 200
    audio = np.frombuffer(response.content, dtype="<i2").astype(np.float32) / PCM_FULL_SCALE
    assert np.abs(audio - _reference(multi_runtime, "fr", "pierre")).max() <= PCM_TOLERANCE


@pytest.mark.parametrize(
    ("body", "status", "param", "fragment"),
    [
        (_speech("bob"), 400, "voice", "unknown voice 'bob': choose one of en: tara, leah, max; fr: pierre"),
        # A voice of a catalog model this server does not load: the fix is ORPHEUS_MODELS.
        (_speech("jana"), 400, "voice", "add de to ORPHEUS_MODELS"),
        (_speech("tara", model="fr"), 400, "voice", "'tara' is a voice of orpheus-3b-ft (en)"),
        (
            _speech("tara", model="orpheus-3b-german-ft"),
            404,
            "model",
            "not loaded here: add de to ORPHEUS_MODELS",
        ),
        (_speech("tara", model="whisper-1"), 404, "model", "model 'whisper-1' does not exist here"),
        (_speech("xx/tara"), 400, "voice", "voice 'xx/tara' names model 'xx'"),
        (_speech("zh/pierre"), 400, "voice", "unknown voice 'pierre' for model orpheus-3b-chinese-ft"),
    ],
)
def test_unknown_voices_are_400s_and_unknown_models_404s_naming_the_fix(
    multi_client, body, status, param, fragment
):
    response = multi_client.post("/v1/audio/speech", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["param"] == param and fragment in error["message"], error


def test_listings_show_each_model_with_its_languages_and_voices(multi_client):
    cards = multi_client.get("/v1/models").json()["data"]
    speech = [c for c in cards if c.get("languages")]
    assert [(c["id"], c["languages"], c["voices"]) for c in speech] == [
        ("orpheus-3b-ft", ["en"], VOICES["en"]),
        ("orpheus-3b-french-ft", ["fr"], VOICES["fr"]),
        ("orpheus-3b-chinese-ft", ["zh"], VOICES["zh"]),
    ]
    listing = multi_client.get("/v1/audio/voices").json()
    assert listing["default"] == "tara"
    cards = [(v["id"], v["model"], v["language"]) for v in listing["voices"] if v["alias_of"] is None]
    # A voice two loaded models share is listed in the form that names it unambiguously.
    assert cards == [
        ("tara", "orpheus-3b-ft", "en"),
        ("leah", "orpheus-3b-ft", "en"),
        ("en/max", "orpheus-3b-ft", "en"),
        ("pierre", "orpheus-3b-french-ft", "fr"),
        ("amelie", "orpheus-3b-french-ft", "fr"),
        ("marie", "orpheus-3b-french-ft", "fr"),
        ("fr/max", "orpheus-3b-french-ft", "fr"),
        ("长乐", "orpheus-3b-chinese-ft", "zh"),
        ("白芷", "orpheus-3b-chinese-ft", "zh"),
    ]
    aliases = [(v["id"], v["alias_of"], v["model"]) for v in listing["voices"] if v["alias_of"]]
    assert aliases == [("alloy", "tara", "orpheus-3b-ft"), ("onyx", "max", "orpheus-3b-ft")]
    speech_models = multi_client.get("/v1/audio/models").json()["models"]
    assert [(m["id"], m["languages"]) for m in speech_models[:3]] == [
        ("orpheus-3b-ft", ["en"]),
        ("orpheus-3b-french-ft", ["fr"]),
        ("orpheus-3b-chinese-ft", ["zh"]),
    ]
    french = multi_client.get("/v1/audio/voices/fr").json()["voices"]
    assert [v["value"] for v in french] == ["pierre", "amelie", "marie", "fr/max"]
    assert len(multi_client.get("/v1/audio/voices/tts-1").json()["voices"]) == len(listing["voices"])
    health = multi_client.get("/health").json()["models"]
    assert [m["key"] for m in health["speech"]] == ["en", "fr", "zh"]
    assert health["tts"]["id"] == "orpheus-3b-ft"
    seed = multi_client.get("/models").json()
    assert [m["key"] for m in seed["tts_models"]] == ["en", "fr", "zh"]
    metrics = multi_client.get("/metrics").text
    for model_id in ("orpheus-3b-ft", "orpheus-3b-french-ft", "orpheus-3b-chinese-ft"):
        assert f'orpheus_max_sequences{{model="{model_id}"}}' in metrics


def test_raw_completions_reach_each_models_engine(multi_client, multi_runtime):
    before = multi_runtime.speech.find("zh").tts.engine.stats.tokens_sampled
    response = multi_client.post(
        "/v1/completions", json={"model": "orpheus-3b-chinese-ft", "prompt": "hello", "max_tokens": 3}
    )
    assert response.status_code == 200
    assert multi_runtime.speech.find("zh").tts.engine.stats.tokens_sampled - before == 3


def test_chinese_text_is_cut_at_its_own_sentence_ends(multi_runtime):
    import asyncio

    text = ("很好" * 25 + "。") * 3  # three 51-character sentences
    loop = asyncio.new_event_loop()
    try:
        chinese = multi_runtime.speech.find("zh").tts
        english = multi_runtime.speech.find("en").tts
        spoken = chinese.speak(text, "长乐", loop=loop)
        assert [len(r.prompt) for r in spoken._requests] and len(spoken._requests) == 3
        alone = english.speak(text, "tara", loop=loop)
        assert len(alone._requests) == 1  # English utterances hold 250 characters
        for stream in [*spoken.streams, *alone.streams]:
            stream.cancel()
    finally:
        loop.close()


def test_the_voice_assistant_and_the_websocket_speak_with_the_voices_model(multi_client, multi_runtime):
    french = multi_runtime.speech.find("fr").tts.engine
    before = french.stats.tokens_sampled
    response = multi_client.post(
        "/chat", json={"message": "Bonjour.", "voice": "amelie", "max_tokens": 8, "seed": 0}
    )
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    audio, rate = sf.read(io.BytesIO(response.content))
    assert rate == SAMPLE_RATE and len(audio) > 0
    assert french.stats.tokens_sampled > before
    chinese = multi_runtime.speech.find("zh").tts.engine
    before = chinese.stats.tokens_sampled
    with multi_client.websocket_connect("/v1/audio/speech/stream/ws?voice=白芷") as ws:
        ws.send_text("你好。")
        while (message := ws.receive()).get("bytes") is not None:
            pass
        assert '"speech.end"' in message["text"]
    assert chinese.stats.tokens_sampled > before


def test_the_live_voice_session_speaks_with_the_voices_model(multi_client, multi_runtime):
    """/v1/voice/ws took only the default model's voices; now any loaded model's, with ``model``
    to say where to look, as the speech WebSocket does."""
    samples, rate = spoken("Hello there. Tell me a story about a cat.")
    sentence = decode_audio(encode(samples, rate, "wav"), max_seconds=60)
    french = multi_runtime.speech.find("fr")
    before = french.tts.engine.stats.tokens_sampled
    with multi_client.websocket_connect("/v1/voice/ws?voice=amelie&model=fr&language=en&seed=1") as ws:
        created = ws.receive_json()
        ws.send_bytes(pcm16(sentence))
        ws.send_text(json.dumps({"type": "input_audio.commit"}))
        audio = 0
        while (message := ws.receive()).get("text") is None or '"reply.done"' not in message["text"]:
            audio += len(message.get("bytes") or b"")
            assert '"error"' not in (message.get("text") or ""), message
    assert created["voice"] == "amelie" and created["model"] == french.model_id
    assert audio > 0 and french.tts.engine.stats.tokens_sampled > before


def test_a_selection_that_does_not_fit_the_memory_budget_is_refused_at_start(
    languages_env, monkeypatch, capsys
):
    from coordinator.cli import main

    for key, value in {**languages_env, "MEMORY_BUDGET_GB": "0.3"}.items():
        monkeypatch.setenv(key, value)
    assert main(["serve", "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: the selected models do not fit:")
    for fragment in (
        "orpheus en",
        "orpheus fr",
        "orpheus zh",
        "llm",
        "KV cache",
        "budget 0.30 GB (MEMORY_BUDGET_GB)",
    ):
        assert fragment in err
    assert "ORPHEUS_MODELS=en,fr,zh" in err and "N_CTX (1024)" in err


def test_wyoming_lists_every_models_voices_with_their_language_and_speaks_with_the_voices_model(
    multi_runtime,
):
    import asyncio

    from wyoming.info import Describe, Info
    from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

    from tests.wyoming.conftest import free_port
    from tests.wyoming.test_live import client, http_pcm, same_speech, until_audio_stop

    settings = multi_runtime.settings.model_copy(
        update={"wyoming_port": free_port(), "wyoming_host": "127.0.0.1", "wyoming_seed": 7}
    )
    french = multi_runtime.speech.find("fr").tts.engine

    async def talk(port):
        async with client(port) as wy:
            await wy.write_event(Describe().event())
            info = Info.from_event(await wy.read_event())
            await wy.write_event(Synthesize(text="Bonjour.", voice=SynthesizeVoice(name="pierre")).event())
            _, one_shot, _ = await until_audio_stop(wy)
            # By language: Home Assistant may name only the language; Chinese streams are cut at 。
            await wy.write_event(SynthesizeStart(voice=SynthesizeVoice(language="zh")).event())
            for delta in ["你好。", "再见。"]:
                await wy.write_event(SynthesizeChunk(text=delta).event())
            first_group = await until_audio_stop(wy)  # "你好。" spoken before the stream ends
            await wy.write_event(SynthesizeStop().event())
            return info, one_shot, first_group

    before = french.stats.tokens_sampled
    with serving(create_app(settings, runtime=multi_runtime)) as url:
        info, one_shot, first_group = asyncio.run(talk(settings.wyoming_port))
        reference = http_pcm(url, "Bonjour.", voice="pierre", seed=7)
    (program,) = info.tts
    voices = {voice.name: voice.languages for voice in program.voices}
    assert program.voices[0].name == "tara"
    assert voices["pierre"] == ["fr"] and voices["长乐"] == ["zh"] and voices["en/max"] == ["en"]
    assert "max" not in voices and voices["fr/max"] == ["fr"]
    assert french.stats.tokens_sampled > before
    assert same_speech(one_shot, reference)
    assert len(first_group[1]) > 0


def test_the_cli_speaks_a_voice_of_any_selected_model_loading_only_that_one(
    languages_env, monkeypatch, tmp_path, capsys
):
    import soundfile

    from coordinator.cli import main
    from coordinator.runtime.loading import choice_for_voice

    for key, value in languages_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "pierre.wav"
    args = ["synth", "--text", "Bonjour.", "--voice", "Pierre", "--max-tokens", "56", "--seed", "3"]
    assert main([*args, "--out", str(out)]) == 0, capsys.readouterr().err
    info = soundfile.info(str(out))
    assert info.samplerate == SAMPLE_RATE and info.frames > 0
    assert "wrote" in capsys.readouterr().out
    settings = _settings(languages_env)
    from coordinator.config.catalog import load_catalog
    from coordinator.config.selection import select_orpheus

    choices = select_orpheus(load_catalog(settings.catalog_path()), settings)
    assert [
        (c.key, v) for c, v in [choice_for_voice(choices, name) for name in ("fr/max", "max", "长乐", None)]
    ] == [
        ("fr", "max"),
        ("en", "max"),
        ("zh", "长乐"),
        ("en", None),
    ]
