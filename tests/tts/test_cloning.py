"""A custom voice spoken by the tiny stand-in for the pretrained Orpheus: the cloning prompt goes
through the real engine and the random SNAC, the references' KV cells are reused across requests,
and each model refuses the other kind of voice with the fix."""

import asyncio

import numpy as np
import pytest

from coordinator.audio.format import SAMPLE_RATE, SAMPLES_PER_FRAME
from coordinator.engine.batch_engine import BatchEngine
from coordinator.engine.llama_model import LlamaModel
from coordinator.engine.sampling import SamplingParams
from coordinator.errors import InvalidInputError
from coordinator.orpheus.clone import ClonedVoice, ReferenceSample, build_clone_prompt, clone_prefix_length
from coordinator.orpheus.vocab import OrpheusVocab
from coordinator.tts.synthesis import OrpheusTTS

PARAMS = SamplingParams(max_tokens=70, temperature=1.0, top_p=1.0, repetition_penalty=1.1, seed=0)
N_CTX = 1024
REFERENCE_S = 1.0


@pytest.fixture(scope="module")
def cloner(pretrained_gguf, tts):
    """The pretrained stand-in on its own engine, sharing the fine-tune's (noise-silenced) SNAC."""
    model = LlamaModel.load(pretrained_gguf, n_gpu_layers=0)
    engine = BatchEngine(model, n_ctx_per_seq=N_CTX, max_sequences=2, n_threads=2, name="clone")
    speech = OrpheusTTS(
        engine,
        OrpheusVocab.from_token_texts(model.token_texts()),
        tts.codec,
        voices=[],
        lookahead_frames=tts.lookahead_frames,
        clones=True,
    )
    yield speech
    speech.close()


@pytest.fixture(scope="module")
def voice(tts):
    t = np.arange(int(REFERENCE_S * SAMPLE_RATE)) / SAMPLE_RATE
    frames = tts.codec.encode((0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32))
    sample = ReferenceSample(transcript="This is how I sound.", frames=frames)
    return ClonedVoice(id="voice_0123abcd", name="Me", samples=(sample,), created_at=0, language="en")


def test_a_cloned_voice_speaks_and_its_frames_decode_exactly(cloner, voice):
    speech = cloner.synthesize("Hello there.", voice, PARAMS)
    chunks = list(speech)
    assert speech.stats.frames > 0 and speech.stats.finish_reason in ("stop", "length")
    audio = np.concatenate(chunks)
    assert len(audio) == speech.stats.frames * SAMPLES_PER_FRAME
    np.testing.assert_allclose(audio, cloner.codec.decode(speech.frames), atol=1e-5)


def test_the_prompt_is_the_cloning_layout_and_keeps_its_reference_prefix(cloner, voice):
    request = cloner.request("Hello there.", voice, PARAMS)
    references = [(cloner.model.tokenize(s.transcript), s.frames) for s in voice.samples]
    assert request.prompt == build_clone_prompt(
        cloner.vocab, references, cloner.model.tokenize("Hello there.")
    )
    assert request.keep_prefix == clone_prefix_length(cloner.vocab, references)
    # An utterance of spoken output keeps it too (the length-capped request is rebuilt).
    assert cloner.utterance_request("Hello there.", voice, PARAMS).keep_prefix == request.keep_prefix
    assert cloner.language_of(voice) == "en"


def test_a_second_request_of_the_voice_prefills_only_its_own_text(cloner, voice):
    list(cloner.synthesize("First words.", voice, PARAMS))
    before = cloner.engine.stats.prompt_tokens
    request = cloner.request("Second words here.", voice, PARAMS)
    list(cloner.start(request))
    assert cloner.engine.stats.prompt_tokens - before == len(request.prompt) - request.keep_prefix


def test_a_cloned_voice_on_a_fine_tune_is_refused_with_the_fix(tts, voice):
    with pytest.raises(InvalidInputError, match="pretrained") as caught:
        tts.request("Hello.", voice, PARAMS)
    assert caught.value.param == "voice"


def test_a_built_in_voice_on_the_cloning_model_is_refused_with_the_fix(cloner):
    with pytest.raises(InvalidInputError, match="custom voice") as caught:
        cloner.request("Hello.", "tara", PARAMS)
    assert caught.value.param == "voice"


def test_speak_carries_the_cloned_voice_through_every_sentence(cloner, voice):
    from coordinator.audio.decode_scheduler import DecodeScheduler

    async def speak():
        lookahead = cloner.speak(
            "First sentence here. And a second one.", voice, PARAMS, loop=asyncio.get_running_loop()
        )
        with DecodeScheduler(cloner.codec, batch_frames=64) as snac:
            chunks = [chunk async for chunk in lookahead.aiter_chunks(snac)]
        return lookahead, chunks

    lookahead, chunks = asyncio.run(speak())
    assert len(lookahead.streams) == lookahead.known >= 1 and sum(len(c) for c in chunks) > 0
    assert all(request.keep_prefix > 0 for request in lookahead._requests)
