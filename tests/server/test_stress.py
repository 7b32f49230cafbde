"""Serialisation stress on a real uvicorn: 20 concurrent requests across both models, some of
them cancelled at random moments (seeded), all within a time bound. No crash; every request not
cancelled complete and well-formed; afterwards every slot free and the server still serving."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
from collections.abc import Awaitable, Callable

import httpx

from tests.server.checks import (
    pcm_frames,
    sse_events,
    sse_json_until_done,
    wait_until_free,
    wav_samples,
)

REQUESTS = 20
SEED = 6
CANCEL_SHARE = 0.3  # about a third of the requests are cancelled, each at a random moment
LATEST_CANCEL_S = 1.5
BOUND_S = 50.0  # the whole burst, well inside the suite's minute per test
SPEECH_FRAMES = 10
SPEECH = {
    "model": "tts-1",
    "input": "Hello there, how are you?",
    "voice": "tara",
    "max_tokens": SPEECH_FRAMES * 7,
}
CHAT = {"model": "gemma-2-2b-instruct", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 64}
VOICE_CHAT = {"message": "Tell me something.", "max_tokens": 30}
CANCELLED = "cancelled"


async def speech_stream(client: httpx.AsyncClient, seed: int) -> None:
    body = {**SPEECH, "response_format": "pcm", "seed": seed}
    async with client.stream("POST", "/v1/audio/speech", json=body) as response:
        assert response.status_code == 200
        data = b"".join([chunk async for chunk in response.aiter_bytes()])
    assert pcm_frames(data) == SPEECH_FRAMES


async def speech_wav(client: httpx.AsyncClient, seed: int) -> None:
    response = await client.post("/v1/audio/speech", json={**SPEECH, "response_format": "wav", "seed": seed})
    assert response.status_code == 200
    # The WAV header of a stream says "length unknown": the samples are what arrived.
    assert wav_samples(response.content) == SPEECH_FRAMES * 2048


async def speech_sse(client: httpx.AsyncClient, seed: int) -> None:
    body = {**SPEECH, "response_format": "pcm", "stream_format": "sse", "seed": seed}
    response = await client.post("/v1/audio/speech", json=body)
    assert response.status_code == 200
    *deltas, done = [json.loads(event) for event in sse_events(response.text)]
    assert done["type"] == "speech.audio.done" and all(e["type"] == "speech.audio.delta" for e in deltas)
    assert pcm_frames(b"".join(base64.b64decode(e["audio"]) for e in deltas)) == SPEECH_FRAMES


async def chat_stream(client: httpx.AsyncClient, seed: int) -> None:
    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True, "seed": seed})
    assert response.status_code == 200
    chunks = sse_json_until_done(response.text)
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")


async def chat(client: httpx.AsyncClient, seed: int) -> None:
    response = await client.post("/v1/chat/completions", json={**CHAT, "seed": seed})
    assert response.status_code == 200
    body = response.json()
    assert body["choices"][0]["finish_reason"] in ("stop", "length") and body["usage"]["total_tokens"] > 0


async def voice_chat(client: httpx.AsyncClient, seed: int) -> None:
    async with client.stream("POST", "/chat", json={**VOICE_CHAT, "seed": seed}) as response:
        assert response.status_code == 200
        data = b"".join([chunk async for chunk in response.aiter_bytes()])
    assert wav_samples(data) > 0


KINDS: list[Callable[[httpx.AsyncClient, int], Awaitable[None]]] = [
    speech_stream,
    speech_wav,
    speech_sse,
    chat_stream,
    chat,
    voice_chat,
]


async def one(client: httpx.AsyncClient, kind: Callable, seed: int, cancel_after: float | None) -> str:
    """Run one request; cancel it after ``cancel_after`` seconds unless it is done by then (one that
    finishes first has been checked like the others)."""
    task = asyncio.create_task(kind(client, seed))
    done, _ = await asyncio.wait({task}, timeout=cancel_after)
    if task in done:
        task.result()
        return kind.__name__
    task.cancel()  # the client closes the connection mid-request
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return CANCELLED


async def burst(base_url: str) -> list[str]:
    rng = random.Random(SEED)
    plan = [
        (
            rng.choice(KINDS),
            seed,
            rng.uniform(0, LATEST_CANCEL_S) if rng.random() < CANCEL_SHARE else None,
        )
        for seed in range(REQUESTS)
    ]
    limits = httpx.Limits(max_connections=REQUESTS)
    async with httpx.AsyncClient(base_url=base_url, timeout=BOUND_S, limits=limits) as client:
        return await asyncio.wait_for(
            asyncio.gather(*(one(client, kind, seed, cancel) for kind, seed, cancel in plan)), BOUND_S
        )


def test_twenty_concurrent_requests_with_random_cancels_all_complete_and_free_every_slot(live_url, runtime):
    outcomes = asyncio.run(burst(live_url))
    assert len(outcomes) == REQUESTS
    assert 0 < outcomes.count(CANCELLED) < REQUESTS  # both kinds of ending happened
    assert len(set(outcomes) - {CANCELLED}) >= 4  # and the mix reached both models
    wait_until_free(runtime)
    # Still serving, completely.
    asyncio.run(_after(live_url))


async def _after(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=BOUND_S) as client:
        assert (await client.get("/health")).status_code == 200
        await speech_stream(client, 0)
        await chat_stream(client, 0)
