"""Ending a connection with an error event (wyoming/refusal.py): the client reads the error even
when it is still sending, because the server half-closes and reads on until the client hangs up,
rather than close at once (which would answer the client's next bytes with a reset)."""

import asyncio

from wyoming.audio import AudioChunk
from wyoming.error import Error
from wyoming.event import async_read_event, async_write_event

from coordinator.errors import InvalidInputError
from coordinator.wyoming.refusal import refuse

# Events the client sends after the one the server refuses (as a streaming client would).
FOLLOWING = 50
CHUNK = AudioChunk(rate=16000, width=2, channels=1, audio=bytes(4096)).event()


def test_a_client_still_sending_reads_the_error_and_then_the_end():
    async def scenario():
        refused = asyncio.get_running_loop().create_future()

        async def connected(reader, writer):
            await refuse(
                reader, writer, InvalidInputError("audio-stop outside audio: send audio-start first")
            )
            refused.set_result(None)

        server = await asyncio.start_server(connected, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(FOLLOWING):  # every write lands: the server reads on after its error
            await async_write_event(CHUNK, writer)
        answer = await async_read_event(reader)
        end = await async_read_event(reader)
        still_open = not refused.done()  # the server waits for the client to hang up
        writer.close()
        await refused
        server.close()
        await server.wait_closed()
        return Error.from_event(answer), end, still_open

    error, end, still_open = asyncio.run(scenario())
    assert error.code == "invalid_value" and "audio-stop outside audio" in error.text
    assert end is None and still_open
