"""The Realtime conversation: items as clients send them, their bound, the chat model's view of
them, and truncation to what was heard. Pure: no models."""

from __future__ import annotations

import pytest

from coordinator.errors import InvalidInputError
from coordinator.llm.chat import ChatMessage
from coordinator.server.realtime.items import Conversation, Item, cut_to_heard, item_audio, item_from_client


def _text(role: str, text: str, kind: str = "input_text") -> dict:
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}


def test_items_are_read_as_alternating_turns_with_the_instructions_and_system_items_first():
    conversation = Conversation()
    for raw in (
        _text("system", "Speak French."),
        _text("user", "Hi."),
        _text("user", "Are you there?"),  # two user turns in a row: joined (Gemma alternates)
        _text("assistant", "Yes.", "output_text"),
        _text("user", "Good."),
    ):
        conversation.add(item_from_client(raw))
    history, said = conversation.history("Be brief.", max_messages=10)
    assert history == [
        ChatMessage("system", "Be brief.\nSpeak French."),
        ChatMessage("user", "Hi.\nAre you there?"),
        ChatMessage("assistant", "Yes."),
    ]
    assert said == "Good."
    # A cap on the earlier turns keeps the latest, from a user turn on; the system items stay.
    history, _ = conversation.history("", max_messages=1)
    assert history == [ChatMessage("system", "Speak French.")]


def test_a_response_with_no_user_turn_to_answer_is_refused():
    conversation = Conversation()
    conversation.add(item_from_client(_text("assistant", "Hello!", "text")))
    with pytest.raises(InvalidInputError) as info:
        conversation.history("", max_messages=10)
    assert info.value.code == "conversation_empty"


def test_with_nothing_said_yet_the_instructions_are_what_is_answered():
    """OpenAI's model speaks first when asked before the user has (a greeting, following the
    instructions); Pipecat asks so at its start and takes a refusal as fatal."""
    conversation = Conversation()
    conversation.add(item_from_client(_text("system", "Greet the user.", "input_text")))
    assert conversation.history("Be brief.", max_messages=10) == ([], "Be brief.\nGreet the user.")
    # Without instructions there is nothing to answer.
    with pytest.raises(InvalidInputError) as info:
        Conversation().history("  ", max_messages=10)
    assert info.value.code == "conversation_empty"


def test_the_conversation_holds_at_most_its_item_cap_dropping_the_oldest():
    conversation = Conversation(max_items=3)
    ids = [
        conversation.add(Item(id=f"item_{n}", role="user", content_type="input_text", text="x"))
        for n in range(5)
    ]
    assert ids[1:] == ["item_0", "item_1", "item_2", "item_3"] and len(conversation) == 3
    with pytest.raises(InvalidInputError):
        conversation.get("item_0")


def test_an_item_goes_after_the_one_named_and_ids_are_unique():
    conversation = Conversation()
    conversation.add(Item(id="a", role="user", content_type="input_text", text="1"))
    conversation.add(Item(id="c", role="user", content_type="input_text", text="3"))
    assert conversation.add(Item(id="b", role="user", content_type="input_text", text="2"), after="a") == "a"
    assert conversation.history("", max_messages=5)[1] == "1\n2\n3"
    conversation.add(Item(id="z", role="user", content_type="input_text", text="0"), after="root")
    assert conversation.history("", max_messages=5)[1] == "0\n1\n2\n3"
    with pytest.raises(InvalidInputError):
        conversation.add(Item(id="a", role="user", content_type="input_text", text="again"))
    with pytest.raises(InvalidInputError):
        conversation.add(Item(id="d", role="user", content_type="input_text", text="4"), after="nope")


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        ({"type": "function_call", "name": "f"}, "item.type"),
        ({"type": "message", "role": "tool", "content": []}, "item.role"),
        ({"type": "message", "role": "user", "content": []}, "item.content"),
        (_text("user", "x", "output_text"), "item.content[0].type"),
        (
            {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": 5}]},
            "item.content[0].audio",
        ),
        (
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio", "audio": "AAAA"}, {"type": "input_text", "text": "x"}],
            },
            "item.content",
        ),
        ("nope", "item"),
    ],
)
def test_items_this_server_cannot_read_are_refused_naming_the_field(raw, param):
    with pytest.raises(InvalidInputError) as info:
        item_from_client(raw)
    assert info.value.param == param


def test_items_are_written_in_each_dialect():
    item = Item(id="i", role="assistant", content_type="output_audio", text="Hello")
    assert item.wire(beta=False)["content"] == [{"type": "output_audio", "transcript": "Hello"}]
    assert item.wire(beta=True)["content"] == [{"type": "audio", "transcript": "Hello"}]


def test_a_spoken_text_is_cut_to_the_words_heard():
    text = "one two three four"
    assert cut_to_heard(text, 1000, 1000) == text
    assert cut_to_heard(text, 0, 1000) == ""
    assert cut_to_heard(text, 500, 1000) == "one two"  # half the characters, at a word's end
    assert cut_to_heard(text, 300, 1000) == "one"


def test_a_users_audio_item_waits_for_its_transcript_and_hands_its_audio_over():
    raw = {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "AAAA"}]}
    item = item_from_client(raw)
    assert (item.role, item.content_type, item.text) == ("user", "input_audio", None)
    assert item_audio(raw) == "AAAA"
    with_transcript = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": "Hi"}],
    }
    assert item_from_client(with_transcript).text == "Hi" and item_audio(with_transcript) is None
