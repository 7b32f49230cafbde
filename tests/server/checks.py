"""Shared checks for the fault and stress tests: "every slot is free again", and parsing the
bodies the server streams (WAV, PCM, SSE) strictly enough to tell a complete stream from a cut one."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import struct
from collections.abc import Iterator
from urllib.parse import urlsplit

import soundfile as sf

from coordinator.audio.format import SAMPLE_RATE, SAMPLES_PER_FRAME
from coordinator.runtime.loading import Runtime
from tests.rig.waiting import eventually

PCM_SAMPLE_BYTES = 2  # 16-bit
FRAME_PCM_BYTES = SAMPLES_PER_FRAME * PCM_SAMPLE_BYTES
DONE = "[DONE]"


def busy(runtime: Runtime) -> dict[str, int]:
    """What is still held: sequences active or waiting per engine, KV cells, SNAC windows pending.
    Empty when everything is free."""
    held: dict[str, int] = {}
    for engine in (runtime.tts.engine, runtime.llm.engine):
        stats = engine.stats
        counts = {
            f"{engine.name}.active": stats.active_sequences,
            f"{engine.name}.waiting": stats.waiting_sequences,
            f"{engine.name}.kv_cells": sum(engine.kv_cells_in_use().values()),
        }
        held.update({key: value for key, value in counts.items() if value})
    if runtime.snac.pending_windows:
        held["snac.pending"] = runtime.snac.pending_windows
    return held


def wait_until_free(runtime: Runtime) -> None:
    """Wait until no engine holds a sequence and SNAC has nothing pending. How soon is not
    asserted in seconds (a loaded machine is slower, not wrong): the tests check instead that the
    work was stopped (sequences cancelled, audio cut short), which does not depend on its speed."""
    eventually(lambda: not busy(runtime), "every slot freed and nothing pending")


def wav_samples(body: bytes) -> int:
    """Samples in a streamed WAV (24 kHz mono); fails unless it parses and holds whole frames."""
    audio, rate = sf.read(io.BytesIO(body))
    assert rate == SAMPLE_RATE and audio.ndim == 1
    assert len(audio) % SAMPLES_PER_FRAME == 0, f"{len(audio)} samples is not a whole number of frames"
    return len(audio)


def pcm_frames(body: bytes) -> int:
    """Frames in a raw 16-bit PCM body; fails unless it is a whole number of frames."""
    assert len(body) % FRAME_PCM_BYTES == 0, f"{len(body)} bytes is not a whole number of frames"
    return len(body) // FRAME_PCM_BYTES


def sse_events(body: str) -> list[str]:
    """The data of every event of an SSE body, in order (the final one included)."""
    events = [line.removeprefix("data:").strip() for line in body.splitlines() if line.startswith("data:")]
    assert events, f"no SSE events in {body[:200]!r}"
    return events


def sse_json_until_done(body: str) -> list[dict]:
    """The JSON events of a chat SSE body; fails unless it ends with exactly one [DONE]."""
    *events, last = sse_events(body)
    assert last == DONE and DONE not in events, f"the stream did not end with {DONE}: {body[-200:]!r}"
    return [json.loads(event) for event in events]


@contextlib.contextmanager
def socket_request(base_url: str, path: str, body: dict) -> Iterator[socket.socket]:
    """POST over a raw socket; on leaving, reset the connection (SO_LINGER 0: an RST, like a
    crashed client)."""
    url = urlsplit(base_url)
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head + payload)
        try:
            yield sock
        finally:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def post_and_drop(base_url: str, path: str, body: dict, *, body_bytes: int = 1) -> bytes:
    """POST over a raw socket, read until ``body_bytes`` bytes of the response body arrived (0:
    only the request sent), then reset the connection. Returns the response's status line (empty
    if none arrived)."""
    with socket_request(base_url, path, body) as sock:
        received = b""
        while body_bytes and len(received.partition(b"\r\n\r\n")[2]) < body_bytes:
            data = sock.recv(65536)
            assert data, f"the server closed the connection first: {received[:200]!r}"
            received += data
    return received.partition(b"\r\n")[0]
