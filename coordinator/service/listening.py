"""Listening to what Orpheus said: each generated utterance transcribed by the server's Whisper
with word timestamps, its original words timed in the returned audio, its text checked, and, where
asked, a failing utterance generated again (another seed) with the better take kept.

    options = listen_options(runtime, ListenRequest(timings=None, check=None, retakes=None,
                                                    streamed=True))   # the server's defaults
    speech = speaker.speak(text, voice, door=..., listen=ListenRequest(...))
    async for chunk in speech.chunks(): ...
        speech.new_heard()          # utterances heard since the last call, in order (non-blocking)
    await speech.finish_listening() # every utterance heard (after the audio has been read)

Whisper listens on slots of its own (LISTEN_SLOTS, ``Runtime.listening``): checking speech never
holds up /v1/audio/transcriptions. What pure work there is (alignment, check, captions) lives in
coordinator/timing/.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np

from coordinator.engine.sampling import MAX_SEED, MIN_SEED
from coordinator.errors import InvalidInputError, QueueFullError, QueueTimeoutError
from coordinator.normalize.spans import Spoken
from coordinator.runtime.loading import Runtime
from coordinator.service.metrics import Metrics, SpeechEndpoint
from coordinator.stt.engine import SpeechToText
from coordinator.stt.transcript import SAMPLE_RATE as WHISPER_RATE
from coordinator.timing.align import HeardWord, Sound, WordTiming
from coordinator.timing.check import Check
from coordinator.timing.heard import hear
from coordinator.voices.sample import resample

logger = logging.getLogger(__name__)

# A retake's seed: the request's seed moved on by this much per take (an unseeded request's
# retakes are unseeded draws too), so a seeded request's retakes are reproducible.
RETAKE_SEED_STEP = 1_000_003


@dataclass(frozen=True)
class ListenRequest:
    """A request's choices; None keeps the server's (SPEECH_TIMINGS, SPEECH_CHECK,
    SPEECH_RETAKES). ``streamed``: the door plays the audio as it comes (then retakes are made only
    when asked, as one delays the audio after it)."""

    timings: bool | None = None
    check: bool | None = None
    retakes: int | None = None
    streamed: bool = True


@dataclass(frozen=True)
class ListenOptions:
    """What one speech listens for."""

    timings: bool = False
    check: bool = False
    retakes: int = 0  # only with check: a take is judged by its check
    max_word_error: float = 0.35

    @property
    def listening(self) -> bool:
        return self.timings or self.check


NOT_LISTENING = ListenOptions()


@dataclass(frozen=True)
class UtteranceHeard:
    """One utterance as heard. ``words``: each original word it says, ``start``/``end`` in seconds
    of the returned audio (offset by the utterances before), ``char_start``/``char_end`` in the
    original text (empty unless timings were asked for). ``check``: None unless checking was asked
    for. ``offset``/``duration``: where the utterance lies in the returned audio. ``takes``: how
    many times it was generated (1 + retakes)."""

    index: int
    text: str  # the utterance as spoken (its spoken form)
    original_range: tuple[int, int]
    offset: float
    duration: float
    words: tuple[WordTiming, ...]
    check: Check | None
    takes: int = 1

    def as_dict(self, speed: float = 1.0) -> dict[str, object]:
        """JSON-ready; ``speed``: the audio was played at this tempo (times divided by it)."""

        def at(seconds: float) -> float:
            return round(seconds / speed, 3)

        return {
            "index": self.index,
            "text": self.text,
            "original_range": list(self.original_range),
            "start": at(self.offset),
            "end": at(self.offset + self.duration),
            "words": [
                {
                    "word": w.text,
                    "start": at(w.start),
                    "end": at(w.end),
                    "char_start": w.char_start,
                    "char_end": w.char_end,
                }
                for w in self.words
            ],
            "check": self.check.as_dict() if self.check is not None else None,
            "takes": self.takes,
        }


def _choice(setting: str, recogniser: SpeechToText | None) -> bool:
    """A SPEECH_TIMINGS / SPEECH_CHECK value as the server's default: auto is on where Whisper
    runs on a GPU (docs/timings.md measures the cost on a CPU)."""
    if setting == "auto":
        return recogniser is not None and recogniser.transcriber.device.startswith("cuda")
    return setting == "on"


def listen_options(runtime: Runtime, request: ListenRequest, *, language: str) -> ListenOptions:
    """What a speech listens for: the request's choices over the server's defaults. Asking for
    timings or a check where the server cannot give them is the request's error."""
    settings = runtime.settings
    recogniser = runtime.stt
    timings = _asked(request.timings, settings.speech_timings, recogniser, runtime, "timings")
    check = _asked(request.check, settings.speech_check, recogniser, runtime, "check")
    english_only = recogniser is not None and not recogniser.transcriber.multilingual
    if (timings or check) and english_only and language.split("-")[0].lower() != "en":
        if request.timings or request.check:
            raise InvalidInputError(
                f"{runtime.stt.model_id if runtime.stt else 'Whisper'} knows only English and cannot "
                f"listen to {language!r} speech: leave timings and check out, or configure a "
                "multilingual Whisper (STT_MODEL=small)",
                param="timings" if request.timings else "check",
            )
        return NOT_LISTENING
    retakes = request.retakes
    if retakes is not None and not 0 <= retakes <= settings.speech_retakes:
        raise InvalidInputError(
            f"retakes must be from 0 to {settings.speech_retakes} (SPEECH_RETAKES), not {retakes}",
            param="retakes",
        )
    if retakes is None:
        retakes = 0 if request.streamed else settings.speech_retakes
    return ListenOptions(
        timings=timings,
        check=check,
        retakes=retakes if check else 0,
        max_word_error=settings.speech_check_max_word_error,
    )


