"""Text → speech: Orpheus prompt → constrained generation → frames → exact streaming SNAC audio.

This is the one streaming path; the CLI and the HTTP server both consume it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from coordinator.audio.decode_scheduler import DecodeScheduler
from coordinator.audio.format import SAMPLE_RATE, frames_to_seconds
from coordinator.audio.streaming import FrameCodec, StreamingDecoder
from coordinator.audio.windows import WindowPlanner
from coordinator.engine.batch_engine import BatchEngine, GenerationRequest
from coordinator.engine.llama_model import LlamaModel
from coordinator.engine.sampling import SamplingParams
from coordinator.engine.stream import FinishReason, GenerationStream, OnGeneration
from coordinator.errors import InvalidInputError
from coordinator.orpheus.clone import ClonedVoice, Reference, build_clone_prompt, clone_prefix_length
from coordinator.orpheus.codes import FrameAssembler
from coordinator.orpheus.constraint import AudioTokenConstraint
from coordinator.orpheus.layout import FRAME_TOKENS
from coordinator.orpheus.length import audio_token_need
from coordinator.orpheus.prompt import build_prompt, prompt_text, validate_text
from coordinator.orpheus.vocab import OrpheusVocab
from coordinator.orpheus.voices import resolve_voice
from coordinator.text.sentences import DEFAULT_LANGUAGE, DEFAULT_MAX_UTTERANCES, utterances
from coordinator.tts.lookahead import Lookahead

logger = logging.getLogger(__name__)

# The official orpheus-speech package's defaults; repetition_penalty >= 1.1 keeps Orpheus from
# looping. 2000 tokens = 285 frames ≈ 24 s of audio.
ORPHEUS_DEFAULT_SAMPLING = SamplingParams(max_tokens=2000, temperature=0.6, top_p=0.8, repetition_penalty=1.3)

# What a request may name as its voice: a built-in voice of a fine-tune (or an alias of one), or a
# custom voice, which only the pretrained (cloning) model speaks.
SpokenVoice = str | ClonedVoice

# Cloned voices whose tokenized references are kept (one tokenization per voice, not per request);
# the voice store's count limit keeps far fewer in use.
CLONE_CACHE_VOICES = 64


@dataclass
class SynthesisStats:
    frames: int = 0
    dropped_tokens: int = 0  # tokens of an unfinished trailing frame (token limit hit mid-frame)
    first_audio_s: float | None = None
    # Where the first audio's latency went: tokens until the first window was decodable, then SNAC.
    first_window_ready_s: float | None = None
    first_decode_s: float | None = None
    elapsed_s: float = 0.0
    finish_reason: FinishReason | None = None
    # The token limit the text's length set, when it was lower than every other limit, and
    # whether the utterance ran into it (the model did not end it itself: it was cut there).
    length_cap: int | None = None
    length_capped: bool = False

    @property
    def audio_s(self) -> float:
        return frames_to_seconds(self.frames)

    @property
    def real_time_factor(self) -> float:
        """Processing time per second of audio: below 1 is faster than real time."""
        return self.elapsed_s / self.audio_s if self.frames else float("inf")


@dataclass(frozen=True)
class UtteranceRequest(GenerationRequest):
    """A speech request whose token limit its text's length set (``length_cap``), for reporting."""

    length_cap: int | None = None


