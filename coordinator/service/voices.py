"""Creating, listing and deleting custom (cloned) voices, whatever the door (POST/GET/DELETE
/v1/audio/voices and the page build on this).

Creating a voice: every recording is prepared (voices/sample.py: decoded, 24 kHz, trimmed,
normalised, checked), a sample sent without its transcript is transcribed by the server's own
Whisper, the consent recording (when VOICE_CONSENT_PHRASE is set) must say the phrase
(voices/consent.py), each sample is encoded once into SNAC frames by the injected ``encode`` (the
runtime's codec, on the decode thread), and the voice is written to the store atomically.

Names: one that a built-in voice, an OpenAI alias or a model name takes (``reserved_names``), or
another custom voice has, is a 409. Two creations of one name at once: the first to start holds the
name while it works, the second is a 409 at once (and the store checks again under its lock).
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from coordinator.config.settings import Settings
from coordinator.errors import InvalidInputError, ModelNotFoundError, VoiceConflictError
from coordinator.orpheus.clone import ClonedVoice, ReferenceSample
from coordinator.orpheus.layout import FRAME_TOKENS
from coordinator.service.readiness import STT_MISSING_MESSAGE
from coordinator.service.transcription import transcribe_samples
from coordinator.stt.engine import SpeechToText
from coordinator.voices.consent import says_phrase
from coordinator.voices.sample import PreparedSample, prepare
from coordinator.voices.store import ID_PATTERN, VoiceStore, name_key, new_voice_id

if TYPE_CHECKING:  # the service's own tests need no runtime
    from coordinator.runtime.loading import Runtime

logger = logging.getLogger(__name__)

# The request's fields, as the routes name them (OpenAI's `name` and `audio_sample`, plus ours).
NAME_PARAM = "name"
SAMPLE_PARAM = "audio_sample"
TRANSCRIPT_PARAM = "transcript"
CONSENT_PARAM = "consent"
MAX_NAME_CHARS = 64
# A transcript is what was said in at most VOICE_SAMPLE_MAX_S of speech: a few hundred characters.
MAX_TRANSCRIPT_CHARS = 2000
# A consent phrase is one sentence: a shorter recording than a sample is enough.
CONSENT_MIN_S = 1.0
DEFAULT_LANGUAGE = "en"

Encoder = Callable[[np.ndarray], np.ndarray]  # 24 kHz mono float32 -> (F, 7) SNAC frames; blocking
Preparer = Callable[..., PreparedSample]  # voices.sample.prepare's signature


def _default(name: str) -> Any:
    """A setting's default (config/settings.py): the one place these numbers are written."""
    return Settings.model_fields[name].default


@dataclass(frozen=True)
class VoiceLimits:
    max_samples: int = _default("voice_max_samples")
    sample_min_s: float = _default("voice_sample_min_s")
    sample_max_s: float = _default("voice_sample_max_s")
    reference_max_s: float = _default("voice_reference_max_s")
    consent_phrase: str | None = _default("voice_consent_phrase")

    @classmethod
    def from_settings(cls, settings: Settings) -> VoiceLimits:
        return cls(
            max_samples=settings.voice_max_samples,
            sample_min_s=settings.voice_sample_min_s,
            sample_max_s=settings.voice_sample_max_s,
            reference_max_s=settings.voice_reference_max_s,
            consent_phrase=settings.voice_consent_phrase,
        )


