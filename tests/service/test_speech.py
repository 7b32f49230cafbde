"""The speaking service without any door: voices, caps, the look-ahead, cancellation, metrics,
and a text spoken as it arrives (the voice assistant's pipeline), on the real speech path."""

import asyncio

import numpy as np
import pytest

from coordinator.audio.format import SAMPLES_PER_FRAME
from coordinator.errors import InvalidInputError, QueueFullError
from coordinator.orpheus.layout import FRAME_TOKENS
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics
from coordinator.service.speech import GROUP_END, Sampling, Speaker
from tests.server.checks import wait_until_free

TIMEOUT_S = 60
FRAMES = 5
SEEDED = Sampling(seed=0)
# Far longer than the test takes to close it (the random model never ends an utterance itself).
LONG_TOKENS = 700
SHORT = Sampling(max_tokens=FRAMES * FRAME_TOKENS, seed=0)
# Each over half an utterance's 250 characters: three sentences, three utterances.
THREE_UTTERANCES = " ".join(
    f"This is sentence number {n}, long enough that no other sentence fits beside it in one "
    "utterance, so that each of them is generated on its own."
    for n in range(3)
)


def limits(**overrides):
    values = {"max_input_chars": 4096, "max_completion_tokens": 4096, "max_history_messages": 20}
    return RequestLimits(**(values | overrides))


@pytest.fixture
def metrics(runtime):
    return Metrics(lambda: runtime)


@pytest.fixture
def speaker(runtime, metrics):
    return Speaker(runtime, limits(), metrics)


@pytest.fixture(autouse=True)
def ends_free(runtime):
    wait_until_free(runtime)
    yield
    wait_until_free(runtime)  # every generation ended, however the test ended it


def cancelled(tts) -> int:
    return tts.engine.stats.finish_reasons.get("cancelled", 0)


def run(main):
    return asyncio.run(asyncio.wait_for(main(), TIMEOUT_S))


async def listen(speech):
    return [chunk async for chunk in speech.chunks()]


def assert_exact(chunks, speech, codec):
    """Every frame of every utterance heard, in order, with nothing lost or added at a join."""
    assert sum(len(c) for c in chunks) == sum(len(s.frames) for s in speech.streams) * SAMPLES_PER_FRAME
    expected = np.concatenate([codec.decode(s.frames) for s in speech.streams])
    assert np.abs(np.concatenate(chunks) - expected).max() < 1e-4


# -- a whole text ---------------------------------------------------------------------------------


def test_the_voice_picks_the_model_an_alias_names_its_voice_and_no_voice_is_the_default(speaker, runtime):
    async def main():
        spoken = []
        for voice in (None, "coral", "leah"):
            speech = speaker.speak("Hi.", voice, door="speech", sampling=SHORT)
            await listen(speech)
            spoken.append((speech.voice, speech.model_id))
        return spoken

    default = runtime.speech.default
    assert run(main) == [
        (default.default_voice, default.model_id),
        ("leah", default.model_id),
        ("leah", default.model_id),
    ]


def test_an_unknown_voice_or_model_is_refused_before_anything_is_generated(speaker):
    async def main():
        for voice, model, param in (("bob", None, "voice"), ("tara", "no-such-model", "model")):
            with pytest.raises(InvalidInputError) as info:
                speaker.speak("Hi.", voice, model, door="speech")
            assert info.value.param == param

    run(main)


def test_max_completion_tokens_caps_every_utterance_and_refuses_a_larger_request(
    runtime, metrics, tts, monkeypatch
):
    monkeypatch.setattr(tts, "length_cap", False)  # only the caps limit the random model
    capped = Speaker(runtime, limits(max_completion_tokens=FRAMES * FRAME_TOKENS), metrics)

    async def main():
        # No max_tokens asked for: TTS_MAX_TOKENS, within the cap.
        whole = capped.speak("Hello there.", "tara", door="speech", sampling=SEEDED)
        await listen(whole)

        async def text():
            yield "Hello there. How are you?"

        streamed = capped.speak_stream(text(), "tara", door="chat", sampling=SEEDED)
        await listen(streamed)
        with pytest.raises(InvalidInputError, match="MAX_COMPLETION_TOKENS") as info:
            capped.speak(
                "Hello there.", "tara", door="speech", sampling=Sampling(max_tokens=FRAMES * FRAME_TOKENS + 1)
            )
        assert info.value.param == "max_tokens"
        return whole, streamed

    whole, streamed = run(main)
    assert [len(s.frames) for s in whole.streams] == [FRAMES]
    assert [len(s.frames) for s in streamed.streams] == [FRAMES, FRAMES]


