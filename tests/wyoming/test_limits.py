"""Hostile input on both Wyoming ports of a live server: the connection caps (in total and per
client address), JSON nested too deeply, a failure the code did not foresee. Each is answered with
an error event, and each scenario ends with a good request served."""

import asyncio
import contextlib

import numpy as np
import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import async_read_event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize

from coordinator.launch.app import create_app
from coordinator.stt.transcript import SAMPLE_RATE
from coordinator.wyoming import asr, handler
from tests.wyoming.conftest import error_after, free_port, serving

READ_TIMEOUT_S = 60
CAPS = {"wyoming_max_connections": 3, "wyoming_max_connections_per_client": 2}
# Other loopback addresses stand for other machines: Linux answers on all of 127.0.0.0/8.
HOG, NEIGHBOUR, LATECOMER = "127.0.0.1", "127.0.0.2", "127.0.0.3"
DOORS = ["speech", "transcription"]
DEEP = 30_000


class ClientFrom(AsyncTcpClient):
    """The wyoming package's client, connecting from a chosen loopback address."""

    def __init__(self, port: int, source: str = HOG) -> None:
        super().__init__("127.0.0.1", port, read_timeout=READ_TIMEOUT_S)
        self.source = source

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(
            self.host, self.port, local_addr=(self.source, 0)
        )


@pytest.fixture
def ports(settings, runtime):
    """A live server of its own for each test (no connection of another test is still counted),
    with small caps: yields {door: port}."""
    capped = settings.model_copy(
        update={
            "wyoming_port": free_port(),
            "wyoming_stt_port": free_port(),
            "wyoming_host": "127.0.0.1",
            **CAPS,
        }
    )
    with serving(create_app(capped, runtime=runtime)):
        yield {"speech": capped.wyoming_port, "transcription": capped.wyoming_stt_port}


async def pinged(wy: AsyncTcpClient) -> None:
    """One round trip: once answered, the server counts this connection."""
    await wy.write_event(Ping(text="here").event())
    answer = await wy.read_event()
    assert answer is not None and Pong.is_type(answer.type), answer


async def served(door: str, wy: AsyncTcpClient) -> str:
    """A good request on ``wy``: speech spoken, or a recording transcribed. Returns what ended it."""
    if door == "speech":
        await wy.write_event(Synthesize(text="Hi there.").event())
        while (event := await wy.read_event()) is not None and not AudioStop.is_type(event.type):
            assert not Error.is_type(event.type), Error.from_event(event)
        assert event is not None
        return event.type
    noise = (np.random.default_rng(0).uniform(-0.3, 0.3, SAMPLE_RATE // 2) * 32767).astype("<i2").tobytes()
    await wy.write_event(Transcribe(language="en").event())
    await wy.write_event(AudioStart(rate=SAMPLE_RATE, width=2, channels=1).event())
    await wy.write_event(AudioChunk(rate=SAMPLE_RATE, width=2, channels=1, audio=noise).event())
    await wy.write_event(AudioStop().event())
    event = await wy.read_event()
    assert event is not None and Transcript.is_type(event.type), event
    return event.type


@pytest.mark.parametrize("door", DOORS)
def test_one_address_holds_its_share_and_no_more_and_another_client_is_still_served(ports, door):
    """16 connections from one client took +3.5 GB and every slot: a client address holds at most
    WYOMING_MAX_CONNECTIONS_PER_CLIENT, the port at most WYOMING_MAX_CONNECTIONS."""
    port = ports[door]

    async def scenario():
        async with contextlib.AsyncExitStack() as held:
            for _ in range(CAPS["wyoming_max_connections_per_client"]):
                await pinged(await held.enter_async_context(ClientFrom(port, HOG)))
            over_share = await error_after(ClientFrom(port, HOG), Describe().event())
            neighbour = await held.enter_async_context(ClientFrom(port, NEIGHBOUR))
            await pinged(neighbour)
            over_total = await error_after(ClientFrom(port, LATECOMER), Describe().event())
            return over_share, over_total, await served(door, neighbour)

    over_share, over_total, ended = asyncio.run(scenario())
    assert over_share.code == "too_many_sessions" and "WYOMING_MAX_CONNECTIONS_PER_CLIENT" in over_share.text
    assert f"{HOG} holds them all" in over_share.text
    assert over_total.code == "too_many_sessions" and "(WYOMING_MAX_CONNECTIONS)" in over_total.text
    assert ended in ("audio-stop", "transcript")


@pytest.mark.parametrize("door", DOORS)
def test_json_nested_too_deeply_is_an_error_event_not_a_dropped_connection(ports, door):
    port = ports[door]

    async def scenario():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b'{"type": "describe", "data": {"a": ' + b"[" * DEEP + b"]" * DEEP + b"}}\n")
        await writer.drain()
        answer = await asyncio.wait_for(async_read_event(reader), READ_TIMEOUT_S)
        end = await asyncio.wait_for(reader.read(), READ_TIMEOUT_S)
        writer.close()
        async with ClientFrom(port, NEIGHBOUR) as wy:
            return answer, end, await served(door, wy)

    answer, end, ended = asyncio.run(scenario())
    assert answer is not None and Error.is_type(answer.type), answer
    error = Error.from_event(answer)
    assert error.code == "invalid_value" and "nested too deeply" in error.text and end == b""
    assert ended in ("audio-stop", "transcript")


@pytest.mark.parametrize(
    ("door", "module", "name"), [("speech", handler, "_text"), ("transcription", asr, "_start")]
)
def test_a_failure_nobody_foresaw_is_an_internal_error_event(ports, door, module, name, monkeypatch):
    """The house rule: an error event, never a silent hang-up, and no internals in it."""
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda event: (_ for _ in ()).throw(RuntimeError("secret internals")))
    event = (
        Synthesize(text="Hi.").event()
        if door == "speech"
        else AudioStart(rate=16000, width=2, channels=1).event()
    )
    port = ports[door]

    async def scenario():
        error = await error_after(ClientFrom(port), event)
        monkeypatch.setattr(module, name, real)
        async with ClientFrom(port, NEIGHBOUR) as wy:
            return error, await served(door, wy)

    error, ended = asyncio.run(scenario())
    assert error.code == "internal_error" and "secret" not in error.text
    assert ended in ("audio-stop", "transcript")
