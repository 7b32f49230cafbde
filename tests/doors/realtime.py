"""The Realtime door of the table: WS /v1/realtime driven as OpenAI's Realtime clients drive it."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import websockets

from tests.doors.doors import Refusal, Refused, Spoken, pcm
from tests.doors.sockets import EVENT_TIMEOUT_S, SocketDoor


def _refusal(event: dict[str, Any]) -> Refusal | None:
    if event.get("type") != "error":
        return None
    error = event["error"]
    assert {"message", "type", "param", "code", "event_id"} <= set(error), error
    # The Realtime shape names a field by its path in the event ("session.voice"): the table's
    # refusal names the field itself.
    param = error["param"].rsplit(".", 1)[-1] if error["param"] else None
    return Refusal(error["message"], error["code"], param=param)


class RealtimeWs(SocketDoor):
    """WS /v1/realtime: the voice set by ``session.update``, the text sent as a user item, then
    ``response.create``; the speech comes as base64 pcm16 in ``response.output_audio.delta`` until
    ``response.done``. A refusal is an ``error`` event, and the session goes on (not closed)."""

    path = "/v1/realtime"

    async def _events(self, ws: Any) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield json.loads(await asyncio.wait_for(ws.recv(), timeout=EVENT_TIMEOUT_S))

    async def _start(self, ws: Any, text: str, voice: str | None) -> None:
        created = json.loads(await asyncio.wait_for(ws.recv(), timeout=EVENT_TIMEOUT_S))
        assert created["type"] == "session.created", created
        if voice is not None:
            await ws.send(
                json.dumps({"type": "session.update", "session": {"audio": {"output": {"voice": voice}}}})
            )
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
        await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
        await ws.send(json.dumps({"type": "response.create"}))

    async def _speak(self, text: str, voice: str | None) -> Spoken:
        audio = b""
        async with websockets.connect(f"{self.live.ws_url}{self.path}") as ws:
            await self._start(ws, text, voice)
            async for event in self._events(ws):
                if (refusal := _refusal(event)) is not None:
                    raise Refused(refusal)
                if event["type"] == "response.output_audio.delta":
                    audio += base64.b64decode(event["delta"])
                elif event["type"] == "response.done":
                    return Spoken(pcm(audio))
        raise AssertionError("unreachable")

    async def _speak_and_leave(self, text: str, voice: str | None) -> None:
        async with websockets.connect(f"{self.live.ws_url}{self.path}") as ws:
            await self._start(ws, text, voice)
            async for event in self._events(ws):
                assert _refusal(event) is None, event
                if event["type"] == "response.output_audio.delta":
                    return  # leaving the block closes the socket: the client has gone

    async def _refused(self, text: str, voice: str | None) -> Refusal:
        async with websockets.connect(f"{self.live.ws_url}{self.path}") as ws:
            await self._start(ws, text, voice)
            async for event in self._events(ws):
                if (refusal := _refusal(event)) is not None:
                    break
            # The session goes on after a bad event: it still answers.
            await ws.send(json.dumps({"type": "session.update", "session": {}}))
            async for event in self._events(ws):
                if event["type"] == "session.updated":
                    return refusal
        raise AssertionError("unreachable")
