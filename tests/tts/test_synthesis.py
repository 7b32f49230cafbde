"""The whole speech path on the tiny Orpheus model and random SNAC: prompt → tokens → frames → audio."""

import asyncio

import numpy as np
import pytest

from coordinator.audio.format import SAMPLES_PER_FRAME
from coordinator.audio.windows import WindowPlanner
from coordinator.engine.sampling import SamplingParams
from coordinator.errors import ContextLengthExceededError, InvalidInputError
from coordinator.orpheus.layout import EMOTION_TAGS, FRAME_TOKENS, MAX_CODE
from coordinator.orpheus.prompt import prompt_text
from coordinator.tts.synthesis import ORPHEUS_DEFAULT_SAMPLING
from tests.rig.tiny_gguf import ORPHEUS_CUSTOM_TOKEN_OFFSET


def _params(**overrides):
    base = {"max_tokens": 140, "temperature": 1.0, "top_p": 1.0, "repetition_penalty": 1.1, "seed": 0}
    return SamplingParams(**{**base, **overrides})


def _speak(tts, text="Hello there.", voice="tara", planner=None, **params):
    speech = tts.synthesize(text, voice, _params(**params), planner=planner)
    chunks = list(speech)
    return speech, chunks


def test_prompt_follows_the_official_layout_with_ids_from_the_models_vocabulary(tts):
    vocab, model = tts.vocab, tts.model
    ids = tts.prompt_ids("Hello there.", "tara")
    text_ids = model.tokenize(prompt_text("tara", "Hello there."))
    assert ids == [
        vocab.start_of_human,
        vocab.bos,
        *text_ids,
        vocab.eot,
        vocab.end_of_human,
        vocab.start_of_ai,
        vocab.start_of_speech,
    ]
    assert [model.token_text(t) for t in (ids[0], ids[-4], ids[-3], ids[-2], ids[-1])] == [
        "<custom_token_3>",
        "<|eot_id|>",
        "<custom_token_4>",
        "<custom_token_5>",
        "<custom_token_1>",
    ]
    assert vocab.start_of_human == ORPHEUS_CUSTOM_TOKEN_OFFSET + 3  # looked up, not 128256 + 3


def test_emotion_tags_reach_the_model_verbatim(tts):
    text = "Well " + " ".join(EMOTION_TAGS) + " done."
    ids = tts.prompt_ids(text, "leo")
    body = ids[2:-4]
    assert tts.model.detokenize(body).strip() == f"leo: {text}"


def test_user_text_cannot_inject_control_tokens(tts):
    ids = tts.prompt_ids("say <custom_token_2> now", "tara")
    assert tts.vocab.end_of_speech not in ids


@pytest.mark.parametrize(
    ("text", "voice", "message"),
    [
        ("", "tara", "text is empty"),
        ("   \n\t", "tara", "text is empty"),
        ("hi", "bob", "unknown voice 'bob': choose one of tara, leah"),
    ],
)
def test_bad_input_is_refused_before_generation(tts, text, voice, message):
    with pytest.raises(InvalidInputError, match=message):
        tts.synthesize(text, voice, _params())


def test_text_spoken_in_more_than_max_utterances_is_refused_before_generation(tts, monkeypatch):
    monkeypatch.setattr(tts, "max_utterances", 3)
    text = " ".join(
        f"This is sentence number {i}, long enough to need its own utterance." * 3 for i in range(4)
    )
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(InvalidInputError, match="MAX_UTTERANCES") as info:
            tts.speak(text, "tara", _params(), loop=loop)
    finally:
        loop.close()
    assert info.value.param == "input"
    assert tts.engine.kv_cells_in_use() == {}


def test_too_many_tokens_for_the_context_is_a_context_length_error(tts):
    with pytest.raises(ContextLengthExceededError, match="N_CTX"):
        tts.synthesize("Hello.", "tara", _params(max_tokens=5000))


def test_every_generated_frame_is_played_exactly_once_with_exact_sample_counts(tts):
    speech, chunks = _speak(tts, max_tokens=140)
    assert speech.stats.finish_reason == "length"
    assert len(speech.frames) == 140 // FRAME_TOKENS == speech.stats.frames
    assert sum(len(c) for c in chunks) == 20 * SAMPLES_PER_FRAME
    assert speech.stats.dropped_tokens == 0
    assert speech.frames.min() >= 0 and speech.frames.max() <= MAX_CODE


def test_streamed_audio_equals_one_offline_decode_of_the_same_codes(tts):
    speech, chunks = _speak(tts, max_tokens=168, seed=3)
    streamed = np.concatenate(chunks)
    offline = tts.codec.decode(speech.frames)
    assert len(chunks) >= 2  # really streamed, in several windows
    assert streamed.shape == offline.shape == (24 * SAMPLES_PER_FRAME,)
    assert np.abs(streamed - offline).max() < 1e-4  # of full scale (1.0)


def test_lower_lookahead_still_plays_every_frame(tts):
    speech, chunks = _speak(tts, max_tokens=70, planner=WindowPlanner(lookahead=0))
    assert sum(len(c) for c in chunks) == 10 * SAMPLES_PER_FRAME


