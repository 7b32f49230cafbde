"""Transcription, whatever the door: POST /v1/audio/transcriptions and /translations, /chat's
spoken turn and Wyoming's speech-to-text all hear speech through here.

Two inputs. **An upload** (a file's bytes: wav, mp3, ogg, webm...) waits for a slot of the shared
``SpeechToText`` first, and only on the slot is decoded, in a child process (stt/isolated.py), then
transcribed: a request in the queue holds only its upload, and a hostile file costs its request a
400, not the server. **A raw stream's samples** (already 16 kHz: Wyoming's recording) are
transcribed on a slot directly.

Plain values in, a ``Transcript`` (or its segments as they are decoded) out; a door parses its
own form into ``TranscriptionOptions``, frames what comes back, and cancels the awaiting task when
its client leaves (which kills the decoder, or stops the transcription at its next segment, and
frees the slot).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from coordinator.errors import InvalidInputError, UnknownModelError
from coordinator.stt.engine import OnSegment, SpeechToText
from coordinator.stt.formats import (
    DEFAULT_GRANULARITIES,
    STREAMABLE_FORMATS,
    Granularity,
    Rendered,
    ResponseFormat,
    Task,
    language_code,
    render,
)
from coordinator.stt.isolated import decode_isolated
from coordinator.stt.model_names import ACCEPTED_NAMES, names_the_recogniser
from coordinator.stt.transcript import Segment, Transcript

logger = logging.getLogger(__name__)

# The names of the request's fields, as OpenAI's API calls them: each error names the one to fix.
FILE_PARAM = "file"
MODEL_PARAM = "model"
STREAM_PARAM = "stream"
GRANULARITIES_PARAM = "timestamp_granularities"


@dataclass(frozen=True)
class TranscriptionOptions:
    """What a request asks besides its audio, as plain values (OpenAI's fields)."""

    model: str = ""  # empty: this server's recogniser
    language: str | None = None  # a code or a name; None: detected
    prompt: str | None = None
    temperature: float = 0.0
    task: Task = "transcribe"
    response_format: ResponseFormat = "json"
    stream: bool = False
    granularities: tuple[Granularity, ...] = ()

    @property
    def word_timestamps(self) -> bool:
        return "word" in self.granularities


def check_model(requested: str, stt: SpeechToText) -> None:
    if names_the_recogniser(requested, stt.model_id):
        return
    raise UnknownModelError(
        f"model {requested!r} does not exist here: send {ACCEPTED_NAMES}, {stt.model_id!r}, "
        "or leave it empty",
        param=MODEL_PARAM,
    )


def check_options(options: TranscriptionOptions) -> None:
    """What OpenAI refuses too: timings need verbose_json, and a stream carries text only."""
    if options.granularities and options.response_format != "verbose_json":
        raise InvalidInputError(
            f"{GRANULARITIES_PARAM} needs response_format=verbose_json (the only format that carries "
            f"word and segment timings), not {options.response_format!r}: send response_format=verbose_json",
            param=GRANULARITIES_PARAM,
        )
    if options.stream and options.response_format not in STREAMABLE_FORMATS:
        raise InvalidInputError(
            "stream=true answers transcript.text events, which carry text only, so response_format "
            f"{options.response_format!r} cannot be streamed: send response_format=json (or text), or "
            "leave stream out",
            param=STREAM_PARAM,
        )


def check(options: TranscriptionOptions, stt: SpeechToText) -> None:
    """Everything refused before any work: the fields' combination, then the model's name."""
    check_options(options)
    check_model(options.model, stt)


async def transcribe_bytes(
    stt: SpeechToText,
    data: bytes,
    *,
    max_seconds: float,
    language: str | None = None,
    prompt: str | None = None,
    temperature: float = 0.0,
    task: Task = "transcribe",
    param: str = FILE_PARAM,
    word_timestamps: bool = False,
    on_segment: OnSegment | None = None,
) -> Transcript:
    """An upload's transcript: a slot, then on it the decode (in a child process) and the
    transcription. ``param`` names the field that carried the audio in the errors about it.
    Cancelling the awaiting task kills the decoder or stops the transcription, and frees the slot."""
    # stt.transcribe refuses what the model cannot do (language, task, prompt) before it queues,
    # and so before anything is decoded.
    audio = partial(decode_isolated, data, max_seconds=max_seconds, param=param)
    return await stt.transcribe(
        audio,
        language=language_code(language),
        prompt=prompt,
        temperature=temperature,
        task=task,
        word_timestamps=word_timestamps,
        on_segment=on_segment,
    )


async def transcribe(
    stt: SpeechToText,
    data: bytes,
    options: TranscriptionOptions,
    *,
    max_seconds: float,
    param: str = FILE_PARAM,
    on_segment: OnSegment | None = None,
) -> Transcript:
    """An upload's transcript as ``options`` ask it (checked first: ``check``)."""
    return await transcribe_bytes(
        stt,
        data,
        max_seconds=max_seconds,
        # A translation is always written in English, whatever the speech's language.
        language=options.language if options.task == "transcribe" else None,
        prompt=options.prompt,
        temperature=options.temperature,
        task=options.task,
        param=param,
        word_timestamps=options.word_timestamps,
        on_segment=on_segment,
    )


def transcribe_streamed(
    stt: SpeechToText,
    data: bytes,
    options: TranscriptionOptions,
    *,
    max_seconds: float,
    param: str = FILE_PARAM,
) -> AsyncIterator[Segment | Transcript]:
    """Each segment as it is decoded, then the whole transcript. Closing the iterator before its
    end (a client gone) cancels the transcription."""
    return _as_decoded(partial(transcribe, stt, data, options, max_seconds=max_seconds, param=param))


def rendered(transcript: Transcript, options: TranscriptionOptions) -> Rendered:
    """The transcript in the format ``options`` ask (segment timings unless told otherwise)."""
    granularities = options.granularities or DEFAULT_GRANULARITIES
    return render(transcript, options.response_format, task=options.task, granularities=granularities)


async def _as_decoded(
    transcribing: Callable[..., Awaitable[Transcript]],
) -> AsyncIterator[Segment | Transcript]:
    loop = asyncio.get_running_loop()
    decoded: asyncio.Queue[Segment | None] = asyncio.Queue()

    def on_segment(segment: Segment) -> None:  # on the worker thread
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            loop.call_soon_threadsafe(decoded.put_nowait, segment)

    work = asyncio.ensure_future(transcribing(on_segment=on_segment))
    # The thread hands every segment to the loop before its result reaches it: None comes last.
    work.add_done_callback(lambda _: decoded.put_nowait(None))
    try:
        while (segment := await decoded.get()) is not None:
            yield segment
        yield await work
    finally:
        work.cancel()  # nothing when it is done
        await asyncio.wait({work})
        if not work.cancelled():
            work.exception()  # raised above already, or moot: the client has gone


def check_language(stt: SpeechToText, language: str | None) -> None:
    """A raw stream's language, refused before its samples are gathered if the model lacks it."""
    stt.transcriber.check(language=language, task="transcribe")


async def transcribe_samples(stt: SpeechToText, samples: np.ndarray, *, language: str | None) -> Transcript:
    """A raw stream's recording (16 kHz mono float32) on a slot. Nothing recorded is nothing said:
    an empty transcript (no language), and no slot taken."""
    if samples.size == 0:
        return Transcript(text="", language="", duration=0.0)
    return await stt.transcribe(samples, language=language)