class SpeechStream(OnGeneration):
    """Iterate for float32 audio chunks (24 kHz mono) as they are decoded; stats fill in as it runs."""

    def __init__(
        self,
        generation: GenerationStream,
        vocab: OrpheusVocab,
        decoder: StreamingDecoder,
        *,
        started: float,
        length_cap: int | None = None,
    ) -> None:
        super().__init__(generation)
        self._assembler = FrameAssembler(vocab)
        self.decoder = decoder
        self.stats = SynthesisStats(length_cap=length_cap)
        self._started = started  # perf_counter() when the request was made

    @property
    def frames(self) -> np.ndarray:
        """The frames generated so far, (F, 7): exactly what was (or will be) decoded."""
        return self.decoder.frames

    def __iter__(self) -> Iterator[np.ndarray]:
        """Blocking iteration (CLI, worker threads): decode runs in the calling thread."""
        finished = failed = False
        try:
            while not finished:
                # Everything generated since the last read goes into one decode decision, so when
                # generation runs ahead of SNAC the next window simply covers more frames.
                batch = self._generation.next_batch()
                finished = batch.finished
                self._absorb(batch.tokens)
                while (window := self.decoder.next_window(finished=finished)) is not None:
                    self._window_ready()
                    yield self._emitted(self.decoder.decode(window))
        except Exception:
            failed = True
            raise
        finally:
            self._close(finished=finished, failed=failed)

    async def aiter_chunks(self, snac: DecodeScheduler) -> AsyncIterator[np.ndarray]:
        """Async iteration (server): tokens are awaited; SNAC runs on the shared decode thread,
        batched with the other streams' windows."""
        finished = failed = False
        try:
            while not finished:
                batch = await self._generation.anext_batch()
                finished = batch.finished
                self._absorb(batch.tokens)
                # The server's audio is played as it arrives: let the planner watch the clock
                # (the scheduler's, which its deadlines are read on).
                while (
                    window := self.decoder.next_window(finished=finished, now=snac.clock.now())
                ) is not None:
                    self._window_ready()
                    released = snac.clock.now()
                    future = snac.submit(
                        *self.decoder.window_input(window), deadline=self.decoder.planner.deadline(window)
                    )
                    samples = await asyncio.wrap_future(future)
                    self.decoder.planner.observe_decode(window, snac.clock.now() - released)
                    yield self._emitted(samples)
        except Exception:
            failed = True
            raise
        finally:
            self._close(finished=finished, failed=failed)

    def _absorb(self, tokens: list[int]) -> None:
        for token in tokens:
            frame = self._assembler.add(token)
            if frame is not None:
                self.decoder.push(frame)

    def _window_ready(self) -> None:
        if self.stats.first_window_ready_s is None:
            self.stats.first_window_ready_s = time.perf_counter() - self._started

    def _emitted(self, chunk: np.ndarray) -> np.ndarray:
        if self.stats.first_audio_s is None:
            self.stats.first_audio_s = time.perf_counter() - self._started
            self.stats.first_decode_s = self.stats.first_audio_s - (self.stats.first_window_ready_s or 0.0)
        self.stats.frames = self.decoder.emitted_frames
        return chunk

    def _close(self, *, finished: bool, failed: bool) -> None:
        if not finished:
            self._generation.cancel()
        self.stats.finish_reason = self._generation.finish_reason or ("error" if failed else "cancelled")
        self.stats.dropped_tokens = self._assembler.partial_tokens
        self.stats.elapsed_s = time.perf_counter() - self._started
        if self.stats.length_cap is not None and self.stats.finish_reason == "length":
            self.stats.length_capped = True
            logger.warning(
                "an utterance did not end by itself: cut at its length cap of %d audio tokens "
                "(%.1f s of audio), the least of what its text can plausibly need and "
                "TTS_MAX_TOKENS (TTS_LENGTH_CAP)",
                self.stats.length_cap,
                self.stats.audio_s,
            )


