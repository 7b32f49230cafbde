"""Where a response reads and writes: ``conversation`` auto or none, its own ``input`` (new
messages and references to the conversation's items), ``metadata``; and an item's audio, bounded
and checked before it is heard."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from coordinator.errors import InvalidInputError
from coordinator.server.realtime.config import AUDIO_RATE
from coordinator.server.realtime.input_audio import MAX_BUFFER_S, decode_item_audio
from coordinator.server.realtime.items import Conversation, Item
from coordinator.server.realtime.target import MAX_METADATA_PAIRS, response_target
from coordinator.stt.transcript import SAMPLE_RATE as STT_RATE

PARAM = "item.content[0].audio"


def _conversation() -> Conversation:
    conversation = Conversation()
    conversation.add(Item(id="said", role="user", content_type="input_text", text="Hello there."))
    return conversation


def _message(text: str) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def test_a_response_writes_to_the_conversation_unless_told_none():
    conversation = _conversation()
    assert not response_target(None, conversation).out_of_band
    assert not response_target({"conversation": "auto"}, conversation).out_of_band
    target = response_target({"conversation": "none", "metadata": {"topic": "mood"}}, conversation)
    assert target.out_of_band and target.context is None and target.metadata == {"topic": "mood"}


def test_a_responses_input_is_its_own_context_of_new_items_and_references():
    conversation = _conversation()
    raw = {"input": [{"type": "item_reference", "id": "said"}, _message("Is that a greeting?")]}
    context = response_target(raw, conversation).context
    assert (
        context is not None and context.history("", max_messages=4)[1] == "Hello there.\nIs that a greeting?"
    )
    assert len(conversation) == 1  # the conversation itself is untouched
    empty = response_target({"input": []}, conversation).context  # OpenAI's: [] clears the context
    assert empty is not None and len(empty) == 0


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        ({"conversation": "conv_1"}, "response.conversation"),
        ({"input": "said"}, "response.input"),
        ({"input": [{"type": "item_reference", "id": "nope"}]}, "response.input[0].id"),
        (
            {
                "input": [
                    {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "AAAA"}]}
                ]
            },
            "response.input[0].content",
        ),
        ({"metadata": {"k": 1}}, "response.metadata"),
        ({"metadata": {str(n): "v" for n in range(MAX_METADATA_PAIRS + 1)}}, "response.metadata"),
    ],
)
def test_targets_this_server_cannot_serve_are_refused_naming_the_field(raw, param):
    with pytest.raises(InvalidInputError) as info:
        response_target(raw, _conversation())
    assert info.value.param == param


def test_an_items_audio_is_heard_at_the_recognisers_rate():
    second = np.zeros(AUDIO_RATE, np.float32)
    samples = decode_item_audio(base64.b64encode(second.astype("<i2").tobytes()).decode(), PARAM)
    assert abs(samples.size - STT_RATE) <= STT_RATE // 100  # the resampler's delay at most


@pytest.mark.parametrize(
    ("audio", "code"),
    [
        ("not base64!", "invalid_value"),
        (base64.b64encode(b"\x00\x00\x00").decode(), "invalid_value"),  # half a sample
        (base64.b64encode(bytes(2 * AUDIO_RATE // 20)).decode(), "input_audio_buffer_commit_empty"),
    ],
)
def test_malformed_or_too_short_audio_is_refused_naming_the_part(audio, code):
    with pytest.raises(InvalidInputError) as info:
        decode_item_audio(audio, PARAM)
    assert (info.value.param, info.value.code) == (PARAM, code)


def test_audio_longer_than_the_buffer_is_refused_before_it_is_decoded():
    too_long = "A" * (int(MAX_BUFFER_S * AUDIO_RATE) * 2 * 4 // 3 + 8)  # valid base64, 30 s and more
    with pytest.raises(InvalidInputError) as info:
        decode_item_audio(too_long, PARAM)
    assert info.value.code == "input_audio_buffer_full" and f"{MAX_BUFFER_S:g} s" in info.value.message
