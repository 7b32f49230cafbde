"""Every door behaves the same: each rule of the door table (table.py), run on every door.

Everything is observed from outside, as a client or an operator sees it: the audio a door sends,
the usage it reports, its errors, and /metrics (the engines' sequences and tokens per model, the
speech metrics per door). The rig's random Orpheus models never end an utterance by themselves,
so every utterance runs to its token limit: the limit is what the audio's length shows.
"""

from __future__ import annotations

import httpx
import pytest

from coordinator.audio.format import SAMPLES_PER_FRAME
from tests.doors.conftest import COMPLETION_TOKEN_CAP, CUSTOM_VOICE, FRAME_TOKENS, MAX_INPUT_CHARS
from tests.doors.doors import HTTP_TIMEOUT_S, Door, sse_payloads
from tests.doors.server import DoorServer, Scrape
from tests.doors.table import rule

DEFAULT_VOICE = "tara"
# A voice of the French model, which is loaded but is not the default one.
OTHER_MODELS_VOICE = "amelie"
UNKNOWN_VOICE = "nobody"
SHORT_TEXT = "Hello there."
# Eight utterances (each sentence is too long to share one): a client leaving at the first audio
# leaves most of it unspoken.
LONG_TEXT = " ".join(
    f"Sentence number {n} is a fairly long sentence that goes on and on about the kitchen lights, "
    "the weather, the garden outside and everything else that happened in the house today."
    for n in range(8)
)
assert len(LONG_TEXT) <= MAX_INPUT_CHARS

# Utterances a door may have started when its client leaves at the first audio: the one playing,
# the one generated ahead, and one more for the time the server takes to see the client gone.
LOOKAHEAD_BOUND = 3
# The rig's utterances all run to the cap: one never holds more audio than this.
UTTERANCE_SAMPLES_CAP = COMPLETION_TOKEN_CAP // FRAME_TOKENS * SAMPLES_PER_FRAME


@pytest.fixture
def door(request, door_server: DoorServer) -> Door:
    return request.param.on(door_server)


def model_of(server: DoorServer, voice: str) -> str:
    """The model that speaks ``voice``, as /v1/audio/voices lists it."""
    voices = httpx.get(f"{server.url}/v1/audio/voices").json()["voices"]
    return next(v["model"] for v in voices if v["id"] == voice)


def speech_models(scrape: Scrape) -> set[str]:
    return {
        model
        for model in scrape.label_values("orpheus_model_info", "model")
        if scrape.value("orpheus_model_info", model=model, role="tts")
    }