def test_max_input_chars_is_checked_once_for_a_whole_text(runtime, metrics):
    speaker = Speaker(runtime, limits(max_input_chars=10), metrics)

    async def main():
        with pytest.raises(InvalidInputError, match="MAX_INPUT_CHARS") as info:
            speaker.speak("Hello there.", "tara", door="tts", param="prompt")
        return info.value

    assert run(main).param == "prompt"


def test_the_next_utterance_is_generated_while_the_first_plays_and_not_before(speaker, tts):
    async def main():
        speech = speaker.speak(THREE_UTTERANCES, "tara", door="speech", sampling=SHORT)
        submitted = [len(speech.streams)]  # the first, on the call: a full queue is refused there
        chunks = []
        async for chunk in speech.chunks():
            if not chunks:
                submitted.append(len(speech.streams))
            chunks.append(chunk)
        return speech, submitted, chunks

    speech, submitted, chunks = run(main)
    assert submitted == [1, 2]  # one ahead of the one playing
    assert len(speech.utterances) == len(speech.streams) == 3
    assert [s.stats.finish_reason for s in speech.streams] == ["length"] * 3
    assert_exact(chunks, speech, tts.codec)
    usage = speech.usage
    assert usage.utterances == 3 and usage.completion_tokens == 3 * FRAMES * FRAME_TOKENS
    assert usage.prompt_tokens == sum(s.prompt_tokens for s in speech.streams) > 0


def test_closing_the_audio_cancels_every_generation_and_submits_no_more(speaker, runtime, tts, monkeypatch):
    monkeypatch.setattr(tts, "length_cap", False)
    before = cancelled(tts)

    async def main():
        speech = speaker.speak(
            THREE_UTTERANCES, "tara", door="speech", sampling=Sampling(max_tokens=LONG_TOKENS, seed=0)
        )
        chunks = speech.chunks()
        await anext(chunks)
        await chunks.aclose()  # the listener left
        return speech

    speech = run(main)
    assert len(speech.streams) == 2  # the third was never submitted
    wait_until_free(runtime)
    assert cancelled(tts) - before == 2  # the one playing and the one generated ahead


def test_the_metrics_are_labelled_with_the_door(speaker, metrics):
    async def main():
        await listen(speaker.speak(THREE_UTTERANCES, "tara", door="tts", sampling=SHORT))

    run(main)
    sample = metrics.registry.get_sample_value
    assert sample("orpheus_speech_utterances_total", {"endpoint": "tts", "finish_reason": "length"}) == 3
    assert sample("orpheus_speech_time_to_first_audio_seconds_count", {"endpoint": "tts"}) == 1
    assert (
        sample("orpheus_speech_utterances_total", {"endpoint": "speech", "finish_reason": "length"}) is None
    )


def test_a_full_engine_refuses_the_first_utterance_on_the_call(speaker, tts, monkeypatch):
    import threading

    engine = tts.engine
    monkeypatch.setattr(engine, "max_queue", 0)
    gate = threading.Event()
    engine.call_in_worker(gate.wait)  # hold the worker so the slots stay as they are
    held = []

    async def main():
        with pytest.raises(QueueFullError):
            speaker.speak("Hello there.", "tara", door="speech")

    try:
        while True:  # fill every free slot
            try:
                held.append(engine.submit(tts.request("Hi.", "tara")))
            except QueueFullError:
                break
        run(main)
    finally:
        for stream in held:
            stream.cancel()
        gate.set()


