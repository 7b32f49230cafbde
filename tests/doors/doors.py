"""What the door table drives: one small driver per door, each with the same three moves, each
move made only through the door's public protocol (HTTP, WebSocket, Wyoming events).

- ``speak(text, voice)`` → ``Spoken``: the audio (16-bit samples at 24 kHz) and the usage the door
  reports, if it reports any; ``Refused`` is raised where the door refuses instead.
- ``speak_and_leave(text, voice)``: start speaking, and leave at the first audio.
- ``refused(text, voice)`` → ``Refusal``: a request the door must refuse, checked against the
  door's own error shape (OpenAI's JSON with a 4xx; an error event; a Wyoming ``error``).

``text`` is what the client sends; the conversation doors (/chat, the voice WebSocket) speak the
chat model's reply to it instead, and the voice WebSocket's turn is recorded speech, not text.
This module holds the model and the HTTP doors; ``sockets.py`` the WebSocket and Wyoming ones.
"""

from __future__ import annotations

import base64
import json
import socket
import struct
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np

from tests.doors.server import DoorServer

HTTP_TIMEOUT_S = 120
# The seed every door that takes one is given: the same request gives the same answer.
SEED = 5
PCM_DTYPE = "<i2"
PCM_WIDTH = 2
RIFF_HEADER = 12  # "RIFF", size, "WAVE"
WAV_CHUNK_HEADER = 8  # id, size
HTTP_CLIENT_ERRORS = range(400, 500)


@dataclass(frozen=True)
class Spoken:
    samples: np.ndarray  # 16-bit PCM at 24 kHz, mono
    usage: dict[str, Any] | None = None


@dataclass(frozen=True)
class Refusal:
    """A door's refusal, in the fields its error shape has (Wyoming's has no ``param``)."""

    message: str
    code: str | None
    param: str | None = None
    status: int | None = None  # HTTP only

    def names(self, what: str) -> bool:
        """The refusal names ``what``: as its param where the shape has one, else in its message."""
        return self.param == what if self.param is not None else what in self.message


class Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


@dataclass
class Door(ABC):
    """One row of the table."""

    name: str
    # The ``endpoint`` label its speech has in /metrics.
    metrics_label: str
    # False for the conversation doors: they speak the chat model's reply, not the text sent.
    speaks_the_text: bool = True
    server: DoorServer | None = field(default=None, repr=False)

    def on(self, server: DoorServer) -> Door:
        """This door on ``server`` (the table's rows stay unbound)."""
        return replace(self, server=server)

    @property
    def live(self) -> DoorServer:
        assert self.server is not None, f"{self.name}: not bound to a server (Door.on)"
        return self.server

    @abstractmethod
    def speak(self, text: str, voice: str | None) -> Spoken: ...

    @abstractmethod
    def speak_and_leave(self, text: str, voice: str | None) -> None: ...

    @abstractmethod
    def refused(self, text: str, voice: str | None) -> Refusal: ...


def pcm(data: bytes) -> np.ndarray:
    return np.frombuffer(data[: len(data) - len(data) % PCM_WIDTH], dtype=PCM_DTYPE)


def wav_pcm(data: bytes) -> bytes | None:
    """The PCM after a WAV's ``data`` chunk header (a streamed WAV's sizes are placeholders, so
    the rest of the bytes is the audio); None while the header has not all arrived."""
    assert len(data) < RIFF_HEADER or data[:4] == b"RIFF" and data[8:12] == b"WAVE", data[:12]
    offset = RIFF_HEADER
    while offset + WAV_CHUNK_HEADER <= len(data):
        chunk, size = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        if chunk == b"data":
            return data[offset + WAV_CHUNK_HEADER :]
        offset += WAV_CHUNK_HEADER + size
    return None


def http_refusal(response: httpx.Response) -> Refusal:
    """OpenAI's error shape, with a 4xx: the HTTP doors' refusal."""
    assert response.status_code in HTTP_CLIENT_ERRORS, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"message", "type", "param", "code"} <= set(error), error
    return Refusal(error["message"], error["code"], param=error["param"], status=response.status_code)


def sse_payloads(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.startswith("data:"):
            yield json.loads(line.removeprefix("data:").strip())


class HttpDoor(Door):
    """A door answering one HTTP request with audio (or SSE events carrying it)."""

    method = "POST"
    path = "/"

    @abstractmethod
    def request(self, text: str, voice: str | None) -> dict[str, Any]:
        """The request's fields (the JSON body, or the query of a GET)."""

    def _send(self, http: httpx.Client, text: str, voice: str | None, *, stream: bool) -> httpx.Response:
        fields = self.request(text, voice)
        if self.method == "GET":
            request = http.build_request("GET", self.path, params=fields)
        else:
            request = http.build_request("POST", self.path, json=fields)
        return http.send(request, stream=stream)

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.live.url, timeout=HTTP_TIMEOUT_S)

    def speak(self, text: str, voice: str | None) -> Spoken:
        with self._client() as http:
            response = self._send(http, text, voice, stream=False)
        if response.status_code != 200:
            raise Refused(http_refusal(response))
        return self.decode(response)

    def refused(self, text: str, voice: str | None) -> Refusal:
        with self._client() as http:
            return http_refusal(self._send(http, text, voice, stream=False))

    def speak_and_leave(self, text: str, voice: str | None) -> None:
        with self._client() as http:
            response = self._send(http, text, voice, stream=True)
            try:
                assert response.status_code == 200, response.read()[:300]
                self.until_first_audio(response)
            finally:
                response.close()  # the connection goes with it: the client has left

    @abstractmethod
    def decode(self, response: httpx.Response) -> Spoken: ...

    @abstractmethod
    def until_first_audio(self, response: httpx.Response) -> None: ...


