"""The speaking service: every door's one way to speech (HTTP routes, both WebSockets, Wyoming).

A door parses its request, calls the service, and frames what comes back; everything between is
here, so every door gets the same voices, limits, caps, look-ahead, metrics and cancellation.

    speaker = Speaker(runtime, limits, metrics)        # cheap: made per request or connection
    speaker.resolve(voice, model=None) -> ResolvedVoice  # to refuse a bad voice early

    # A whole text (the OpenAI speech routes, /tts, the speech WebSocket, Wyoming's synthesize):
    speech = speaker.speak(text, voice, model=None, *, door, sampling=Sampling(), param="input")

    # Text arriving over time (/chat's reply, the live voice session's reply, Wyoming's streamed
    # synthesis): text deltas in any pieces, cut into sentences, each spoken once complete.
    speech = speaker.speak_stream(texts, voice, model=None, *, door, sampling=Sampling(),
                                  client_text=False)

    async for chunk in speech.chunks(): ...   # float32 mono at speech.sample_rate
    async for item in speech.groups(): ...    # the same, and GROUP_END after each sentence
    speech.utterances, speech.usage, speech.truncated   # readable while and after it plays

``door`` labels the metrics (``metrics.speech_audio``). ``sampling``: the request's own choices
(``Sampling``), each unset one keeping the model's default; its ``max_tokens`` is held within
MAX_COMPLETION_TOKENS, and when unset the model's TTS_MAX_TOKENS is (also within that cap).
MAX_INPUT_CHARS is checked here: for a whole text on the call, for a client's streamed text
(``client_text=True``) as it arrives, in all. A chat model's reply (``client_text=False``) is
instead cut after MAX_UTTERANCES utterances (``speech.truncated``; the text is no longer read).

A whole text's first utterance is submitted on the call, so a full engine is refused there (a
clean 429 before any response); a streamed text's first when its first sentence is complete, so
that refusal comes out of the iterator before the first chunk. Closing the iterator (a listener
gone) cancels every generation, and for a streamed text stops reading it (closing ``texts``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

import numpy as np

from coordinator.engine.sampling import SamplingParams, sampling_with
from coordinator.runtime.loading import Runtime
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics, SpeechEndpoint
from coordinator.service.sentences import SentencePipeline
from coordinator.tts.lookahead import GROUP_END, GroupEnd, Lookahead
from coordinator.tts.registry import ResolvedVoice
from coordinator.tts.synthesis import OrpheusTTS, SpeechStream

__all__ = ["GROUP_END", "GroupEnd", "Sampling", "Speaker", "Speech", "Usage"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sampling:
    """A request's own sampling choices; each one left None keeps the model's default."""

    max_tokens: int | None = None  # audio tokens per utterance
    temperature: float | None = None
    top_p: float | None = None
    repetition_penalty: float | None = None
    seed: int | None = None


DEFAULT_SAMPLING = Sampling()


@dataclass(frozen=True)
class Usage:
    """What a speech cost: tokens of every utterance, how many utterances, how many of them were
    cut at the length their text can plausibly need (TTS_LENGTH_CAP)."""

    prompt_tokens: int
    completion_tokens: int
    utterances: int
    length_capped: int


class Speech:
    """One spoken answer. Listen once, through ``chunks`` or ``groups``."""

    def __init__(
        self,
        lookahead: Lookahead,
        *,
        resolved: ResolvedVoice,
        door: SpeechEndpoint,
        metrics: Metrics,
        runtime: Runtime,
        started: float,
        pipeline: SentencePipeline | None = None,
    ) -> None:
        self._lookahead = lookahead
        self._metrics = metrics
        self._runtime = runtime
        self._started = started
        self._pipeline = pipeline
        self._listened = False
        self.door = door
        self.voice = resolved.voice
        self.model_id = resolved.model.model_id
        self.sample_rate = resolved.tts.sample_rate

    @property
    def utterances(self) -> list[str]:
        """The text of each utterance, in order (so far, while it plays)."""
        return self._lookahead.texts

    @property
    def streams(self) -> list[SpeechStream]:
        """Each utterance's generation and its stats (so far, while it plays)."""
        return self._lookahead.streams

    @property
    def truncated(self) -> bool:
        """A reply that needed more than MAX_UTTERANCES: the rest was not spoken."""
        return self._pipeline is not None and self._pipeline.truncated

    @property
    def usage(self) -> Usage:
        return Usage(
            prompt_tokens=self._lookahead.prompt_tokens,
            completion_tokens=self._lookahead.completion_tokens,
            utterances=len(self.streams),
            length_capped=self._lookahead.length_capped,
        )

    def chunks(self) -> AsyncIterator[np.ndarray]:
        """The audio, float32 mono at ``sample_rate``, recorded in the metrics under the door."""
        audio = self._listen(groups=False)
        return self._metrics.speech_audio(
            self.door, cast(AsyncIterator[np.ndarray], audio), self.streams, started=self._started
        )

    def groups(self) -> AsyncIterator[np.ndarray | GroupEnd]:
        """The audio and ``GROUP_END`` after each sentence of a streamed text (after the whole
        of a text spoken at once)."""
        # The metrics pass every item through; they time the first one (audio, but when the model
        # ended the first sentence at once).
        audio = cast(AsyncIterator[np.ndarray], self._listen(groups=True))
        recorded = self._metrics.speech_audio(self.door, audio, self.streams, started=self._started)
        return cast(AsyncIterator[np.ndarray | GroupEnd], recorded)

    async def _listen(self, *, groups: bool) -> AsyncIterator[np.ndarray | GroupEnd]:
        if self._listened:
            raise RuntimeError("a speech is listened to once")
        self._listened = True
        reader = None
        if self._pipeline is not None:
            # The text is read beside the audio, so sentences are generated while earlier ones play.
            reader = asyncio.create_task(self._pipeline.run(), name="speech-text")
        try:
            async for item in self._lookahead.aiter_groups(self._runtime.snac):
                if groups or not isinstance(item, GroupEnd):
                    yield item
        finally:
            # Only synchronous cleanup: a listener gone runs this in a cancelled scope, where any
            # await would be cancelled again. The reader ends at its next await, closing the text.
            if reader is not None:
                reader.cancel()
            self._lookahead.close()