class VoiceCloning:
    """The custom voices' service: ``create``, ``get``, ``list``, ``delete``."""

    def __init__(
        self,
        store: VoiceStore,
        *,
        encode: Encoder,
        limits: VoiceLimits,
        stt: SpeechToText | None = None,
        stt_missing: str | None = None,
        reserved_names: Callable[[], set[str]] = set,
        now: Callable[[], float] = time.time,
        prepare_sample: Preparer = prepare,
    ) -> None:
        self.store = store
        self.limits = limits
        self._encode = encode
        self._stt = stt
        self._stt_missing = stt_missing
        self._reserved_names = reserved_names
        self._now = now
        self._prepare = prepare_sample
        self._pending: set[str] = set()  # names being created now (case-folded)

    def get(self, voice_id: str) -> ClonedVoice:
        return self.store.get(voice_id)

    def list(self) -> builtins.list[ClonedVoice]:
        return self.store.voices()

    async def delete(self, voice_id: str) -> ClonedVoice:
        return await asyncio.to_thread(self.store.delete, voice_id)

    async def create(
        self,
        name: str,
        samples: Sequence[bytes],
        transcripts: Sequence[str | None],
        consent: bytes | None = None,
    ) -> ClonedVoice:
        name = self._check_name(name)
        texts = self._check_request(samples, transcripts, consent)
        key = name_key(name)
        # No await between the checks and the reservation: one creation of a name at a time.
        if key in self._pending:
            raise VoiceConflictError(
                f"a custom voice named {name!r} is being created now: choose another name", param=NAME_PARAM
            )
        self.store.check_name(name)
        self.store.check_room(pending=len(self._pending))
        self._pending.add(key)
        try:
            return await self._create(name, samples, texts, consent)
        finally:
            self._pending.discard(key)

    async def _create(
        self, name: str, samples: Sequence[bytes], texts: builtins.list[str | None], consent: bytes | None
    ) -> ClonedVoice:
        if self.limits.consent_phrase:
            assert consent is not None  # _check_request refused its absence
            await self._check_consent(consent, self.limits.consent_phrase)
        prepared: builtins.list[PreparedSample] = []
        for index, data in enumerate(samples):
            param = SAMPLE_PARAM if len(samples) == 1 else f"{SAMPLE_PARAM}[{index}]"
            prepared.append(
                await self._prepared(
                    data, min_s=self.limits.sample_min_s, max_s=self.limits.sample_max_s, param=param
                )
            )
        total = sum(sample.seconds for sample in prepared)
        if total > self.limits.reference_max_s:
            raise InvalidInputError(
                f"the samples hold {total:.1f} s of speech together, more than the "
                f"{self.limits.reference_max_s:g} s a voice may use (VOICE_REFERENCE_MAX_S): send fewer "
                "or shorter samples",
                param=SAMPLE_PARAM,
            )
        language = DEFAULT_LANGUAGE
        references: builtins.list[ReferenceSample] = []
        for index, (sample, text) in enumerate(zip(prepared, texts)):
            if text is None:
                text, language = await self._transcribe(sample, index)
            frames = await asyncio.to_thread(self._encode, sample.audio)
            references.append(ReferenceSample(transcript=text, frames=_checked_frames(frames)))
        voice = ClonedVoice(
            id=new_voice_id(),
            name=name,
            samples=tuple(references),
            created_at=int(self._now()),
            language=language,
        )
        await asyncio.to_thread(self.store.add, voice, [sample.audio for sample in prepared])
        return voice

    def _check_name(self, name: str) -> str:
        name = name.strip()
        if not name:
            raise InvalidInputError("name is empty: name the voice", param=NAME_PARAM)
        if len(name) > MAX_NAME_CHARS:
            raise InvalidInputError(
                f"name is {len(name)} characters, more than {MAX_NAME_CHARS}: choose a shorter name",
                param=NAME_PARAM,
            )
        if any(not ch.isprintable() for ch in name):
            raise InvalidInputError(
                "name holds control characters: use letters, digits and spaces", param=NAME_PARAM
            )
        if ID_PATTERN.fullmatch(name.lower()):
            raise InvalidInputError(
                f"name {name!r} looks like a voice id (voice_<hex>): choose a name that does not",
                param=NAME_PARAM,
            )
        if name_key(name) in {name_key(reserved) for reserved in self._reserved_names()}:
            raise VoiceConflictError(
                f"the name {name!r} is a built-in voice, an OpenAI voice or a model name: choose another name",
                param=NAME_PARAM,
            )
        return name

    def _check_request(
        self, samples: Sequence[bytes], transcripts: Sequence[str | None], consent: bytes | None
    ) -> builtins.list[str | None]:
        if not samples:
            raise InvalidInputError(
                f"no {SAMPLE_PARAM}: send a recording of the voice (3 to 30 s of one person speaking)",
                param=SAMPLE_PARAM,
            )
        if len(samples) > self.limits.max_samples:
            raise InvalidInputError(
                f"{len(samples)} samples sent, more than the {self.limits.max_samples} a voice may have "
                "(VOICE_MAX_SAMPLES): send fewer",
                param=SAMPLE_PARAM,
            )
        if len(transcripts) > len(samples):
            raise InvalidInputError(
                f"{len(transcripts)} transcripts for {len(samples)} samples: send at most one per sample, "
                "in the samples' order",
                param=TRANSCRIPT_PARAM,
            )
        texts: builtins.list[str | None] = []
        for index in range(len(samples)):
            text = transcripts[index] if index < len(transcripts) else None
            text = text.strip() if text is not None else None
            if text and len(text) > MAX_TRANSCRIPT_CHARS:
                raise InvalidInputError(
                    f"transcript {index} is {len(text)} characters, more than {MAX_TRANSCRIPT_CHARS}: "
                    "send what the sample says",
                    param=TRANSCRIPT_PARAM,
                )
            texts.append(text or None)
        phrase = self.limits.consent_phrase
        if phrase and not consent:
            raise InvalidInputError(
                f"this server needs a {CONSENT_PARAM} recording to create a voice: the speaker saying "
                f'"{phrase}" (VOICE_CONSENT_PHRASE)',
                param=CONSENT_PARAM,
            )
        if None in texts or phrase:
            self._require_stt()
        return texts

    def _require_stt(self) -> SpeechToText:
        if self._stt is None:
            raise ModelNotFoundError(
                (self._stt_missing or STT_MISSING_MESSAGE)
                + "; or send each sample's transcript (consent recordings need it in any case)",
                param=TRANSCRIPT_PARAM,
            )
        return self._stt

    async def _prepared(self, data: bytes, *, min_s: float, max_s: float, param: str) -> PreparedSample:
        """``prepare`` on a worker thread; a cancelled request (its client gone) kills the decoder."""
        stop = threading.Event()
        try:
            return await asyncio.to_thread(
                self._prepare, data, min_s=min_s, max_s=max_s, param=param, stop=stop
            )
        finally:
            stop.set()

    async def _transcribe(self, sample: PreparedSample, index: int) -> tuple[str, str]:
        transcript = await transcribe_samples(self._require_stt(), sample.for_whisper(), language=None)
        text = transcript.text.strip()
        if not text:
            raise InvalidInputError(
                f"the server's Whisper heard no words in sample {index}: send its transcript, or a "
                "clearer recording",
                param=TRANSCRIPT_PARAM,
            )
        logger.info("voice sample %d transcribed (%s): %r", index, transcript.language, text)
        return text, transcript.language or DEFAULT_LANGUAGE

    async def _check_consent(self, consent: bytes, phrase: str) -> None:
        prepared = await self._prepared(
            consent, min_s=CONSENT_MIN_S, max_s=self.limits.sample_max_s, param=CONSENT_PARAM
        )
        heard = await transcribe_samples(self._require_stt(), prepared.for_whisper(), language=None)
        if not says_phrase(heard.text, phrase):
            logger.info("consent recording refused: heard %r, expected %r", heard.text, phrase)
            raise InvalidInputError(
                f'the {CONSENT_PARAM} recording does not say the consent phrase "{phrase}" (the server '
                f"heard {heard.text.strip()!r}): record the speaker saying it, clearly",
                param=CONSENT_PARAM,
            )


def _checked_frames(frames: np.ndarray) -> np.ndarray:
    """The encoder's output as the store keeps it; a wrong shape is a bug, not the user's."""
    frames = np.asarray(frames)
    if frames.ndim != 2 or frames.shape[1] != FRAME_TOKENS or frames.shape[0] == 0:
        raise RuntimeError(
            f"the SNAC encoder returned frames of shape {frames.shape}, not (F, {FRAME_TOKENS})"
        )
    return frames.astype(np.int64, copy=False)


def voice_cloning(runtime: Runtime) -> VoiceCloning:
    """The service over a loaded runtime's store, Whisper and SNAC encoder. Make ONE per runtime
    (the lifespan's state): it holds the names being created. Names the registry reserves
    (built-in voices, OpenAI's aliases, model names) cannot be taken."""
    return VoiceCloning(
        runtime.voices,
        encode=runtime.encode_reference,
        limits=VoiceLimits.from_settings(runtime.settings),
        stt=runtime.stt,
        stt_missing=runtime.stt_missing,
        reserved_names=runtime.speech.reserved_names,
    )