def grew(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


def speech_grew(before: Scrape, after: Scrape, name: str) -> float:
    """Summed over the speech models (the chat model's tokens are not speech)."""
    return sum(grew(before, after, name, model=model) for model in speech_models(after))


@rule("any-voice")
def test_a_voice_of_a_model_that_is_not_the_default_speaks_by_its_own_model(door, door_server):
    other, default = model_of(door_server, OTHER_MODELS_VOICE), model_of(door_server, DEFAULT_VOICE)
    assert other != default
    before = door_server.idle()
    spoken = door.speak(SHORT_TEXT, OTHER_MODELS_VOICE)
    after = door_server.idle()
    assert spoken.samples.size > 0
    assert grew(before, after, "orpheus_generated_tokens_total", model=other) > 0
    assert grew(before, after, "orpheus_generated_tokens_total", model=default) == 0


@rule("custom-voice")
def test_a_custom_voice_speaks_by_the_cloning_model(door, door_server):
    # Its name, as a Wyoming client picks it from describe (HTTP takes the id too: tests/server/voices).
    cloning = model_of(door_server, CUSTOM_VOICE.id)
    before = door_server.idle()
    spoken = door.speak(SHORT_TEXT, CUSTOM_VOICE.name)
    after = door_server.idle()
    assert spoken.samples.size > 0
    assert grew(before, after, "orpheus_generated_tokens_total", model=cloning) > 0
    for other in speech_models(after) - {cloning}:
        assert grew(before, after, "orpheus_generated_tokens_total", model=other) == 0, other


@rule("token-cap")
def test_every_utterance_stays_within_the_token_caps(door, door_server):
    # TTS_MAX_TOKENS is twice MAX_COMPLETION_TOKENS here: the smaller one is the bound.
    before = door_server.idle()
    spoken = door.speak(SHORT_TEXT, DEFAULT_VOICE)
    after = door_server.idle()
    utterances = speech_grew(before, after, "orpheus_sequences_finished_total")
    tokens = speech_grew(before, after, "orpheus_generated_tokens_total")
    assert utterances >= 1 and spoken.samples.size > 0
    # Every utterance runs to its limit, so the average is each one's.
    assert tokens <= COMPLETION_TOKEN_CAP * utterances, (tokens, utterances)
    assert spoken.samples.size <= UTTERANCE_SAMPLES_CAP * utterances
    if spoken.usage is not None:
        assert spoken.usage["output_tokens"] <= COMPLETION_TOKEN_CAP * spoken.usage["utterances"]


@rule("input-cap")
def test_a_text_over_the_input_limit_is_refused_naming_the_limit(door):
    refusal = door.refused("a" * (MAX_INPUT_CHARS + 1), DEFAULT_VOICE)
    assert "MAX_INPUT_CHARS" in refusal.message, refusal
    assert refusal.status in (None, 400)


@rule("metrics")
def test_speech_is_counted_in_the_metrics_under_the_doors_own_label(door, door_server):
    before = door_server.scrape()
    door.speak(SHORT_TEXT, DEFAULT_VOICE)
    # Each door records its speech before it sends the end of it (the stream's last event, the
    # response's end): no wait is needed.
    after = door_server.scrape()
    label = door.metrics_label
    first_audio = "orpheus_speech_time_to_first_audio_seconds_count"
    assert grew(before, after, first_audio, endpoint=label) >= 1
    assert grew(before, after, "orpheus_speech_utterances_total", endpoint=label) >= 1
    assert grew(before, after, "orpheus_speech_audio_seconds_total", endpoint=label) > 0
    for other in after.label_values(first_audio, "endpoint") - {label}:
        assert grew(before, after, first_audio, endpoint=other) == 0, f"counted as {other}"


@pytest.fixture(scope="module")
def long_text_utterances(door_server) -> int:
    """The utterances LONG_TEXT is spoken in, as the speech SSE's usage reports them."""
    response = httpx.post(
        f"{door_server.url}/v1/audio/speech",
        json={"model": "tts-1", "input": LONG_TEXT, "voice": DEFAULT_VOICE, "stream_format": "sse"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 200, response.text[:300]
    done = [e for e in sse_payloads(iter(response.text.splitlines())) if e["type"] == "speech.audio.done"]
    return int(done[0]["usage"]["utterances"])


@rule("cancel")
def test_a_client_leaving_mid_speech_stops_its_generation(door, door_server, long_text_utterances):
    before = door_server.idle()
    # The conversation doors answer a short message (a long one would not fit the chat model's
    # context): what they speak is the reply.
    door.speak_and_leave(LONG_TEXT if door.speaks_the_text else SHORT_TEXT, DEFAULT_VOICE)
    # Every engine back to idle: a bounded wait on the condition.
    after = door_server.idle()
    if not door.speaks_the_text:
        # The reply the rig's chat model writes within the cap is an utterance or two, all of
        # it in flight when the client leaves: there is nothing left unspoken to observe.
        return
    # ... because the generation was stopped, not because all was generated: at the first audio
    # one utterance plays and the next is generated ahead; the rest must never start.
    assert long_text_utterances > LOOKAHEAD_BOUND + 1
    started = speech_grew(before, after, "orpheus_sequences_finished_total")
    assert started <= LOOKAHEAD_BOUND, (started, long_text_utterances)


@rule("errors")
def test_an_unknown_voice_is_refused_in_the_doors_shape_and_the_door_goes_on(door):
    refusal = door.refused(SHORT_TEXT, UNKNOWN_VOICE)
    assert refusal.names("voice") and UNKNOWN_VOICE in refusal.message, refusal
    assert refusal.code == "invalid_value" and refusal.status in (None, 400), refusal
    assert door.speak(SHORT_TEXT, DEFAULT_VOICE).samples.size > 0
