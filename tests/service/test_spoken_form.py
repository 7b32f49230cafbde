"""The spoken form under the speaking service: made before the sentence splitter and the
per-utterance length cap, per the voice's language, a chat reply's markdown made for the ear, the
map from every utterance back to what was written, and normalize: false (per request, or the
server's NORMALIZE_TEXT) speaking the text as written.

The language normalisers are another part of issue 25 (coordinator/normalize/api.py, verbatim
until they land): where a test needs the spoken form to differ from the written one, it stands
in a small digit reader for ``spoken_form`` (built with the same span map), and watches what
reaches the speech model at its boundary (``OrpheusTTS.utterance_request``)."""

import asyncio
import re

import pytest

from coordinator.normalize.spans import Spoken, SpokenBuilder
from coordinator.service import sentences
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics
from coordinator.service.speech import Sampling, Speaker
from coordinator.text.sentences import MAX_UTTERANCE_CHARS
from tests.server.checks import wait_until_free

TIMEOUT_S = 60
SHORT = Sampling(max_tokens=14, seed=0)
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
# Short written, long spoken: 60 digits are read as 60 words, over one utterance's 250 characters.
PHONE_BOOK = "Call " + "5551234567" * 6 + "."


def limits(**overrides):
    values = {"max_input_chars": 4096, "max_completion_tokens": 4096, "max_history_messages": 20}
    return RequestLimits(**(values | overrides))


@pytest.fixture(autouse=True)
def ends_free(runtime):
    wait_until_free(runtime)
    yield
    wait_until_free(runtime)


@pytest.fixture
def languages(monkeypatch) -> list[str]:
    """Stands a digit reader in for the language normalisers; returns the languages it was asked for."""
    asked: list[str] = []

    def read_digits(text: str, language: str) -> Spoken:
        asked.append(language)
        builder, at = SpokenBuilder(text), 0
        for digits in re.finditer(r"[0-9]+", text):
            builder.keep(at, digits.start())
            builder.replace(
                digits.start(), digits.end(), " ".join(DIGIT_WORDS[int(d)] for d in digits.group())
            )
            at = digits.end()
        builder.keep(at, len(text))
        return builder.build()

    monkeypatch.setattr(sentences, "spoken_form", read_digits)
    return asked


@pytest.fixture
def given(runtime, monkeypatch) -> list[str]:
    """What each utterance request gives the speech model (its length cap is set from this text)."""
    texts: list[str] = []
    original = type(runtime.tts).utterance_request

    def spy(self, text, voice, params=None):
        texts.append(text)
        return original(self, text, voice, params)

    monkeypatch.setattr(type(runtime.tts), "utterance_request", spy)
    return texts


def speaker(runtime, **overrides) -> Speaker:
    return Speaker(runtime, limits(**overrides), Metrics(lambda: runtime))


def run(main):
    return asyncio.run(asyncio.wait_for(main(), TIMEOUT_S))


async def listen(speech):
    return [chunk async for chunk in speech.chunks()]


async def pieces(*texts: str):
    for text in texts:
        yield text


def test_the_splitter_and_the_length_cap_see_the_spoken_form(runtime, languages, given):
    async def main():
        speech = speaker(runtime).speak(PHONE_BOOK, "tara", door="speech", sampling=SHORT)
        await listen(speech)
        return speech

    speech = run(main)
    assert len(PHONE_BOOK) < MAX_UTTERANCE_CHARS
    # Read out, the number is two utterances, each given (and capped) as words.
    assert len(speech.utterances) == 2 and given == speech.utterances
    assert all("5" not in text and "five" in text for text in given)
    assert languages == ["en"]
    # Each utterance maps back to the characters written: a word inside the number to all of it.
    number = PHONE_BOOK.index("5")
    assert speech.original_ranges == [(0, len(PHONE_BOOK) - 1), (number, len(PHONE_BOOK))]


