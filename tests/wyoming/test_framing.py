"""Reading Wyoming events within the size limit, with a named error for what is not an event."""

import asyncio
import json

import pytest
from wyoming.audio import AudioChunk
from wyoming.event import async_write_event
from wyoming.tts import Synthesize

from coordinator.errors import InvalidInputError, PayloadTooLargeError
from coordinator.wyoming.framing import read_event

LIMIT = 1024


def read(raw: bytes, max_bytes=LIMIT):
    async def scenario():
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return await read_event(reader, max_bytes=max_bytes)

    return asyncio.run(scenario())


def framed(event) -> bytes:
    """What the wyoming package itself writes for ``event``."""

    class Sink:
        data = b""

        def writelines(self, lines):
            self.data += b"".join(lines)

        def write(self, data):
            self.data += data

        async def drain(self):
            pass

    sink = Sink()
    asyncio.run(async_write_event(event, sink))
    return sink.data


def test_events_written_by_the_wyoming_package_read_back_whole():
    synthesize = Synthesize(text="Grüße, world.").event()
    assert read(framed(synthesize)) == synthesize
    chunk = AudioChunk(rate=16000, width=2, channels=1, audio=b"\x01\x02" * 100).event()
    assert read(framed(chunk)) == chunk


def test_the_end_of_the_connection_even_mid_event_is_none():
    assert read(b"") is None
    assert read(framed(Synthesize(text="Hello there.").event())[:-3]) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{oops\n", "not a Wyoming event"),
        (b"[1, 2]\n", "not a Wyoming event"),
        (b'{"data": {}}\n', "not a Wyoming event"),
        (b'{"type": "synthesize", "data": "text"}\n', "not a Wyoming event"),
        (b'{"type": "synthesize", "data_length": -1}\n', "data_length must be a byte count"),
        (b'{"type": "audio-chunk", "payload_length": "10"}\n', "payload_length must be a byte count"),
        (b"x" * 70000 + b"\n", "header line is too long"),
        # 30,000 deep: Python's JSON parser gives up with a RecursionError.
        (b'{"type": "describe", "data": {"a": ' + b"[" * 30000 + b"]" * 30000 + b"}}\n", "nested too deeply"),
    ],
)
def test_what_is_not_an_event_is_named(raw, message):
    with pytest.raises(InvalidInputError, match=message):
        read(raw)


def test_json_nested_too_deeply_in_the_data_part_is_named_too():
    data = b"[" * 30000 + b"]" * 30000
    header = json.dumps({"type": "describe", "data_length": len(data)}).encode() + b"\n"
    with pytest.raises(InvalidInputError, match="nested too deeply"):
        read(header + data, max_bytes=len(data))


def test_an_event_over_the_limit_is_refused_before_it_is_read():
    header = json.dumps({"type": "audio-chunk", "payload_length": 10**12}).encode() + b"\n"
    with pytest.raises(PayloadTooLargeError, match="over this server's limit of 1024 bytes .MAX_BODY_BYTES."):
        read(header)  # nothing of the claimed terabyte follows: it was never waited for
