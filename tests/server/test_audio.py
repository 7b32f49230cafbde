"""/v1/audio/speech and friends on the tiny Orpheus model, decoded back with soundfile."""

import base64
import io
import json
from dataclasses import replace

import av
import numpy as np
import pytest
import soundfile as sf

from coordinator.audio.format import SAMPLES_PER_FRAME
from coordinator.orpheus.length import audio_token_need
from tests.rig.clock import FakeClock
from tests.rig.waiting import eventually

FRAMES = 10
SPEECH = {
    "model": "orpheus-3b-ft",
    "input": "Hello there.",
    "voice": "tara",
    "max_tokens": 7 * FRAMES,
    "seed": 1,
}


def _speech(client, **overrides):
    return client.post("/v1/audio/speech", json={**SPEECH, **overrides})


def _pcm(data):
    return np.frombuffer(data, dtype="<i2").astype(np.int32)


# The same tokens decode to the same audio up to float rounding: SNAC's windows are cut where the
# stream's timing puts them.
ROUNDING_LSB = 8


def _same_audio(a, b):
    return a.shape == b.shape and int(np.abs(a - b).max()) <= ROUNDING_LSB


def test_models_and_voices_are_listed(client):
    models = client.get("/v1/models").json()
    assert models["object"] == "list"
    assert models["data"][0] | {"created": 0} == {
        "id": "orpheus-3b-ft",
        "object": "model",
        "created": 0,
        "owned_by": "Canopy Labs",
        "quantization": "custom",
        "license": "Apache-2.0",
        "languages": ["en"],
        "voices": ["tara", "leah", "jess", "leo", "dan", "mia", "zac", "zoe"],
    }
    assert "languages" not in models["data"][-1]  # the chat model speaks no language of its own
    voices = client.get("/v1/audio/voices").json()
    assert voices["voices"][0] == {
        "id": "tara",
        "name": "Tara",
        "model": "orpheus-3b-ft",
        "language": "en",
        "alias_of": None,
        "default": True,
        "custom": False,  # a built-in voice, not a cloned one
    }
    assert [v["id"] for v in voices["voices"][:2]] == ["tara", "leah"] and voices["default"] == "tara"