class RawAudioDoor(HttpDoor):
    """Audio bytes in the body: raw PCM, or a WAV (``wav``)."""

    wav = False

    def decode(self, response: httpx.Response) -> Spoken:
        data = wav_pcm(response.content) if self.wav else response.content
        assert data is not None, "no WAV data chunk"
        return Spoken(pcm(data))

    def until_first_audio(self, response: httpx.Response) -> None:
        received = b""
        for chunk in response.iter_bytes():
            received += chunk
            audio = wav_pcm(received) if self.wav else received
            if audio is not None and len(audio) >= PCM_WIDTH:
                return
        raise AssertionError("the response ended before any audio")


class SseAudioDoor(HttpDoor):
    """Server-sent events carrying base64 PCM (``audio_event``), ended by ``done_event``."""

    audio_event = ""
    done_event = ""

    def decode(self, response: httpx.Response) -> Spoken:
        audio, usage = b"", None
        for event in sse_payloads(iter(response.text.splitlines())):
            assert event["type"] != "error", event
            if event["type"] == self.audio_event:
                audio += base64.b64decode(event["audio"])
            elif event["type"] == self.done_event:
                usage = event.get("usage")
        return Spoken(pcm(audio), usage)

    def until_first_audio(self, response: httpx.Response) -> None:
        for event in sse_payloads(response.iter_lines()):
            assert event["type"] != "error", event
            if event["type"] == self.audio_event:
                return
        raise AssertionError("the events ended before any audio")


def speech_fields(text: str, voice: str | None) -> dict[str, Any]:
    return {"model": "tts-1", "input": text, "voice": voice, "response_format": "pcm", "seed": SEED}


def chat_fields(text: str, voice: str | None) -> dict[str, Any]:
    fields: dict[str, Any] = {"message": text, "seed": SEED}
    if voice is not None:
        fields["voice"] = voice
    return fields


class Speech(RawAudioDoor):
    """POST /v1/audio/speech, raw PCM."""

    path = "/v1/audio/speech"

    def request(self, text: str, voice: str | None) -> dict[str, Any]:
        return speech_fields(text, voice)


class SpeechStream(Speech):
    """POST /v1/audio/speech/stream: the same request, always streamed."""

    path = "/v1/audio/speech/stream"


class SpeechSse(SseAudioDoor):
    """POST /v1/audio/speech with ``stream_format: "sse"``: usage in its done event."""

    path = "/v1/audio/speech"
    audio_event, done_event = "speech.audio.delta", "speech.audio.done"

    def request(self, text: str, voice: str | None) -> dict[str, Any]:
        return {**speech_fields(text, voice), "stream_format": "sse"}


class SpeechCaptioned(HttpDoor):
    """POST /v1/audio/speech/captioned: one JSON answer (base64 audio, usage) once the speech is
    complete. Timings off: the rules are about speech, and the table's server need not listen
    (tests/server/test_timings_doors.py tests the words with a Whisper that hears)."""

    path = "/v1/audio/speech/captioned"

    def request(self, text: str, voice: str | None) -> dict[str, Any]:
        return {**speech_fields(text, voice), "timings": False}

    def decode(self, response: httpx.Response) -> Spoken:
        answer = response.json()
        return Spoken(pcm(base64.b64decode(answer["audio"])), answer["usage"])

    def speak_and_leave(self, text: str, voice: str | None) -> None:
        """Nothing arrives before the whole answer: leave once the server has its first audio
        (its metrics say so), by closing the connection."""
        first_audio = "orpheus_speech_time_to_first_audio_seconds_count"
        before = self.live.scrape().value(first_audio, endpoint=self.metrics_label)
        address = urlsplit(self.live.url)
        body = json.dumps(self.request(text, voice)).encode()
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {address.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection((address.hostname, address.port), timeout=HTTP_TIMEOUT_S) as sock:
            sock.sendall(head + body)
            self.live.until(
                lambda s: s.value(first_audio, endpoint=self.metrics_label) > before, "first audio"
            )

    def until_first_audio(self, response: httpx.Response) -> None:
        raise AssertionError(
            "the captioned answer is whole: speak_and_leave leaves on the server's first audio"
        )


@dataclass
class SeedTts(RawAudioDoor):
    """GET|POST /tts, the seed guide's endpoint: a streamed WAV."""

    method: str = "POST"
    path = "/tts"
    wav = True

    def request(self, text: str, voice: str | None) -> dict[str, Any]:
        fields: dict[str, Any] = {"prompt": text, "seed": SEED}
        if voice is not None:
            fields["voice"] = voice
        return fields


class ChatWav(RawAudioDoor):
    """POST /chat: the chat model answers ``text``; its reply is spoken as one streamed WAV."""

    path = "/chat"
    wav = True

    def request(self, text: str, voice: str | None) -> dict[str, Any]:
        return chat_fields(text, voice)


class ChatSse(SseAudioDoor):
    """POST /chat with ``stream_format: "sse"``: the reply's text and speech as events."""

    path = "/chat"
    audio_event, done_event = "response.audio.delta", "response.done"

    def request(self, text: str, voice: str | None) -> dict[str, Any]:
        return {**chat_fields(text, voice), "stream_format": "sse"}
