"""A real uvicorn on loopback, driven with httpx and a WebSocket client."""

import asyncio
import io
import json
import time

import httpx
import soundfile as sf
import websockets

from coordinator.audio.format import SAMPLES_PER_FRAME
from tests.rig.waiting import eventually

TTS_FRAMES = 140 // 7


def test_health_and_an_error_over_the_wire(live_url):
    assert httpx.get(f"{live_url}/health").json()["status"] == "ok"
    response = httpx.post(
        f"{live_url}/v1/audio/speech", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


def test_chat_streams_a_wav_whose_first_bytes_arrive_before_the_end(live_url):
    body = {"message": "Tell me something.", "max_tokens": 60, "seed": 0}
    arrivals = []
    with httpx.stream("POST", f"{live_url}/chat", json=body, timeout=120) as response:
        assert response.headers["content-type"] == "audio/wav"
        data = b""
        for chunk in response.iter_bytes():
            arrivals.append(time.monotonic())
            data += chunk
    audio, rate = sf.read(io.BytesIO(data))
    assert rate == 24000 and len(audio) >= 2 * TTS_FRAMES * SAMPLES_PER_FRAME
    assert len(arrivals) > 2  # delivered in pieces as it was spoken, not as one body


def test_tts_get_over_the_wire(live_url):
    response = httpx.get(f"{live_url}/tts", params={"prompt": "Hello world", "max_tokens": 35}, timeout=60)
    assert len(sf.read(io.BytesIO(response.content))[0]) == 5 * SAMPLES_PER_FRAME


def test_a_client_dropping_mid_stream_frees_its_generation_and_the_next_request_is_served(live_url, tts):
    body = {
        "model": "tts-1",
        "input": "Hello there.",
        "voice": "tara",
        "response_format": "pcm",
        "max_tokens": 980,
    }
    with httpx.stream("POST", f"{live_url}/v1/audio/speech", json=body, timeout=60) as response:
        next(response.iter_bytes())
    # The socket is closed now; the server notices and cancels the sequence.
    eventually(lambda: not tts.engine.kv_cells_in_use(), "the dropped request gave back its KV cells")
    response = httpx.post(f"{live_url}/v1/audio/speech", json={**body, "max_tokens": 35}, timeout=60)
    assert len(response.content) == 5 * SAMPLES_PER_FRAME * 2


def test_the_speech_websocket_with_a_real_client(live_url):
    async def talk():
        url = live_url.replace("http://", "ws://") + "/v1/audio/speech/stream/ws?voice=leah"
        async with websockets.connect(url) as ws:
            await ws.send("Hello there.")
            pcm = b""
            async for message in ws:
                if isinstance(message, bytes):
                    pcm += message
                else:
                    return pcm, json.loads(message), ws
        raise AssertionError("closed without an end event")

    pcm, end, ws = asyncio.run(talk())
    assert (
        end["type"] == "speech.end" and len(pcm) == end["samples"] * 2 == TTS_FRAMES * SAMPLES_PER_FRAME * 2
    )
    assert ws.close_code == 1000
