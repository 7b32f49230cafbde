"""The speaking service: every door's one way to speech (HTTP routes, both WebSockets, Wyoming).

A door parses its request, calls the service, and frames what comes back; everything between is
here, so every door gets the same voices, limits, caps, look-ahead, metrics and cancellation.

    speaker = Speaker(runtime, limits, metrics)        # cheap: made per request or connection
    speaker.resolve(voice, model=None) -> ResolvedVoice  # to refuse a bad voice early

    # A whole text (the OpenAI speech routes, /tts, the speech WebSocket, Wyoming's synthesize):
    speech = speaker.speak(text, voice, model=None, *, door, sampling=Sampling(), param="input",
                           normalize=True)

    # Text arriving over time (/chat's reply, the live voice session's reply, Wyoming's streamed
    # synthesis): text deltas in any pieces, cut into sentences, each spoken once complete.
    speech = speaker.speak_stream(texts, voice, model=None, *, door, sampling=Sampling(),
                                  client_text=False, normalize=True, markdown=False)

    async for chunk in speech.chunks(): ...   # float32 mono at speech.sample_rate
    async for item in speech.groups(): ...    # the same, and GROUP_END after each sentence
    speech.utterances, speech.usage, speech.truncated   # readable while and after it plays
    speech.spoken, speech.original_ranges                # each utterance's map to what was written
    speech.new_heard(); await speech.finish_listening()  # word timings and checks, when asked
                                                         # (listen=ListenRequest: service/listening.py)

The text is spoken in its spoken form (numbers, dates, symbols … read out, in the resolved
voice's language: coordinator/normalize), made before it is cut into utterances and each
utterance's length cap is set, so neither cuts nor caps real speech; ``markdown`` (a chat model's
reply) first makes its markdown fit for the ear. ``normalize=False`` (a request's
``normalize: false``), or the server's NORMALIZE_TEXT=0 (``limits.normalize_text``), speaks the
text as written. Each utterance keeps its spans back to the original text (``speech.spoken``), for
word timings and captions that point at what was written.

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
from coordinator.errors import InvalidInputError
from coordinator.normalize.spans import Spoken
from coordinator.runtime.loading import Runtime
from coordinator.service.limits import RequestLimits
from coordinator.service.listening import (
    Listening,
    ListenOptions,
    ListenRequest,
    Played,
    UtteranceHeard,
    listen_options,
    retake_seed,
)
from coordinator.service.metrics import Metrics, SpeechEndpoint
from coordinator.service.sentences import Reading, SentencePipeline
from coordinator.tts.lookahead import GROUP_END, GroupEnd, Lookahead
from coordinator.tts.registry import ResolvedVoice
from coordinator.tts.synthesis import OrpheusTTS, SpeechStream

__all__ = [
    "GROUP_END",
    "GroupEnd",
    "ListenRequest",
    "Sampling",
    "Speaker",
    "Speech",
    "UtteranceHeard",
    "Usage",
]

NO_LISTEN_REQUEST = ListenRequest()

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
    completion_tokens: int  # the retakes' included
    utterances: int
    length_capped: int
    retakes: int = 0  # utterances generated again because their check failed


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
        spoken: list[Spoken] | None = None,
        listening: Listening | None = None,
        seed: int | None = None,
    ) -> None:
        self._lookahead = lookahead
        self._listening = listening
        self._seed = seed
        self._spoken = spoken or []
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
    def spoken(self) -> list[Spoken]:
        """Each utterance as spoken, with the spans from its text back to the original (the whole
        text, or the reply written so far), in order (so far, while it plays)."""
        return self._pipeline.spoken if self._pipeline is not None else self._spoken

    @property
    def original_ranges(self) -> list[tuple[int, int]]:
        """The characters of the original each utterance was made from."""
        return [utterance.original_range(0, len(utterance.text)) for utterance in self.spoken]

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
        retakes = self._lookahead.retakes
        return Usage(
            prompt_tokens=self._lookahead.prompt_tokens + sum(stream.prompt_tokens for stream in retakes),
            completion_tokens=self._lookahead.completion_tokens
            + sum(stream.completion_tokens for stream in retakes),
            utterances=len(self.streams),
            length_capped=self._lookahead.length_capped,
            retakes=len(retakes),
        )

    @property
    def listen_options(self) -> ListenOptions:
        """What this speech listens for (word timings, checks, retakes)."""
        return self._listening.options if self._listening is not None else ListenOptions()

    def new_heard(self) -> list[UtteranceHeard]:
        """Utterances heard since the last call, in order (never waits): a streaming door sends
        each as it comes (service/listening.py)."""
        return self._listening.new_heard() if self._listening is not None else []

    async def finish_listening(self) -> list[UtteranceHeard]:
        """Every utterance played, heard, in order: call after the audio has been read to its end."""
        return await self._listening.finish() if self._listening is not None else []

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
        played = Played(self._listening, self.sample_rate, self._again)
        completed = False
        try:
            async for item in self._lookahead.aiter_groups(self._runtime.snac):
                if played.listening and isinstance(item, GroupEnd):
                    for chunk in await played.end_utterance():
                        yield chunk
                elif played.listening and not isinstance(item, GroupEnd):
                    for chunk in await played.add(self._lookahead.playing, item):
                        yield chunk
                    continue
                if groups or not isinstance(item, GroupEnd):
                    yield item
            for chunk in await played.end_utterance():
                yield chunk
            completed = True
        finally:
            # Only synchronous cleanup: a listener gone runs this in a cancelled scope, where any
            # await would be cancelled again. The reader ends at its next await, closing the text.
            if reader is not None:
                reader.cancel()
            self._lookahead.close()
            if not completed and self._listening is not None:
                self._listening.close()

    async def _again(self, index: int, take: int) -> np.ndarray:
        """Utterance ``index`` generated anew (a retake), its whole audio."""
        stream = self._lookahead.retake(index, retake_seed(self._seed, take))
        chunks = [chunk async for chunk in stream.aiter_chunks(self._runtime.snac)]
        return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


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
        normalize: bool = True,
        listen: ListenRequest = NO_LISTEN_REQUEST,
    ) -> Speech:
        """Speak a whole text. Everything is validated (voice, length, caps, context) and the
        first utterance submitted before this returns: its errors are the request's.
        ``param``: the request field holding the text; ``started``: when the request arrived
        (``time.perf_counter()``), for the time to first audio; ``normalize``: False speaks the
        text as written (so does the server's NORMALIZE_TEXT=0); ``listen``: word timings, checks
        and retakes asked for (service/listening.py; unset: the server's)."""
        started = time.perf_counter() if started is None else started
        resolved = self.resolve(voice, model)
        self._limits.check_text(text, param=param)
        params = self.sampling_params(resolved.tts, sampling)
        reading = Reading(resolved.tts.language_of(resolved.spoken), normalize=self._normalize(normalize))
        spoken = reading.whole(text)
        if text.strip() and not spoken.text.strip():
            raise InvalidInputError(
                f"{param} has nothing to say aloud (only symbols or emoji that are not read): give "
                "words to speak, or send normalize: false to have it read as written",
                param=param,
            )
        options = self._listen_options(resolved, listen)
        lookahead = resolved.tts.speak(spoken.text, resolved.spoken, params, loop=asyncio.get_running_loop())
        return self._speech(
            lookahead,
            resolved,
            door,
            started,
            spoken=reading.utterances(spoken),
            listen=options,
            seed=params.seed,
        )

    def _listen_options(self, resolved: ResolvedVoice, listen: ListenRequest) -> ListenOptions:
        if listen == NO_LISTEN_REQUEST and self._runtime.stt is None:
            return ListenOptions()
        return listen_options(self._runtime, listen, language=resolved.tts.language_of(resolved.spoken))

    def _normalize(self, requested: bool) -> bool:
        """A request may turn normalisation off, never on where the server turned it off."""
        return requested and self._limits.normalize_text

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
        normalize: bool = True,
        markdown: bool = False,
        listen: ListenRequest = NO_LISTEN_REQUEST,
    ) -> Speech:
        """Speak text as it arrives: ``texts`` (deltas of any size) is read while the speech
        plays, and each sentence spoken as soon as it is complete. ``client_text``: the text is
        the client's own (held to MAX_INPUT_CHARS, refused past MAX_UTTERANCES), not a chat
        model's reply (cut after MAX_UTTERANCES). ``markdown``: the text is a chat model's reply,
        whose markdown is made for the ear before it is read (never a client's own text)."""
        started = time.perf_counter() if started is None else started
        resolved = self.resolve(voice, model)
        params = self.sampling_params(resolved.tts, sampling)
        options = self._listen_options(resolved, listen)
        lookahead = Lookahead(resolved.tts, asyncio.get_running_loop(), complete=False)
        pipeline = SentencePipeline(
            texts,
            lookahead,
            resolved.tts,
            resolved.spoken,
            params,
            limits=self._limits if client_text else None,
            normalize=self._normalize(normalize),
            markdown=markdown,
        )
        return self._speech(lookahead, resolved, door, started, pipeline, listen=options, seed=params.seed)

    def _speech(
        self,
        lookahead: Lookahead,
        resolved: ResolvedVoice,
        door: SpeechEndpoint,
        started: float,
        pipeline: SentencePipeline | None = None,
        *,
        spoken: list[Spoken] | None = None,
        listen: ListenOptions | None = None,
        seed: int | None = None,
    ) -> Speech:
        listening = None
        recogniser = self._runtime.listening if listen is not None and listen.listening else None
        if listen is not None and recogniser is not None:
            speech_spoken = (lambda: pipeline.spoken) if pipeline is not None else (lambda: spoken or [])
            listening = Listening(
                recogniser,
                listen,
                spoken=speech_spoken,
                language=resolved.tts.language_of(resolved.spoken),
                sample_rate=resolved.tts.sample_rate,
                door=door,
                metrics=self._metrics,
            )
        return Speech(
            lookahead,
            resolved=resolved,
            door=door,
            metrics=self._metrics,
            runtime=self._runtime,
            started=started,
            pipeline=pipeline,
            spoken=spoken,
            listening=listening,
            seed=seed,
        )
