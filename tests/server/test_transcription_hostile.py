"""Hostile uploads on the HTTP speech-in path (issue 21): POST /v1/audio/transcriptions,
/translations and /chat's audio share it. Each is answered with a clear 4xx in bounded time and
memory, a queued request holds only its upload, a client that leaves stops its decode, and the
server serves the next request."""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from functools import partial

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from coordinator.errors import QueueFullError
from coordinator.server.app import create_app
from coordinator.service import transcription
from coordinator.stt.engine import MAX_PROMPT_CHARS, SpeechToText
from coordinator.stt.isolated import decode_isolated
from tests.rig.audio_samples import encode, noise_bursts, silence
from tests.rig.hostile_audio import (
    flac,
    hanging_decoder,
    pid_written_to,
    process_gone,
    wav,
)
from tests.rig.waiting import eventually, eventually_async
from tests.server.checks import socket_request
from tests.server.conftest import serving
from tests.server.stt_doubles import Held, busy_recogniser, with_stt

RATE = 16_000
CRASHED_THE_SERVER = flac(channels=8, rate=RATE, block=1024, frames=2)  # 110 bytes
BOMBS = {
    "flac at 1 Hz": (flac(channels=1, rate=1, block=8192, frames=1), "sample rate of 1 Hz"),
    "8-bit wav at 1 Hz": (wav(channels=1, rate=1, frames=1, bits=8, block_align=4096), "sample rate of 1 Hz"),
    "64-channel wav": (wav(channels=64, rate=RATE, frames=RATE // 10), "64 audio channels"),
}


@pytest.fixture(scope="module")
def good_wav():
    return encode(noise_bursts(RATE), RATE, "wav")


def _post(client, data: bytes, *, path="/v1/audio/transcriptions", **fields):
    return client.post(path, files={"file": ("speech", data)}, data={k: str(v) for k, v in fields.items()})


def _served(client, good_wav) -> None:
    response = _post(client, good_wav)
    assert response.status_code == 200 and isinstance(response.json()["text"], str)


def test_the_8_channel_flac_that_killed_the_server_is_transcribed(client, good_wav):
    for path in ("/v1/audio/transcriptions", "/v1/audio/translations"):
        response = _post(client, CRASHED_THE_SERVER, path=path)
        assert response.status_code == 200, response.text
    _served(client, good_wav)


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_rate_and_channel_bombs_are_400s_naming_the_file(client, good_wav, name):
    data, problem = BOMBS[name]
    for path in ("/v1/audio/transcriptions", "/v1/audio/translations"):
        error = _post(client, data, path=path).json()["error"]
        assert error["param"] == "file" and error["code"] == "invalid_audio" and problem in error["message"]
    spoken_turn = client.post("/chat", json={"audio": base64.b64encode(data).decode()})
    assert spoken_turn.status_code == 400
    assert (
        spoken_turn.json()["error"]["param"] == "audio" and problem in spoken_turn.json()["error"]["message"]
    )
    _served(client, good_wav)


def test_a_prompt_longer_than_whisper_reads_is_a_400_before_any_queueing(settings, stt, runtime, good_wav):
    with busy_recogniser(stt, max_queue=0, queue_timeout_s=5) as busy:
        app = create_app(settings, runtime=with_stt(runtime, busy))
        with TestClient(app) as client:
            response = _post(client, good_wav, prompt="x" * (MAX_PROMPT_CHARS + 1))
    assert response.status_code == 400  # not the 429 of the full queue: refused before it
    error = response.json()["error"]
    assert (
        error["param"] == "prompt" and str(MAX_PROMPT_CHARS) in error["message"] and "224" in error["message"]
    )


def test_a_prompt_at_the_cap_is_transcribed(client, good_wav):
    assert _post(client, good_wav, prompt="word " * (MAX_PROMPT_CHARS // 5)).status_code == 200


# Admission before decoding.


def _wait_until_free(stt) -> None:
    eventually(lambda: not stt.busy, "the slot was freed")


class _CountingSource:
    """Encoded audio that counts its decodes."""

    decoded = 0

    def __init__(self) -> None:
        self.samples = silence(0.5, RATE)

    def __call__(self, *, stop: threading.Event) -> np.ndarray:
        type(self).decoded += 1
        return self.samples


def test_requests_waiting_for_the_slot_are_not_decoded_and_past_the_queue_are_refused(stt):
    held = Held(stt.transcriber)
    one_slot = SpeechToText(held, slots=1, max_queue=2, queue_timeout_s=30)  # type: ignore[arg-type]
    _CountingSource.decoded = 0

    async def scenario():
        occupant = asyncio.ensure_future(one_slot.transcribe(_CountingSource()))
        await eventually_async(lambda: one_slot.busy, "the occupant holds the slot")
        waiting = [asyncio.ensure_future(one_slot.transcribe(_CountingSource())) for _ in range(2)]
        await eventually_async(lambda: one_slot.waiting == 2, "two requests wait for the slot")
        refused = [asyncio.ensure_future(one_slot.transcribe(_CountingSource())) for _ in range(3)]
        outcomes = await asyncio.gather(*refused, return_exceptions=True)
        assert all(isinstance(outcome, QueueFullError) for outcome in outcomes)
        # The occupant's audio is the only one decoded: the waiting hold their bytes only.
        assert _CountingSource.decoded == 1 and one_slot.waiting == 2
        held.released.set()
        await asyncio.gather(occupant, *waiting)

    try:
        asyncio.run(scenario())
    finally:
        held.released.set()
        one_slot.close()
    assert _CountingSource.decoded == 3 and one_slot.busy == 0


@pytest.mark.parametrize(
    "queue, status",
    [({"max_queue": 0, "queue_timeout_s": 5}, 429), ({"max_queue": 4, "queue_timeout_s": 0.3}, 503)],
)
def test_an_upload_refused_by_the_queue_was_never_decoded(
    settings, stt, runtime, monkeypatch, caplog, good_wav, queue, status
):
    decodes = []
    monkeypatch.setattr(
        transcription,
        "decode_isolated",
        lambda *args, **kwargs: decodes.append(1) or decode_isolated(*args, **kwargs),
    )
    with busy_recogniser(stt, **queue) as busy:
        app = create_app(settings, runtime=with_stt(runtime, busy))
        with TestClient(app) as client:
            long_upload = encode(silence(120, RATE), RATE, "ogg")  # 2 minutes: 8 MB once decoded
            with caplog.at_level(logging.INFO, logger="coordinator.server.errors"):
                assert _post(client, long_upload).status_code == status
            assert decodes == []
            # Load, not a fault: a warning, never an error to page someone about.
            assert [r.levelno for r in caplog.records if r.name == "coordinator.server.errors"] == [
                logging.WARNING
            ]
            busy.transcriber.released.set()  # type: ignore[attr-defined]
            _wait_until_free(busy)
            _served(client, good_wav)
    assert decodes == [1]


def test_a_client_leaving_mid_decode_kills_its_decoder_and_frees_the_slot(
    settings, runtime, monkeypatch, tmp_path, good_wav
):
    monkeypatch.setattr(transcription, "decode_isolated", partial(decode_isolated, decoder=hanging_decoder))
    pid_file = tmp_path / "pid"
    stt = runtime.stt
    with serving(create_app(settings, runtime=runtime)) as url:
        # /chat's audio goes the shared way; the hanging decoder reads the file name from it.
        with socket_request(url, "/chat", {"audio": base64.b64encode(str(pid_file).encode()).decode()}):
            pid = pid_written_to(pid_file)
            assert stt.busy == 1
        # The decoder never returns by itself: gone means killed because the client left.
        eventually(lambda: process_gone(pid) and stt.busy == 0, "the decoder was killed when its client left")
        monkeypatch.undo()
        response = httpx.post(
            f"{url}/v1/audio/transcriptions", files={"file": ("speech.wav", good_wav)}, timeout=60
        )
        assert response.status_code == 200