class OrpheusTTS:
    """A loaded Orpheus model, its engine and the SNAC codec, ready to speak."""

    def __init__(
        self,
        engine: BatchEngine,
        vocab: OrpheusVocab,
        codec: FrameCodec,
        *,
        voices: Sequence[str],
        voice_aliases: Mapping[str, str] | None = None,
        lookahead_frames: int,
        max_utterances: int = DEFAULT_MAX_UTTERANCES,
        quant: str = "custom",
        default_params: SamplingParams = ORPHEUS_DEFAULT_SAMPLING,
        language: str = DEFAULT_LANGUAGE,
        voice_languages: Mapping[str, str] | None = None,
        length_cap: bool = True,
        clones: bool = False,
    ) -> None:
        self.engine = engine
        # The pretrained (cloning) model: it speaks custom voices from their reference recordings.
        self.clones = clones
        # What the voices speak: sentence splitting follows the language's punctuation.
        self.language = language
        self.voice_languages = dict(voice_languages or {})
        self.quant = quant
        self.default_params = default_params
        self.vocab = vocab
        self.codec = codec
        self.voices = list(voices)
        # OpenAI voice name → one of ``voices`` (models.yaml's openai_voices).
        self.voice_aliases = dict(voice_aliases or {})
        self.max_utterances = max_utterances
        self.lookahead_frames = lookahead_frames
        self.sample_rate = SAMPLE_RATE
        # speak() and utterance_request() limit each utterance by its text's length too.
        self.length_cap = length_cap
        # A cloned voice's references as token ids, per voice id (CLONE_CACHE_VOICES most recent).
        self._references: OrderedDict[str, list[Reference]] = OrderedDict()

    @property
    def model(self) -> LlamaModel:
        return self.engine.model

    def language_of(self, voice: SpokenVoice) -> str:
        if isinstance(voice, ClonedVoice):
            return voice.language
        return self.voice_languages.get(voice, self.language)

    def resolve_voice(self, voice: str) -> str:
        """The model voice that ``voice`` (a voice or an alias of one) names; 400 if none."""
        return resolve_voice(voice, self.voices, self.voice_aliases)

    def prompt_ids(self, text: str, voice: SpokenVoice) -> list[int]:
        """Validate the input and build the prompt token ids: the official Orpheus layout for a
        built-in voice, the cloning layout (coordinator/orpheus/clone.py) for a custom one."""
        text = validate_text(text)
        if isinstance(voice, ClonedVoice):
            return build_clone_prompt(self.vocab, self._clone_references(voice), self.model.tokenize(text))
        if self.clones:
            raise InvalidInputError(
                f"voice {voice!r}: this model ({self.model.path.name}) is the pretrained Orpheus, which "
                "speaks only custom voices: name a custom voice's id (POST /v1/audio/voices creates "
                "one), or a built-in voice of a fine-tuned model",
                param="voice",
            )
        voice = self.resolve_voice(voice)
        return build_prompt(self.vocab, self.model.tokenize(prompt_text(voice, text)))

    def _clone_references(self, voice: ClonedVoice) -> list[Reference]:
        """The voice's (transcript ids, frames) pairs, tokenized once per voice."""
        if not self.clones:
            raise InvalidInputError(
                f"voice {voice.name!r} is a custom voice, which only the pretrained Orpheus speaks, "
                f"not this fine-tune ({self.model.path.name}): load it (ORPHEUS_MODELS=...,pretrained) "
                "or name a built-in voice",
                param="voice",
            )
        references = self._references.get(voice.id)
        if references is None:
            references = [(self.model.tokenize(s.transcript), s.frames) for s in voice.samples]
            self._references[voice.id] = references
            while len(self._references) > CLONE_CACHE_VOICES:
                self._references.popitem(last=False)
        self._references.move_to_end(voice.id)
        return references

    def request(
        self, text: str, voice: SpokenVoice, params: SamplingParams | None = None
    ) -> GenerationRequest:
        params = params or self.default_params
        if params.max_tokens < FRAME_TOKENS:
            raise InvalidInputError(
                f"max_tokens={params.max_tokens} cannot hold one audio frame ({FRAME_TOKENS} tokens): "
                f"use at least {FRAME_TOKENS}",
                param="max_tokens",
            )
        request = GenerationRequest(
            prompt=self.prompt_ids(text, voice),
            params=params,
            constraint=AudioTokenConstraint(self.vocab),
            stop_ids=frozenset(int(t) for t in self.vocab.stop_ids),
            # A custom voice's references open every one of its prompts: the engine keeps their
            # KV cells, so the next request of the voice prefills only its own text.
            keep_prefix=(
                clone_prefix_length(self.vocab, self._clone_references(voice))
                if isinstance(voice, ClonedVoice)
                else 0
            ),
        )
        self.engine.validate(request)
        return request

    def utterance_limit(self, text: str, max_tokens: int) -> tuple[int, int | None]:
        """The token limit of one utterance of ``text``, asked to stop at ``max_tokens``: the
        least of that, of what the text can plausibly need, and of the server's default
        (TTS_MAX_TOKENS). Also returns the length cap when it is what set the limit."""
        if not self.length_cap:
            return max_tokens, None
        cap = min(audio_token_need(text), self.default_params.max_tokens)
        return (cap, cap) if cap < max_tokens else (max_tokens, None)

    def utterance_request(
        self, text: str, voice: SpokenVoice, params: SamplingParams | None = None
    ) -> GenerationRequest:
        """``request`` for one utterance of spoken output, its token limit capped by its text's
        length (``utterance_limit``), so that a model that does not stop cannot ramble on."""
        params = params or self.default_params
        limit, cap = self.utterance_limit(text, params.max_tokens)
        request = self.request(text, voice, replace(params, max_tokens=limit))
        if cap is None:
            return request
        return UtteranceRequest(
            prompt=request.prompt,
            params=request.params,
            constraint=request.constraint,
            stop_ids=request.stop_ids,
            keep_prefix=request.keep_prefix,
            length_cap=cap,
        )

    def synthesize(
        self,
        text: str,
        voice: SpokenVoice,
        params: SamplingParams | None = None,
        *,
        planner: WindowPlanner | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> SpeechStream:
        """Start speaking. Iterate the result (or, with ``loop``, use ``aiter_chunks``) for audio."""
        return self.start(self.request(text, voice, params), planner=planner, loop=loop)

    def start(
        self,
        request: GenerationRequest,
        *,
        planner: WindowPlanner | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        continuation: bool = False,
    ) -> SpeechStream:
        """Submit a validated request (see ``request``) and return its audio stream.

        ``continuation``: a later utterance of a response already streaming (BatchEngine.submit).
        """
        started = time.perf_counter()
        generation = self.engine.submit(request, loop=loop, continuation=continuation)
        decoder = StreamingDecoder(self.codec, planner or WindowPlanner(lookahead=self.lookahead_frames))
        cap = request.length_cap if isinstance(request, UtteranceRequest) else None
        return SpeechStream(generation, self.vocab, decoder, started=started, length_cap=cap)

    def speak(
        self,
        text: str,
        voice: SpokenVoice,
        params: SamplingParams | None = None,
        *,
        loop: asyncio.AbstractEventLoop,
        continuation: bool = False,
    ) -> Lookahead:
        """Speak text of any accepted length: cut at sentence boundaries into utterances Orpheus
        handles well, every one validated before the first is submitted, each limited by its
        text's length too (``utterance_limit``).

        ``continuation``: the text goes on a response already speaking (a later sentence of a
        streamed text), so even its first utterance is never refused for a full queue."""
        text = validate_text(text)
        pieces = utterances(text, language=self.language_of(voice))
        if len(pieces) > self.max_utterances:
            # Each utterance may generate up to max_tokens: the count bounds one request's work.
            raise InvalidInputError(
                f"the text is spoken in {len(pieces)} utterances, over this server's limit of "
                f"{self.max_utterances} (MAX_UTTERANCES): split it into several requests",
                param="input",
            )
        requests = [self.utterance_request(piece, voice, params) for piece in pieces]
        # The first is submitted now, so a full queue is refused before any response starts.
        return Lookahead(self, loop, requests, texts=pieces, continuation=continuation)

    def close(self) -> None:
        self.engine.close()
        self.model.close()