def _asked(
    asked: bool | None, setting: str, recogniser: SpeechToText | None, runtime: Runtime, param: str
) -> bool:
    if asked is None:
        return _choice(setting, recogniser)
    if asked and setting == "off":
        raise InvalidInputError(
            f"{param} is turned off on this server (SPEECH_{param.upper()}=off): leave it out", param=param
        )
    if asked and recogniser is None:
        raise InvalidInputError(
            f"{param} needs the speech recogniser, which is not installed: {runtime.stt_missing or 'install it'}",
            param=param,
        )
    return asked


class Listening:
    """One speech's listening: its utterances heard in order, retakes made where asked.

    The speech hands each utterance's audio over as it ends (``heard_later``: listened to beside
    the audio that follows), or, with retakes, before playing it (``take``: the audio to play)."""

    def __init__(
        self,
        recogniser: SpeechToText,
        options: ListenOptions,
        *,
        spoken: Callable[[], Sequence[Spoken]],
        language: str,
        sample_rate: int,
        door: SpeechEndpoint,
        metrics: Metrics,
    ) -> None:
        self.options = options
        self._recogniser = recogniser
        self._spoken = spoken
        self._language = language.split("-")[0].lower()
        self._rate = sample_rate
        self._door = door
        self._metrics = metrics
        self._tasks: dict[int, asyncio.Task[UtteranceHeard]] = {}
        self._reported = 0

    def heard_later(self, index: int, audio: np.ndarray, offset: float) -> None:
        """Listen to utterance ``index`` (its audio, played from ``offset`` s) beside what follows."""
        self._tasks[index] = asyncio.create_task(self._hear(index, audio, offset), name=f"listen-{index}")

    async def take(
        self, index: int, audio: np.ndarray, offset: float, again: Callable[[int], Awaitable[np.ndarray]]
    ) -> np.ndarray:
        """Utterance ``index`` judged before it plays: while its check fails and retakes are left,
        ``again(take)`` generates it anew; the better take is kept (and returned to be played)."""
        best, heard = audio, await self._hear(index, audio, offset, report=False)
        takes = 1
        while heard.check is not None and not heard.check.passed and takes <= self.options.retakes:
            audio = await again(takes)
            takes += 1
            retaken = await self._hear(index, audio, offset, report=False)
            if retaken.check is not None and retaken.check.better_than(heard.check):
                best, heard = audio, retaken
        self._metrics.speech_retakes.labels(self._door).inc(takes - 1)
        final = _with_takes(heard, takes)
        self._report(final)
        done: asyncio.Future[UtteranceHeard] = asyncio.get_running_loop().create_future()
        done.set_result(final)
        self._tasks[index] = asyncio.ensure_future(done)
        return best

    def new_heard(self) -> list[UtteranceHeard]:
        """Utterances heard since the last call, in order, stopping at the first still being heard."""
        found = []
        while (task := self._tasks.get(self._reported)) is not None and task.done() and not task.cancelled():
            found.append(task.result())
            self._reported += 1
        return found

    async def finish(self) -> list[UtteranceHeard]:
        """Every utterance handed over, heard (waits for those still being heard), in order."""
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()))
        return [self._tasks[i].result() for i in sorted(self._tasks) if not self._tasks[i].cancelled()]

    def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()

    async def _hear(
        self, index: int, audio: np.ndarray, offset: float, *, report: bool = True
    ) -> UtteranceHeard:
        spoken = self._spoken()
        utterance = spoken[index] if index < len(spoken) else Spoken.verbatim("")
        duration = audio.size / self._rate
        samples = resample(audio, self._rate, WHISPER_RATE)
        started = time.perf_counter()
        try:
            transcript = await self._recogniser.transcribe(
                samples, language=self._language, word_timestamps=True
            )
        except (QueueFullError, QueueTimeoutError) as exc:
            # Listening is a report on the speech, never a reason to fail it.
            logger.warning("utterance %d not listened to: %s", index, exc)
            return UtteranceHeard(index, utterance.text, _range(utterance), offset, duration, (), None)
        self._metrics.listen_seconds.labels(self._door).observe(time.perf_counter() - started)
        heard = hear(
            utterance,
            [HeardWord(w.start, w.end, w.word) for w in transcript.words],
            language=self._language,
            duration=duration,
            sound=Sound.of(samples, WHISPER_RATE),
            max_word_error=self.options.max_word_error,
        )
        result = UtteranceHeard(
            index=index,
            text=utterance.text,
            original_range=_range(utterance),
            offset=offset,
            duration=duration,
            words=tuple(w.shifted(offset) for w in heard.words) if self.options.timings else (),
            check=heard.check if self.options.check else None,
        )
        if report:
            self._report(result)
        return result

    def _report(self, heard: UtteranceHeard) -> None:
        check = heard.check
        if check is None:
            return
        self._metrics.speech_checks.labels(self._door, "passed" if check.passed else "failed").inc()
        self._metrics.speech_word_error.labels(self._door).observe(check.word_error)
        if not check.passed:
            logger.warning(
                "utterance %d failed its check (%s, take %d): word error %.2f, missing %s, repeated %s, "
                "added %s; heard %r for %r",
                heard.index,
                self._door,
                heard.takes,
                check.word_error,
                list(check.missing),
                list(check.repeated),
                list(check.added),
                check.heard,
                heard.text,
            )