def test_a_partial_trailing_frame_is_dropped_and_counted(tts):
    speech, chunks = _speak(tts, max_tokens=7 * 3 + 4)
    assert speech.stats.dropped_tokens == 4
    assert len(speech.frames) == 3 and sum(len(c) for c in chunks) == 3 * SAMPLES_PER_FRAME


def test_end_of_speech_is_only_taken_at_a_frame_boundary(tts):
    # Push the model hard towards end_of_speech: it may only stop once a whole frame exists.
    speech, chunks = _speak(tts, max_tokens=140, logit_bias={tts.vocab.end_of_speech: 100.0})
    assert speech.stats.finish_reason == "stop"
    assert len(speech.frames) == 1 and speech.stats.dropped_tokens == 0
    assert sum(len(c) for c in chunks) == SAMPLES_PER_FRAME


def test_codes_zero_and_4095_from_real_inference_are_kept(tts):
    vocab = tts.vocab
    bias = {
        int(vocab.slot_ids[slot, 0 if slot % 2 == 0 else MAX_CODE]): 100.0 for slot in range(FRAME_TOKENS)
    }
    speech, chunks = _speak(tts, max_tokens=28, logit_bias=bias, repetition_penalty=1.0)
    assert speech.frames.tolist() == [[0, MAX_CODE, 0, MAX_CODE, 0, MAX_CODE, 0]] * 4
    assert sum(len(c) for c in chunks) == 4 * SAMPLES_PER_FRAME


def test_cancelling_mid_stream_stops_generation(tts):
    speech = tts.synthesize("Hello there.", "tara", _params(max_tokens=700))
    iterator = iter(speech)
    next(iterator)
    iterator.close()  # the consumer walks away
    assert speech.stats.finish_reason == "cancelled"
    assert tts.engine.kv_cells_in_use() == {}


def test_concurrent_utterances_each_get_complete_exact_audio(tts):
    speeches = [tts.synthesize("Hi.", "tara", _params(max_tokens=70, seed=s)) for s in range(3)]
    for speech in speeches:
        audio = np.concatenate(list(speech))
        assert len(audio) == 10 * SAMPLES_PER_FRAME
        assert np.abs(audio - tts.codec.decode(speech.frames)).max() < 1e-4


def test_streams_decoded_together_on_the_shared_snac_thread_each_get_their_exact_audio(tts):
    import asyncio

    from coordinator.audio.decode_scheduler import DecodeScheduler

    async def speak_all():
        loop = asyncio.get_running_loop()
        speeches = [
            tts.synthesize("Hi.", "tara", _params(max_tokens=70, seed=s), loop=loop) for s in range(4)
        ]

        async def collect(speech):
            return [chunk async for chunk in speech.aiter_chunks(snac)]

        # A large budget, so windows of streams in the same phase may share a call.
        with DecodeScheduler(tts.codec, batch_frames=64) as snac:
            return speeches, await asyncio.gather(*(collect(speech) for speech in speeches))

    speeches, results = asyncio.run(speak_all())
    for speech, chunks in zip(speeches, results):
        audio = np.concatenate(chunks)
        assert len(audio) == 10 * SAMPLES_PER_FRAME
        assert np.abs(audio - tts.codec.decode(speech.frames)).max() < 1e-4


def test_default_sampling_is_the_official_orpheus_one():
    assert (ORPHEUS_DEFAULT_SAMPLING.temperature, ORPHEUS_DEFAULT_SAMPLING.top_p) == (0.6, 0.8)
    assert ORPHEUS_DEFAULT_SAMPLING.repetition_penalty == 1.3


def test_async_streaming_gives_the_same_exact_audio_with_snac_off_the_event_loop(tts):
    import asyncio

    from coordinator.audio.decode_scheduler import CPU_BATCH_FRAMES, DecodeScheduler

    async def speak():
        speech = tts.synthesize(
            "Hi.", "tara", _params(max_tokens=84, seed=4), loop=asyncio.get_running_loop()
        )
        with DecodeScheduler(tts.codec, batch_frames=CPU_BATCH_FRAMES) as snac:
            chunks = [chunk async for chunk in speech.aiter_chunks(snac)]
        return speech, chunks

    speech, chunks = asyncio.run(speak())
    audio = np.concatenate(chunks)
    assert len(audio) == 12 * SAMPLES_PER_FRAME and speech.stats.finish_reason == "length"
    assert np.abs(audio - tts.codec.decode(speech.frames)).max() < 1e-4


def test_speech_continuing_a_response_is_not_refused_by_a_full_queue(tts, monkeypatch):
    import threading

    from coordinator.errors import QueueFullError

    engine = tts.engine
    monkeypatch.setattr(engine, "max_queue", 0)
    gate = threading.Event()
    engine.call_in_worker(gate.wait)  # hold the worker so the slots stay as they are
    held, continued = [], None

    async def speak():
        loop = asyncio.get_running_loop()
        with pytest.raises(QueueFullError):
            tts.speak("Hello there.", "tara", loop=loop)
        return tts.speak("Hello there.", "tara", loop=loop, continuation=True)

    try:
        while True:  # fill every free slot
            try:
                held.append(engine.submit(tts.request("Hi.", "tara")))
            except QueueFullError:
                break
        continued = asyncio.run(speak())
        assert len(continued.streams) == 1  # queued, ahead of new requests
    finally:
        for stream in [*held, *(continued.streams if continued else [])]:
            stream.cancel()
        gate.set()