def test_speech_streams_a_wav_that_holds_every_frame(client):
    response = _speech(client, response_format="wav")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    assert response.headers["cache-control"] == "no-cache" and response.headers["x-accel-buffering"] == "no"
    audio, rate = sf.read(io.BytesIO(response.content))
    assert rate == 24000 and audio.shape == (FRAMES * SAMPLES_PER_FRAME,)


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [("mp3", "audio/mpeg"), ("opus", "audio/ogg"), ("aac", "audio/aac"), ("flac", "audio/flac")],
)
def test_compressed_formats_decode_back(client, fmt, media_type):
    response = _speech(client, response_format=fmt)
    assert response.status_code == 200 and response.headers["content-type"] == media_type
    with av.open(io.BytesIO(response.content)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
        rate = container.streams.audio[0].rate
    assert samples >= FRAMES * SAMPLES_PER_FRAME * rate // 24000


def test_flac_is_whole_with_its_true_length_and_streamed_only_from_the_stream_endpoint(client):
    whole = _speech(client, response_format="flac")
    assert sf.info(io.BytesIO(whole.content)).frames == FRAMES * SAMPLES_PER_FRAME
    live = client.post("/v1/audio/speech/stream", json={**SPEECH, "response_format": "flac"})
    assert live.status_code == 200 and live.headers["content-type"] == "audio/flac"
    total_samples = int.from_bytes(live.content[21:26], "big") & 0xF_FFFF_FFFF  # STREAMINFO's field
    assert total_samples == 0  # "unknown": it went out while it was spoken


def test_the_default_format_is_openais_mp3(client):
    response = client.post("/v1/audio/speech", json={k: v for k, v in SPEECH.items()})
    assert response.status_code == 200 and response.headers["content-type"] == "audio/mpeg"


def test_pcm_is_raw_16bit_samples(client):
    response = _speech(client, response_format="pcm")
    assert response.headers["content-type"] == "audio/pcm"
    assert len(response.content) == FRAMES * SAMPLES_PER_FRAME * 2


def test_openai_model_aliases_and_the_stream_endpoint_work(client):
    for model in ("tts-1", "tts-1-hd", "gpt-4o-mini-tts"):
        assert _speech(client, model=model, response_format="pcm", max_tokens=7).status_code == 200
    response = client.post("/v1/audio/speech/stream", json={**SPEECH, "response_format": "wav"})
    assert response.status_code == 200 and response.content[:4] == b"RIFF"


def test_sse_sends_audio_deltas_then_done_with_usage(client):
    response = _speech(client, response_format="pcm", stream_format="sse")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
    assert [e["type"] for e in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1)
    pcm = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert len(pcm) == FRAMES * SAMPLES_PER_FRAME * 2
    assert events[-1]["type"] == "speech.audio.done"
    assert events[-1]["usage"]["output_tokens"] == 7 * FRAMES and events[-1]["usage"]["input_tokens"] > 5


def test_sse_with_timings_and_check_sends_each_utterance_heard_after_its_audio(client):
    # The random Orpheus says nothing and the random Whisper hears nothing true: the plumbing is
    # what is tested here (docs/timings.md; what the checks are worth: tests/timing/).
    response = _speech(client, response_format="pcm", stream_format="sse", timings=True, check=True)
    events = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
    heard = [e for e in events if e["type"] == "speech.audio.heard"]
    assert len(heard) == 1 and events[-1]["type"] == "speech.audio.done"
    assert events.index(heard[0]) > max(i for i, e in enumerate(events) if e["type"] == "speech.audio.delta")
    assert heard[0]["index"] == 0 and heard[0]["start"] == 0 and heard[0]["takes"] == 1
    assert heard[0]["end"] == pytest.approx(FRAMES * SAMPLES_PER_FRAME / 24000, abs=1e-3)
    assert set(heard[0]["check"]) >= {"word_error", "missing", "repeated", "added", "passed"}
    assert events[-1]["usage"]["retakes"] == 0


def test_retakes_over_the_servers_bound_are_refused_before_any_audio(client):
    response = _speech(client, response_format="pcm", check=True, retakes=99)
    assert response.status_code == 400 and response.json()["error"]["param"] == "retakes"


@pytest.mark.parametrize(
    ("overrides", "status", "param", "code", "message"),
    [
        ({"input": ""}, 400, "input", "invalid_value", "must not be empty"),
        ({"input": "  "}, 400, "input", "invalid_value", "must not be empty"),
        ({"input": "x" * 4097}, 400, "input", "invalid_value", "4096"),
        (
            {"voice": "nobody"},
            400,
            "voice",
            "invalid_value",
            "unknown voice 'nobody' for model orpheus-3b-ft: choose one of tara",
        ),
        ({"voice": {"name": "tara"}}, 400, "voice", "invalid_value", 'or an object {"id"'),
        ({"model": "whisper-1"}, 404, "model", "model_not_found", "model 'whisper-1' does not exist"),
        ({"response_format": "mp4"}, 400, "response_format", "invalid_value", "response_format"),
        ({"speed": 5}, 400, "speed", "invalid_value", "less than or equal to 4"),
        ({"max_tokens": 5000}, 400, "max_tokens", "invalid_value", "MAX_COMPLETION_TOKENS"),
        ({"temperature": -1}, 400, "temperature", "invalid_value", "greater than or equal to 0"),
        ({"seed": 2**64}, 400, "seed", "invalid_value", "less than or equal to"),
    ],
)
def test_bad_requests_get_openai_errors(client, overrides, status, param, code, message):
    response = _speech(client, **overrides)
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, code) and message in error["message"]
    assert error["type"] == "invalid_request_error"


def test_max_tokens_beyond_the_context_is_400_only_with_the_length_cap_off(client, tts, monkeypatch):
    # Under the server's MAX_COMPLETION_TOKENS (2048), over the test context (1024). With the cap
    # on, no utterance runs past TTS_MAX_TOKENS, which the settings make fit the context.
    response = _speech(client, max_tokens=2000, response_format="pcm")
    assert response.status_code == 200 and len(response.content) == 140 // 7 * SAMPLES_PER_FRAME * 2
    monkeypatch.setattr(tts, "length_cap", False)
    response = _speech(client, max_tokens=2000)
    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == "context_length_exceeded"
    assert error["param"] == "max_tokens" and "exceeds the context" in error["message"]


