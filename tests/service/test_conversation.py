"""A conversation turn without any door: the reply's cap and sampling, the user's text held to
MAX_INPUT_CHARS, the chat model's reply, and the reply spoken under the door's metrics label."""

import asyncio

import pytest

from coordinator.engine.sampling import CHAT_TEMPERATURE, CHAT_TOP_P
from coordinator.errors import InvalidInputError
from coordinator.llm.chat import ChatMessage
from coordinator.service.conversation import REPLY_MAX_TOKENS, Conversation
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics
from coordinator.service.speech import Speaker
from tests.server.checks import wait_until_free

REPLY_TOKENS = 12


def limits(**overrides):
    values = {"max_input_chars": 4096, "max_completion_tokens": 4096, "max_history_messages": 20}
    return RequestLimits(**(values | overrides))


def conversation(runtime, metrics=None, **overrides) -> Conversation:
    chosen = limits(**overrides)
    return Conversation(runtime, chosen, Speaker(runtime, chosen, metrics or Metrics(lambda: runtime)))


@pytest.fixture(autouse=True)
def ends_free(runtime):
    yield
    wait_until_free(runtime)  # every generation ended, however the test ended it


def test_the_reply_is_capped_by_the_server_and_sampled_as_a_spoken_reply(runtime):
    params = conversation(runtime).reply_params(max_tokens=None, seed=5)
    assert (params.max_tokens, params.temperature, params.top_p, params.seed) == (
        REPLY_MAX_TOKENS,
        CHAT_TEMPERATURE,
        CHAT_TOP_P,
        5,
    )
    # Under a lower cap the default shrinks to it; a request above the cap is refused, naming it.
    capped = conversation(runtime, max_completion_tokens=100)
    assert capped.reply_params(max_tokens=None).max_tokens == 100
    with pytest.raises(InvalidInputError, match="MAX_COMPLETION_TOKENS") as refused:
        capped.reply_params(max_tokens=101)
    assert refused.value.param == "max_tokens"


def test_what_the_user_said_and_the_history_are_held_to_the_request_limits(runtime):
    turn = conversation(runtime, max_input_chars=10, max_history_messages=1)
    params = turn.reply_params(max_tokens=REPLY_TOKENS)
    with pytest.raises(InvalidInputError, match="MAX_INPUT_CHARS") as refused:
        turn.reply([], "far more than ten characters", params, param="audio")
    assert refused.value.param == "audio"
    history = [ChatMessage("user", "hi"), ChatMessage("assistant", "hello")]
    with pytest.raises(InvalidInputError, match="MAX_HISTORY_MESSAGES"):
        turn.check_history(history)


def test_a_turn_is_answered_and_the_answer_spoken_under_the_doors_label(runtime):
    metrics = Metrics(lambda: runtime)
    turn = conversation(runtime, metrics)

    async def scenario() -> tuple[str, int]:
        reply = turn.reply([], "Hello.", turn.reply_params(max_tokens=REPLY_TOKENS, seed=1), param="message")
        written: list[str] = []

        async def deltas():
            async for delta in reply.deltas():
                written.append(delta)
                yield delta

        speech = turn.speak(deltas(), None, door="chat", seed=1)
        samples = sum([len(chunk) async for chunk in speech.chunks()])
        return "".join(written), samples

    text, samples = asyncio.run(scenario())
    assert text.strip(), "the chat model wrote nothing"
    sample = metrics.registry.get_sample_value
    utterances = sample("orpheus_speech_utterances_total", {"endpoint": "chat", "finish_reason": "stop"}) or 0
    utterances += (
        sample("orpheus_speech_utterances_total", {"endpoint": "chat", "finish_reason": "length"}) or 0
    )
    if samples:
        assert sample("orpheus_speech_time_to_first_audio_seconds_count", {"endpoint": "chat"}) == 1
    assert utterances >= 1  # the reply was spoken, and counted under /chat's label
