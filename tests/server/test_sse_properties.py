"""SSE encoding over any payload: never raises, one frame per event, parses back to the payload."""

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from sse_starlette.sse import ServerSentEvent

from coordinator.server.streaming import SSE_DONE, sse_event

PROPERTY = settings(derandomize=True, max_examples=300, deadline=None)

# Any text, line breaks of every kind (\r, \n, \u2028, \x85) and lone surrogates included.
any_text = st.text(st.characters(codec=None), max_size=40) | st.sampled_from(
    ["\n", "\r", "\r\n", "\n\ndata: x\n\n", "\u2028", "\x85", "\ud800", "data:"]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
payloads = st.dictionaries(any_text, json_values, max_size=5)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _parse_one_event(wire: bytes) -> str:
    """The data of the single event in ``wire``, read as a client does (WHATWG SSE parsing)."""
    text = wire.decode("utf-8")
    assert text.endswith("\r\n\r\n") or text.endswith("\n\n") or text.endswith("\r\r")
    events = [e for e in re.split(r"(?:\r\n|\r|\n){2}", text) if e]
    assert len(events) == 1, events
    data = []
    for line in _LINE_BREAK.split(events[0]):
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value.removeprefix(" "))
    return "\n".join(data)


@PROPERTY
@given(payload=payloads)
def test_any_payload_is_one_event_that_parses_back_to_it(payload):
    wire = ServerSentEvent(**sse_event(payload)).encode()
    data = _parse_one_event(wire)
    assert "\n" not in data and "\r" not in data  # one data line: nothing can break the frame
    assert json.loads(data) == payload


def test_the_done_marker_is_one_event():
    assert _parse_one_event(ServerSentEvent(data=SSE_DONE).encode()) == SSE_DONE
