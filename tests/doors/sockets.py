"""The socket doors of the table: the speech WebSocket, the live voice WebSocket and Wyoming
(one-shot ``synthesize`` and streamed synthesis), each driven as its clients drive it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.parse
from abc import abstractmethod
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import websockets
from wyoming.audio import AudioChunk
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from tests.doors.doors import SEED, Door, Refusal, Refused, Spoken, pcm
from tests.rig.audio_samples import pcm16, silence, spoken

EVENT_TIMEOUT_S = 120
# A WebSocket closed after a refused request: 1008, policy violation (a 4xx of HTTP).
WS_POLICY_VIOLATION = 1008
# The voice WebSocket's turn: recorded speech, then the silence after which the VAD ends the turn.
TURN_SENTENCE = "Hello there. Tell me a story about a cat."
TURN_SILENCE_S = 1.2
AUDIO_CHUNK_S = 0.1  # what a microphone sends at a time


def ws_error(message: str | bytes) -> Refusal | None:
    """The refusal an error event carries (OpenAI's error shape inside), else None."""
    if isinstance(message, bytes):
        return None
    event = json.loads(message)
    if event.get("type") != "error":
        return None
    error = event["error"]
    assert {"message", "type", "param", "code"} <= set(error), error
    return Refusal(error["message"], error["code"], param=error["param"])


class SocketDoor(Door):
    """A door whose moves are one async conversation each."""

    def speak(self, text: str, voice: str | None) -> Spoken:
        return asyncio.run(self._speak(text, voice))

    def speak_and_leave(self, text: str, voice: str | None) -> None:
        asyncio.run(self._speak_and_leave(text, voice))

    def refused(self, text: str, voice: str | None) -> Refusal:
        return asyncio.run(self._refused(text, voice))

    @abstractmethod
    async def _speak(self, text: str, voice: str | None) -> Spoken: ...

    @abstractmethod
    async def _speak_and_leave(self, text: str, voice: str | None) -> None: ...

    @abstractmethod
    async def _refused(self, text: str, voice: str | None) -> Refusal: ...


class WebSocketDoor(SocketDoor):
    """A WebSocket door: binary 16-bit PCM out, JSON events; a refusal is an error event, then a
    close with 1008."""

    path = "/"

    def url(self, voice: str | None) -> str:
        query = {**self.query(), **({"voice": voice} if voice is not None else {})}
        return f"{self.live.ws_url}{self.path}?{urllib.parse.urlencode(query)}"

    def query(self) -> dict[str, Any]:
        return {}

    @abstractmethod
    async def start(self, ws: Any, text: str) -> None:
        """Send the request (the door's session is open)."""

    @abstractmethod
    def ended(self, event: dict[str, Any]) -> bool:
        """The event that ends the door's answer."""

    async def messages(self, ws: Any) -> AsyncIterator[str | bytes]:
        while True:
            yield await asyncio.wait_for(ws.recv(), timeout=EVENT_TIMEOUT_S)

    async def _speak(self, text: str, voice: str | None) -> Spoken:
        audio = b""
        async with websockets.connect(self.url(voice)) as ws:
            await self.start(ws, text)
            async for message in self.messages(ws):
                if isinstance(message, bytes):
                    audio += message
                    continue
                if (refusal := ws_error(message)) is not None:
                    raise Refused(refusal)
                if self.ended(json.loads(message)):
                    return Spoken(pcm(audio))
        raise AssertionError("unreachable")

    async def _speak_and_leave(self, text: str, voice: str | None) -> None:
        async with websockets.connect(self.url(voice)) as ws:
            await self.start(ws, text)
            async for message in self.messages(ws):
                assert ws_error(message) is None, message
                if isinstance(message, bytes):
                    return  # leaving the block closes the socket: the client has gone

    async def _refused(self, text: str, voice: str | None) -> Refusal:
        async with websockets.connect(self.url(voice)) as ws:
            with contextlib.suppress(websockets.ConnectionClosed):
                await self.start(ws, text)
            async for message in self.messages(ws):
                if (refusal := ws_error(message)) is not None:
                    await asyncio.wait_for(ws.wait_closed(), timeout=EVENT_TIMEOUT_S)
                    assert ws.close_code == WS_POLICY_VIOLATION, ws.close_code
                    return refusal
        raise AssertionError("unreachable")


class SpeechWs(WebSocketDoor):
    """WS /v1/audio/speech/stream/ws: the text as the first message, PCM back, ``speech.end``."""

    path = "/v1/audio/speech/stream/ws"

    async def start(self, ws: Any, text: str) -> None:
        await ws.send(text)

    def ended(self, event: dict[str, Any]) -> bool:
        return event["type"] == "speech.end"


class VoiceWs(WebSocketDoor):
    """WS /v1/voice/ws: a spoken turn (recorded speech; ``text`` is not sent), its transcript, the
    chat model's reply spoken back, ``reply.done``."""

    path = "/v1/voice/ws"

    def query(self) -> dict[str, Any]:
        return {"language": "en", "seed": SEED, "sample_rate": self._turn()[1]}

    @staticmethod
    def _turn() -> tuple[np.ndarray, int]:
        samples, rate = spoken(TURN_SENTENCE)
        return np.concatenate([samples, silence(TURN_SILENCE_S, rate)]), rate

    async def start(self, ws: Any, text: str) -> None:
        created = ws_error(await asyncio.wait_for(ws.recv(), timeout=EVENT_TIMEOUT_S))
        if created is not None:
            raise Refused(created)
        samples, rate = self._turn()
        step = int(AUDIO_CHUNK_S * rate)
        for begin in range(0, samples.size, step):
            await ws.send(pcm16(samples[begin : begin + step]))

    def ended(self, event: dict[str, Any]) -> bool:
        return event["type"] == "reply.done"

    async def _refused(self, text: str, voice: str | None) -> Refusal:
        # Refused at the session's start: the error event comes instead of session.created.
        async with websockets.connect(self.url(voice)) as ws:
            refusal = ws_error(await asyncio.wait_for(ws.recv(), timeout=EVENT_TIMEOUT_S))
            assert refusal is not None, "the session was created"
            await asyncio.wait_for(ws.wait_closed(), timeout=EVENT_TIMEOUT_S)
            assert ws.close_code == WS_POLICY_VIOLATION, ws.close_code
            return refusal


class WyomingDoor(SocketDoor):
    """The Wyoming speech port: audio-chunk events; a refusal is an ``error`` event, then the end
    of the connection."""

    @abstractmethod
    def events(self, text: str, voice: str | None) -> list[Event]: ...

    @abstractmethod
    def ended(self, event: Event) -> bool: ...

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[AsyncTcpClient]:
        """A connection; leaving it disconnects, whether or not the server has already ended it
        (after a refusal it has: saying goodbye then meets a broken pipe)."""
        wy = AsyncTcpClient("127.0.0.1", self.live.wyoming_port, read_timeout=EVENT_TIMEOUT_S)
        await wy.connect()
        try:
            yield wy
        finally:
            with contextlib.suppress(ConnectionError):
                await wy.disconnect()

    @staticmethod
    def voice(voice: str | None) -> SynthesizeVoice | None:
        return SynthesizeVoice(name=voice) if voice is not None else None

    async def _send(self, wy: AsyncTcpClient, text: str, voice: str | None) -> None:
        # A refused event ends the connection: the events after it may find it closed.
        with contextlib.suppress(ConnectionError):
            for event in self.events(text, voice):
                await wy.write_event(event)

    async def _speak(self, text: str, voice: str | None) -> Spoken:
        audio = b""
        async with self.client() as wy:
            await self._send(wy, text, voice)
            while (event := await wy.read_event()) is not None:
                if Error.is_type(event.type):
                    error = Error.from_event(event)
                    raise Refused(Refusal(error.text, error.code))
                if AudioChunk.is_type(event.type):
                    audio += AudioChunk.from_event(event).audio
                elif self.ended(event):
                    return Spoken(pcm(audio))
        raise AssertionError("the connection ended before the speech did")

    async def _speak_and_leave(self, text: str, voice: str | None) -> None:
        async with self.client() as wy:
            await self._send(wy, text, voice)
            while (event := await wy.read_event()) is not None:
                assert not Error.is_type(event.type), event.data
                if AudioChunk.is_type(event.type):
                    return  # leaving the block disconnects: the client has gone
        raise AssertionError("the connection ended before any audio")

    async def _refused(self, text: str, voice: str | None) -> Refusal:
        async with self.client() as wy:
            await self._send(wy, text, voice)
            while (event := await wy.read_event()) is not None:
                if Error.is_type(event.type):
                    error = Error.from_event(event)
                    assert await wy.read_event() is None, "the connection went on after its error"
                    return Refusal(error.text, error.code)
        raise AssertionError("the connection ended without an error event")


class WyomingOneShot(WyomingDoor):
    """``synthesize``: the whole text, one audio-start … audio-stop."""

    def events(self, text: str, voice: str | None) -> list[Event]:
        return [Synthesize(text=text, voice=self.voice(voice)).event()]

    def ended(self, event: Event) -> bool:
        return event.type == "audio-stop"


class WyomingStreamed(WyomingDoor):
    """``synthesize-start`` → ``synthesize-chunk`` → ``synthesize-stop``, answered by one group of
    audio per sentence, then ``synthesize-stopped``."""

    def events(self, text: str, voice: str | None) -> list[Event]:
        return [
            SynthesizeStart(voice=self.voice(voice)).event(),
            SynthesizeChunk(text=text).event(),
            SynthesizeStop().event(),
        ]

    def ended(self, event: Event) -> bool:
        return event.type == "synthesize-stopped"
