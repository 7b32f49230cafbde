"""WS /v1/realtime driven by Pipecat's own realtime service (``OpenAIRealtimeLLMService``) in a
pipeline without a transport: the test queues the frames a transport would (the context, the
microphone's ``InputAudioRawFrame``s of espeak-ng speech) and reads what the service pushes out
(the transcription upstream, the spoken answer's ``TTSAudioRawFrame``s and text downstream)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import numpy as np
from pipecat.frames.frames import (
    EndFrame,
    ErrorFrame,
    Frame,
    InputAudioRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.openai.realtime.events import (
    AudioConfiguration,
    AudioInput,
    AudioOutput,
    InputAudioTranscription,
    SessionProperties,
    TurnDetection,
)
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
from pipecat.workers.runner import WorkerRunner

from tests.rig.audio_samples import pcm16
from tests.server.realtime.wire import CHUNK_S, EVENT_TIMEOUT_S, MODEL, RATE, utterance, words

WEATHER = "What is the weather like today?"
# A short answer keeps each turn a few seconds of CPU; the tiny model never stops by itself.
REPLY_TOKENS = 24


@dataclass
class Seen:
    """The frames Pipecat's service pushed, in order, and one queue per kind the test waits on."""

    frames: list[Frame] = field(default_factory=list)
    transcripts: asyncio.Queue = field(default_factory=asyncio.Queue)
    answers: asyncio.Queue = field(default_factory=asyncio.Queue)

    def of(self, kind: type) -> list:
        return [frame for frame in self.frames if isinstance(frame, kind)]

    async def next(self, queue: asyncio.Queue, what: str):
        """The next item of ``queue``; fails on an ErrorFrame (Pipecat's service stops reading the
        socket after most errors, so nothing more would come) or after EVENT_TIMEOUT_S."""
        try:
            got = await asyncio.wait_for(queue.get(), EVENT_TIMEOUT_S)
        except TimeoutError:
            names = [type(frame).__name__ for frame in self.frames]
            raise AssertionError(f"Pipecat pushed no {what} in {EVENT_TIMEOUT_S} s: {names}") from None
        if isinstance(got, ErrorFrame):
            raise AssertionError(f"Pipecat pushed an error while waiting for {what}: {got.error}")
        return got


class Tap(FrameProcessor):
    """Records what passes it, both ways, as a transport's input (upstream) or output would see it."""

    def __init__(self, seen: Seen) -> None:
        super().__init__()
        self._seen = seen

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(
            frame, (TranscriptionFrame, TTSAudioRawFrame, TTSTextFrame, ErrorFrame, LLMFullResponseEndFrame)
        ):
            self._seen.frames.append(frame)
        if isinstance(frame, ErrorFrame):
            self._seen.transcripts.put_nowait(frame)
            self._seen.answers.put_nowait(frame)
        elif isinstance(frame, TranscriptionFrame):
            self._seen.transcripts.put_nowait(frame)
        elif isinstance(frame, LLMFullResponseEndFrame):
            self._seen.answers.put_nowait(len(self._seen.frames))
        await self.push_frame(frame, direction)


def service(url: str) -> OpenAIRealtimeLLMService:
    return OpenAIRealtimeLLMService(
        api_key="unused",
        base_url=url.replace("http", "ws", 1) + "/v1/realtime",  # the whole URL: Pipecat adds ?model=
        settings=OpenAIRealtimeLLMService.Settings(
            model=MODEL,
            session_properties=SessionProperties(
                instructions="You are a helpful assistant. Answer briefly.",
                max_output_tokens=REPLY_TOKENS,
                audio=AudioConfiguration(
                    input=AudioInput(
                        transcription=InputAudioTranscription(model="whisper-1"),
                        turn_detection=TurnDetection(silence_duration_ms=500),
                    ),
                    output=AudioOutput(voice="tara"),
                ),
            ),
        ),
    )


@contextlib.asynccontextmanager
async def pipeline(url: str):
    """Pipecat's service between two taps, running; yields (worker, what it pushed)."""
    seen = Seen()
    worker = PipelineWorker(Pipeline([Tap(seen), service(url), Tap(seen)]), enable_rtvi=False)
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    try:
        yield worker, seen
    finally:
        await worker.queue_frame(EndFrame())
        await asyncio.wait_for(running, EVENT_TIMEOUT_S)


async def speak(worker, samples: np.ndarray) -> None:
    """``samples`` as a microphone transport pushes them: InputAudioRawFrames of CHUNK_S each."""
    step = int(CHUNK_S * RATE)
    for start in range(0, samples.size, step):
        await worker.queue_frame(
            InputAudioRawFrame(audio=pcm16(samples[start : start + step]), sample_rate=RATE, num_channels=1)
        )


def test_pipecat_answers_its_context_then_hears_a_spoken_turn_and_speaks_the_answer(realtime_url):
    async def scenario():
        async with pipeline(realtime_url) as (worker, seen):
            # Pipecat answers its first context at once; with a user message in it that is a turn.
            await worker.queue_frame(
                LLMContextFrame(LLMContext(messages=[{"role": "user", "content": "Hi!"}]))
            )
            first_end = await seen.next(seen.answers, "answer to the context")
            await speak(worker, utterance(WEATHER))
            heard = await seen.next(seen.transcripts, "transcription")
            second_end = await seen.next(seen.answers, "answer to the spoken turn")
            return first_end, heard, second_end, seen

    first_end, heard, second_end, seen = asyncio.run(scenario())
    assert seen.of(ErrorFrame) == []
    assert words(heard.text) == words(WEATHER)
    for answer in (seen.frames[:first_end], seen.frames[first_end:second_end]):
        audio = [f for f in answer if isinstance(f, TTSAudioRawFrame)]
        text = "".join(f.text for f in answer if isinstance(f, TTSTextFrame))
        assert all(f.sample_rate == RATE and f.num_channels == 1 and len(f.audio) % 2 == 0 for f in audio)
        if text.strip():  # the random reply had something to say: it was spoken
            assert sum(len(f.audio) for f in audio) > 0


def test_pipecat_greets_first_as_with_openai_and_the_session_goes_on(realtime_url):
    """Pipecat's usual start: its first context holds no user message (the instructions are the
    session's), and Pipecat asks for a response at once, as OpenAI's model greets the user. Pipecat
    takes any error but two as fatal and stops reading the socket, so the server answers the
    instructions rather than refuse (docs/realtime.md); the spoken turn after it is heard."""

    async def scenario():
        async with pipeline(realtime_url) as (worker, seen):
            await worker.queue_frame(LLMContextFrame(LLMContext()))
            greeted = await seen.next(seen.answers, "greeting")
            await speak(worker, utterance(WEATHER))
            heard = await seen.next(seen.transcripts, "transcription")
            await seen.next(seen.answers, "answer to the spoken turn")
            return greeted, heard, seen

    greeted, heard, seen = asyncio.run(scenario())
    assert seen.of(ErrorFrame) == []
    assert words(heard.text) == words(WEATHER)
    assert any(isinstance(f, TTSAudioRawFrame) for f in seen.frames[:greeted])
