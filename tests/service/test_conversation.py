"""The voice assistant's pipeline with a controlled text source and the real speech path."""

import asyncio

import numpy as np

from coordinator.audio.decode_scheduler import CPU_BATCH_FRAMES, DecodeScheduler
from coordinator.audio.format import SAMPLES_PER_FRAME
from coordinator.engine.sampling import SamplingParams
from coordinator.service.conversation import SpokenReply

PARAMS = SamplingParams(max_tokens=35, temperature=1.0, top_p=1.0, repetition_penalty=1.1, seed=0)
TIMEOUT_S = 60


def test_the_first_sentence_is_heard_before_the_reply_is_finished(tts):
    async def main():
        first_audio = asyncio.Event()

        async def reply_text():
            yield "Hello there. "
            yield "How are"
            # The reply cannot go on until the first sentence was heard: a pipeline that waited for
            # the whole reply before speaking would time out here.
            await first_audio.wait()
            yield " you? Fine, thanks."

        with DecodeScheduler(tts.codec, batch_frames=CPU_BATCH_FRAMES) as snac:
            reply = SpokenReply(tts, "tara", PARAMS, loop=asyncio.get_running_loop(), snac=snac)
            chunks = []
            async for chunk in reply.audio(reply_text()):
                chunks.append(chunk)
                first_audio.set()
        return reply, chunks

    reply, chunks = asyncio.run(asyncio.wait_for(main(), TIMEOUT_S))
    assert reply.utterances == ["Hello there.", "How are you?", "Fine, thanks."]
    # Every utterance's every frame is in the answer, in order, with nothing between them.
    assert sum(len(c) for c in chunks) == sum(len(s.frames) for s in reply.streams) * SAMPLES_PER_FRAME
    assert [len(s.frames) for s in reply.streams] == [5, 5, 5]
    expected = np.concatenate([tts.codec.decode(s.frames) for s in reply.streams])
    assert np.abs(np.concatenate(chunks) - expected).max() < 1e-4
    assert tts.engine.kv_cells_in_use() == {}


def test_a_reply_without_any_text_gives_no_audio(tts):
    async def main():
        async def nothing():
            if False:
                yield ""

        with DecodeScheduler(tts.codec, batch_frames=CPU_BATCH_FRAMES) as snac:
            reply = SpokenReply(tts, "tara", PARAMS, loop=asyncio.get_running_loop(), snac=snac)
            return [chunk async for chunk in reply.audio(nothing())]

    assert asyncio.run(main()) == []


def test_a_reply_longer_than_max_utterances_is_spoken_only_that_far(tts, monkeypatch):
    monkeypatch.setattr(tts, "max_utterances", 2)
    written = []

    async def main():
        async def chatty():
            for i in range(20):
                written.append(i)
                yield f"Sentence {i}. "

        with DecodeScheduler(tts.codec, batch_frames=CPU_BATCH_FRAMES) as snac:
            reply = SpokenReply(tts, "tara", PARAMS, loop=asyncio.get_running_loop(), snac=snac)
            chunks = [chunk async for chunk in reply.audio(chatty())]
        return reply, chunks

    reply, chunks = asyncio.run(asyncio.wait_for(main(), TIMEOUT_S))
    assert reply.truncated and reply.utterances == ["Sentence 0.", "Sentence 1."]
    assert len(written) < 20  # the reply stopped being read once nothing more would be spoken
    assert sum(len(c) for c in chunks) == sum(len(s.frames) for s in reply.streams) * SAMPLES_PER_FRAME
    assert tts.engine.kv_cells_in_use() == {}