def test_malformed_json_and_wrong_content_type_are_400(client):
    response = client.post(
        "/v1/audio/speech", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]["message"]
    response = client.post("/v1/audio/speech", content=b"hello", headers={"content-type": "text/plain"})
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    response = client.post("/v1/audio/speech", json={"input": "hi"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "model"


def test_a_client_that_walks_away_cancels_its_generation(client, tts):
    with client.stream(
        "POST", "/v1/audio/speech", json={**SPEECH, "response_format": "pcm", "max_tokens": 700}
    ) as r:
        next(r.iter_bytes())
    eventually(lambda: not tts.engine.kv_cells_in_use(), "the generation gave back its KV cells")
    assert np.frombuffer(_speech(client, response_format="pcm").content, dtype="<i2").size == FRAMES * 2048


def test_long_input_is_spoken_as_several_utterances_joined_in_order(client, tts):
    sentence = "This sentence is long enough that two of them do not fit into one utterance, " * 2
    text = " ".join(f"{sentence.strip()} Number {i}." for i in range(3))
    assert len(text) > 2 * 160
    response = _speech(client, input=text, response_format="pcm", stream_format="sse")
    events = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
    pcm = b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta")
    # Every utterance ran to its own max_tokens (70 tokens = 10 frames) and was played whole.
    assert len(pcm) == 3 * FRAMES * SAMPLES_PER_FRAME * 2
    assert events[-1]["usage"]["output_tokens"] == 3 * 7 * FRAMES
    assert tts.engine.kv_cells_in_use() == {}


@pytest.mark.parametrize("speed", [0.5, 2.0])
def test_speed_changes_the_duration(client, speed):
    response = _speech(client, response_format="pcm", speed=speed)
    samples = len(response.content) // 2
    assert samples == pytest.approx(FRAMES * SAMPLES_PER_FRAME / speed, rel=0.05)


def test_a_full_engine_answers_429_with_retry_after(client, tts, monkeypatch):
    import threading

    engine = tts.engine
    monkeypatch.setattr(engine, "max_queue", 0)
    gate = threading.Event()
    engine.call_in_worker(gate.wait)  # hold the worker so the slots stay as they are
    held = []
    try:
        while True:  # fill every free slot
            try:
                held.append(engine.submit(tts.request("Hi.", "tara")))
            except Exception:
                break
        response = _speech(client, response_format="pcm")
        assert response.status_code == 429 and response.headers["retry-after"] == "5"
        error = response.json()["error"]
        assert error["type"] == "rate_limit_exceeded" and error["code"] == "rate_limit_exceeded"
    finally:
        for stream in held:
            stream.cancel()
        gate.set()
    # Cancelled requests no longer count against the queue: the next request is served.
    assert _speech(client, response_format="pcm").status_code == 200


def test_a_request_that_waits_past_the_queue_timeout_gets_503_with_retry_after(client, tts, monkeypatch):
    from coordinator.engine.batch_engine import GenerationRequest

    engine = tts.engine
    # Started at the engine's time, so a request queued meanwhile never looks older than it is
    # once the real clock is back.
    clock = FakeClock(start=engine.clock.now())
    monkeypatch.setattr(engine, "clock", clock)

    class Slow:
        """The held requests' frame constraint: each step they take moves the engine's clock on,
        so they hold every slot while the queue timeout passes, however fast the machine."""

        def __init__(self, inner):
            self.inner = inner

        def allowed(self):
            clock.advance(0.01)
            return self.inner.allowed()

        def accept(self, token_id):
            self.inner.accept(token_id)

    monkeypatch.setattr(engine, "queue_timeout_s", 0.3)
    held = []
    try:
        for _ in range(engine.max_sequences):
            request = tts.request("Hi.", "tara")
            busy = GenerationRequest(
                request.prompt, request.params, Slow(request.constraint), request.stop_ids
            )
            held.append(engine.submit(busy))
        for stream in held:
            stream.next_batch(timeout=30)  # each one holds a slot now
        response = _speech(client, response_format="pcm")
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        error = response.json()["error"]
        assert "waited over 0.3 s" in error["message"] and error["type"] == "server_error"
    finally:
        for stream in held:
            stream.cancel()
    assert _speech(client, response_format="pcm").status_code == 200
    assert engine.kv_cells_in_use() == {}


def test_an_openai_voice_name_speaks_with_the_voice_models_yaml_maps_it_to(client, runtime):
    aliases = runtime.catalog.orpheus.openai_voices
    assert aliases["alloy"] == "tara" and aliases["ash"] == "dan"
    own = _pcm(_speech(client, voice="dan", response_format="pcm").content)
    assert not _same_audio(_pcm(_speech(client, voice="tara", response_format="pcm").content), own)
    assert _same_audio(_pcm(_speech(client, voice="ash", response_format="pcm").content), own)
    openai_python = _speech(client, voice={"id": "ash"}, response_format="pcm").content
    assert _same_audio(_pcm(openai_python), own)
    assert _same_audio(
        _pcm(_speech(client, voice="Dan", response_format="pcm").content), own
    )  # typed by hand


def test_every_openai_voice_name_is_accepted(client):
    from coordinator.orpheus.voices import OPENAI_VOICES

    for name in OPENAI_VOICES:
        response = _speech(client, voice=name, response_format="pcm", max_tokens=7)
        assert response.status_code == 200, name


def test_the_voice_listing_marks_the_aliases(client):
    voices = client.get("/v1/audio/voices").json()["voices"]
    alloy = next(v for v in voices if v["id"] == "alloy")
    assert alloy == {
        "id": "alloy",
        "name": "Alloy (Tara)",
        "model": "orpheus-3b-ft",
        "language": "en",
        "alias_of": "tara",
        "default": False,
        "custom": False,
    }
    own = [v["id"] for v in voices if v["alias_of"] is None]
    assert own == ["tara", "leah", "jess", "leo", "dan", "mia", "zac", "zoe"]
    assert len(voices) == len(own) + 13


def test_the_speech_model_listing_and_sillytaverns_voice_listing(client):
    models = client.get("/v1/audio/models").json()["models"]
    assert models[0] == {"id": "orpheus-3b-ft", "alias_of": None, "languages": ["en"]}
    assert {m["id"] for m in models[1:]} >= {"tts-1", "tts-1-hd", "gpt-4o-mini-tts"}
    options = client.get("/v1/audio/voices/tts-1").json()["voices"]
    assert options[0] == {"value": "tara", "label": "Tara"}
    assert {"value": "alloy", "label": "Alloy (Tara)"} in options
    response = client.get("/v1/audio/voices/chatterbox")
    assert response.status_code == 404 and response.json()["error"]["code"] == "model_not_found"


@pytest.fixture
def roomy_default(tts, monkeypatch):
    """TTS_MAX_TOKENS above what a short text needs (the rig's 140 is below every text's bound)."""
    monkeypatch.setattr(tts, "default_params", replace(tts.default_params, max_tokens=700))


def test_an_utterance_that_does_not_end_is_cut_at_what_its_text_can_need(client, roomy_default, caplog):
    need = audio_token_need("Hi.")
    assert need < 700
    body = {**SPEECH, "input": "Hi.", "response_format": "pcm", "stream_format": "sse"}
    del body["max_tokens"]
    before = _capped_count(client)
    with caplog.at_level("WARNING", logger="coordinator.tts.synthesis"):
        events = _sse_events(client.post("/v1/audio/speech", json=body))
    pcm = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert len(pcm) == need // 7 * SAMPLES_PER_FRAME * 2  # the tiny model never stops by itself
    usage = events[-1]["usage"]
    assert usage["output_tokens"] == need and usage["length_capped"] == 1 and usage["utterances"] == 1
    assert _capped_count(client) == before + 1
    assert f"cut at its length cap of {need} audio tokens" in caplog.text


def test_a_lower_max_tokens_of_the_request_still_wins_and_is_no_cap(client, roomy_default):
    events = _sse_events(_speech(client, input="Hi.", response_format="pcm", stream_format="sse"))
    assert events[-1]["usage"]["output_tokens"] == 7 * FRAMES and events[-1]["usage"]["length_capped"] == 0


def test_the_cap_never_rises_above_tts_max_tokens(client, roomy_default):
    # Two long utterances: each may need more than TTS_MAX_TOKENS (700 here), and gets exactly that.
    text = "This sentence is a good deal longer than a greeting would ever be. " * 6
    assert audio_token_need(text[:250]) > 700
    body = {**SPEECH, "input": text, "response_format": "pcm", "stream_format": "sse"}
    del body["max_tokens"]
    usage = _sse_events(client.post("/v1/audio/speech", json=body))[-1]["usage"]
    assert usage["utterances"] == 2 and usage["output_tokens"] == 2 * 700
    assert usage["length_capped"] == 0  # TTS_MAX_TOKENS stopped them, as without the cap


def _sse_events(response):
    assert response.status_code == 200
    return [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]


def _capped_count(client):
    for line in client.get("/metrics").text.splitlines():
        if line.startswith('orpheus_speech_length_capped_total{endpoint="speech"}'):
            return float(line.split()[-1])
    return 0.0