def test_the_voices_language_is_the_one_read_in(runtime, languages, monkeypatch):
    # This rig loads one model; a voice of it is given French, as a French model's voices are.
    monkeypatch.setitem(runtime.tts.voice_languages, "tara", "fr")

    async def main():
        await listen(speaker(runtime).speak("Il est 9 heures.", "tara", door="speech", sampling=SHORT))
        deltas = pieces("Il est **9** heures. ", "Bonne nuit.")
        await listen(
            speaker(runtime).speak_stream(deltas, "tara", door="chat", markdown=True, sampling=SHORT)
        )

    run(main)
    assert languages == ["fr", "fr", "fr"]


@pytest.mark.parametrize("where", ["request", "server"])
def test_normalize_off_speaks_the_text_as_written(runtime, languages, given, where):
    chosen = speaker(runtime, normalize_text=where != "server")

    async def main():
        speech = chosen.speak(
            "Call 555 <laugh> now.", "tara", door="speech", sampling=SHORT, normalize=where != "request"
        )
        await listen(speech)
        return speech

    speech = run(main)
    assert given == ["Call 555 <laugh> now."] and languages == []
    assert speech.original_ranges == [(0, len("Call 555 <laugh> now."))]


def test_a_text_with_nothing_to_say_aloud_is_refused_naming_the_way_out(runtime, monkeypatch):
    monkeypatch.setattr(
        sentences, "spoken_form", lambda text, language: Spoken(text="", original=text, spans=())
    )
    from coordinator.errors import InvalidInputError

    async def main():
        speaker(runtime).speak("🙂", "tara", door="speech", sampling=SHORT)

    with pytest.raises(InvalidInputError, match="normalize: false"):
        run(main)


REPLY = (
    "Sure! Here are **2 tips**:\n\n1. **Sleep** at 10 pm\n2. Drink <laugh> water\n\n"
    "```python\nprint(42)\n```\n\nSee [the guide](https://example.com/sleep_tips)."
)


def test_a_chat_reply_is_spoken_for_the_ear_and_maps_back_to_the_models_text(runtime, languages, given):
    async def main():
        # The reply arrives in pieces, a code fence opening in one and closing in a later one.
        cuts = [0, 7, 19, 30, 44, 61, 70, 79, 95, 104, len(REPLY)]
        deltas = pieces(*(REPLY[a:b] for a, b in zip(cuts, cuts[1:])))
        speech = speaker(runtime).speak_stream(deltas, "tara", door="chat", markdown=True, sampling=SHORT)
        await listen(speech)
        return speech

    speech = run(main)
    said = " ".join(given)
    for markup in ("**", "```", "print", "https", "](", "1."):
        assert markup not in said, (markup, said)
    assert "<laugh>" in said and "two tips" in said and "one, Sleep at one zero pm." in said
    assert "Code omitted." in said and "See the guide." in said
    for utterance in speech.spoken:  # the reply as written so far when the utterance was made
        assert REPLY.startswith(utterance.original)
    start, end = speech.original_ranges[-1]
    assert REPLY[start:end].startswith("See [the guide]")
    tips = speech.spoken[1]
    word = tips.text.index("two")
    start, end = tips.original_range(word, word + 3)
    assert REPLY[start:end] == "2"


def test_a_client_streamed_text_is_not_read_as_markdown(runtime, given):
    async def main():
        speech = speaker(runtime).speak_stream(
            pieces("Item **one**", " is #1."), "tara", door="wyoming", sampling=SHORT
        )
        await listen(speech)

    run(main)
    assert given == ["Item **one** is number one."]  # markers kept; the language rules still read "#1"


def test_a_chat_reply_with_normalize_off_is_spoken_as_written(runtime, languages, given):
    async def main():
        speech = speaker(runtime).speak_stream(
            pieces("**Hi** there. ", "Bye 2."),
            "tara",
            door="chat",
            markdown=True,
            normalize=False,
            sampling=SHORT,
        )
        await listen(speech)

    run(main)
    assert given == ["**Hi** there.", "Bye 2."] and languages == []
