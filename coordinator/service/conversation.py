"""A turn of the voice assistant: the user's words → the chat model's reply, streamed → spoken
sentence by sentence while it is still being written.

The conversation doors call this: POST /chat (a text or a transcribed spoken turn, one request
each), the live voice session (service/voice_session.py, turns cut by voice activity) and the
Realtime door (server/realtime/), which share ``answer_aloud``: the reply's text and its speech
handed to the door as they come, what was written kept even when the answer is cut short. What a
turn may ask for is decided here once: the reply's token cap (MAX_COMPLETION_TOKENS, 256 when the
request names none), the sampling a spoken reply uses, the length of what the user said
(MAX_INPUT_CHARS); the speaking is the speaking service's (its caps, look-ahead and metrics).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import numpy as np

from coordinator.engine.sampling import CHAT_TEMPERATURE, CHAT_TOP_P, SamplingParams
from coordinator.llm.chat import ChatMessage, TextStream
from coordinator.runtime.loading import Runtime
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import SpeechEndpoint
from coordinator.service.speech import ListenRequest, Sampling, Speaker, Speech

# A spoken reply of a few sentences, when the request names no limit.
REPLY_MAX_TOKENS = 256

OnText = Callable[[str], Awaitable[None]]
OnAudio = Callable[[np.ndarray], Awaitable[None]]

NO_LISTEN_REQUEST = ListenRequest()  # the server's SPEECH_TIMINGS / SPEECH_CHECK


class Answer:
    """What one spoken answer has written so far: read it after ``answer_aloud`` returns or is
    cancelled (barge-in), since what was said stays in the conversation either way."""

    def __init__(self) -> None:
        self.deltas: list[str] = []
        self.samples = 0  # of speech handed to the door
        self.speech: Speech | None = None  # its utterances and usage, once it speaks

    @property
    def text(self) -> str:
        return "".join(self.deltas)


class Conversation:
    """The assistant's side of a conversation, for one request or one session."""

    def __init__(self, runtime: Runtime, limits: RequestLimits, speaker: Speaker) -> None:
        self._runtime = runtime
        self._limits = limits
        self._speaker = speaker

    def reply_params(
        self, *, max_tokens: int | None, temperature: float = CHAT_TEMPERATURE, seed: int | None = None
    ) -> SamplingParams:
        """How the reply is sampled; a ``max_tokens`` over the server's cap is refused. Cheap:
        doors call it before transcribing a spoken turn, so a bad request costs no recognition."""
        limit = self._limits.completion_tokens(max_tokens, default=REPLY_MAX_TOKENS, param="max_tokens")
        return SamplingParams(max_tokens=limit, temperature=temperature, top_p=CHAT_TOP_P, seed=seed)

    def check_history(self, history: Sequence[ChatMessage], *, param: str = "history") -> None:
        """The earlier turns a request carries: how many (MAX_HISTORY_MESSAGES) and how long."""
        self._limits.check_conversation([message.content for message in history], param=param)

    def reply(
        self, history: Sequence[ChatMessage], said: str, params: SamplingParams, *, param: str
    ) -> TextStream:
        """Start the chat model's answer to ``said`` (the user's turn, named ``param`` in an
        error) after ``history``; read it with ``deltas()``."""
        self._limits.check_text(said, param=param)
        llm = self._runtime.llm
        request = llm.chat_request([*history, ChatMessage("user", said)], params)
        return llm.start(request, loop=asyncio.get_running_loop())

    def speak(
        self,
        deltas: AsyncIterator[str],
        voice: str | None,
        model: str | None = None,
        *,
        door: SpeechEndpoint,
        seed: int | None = None,
        started: float | None = None,
        normalize: bool = True,
        listen: ListenRequest = NO_LISTEN_REQUEST,
    ) -> Speech:
        """The reply spoken as it is written: each sentence as soon as it is complete, within the
        speech caps every door has, counted under ``door`` (first audio from ``started``). Its
        markdown is made for the ear and its numbers, dates … read out (``normalize``: False
        reads it as written); the client's copy of the text (``deltas``) stays the model's own."""
        return self._speaker.speak_stream(
            deltas,
            voice,
            model,
            door=door,
            sampling=Sampling(seed=seed),
            started=started,
            normalize=normalize,
            markdown=True,
            listen=listen,
        )

    async def answer_aloud(
        self,
        reply: TextStream,
        answer: Answer,
        *,
        on_text: OnText,
        on_audio: OnAudio,
        voice: str | None,
        model: str | None,
        door: SpeechEndpoint,
        seed: int | None = None,
        started: float | None = None,
        normalize: bool = True,
    ) -> None:
        """Write and speak ``reply``: each text delta to ``on_text`` as it is written, the speech
        (float32 mono chunks at the voice's rate) to ``on_audio`` as it is made; ``answer`` holds
        what was written and spoken so far, whether this returns or is cancelled."""

        async def forwarded() -> AsyncIterator[str]:
            deltas = reply.deltas()
            try:
                async for delta in deltas:
                    answer.deltas.append(delta)
                    await on_text(delta)
                    yield delta
            finally:
                await deltas.aclose()  # type: ignore[attr-defined]

        speech = answer.speech = self.speak(
            forwarded(), voice, model, door=door, seed=seed, started=started, normalize=normalize
        )
        chunks = speech.chunks()
        try:
            async for chunk in chunks:
                await on_audio(chunk)
                answer.samples += len(chunk)
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]  # its utterances are counted once closed
