"""A whole speech with its words: the audio, encoded once complete, each original word timed in
it, each utterance's check, and the captions (docs/timings.md). The service's half of
POST /v1/audio/speech/captioned; a door only frames what this returns.

    speech = speaker.speak(text, voice, ..., listen=ListenRequest(timings=True, streamed=False))
    answer = await captioned(speech, speed=1.0, encoder=make_encoder("mp3"))
    answer.audio, answer.words, answer.heard, answer.webvtt(), answer.srt(), answer.usage

The speech is not streamed, so an utterance whose check fails is generated again (SPEECH_RETAKES)
before the answer is made, and the better take is the one in the audio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from coordinator.audio.encoders import StreamEncoder
from coordinator.audio.tempo import at_speed
from coordinator.service.listening import UtteranceHeard
from coordinator.service.speech import Speech, Usage
from coordinator.timing.align import WordTiming
from coordinator.timing.captions import srt, webvtt


@dataclass(frozen=True)
class Captioned:
    """A whole spoken answer. ``words``: every original word timed in ``audio`` (at the played
    speed), in order; empty unless timings were asked for. ``heard``: each utterance as heard
    (``as_dict(speed)`` for JSON)."""

    audio: bytes
    samples: int
    sample_rate: int
    speed: float
    heard: list[UtteranceHeard]
    words: list[WordTiming]
    usage: Usage

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate

    def webvtt(self) -> str:
        return webvtt(self.words)

    def srt(self) -> str:
        return srt(self.words)


async def captioned(speech: Speech, *, speed: float, encoder: StreamEncoder) -> Captioned:
    """Read ``speech`` to its end at ``speed``, encode it, and wait for every utterance to be
    heard. The encoder is closed however this ends."""
    parts: list[bytes] = []
    samples = 0
    try:
        async for chunk in at_speed(speech.chunks(), speed):
            samples += chunk.size
            parts.append(encoder.encode(chunk))
        parts.append(encoder.finish())
    finally:
        encoder.close()
    heard = await speech.finish_listening()
    return Captioned(
        audio=b"".join(parts),
        samples=samples,
        sample_rate=speech.sample_rate,
        speed=speed,
        heard=heard,
        words=at_tempo([word for utterance in heard for word in utterance.words], speed),
        usage=speech.usage,
    )


def at_tempo(words: Sequence[WordTiming], speed: float) -> list[WordTiming]:
    """Word times in audio played ``speed`` times as fast (WSOLA keeps time proportional)."""
    return [
        WordTiming(w.text, w.start / speed, w.end / speed, w.char_start, w.char_end, w.heard) for w in words
    ]