# -- a text arriving over time --------------------------------------------------------------------


def test_the_first_sentence_is_heard_before_the_reply_is_finished(speaker, tts):
    async def main():
        first_audio = asyncio.Event()

        async def reply_text():
            yield "Hello there. "
            yield "How are"
            # The reply cannot go on until the first sentence was heard: a pipeline that waited for
            # the whole reply before speaking would time out here.
            await first_audio.wait()
            yield " you? Fine, thanks."

        speech = speaker.speak_stream(reply_text(), "tara", door="chat", sampling=SHORT)
        chunks = []
        async for chunk in speech.chunks():
            chunks.append(chunk)
            first_audio.set()
        return speech, chunks

    speech, chunks = run(main)
    assert speech.utterances == ["Hello there.", "How are you?", "Fine, thanks."]
    assert [len(s.frames) for s in speech.streams] == [FRAMES] * 3
    assert_exact(chunks, speech, tts.codec)


def test_a_reply_without_any_text_gives_no_audio(speaker):
    async def main():
        async def nothing():
            if False:
                yield ""

        return await listen(speaker.speak_stream(nothing(), "tara", door="chat"))

    assert run(main) == []


def test_a_reply_longer_than_max_utterances_is_spoken_only_that_far(speaker, tts, monkeypatch):
    monkeypatch.setattr(tts, "max_utterances", 2)
    written = []

    async def main():
        async def chatty():
            for i in range(20):
                written.append(i)
                yield f"Sentence {i}. "

        speech = speaker.speak_stream(chatty(), "tara", door="chat", sampling=SHORT)
        return speech, await listen(speech)

    speech, chunks = run(main)
    assert speech.truncated and speech.utterances == ["Sentence zero.", "Sentence one."]  # read as words
    assert len(written) < 20  # the reply stopped being read once nothing more would be spoken
    assert_exact(chunks, speech, tts.codec)


def test_each_sentence_of_a_streamed_text_ends_a_group(speaker):
    async def main():
        async def text():
            for delta in ["Good mor", "ning to", " you. The coffee", " is ready."]:
                yield delta

        speech = speaker.speak_stream(text(), "tara", door="wyoming", sampling=SHORT, client_text=True)
        items = [item async for item in speech.groups()]
        return [len(item) if isinstance(item, np.ndarray) else item for item in items]

    items = run(main)
    ends = [i for i, item in enumerate(items) if item is GROUP_END]
    assert len(ends) == 2 and ends[-1] == len(items) - 1
    assert sum(items[: ends[0]]) == sum(items[ends[0] + 1 : ends[1]]) == FRAMES * SAMPLES_PER_FRAME


def test_a_clients_streamed_text_is_held_to_max_input_chars_in_all(runtime, metrics):
    speaker = Speaker(runtime, limits(max_input_chars=20), metrics)

    async def main():
        async def text():
            for _ in range(3):
                yield "b " * 5  # 10 characters, no sentence end

        with pytest.raises(InvalidInputError, match="streamed text is over"):
            await listen(speaker.speak_stream(text(), "tara", door="wyoming", client_text=True))

    run(main)


def test_closing_a_streamed_speech_stops_reading_the_text_and_cancels_its_generations(
    speaker, runtime, tts, monkeypatch
):
    monkeypatch.setattr(tts, "length_cap", False)
    before = cancelled(tts)

    async def main():
        closed = asyncio.Event()

        async def reply_text():
            try:
                yield "Hello there. How are you? And"
                await asyncio.Event().wait()  # the rest of the reply is never written
            finally:
                closed.set()

        speech = speaker.speak_stream(
            reply_text(), "tara", door="chat", sampling=Sampling(max_tokens=LONG_TOKENS, seed=0)
        )
        chunks = speech.chunks()
        await anext(chunks)
        await chunks.aclose()
        await closed.wait()  # the text was closed: a chat reply's generation stops there
        return speech

    speech = run(main)
    assert len(speech.streams) == 2
    wait_until_free(runtime)
    assert cancelled(tts) - before == 2