def retake_seed(seed: int | None, take: int) -> int | None:
    """The seed of take ``take`` (1 for the first retake) of a request seeded ``seed``."""
    return (
        None
        if seed is None
        else MIN_SEED + (seed - MIN_SEED + take * RETAKE_SEED_STEP) % (MAX_SEED - MIN_SEED + 1)
    )


def _with_takes(heard: UtteranceHeard, takes: int) -> UtteranceHeard:
    return UtteranceHeard(
        heard.index,
        heard.text,
        heard.original_range,
        heard.offset,
        heard.duration,
        heard.words,
        heard.check,
        takes,
    )


def _range(spoken: Spoken) -> tuple[int, int]:
    return spoken.original_range(0, len(spoken.text))


class Played:
    """A speech's audio as it is played, cut into utterances for its ``Listening``: each utterance's audio handed
    over when it ends (with retakes, held back until it is judged, then played)."""

    def __init__(
        self, listening: Listening | None, rate: int, again: Callable[[int, int], Awaitable[np.ndarray]]
    ):
        self.listening = listening is not None
        self._listening = listening
        self._rate = rate
        self._again = again
        self._current = -1
        self._handed = -1  # the last utterance handed over
        self._buffer: list[np.ndarray] = []
        self._samples = 0  # played before the current utterance

    @property
    def _held(self) -> bool:
        return self._listening is not None and self._listening.options.retakes > 0

    async def add(self, playing: int, chunk: np.ndarray) -> list[np.ndarray]:
        """A chunk of utterance ``playing``: what to play now."""
        out = []
        if playing != self._current:
            out = await self.end_utterance()
            # An utterance that gave no audio at all is heard as silence, so the order holds.
            for skipped in range(self._handed + 1, playing):
                self._current = skipped
                out += await self.end_utterance()
            self._current = playing
        self._buffer.append(chunk)
        return out if self._held else [*out, chunk]

    async def end_utterance(self) -> list[np.ndarray]:
        """The current utterance has ended: hand it over; with retakes, the take to play."""
        if self._listening is None or self._current < 0 or self._current <= self._handed:
            return []
        index, self._current, self._handed = self._current, -1, self._current
        audio = np.concatenate(self._buffer) if self._buffer else np.zeros(0, np.float32)
        self._buffer = []
        offset = self._samples / self._rate
        if self._held:
            audio = await self._listening.take(index, audio, offset, functools.partial(self._again, index))
            self._samples += audio.size
            return [audio] if audio.size else []
        self._listening.heard_later(index, audio, offset)
        self._samples += audio.size
        return []
