"""What a transcription produces. Pure data: no engine, no torch."""

from __future__ import annotations

from dataclasses import dataclass, field

SAMPLE_RATE = 16_000  # Whisper's input rate; every decoder here resamples to it


@dataclass(frozen=True)
class Word:
    """One word and when it was said, from the cross-attention alignment (word_timestamps)."""

    start: float
    end: float
    word: str  # as the model wrote it, with its leading space and any punctuation
    probability: float = 0.0


@dataclass(frozen=True)
class Segment:
    """A stretch of speech the model wrote one piece of text for; times in seconds from the start."""

    id: int
    start: float
    end: float
    text: str
    tokens: tuple[int, ...] = ()
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0
    words: tuple[Word, ...] = ()  # empty unless word timestamps were asked for


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    duration: float  # seconds of audio transcribed
    segments: tuple[Segment, ...] = field(default_factory=tuple)
    prompt_tokens: int = 0  # text tokens of the prompt the model was given

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(word for segment in self.segments for word in segment.words)

    @property
    def output_tokens(self) -> int:
        return sum(len(segment.tokens) for segment in self.segments)