class Speaker:
    """Speaks for every door, with the runtime's models, the request limits and the metrics."""

    def __init__(self, runtime: Runtime, limits: RequestLimits, metrics: Metrics) -> None:
        self._runtime = runtime
        self._limits = limits
        self._metrics = metrics

    def resolve(self, voice: str | None, model: str | None = None, *, param: str = "voice") -> ResolvedVoice:
        """The model and exact voice that ``voice`` (and ``model``) name (tts/registry.py)."""
        return self._runtime.resolve_voice(voice, model, param=param)

    def sampling_params(self, tts: OrpheusTTS, sampling: Sampling = DEFAULT_SAMPLING) -> SamplingParams:
        """The model's defaults with the request's choices; the token cap of every door: the
        request's max_tokens within MAX_COMPLETION_TOKENS, else TTS_MAX_TOKENS within it."""
        max_tokens = self._limits.completion_tokens(
            sampling.max_tokens, default=tts.default_params.max_tokens, param="max_tokens"
        )
        return sampling_with(
            tts.default_params,
            max_tokens=max_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            repetition_penalty=sampling.repetition_penalty,
            seed=sampling.seed,
        )

    def speak(
        self,
        text: str,
        voice: str | None,
        model: str | None = None,
        *,
        door: SpeechEndpoint,
        sampling: Sampling = DEFAULT_SAMPLING,
        param: str = "input",
        started: float | None = None,
    ) -> Speech:
        """Speak a whole text. Everything is validated (voice, length, caps, context) and the
        first utterance submitted before this returns: its errors are the request's.
        ``param``: the request field holding the text; ``started``: when the request arrived
        (``time.perf_counter()``), for the time to first audio."""
        started = time.perf_counter() if started is None else started
        resolved = self.resolve(voice, model)
        self._limits.check_text(text, param=param)
        params = self.sampling_params(resolved.tts, sampling)
        lookahead = resolved.tts.speak(text, resolved.spoken, params, loop=asyncio.get_running_loop())
        return self._speech(lookahead, resolved, door, started)

    def speak_stream(
        self,
        texts: AsyncIterator[str],
        voice: str | None,
        model: str | None = None,
        *,
        door: SpeechEndpoint,
        sampling: Sampling = DEFAULT_SAMPLING,
        client_text: bool = False,
        started: float | None = None,
    ) -> Speech:
        """Speak text as it arrives: ``texts`` (deltas of any size) is read while the speech
        plays, and each sentence spoken as soon as it is complete. ``client_text``: the text is
        the client's own (held to MAX_INPUT_CHARS, refused past MAX_UTTERANCES), not a chat
        model's reply (cut after MAX_UTTERANCES)."""
        started = time.perf_counter() if started is None else started
        resolved = self.resolve(voice, model)
        params = self.sampling_params(resolved.tts, sampling)
        lookahead = Lookahead(resolved.tts, asyncio.get_running_loop(), complete=False)
        pipeline = SentencePipeline(
            texts,
            lookahead,
            resolved.tts,
            resolved.spoken,
            params,
            limits=self._limits if client_text else None,
        )
        return self._speech(lookahead, resolved, door, started, pipeline)

    def _speech(
        self,
        lookahead: Lookahead,
        resolved: ResolvedVoice,
        door: SpeechEndpoint,
        started: float,
        pipeline: SentencePipeline | None = None,
    ) -> Speech:
        return Speech(
            lookahead,
            resolved=resolved,
            door=door,
            metrics=self._metrics,
            runtime=self._runtime,
            started=started,
            pipeline=pipeline,
        )
