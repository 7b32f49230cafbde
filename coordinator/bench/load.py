"""Speech streams against a live server, as a listener hears them: first audio, real-time factor, stalls.

The client half of ``benchmarks/load.py`` and of ``coordinator bench``'s capacity sweep: one copy of
how a stream is timed. A stream stalls when playback, started at its first audio byte, would have
caught up with what had arrived.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable
from dataclasses import dataclass

import httpx

SAMPLE_RATE = 24_000
PCM_BYTES = 2
SAMPLES_PER_FRAME = 2048
TOKENS_PER_FRAME = 7
WAV_HEADER_BYTES = 44
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Streaming speech should start before the sentence is finished.",
    "Every frame of audio counts, from the first to the last.",
    "A voice server serves many listeners at once.",
]
# What each language's voices say in a language mix (a voice's language from /v1/audio/voices).
SENTENCES_BY_LANGUAGE = {
    "fr": ["Le serveur parle plusieurs langues à la fois.", "Chaque voix choisit son modèle."],
    "de": ["Der Server spricht mehrere Sprachen zugleich.", "Jede Stimme wählt ihr Modell."],
    "es": ["El servidor habla varios idiomas a la vez.", "¿Cada voz elige su modelo? ¡Sí!"],
    "it": ["Il server parla più lingue insieme.", "Ogni voce sceglie il suo modello."],
    "zh": ["服务器同时说多种语言。", "每个声音选择自己的模型。"],
    "ko": ["서버는 여러 언어를 동시에 말합니다.", "각 목소리가 모델을 고릅니다."],
    "hi": ["सर्वर एक साथ कई भाषाएँ बोलता है।", "हर आवाज़ अपना मॉडल चुनती है।"],
}
DEFAULT_VOICE = "tara"


@dataclass
class StreamResult:
    kind: str
    first_audio_s: float
    wall_s: float
    audio_s: float
    stalled: bool
    voice: str = DEFAULT_VOICE

    @property
    def rtf(self) -> float:
        return self.wall_s / self.audio_s if self.audio_s else float("inf")


async def one_stream(
    client: httpx.AsyncClient,
    index: int,
    kind: str,
    max_tokens: int,
    seed: int,
    *,
    text: str | None = None,
    on_first_audio: asyncio.Event | None = None,
    voice: str = DEFAULT_VOICE,
    language: str = "en",
    extra: dict | None = None,
) -> StreamResult:
    if kind == "chat":
        path, body, header = (
            "/chat",
            {"message": SENTENCES[index % 4], "max_tokens": 40, "seed": seed},
            WAV_HEADER_BYTES,
        )
    else:
        body = {
            "model": "tts-1",
            "input": text or _sentence(index, language),
            "voice": voice,
            "response_format": "pcm",
            "max_tokens": max_tokens,
            "seed": seed,
            **(extra or {}),  # a speech request's other fields (timings, check: bench/listening.py)
        }
        path, header = "/v1/audio/speech", 0
    started = time.perf_counter()
    first = None
    received = 0
    stalled = False
    async with client.stream("POST", path, json=body) as response:
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            now = time.perf_counter()
            if received + len(chunk) > header and first is None:
                first = now
                if on_first_audio is not None:
                    on_first_audio.set()
            elif first is not None:
                # Playback began at the first byte: has it caught up with what had arrived?
                played_s = now - first
                if played_s > (received - header) / PCM_BYTES / SAMPLE_RATE + 1e-3:
                    stalled = True
            received += len(chunk)
    end = time.perf_counter()
    audio_s = max(received - header, 0) / PCM_BYTES / SAMPLE_RATE
    return StreamResult(kind, (first or end) - started, end - started, audio_s, stalled, voice)


def _sentence(index: int, language: str) -> str:
    sentences = SENTENCES_BY_LANGUAGE.get(language, SENTENCES)
    return sentences[index % len(sentences)]


async def voice_languages(client: httpx.AsyncClient) -> dict[str, str]:
    """Each voice's language, from the server's own listing."""
    response = await client.get("/v1/audio/voices")
    response.raise_for_status()
    return {voice["id"]: voice.get("language", "en") for voice in response.json()["voices"]}


async def run(
    url: str,
    kinds: list[str],
    max_tokens: int,
    concurrent: bool,
    api_key: str | None = None,
    voices: list[str] | None = None,
    extra: dict | None = None,
) -> tuple[list[StreamResult], float]:
    """The streams ``kinds`` asks for; speech streams take ``voices`` in turn (a language mix
    when they belong to several Orpheus models), each saying a sentence in its voice's language."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    voices = voices or [DEFAULT_VOICE]
    async with httpx.AsyncClient(base_url=url, timeout=600, headers=headers) as client:
        languages = await voice_languages(client) if voices != [DEFAULT_VOICE] else {}
        missing = [voice for voice in voices if languages and voice not in languages]
        if missing:
            raise ValueError(f"the server has no voice {', '.join(missing)}: see GET {url}/v1/audio/voices")

        def stream(i: int, kind: str) -> Awaitable[StreamResult]:
            voice = voices[i % len(voices)]
            language = languages.get(voice, "en")
            return one_stream(
                client, i, kind, max_tokens, seed=i, voice=voice, language=language, extra=extra
            )

        started = time.perf_counter()
        if concurrent:
            results = await asyncio.gather(*(stream(i, kind) for i, kind in enumerate(kinds)))
        else:
            results = [await stream(i, kind) for i, kind in enumerate(kinds)]
        return list(results), time.perf_counter() - started


async def newcomer_first_audio_s(url: str, others: int, max_tokens: int) -> float:
    """First audio of one speech request made while ``others`` speech streams are playing."""
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        playing = [asyncio.Event() for _ in range(others)]
        long_text = " ".join(SENTENCES)  # several utterances: still streaming when the newcomer comes
        background = [
            asyncio.create_task(
                one_stream(client, i, "speech", max_tokens, seed=50 + i, text=long_text, on_first_audio=event)
            )
            for i, event in enumerate(playing)
        ]
        await asyncio.gather(*(event.wait() for event in playing))
        newcomer = await one_stream(client, 0, "speech", max_tokens, seed=99)
        await asyncio.gather(*background)
        return newcomer.first_audio_s


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarize(results: list[StreamResult], wall_s: float) -> dict:
    audio_s = sum(r.audio_s for r in results)
    frames = audio_s * SAMPLE_RATE / SAMPLES_PER_FRAME
    return {
        "streams": len(results),
        "first_audio_s_p50": statistics.median(r.first_audio_s for r in results),
        "first_audio_s_p95": percentile([r.first_audio_s for r in results], 0.95),
        "rtf_p50": statistics.median(r.rtf for r in results),
        "rtf_p95": percentile([r.rtf for r in results], 0.95),
        "streams_behind_real_time": sum(r.stalled for r in results),
        "audio_s_total": audio_s,
        "wall_s": wall_s,
        "audio_tokens_per_s": frames * TOKENS_PER_FRAME / wall_s,
    }
