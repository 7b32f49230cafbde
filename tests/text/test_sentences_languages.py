"""Sentence splitting in each script the Orpheus fine-tunes speak: cases a reader of that
language would cut the same way, emotion tags intact, nothing lost, streaming equal to one shot."""

import pytest

from coordinator.orpheus.layout import EMOTION_TAGS
from coordinator.text.sentences import (
    SentenceBuffer,
    joiner,
    max_utterance_chars,
    split_sentences,
    utterances,
)


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("zh", "你好。今天天气很好！你去哪里？", ["你好。", "今天天气很好！", "你去哪里？"]),
        ("zh", "他说：“走吧。”然后走了。", ["他说：“走吧。”", "然后走了。"]),
        ("zh", "真的吗？！太好了<laugh>。", ["真的吗？！", "太好了<laugh>。"]),
        (
            "ja",
            "こんにちは。元気ですか？「はい。」よかった！",
            ["こんにちは。", "元気ですか？", "「はい。」", "よかった！"],
        ),
        ("hi", "नमस्ते। आप कैसे हैं? मैं ठीक हूँ।", ["नमस्ते।", "आप कैसे हैं?", "मैं ठीक हूँ।"]),
        ("hi", "यह अच्छा है॥ <sigh> चलो।", ["यह अच्छा है॥", "<sigh> चलो।"]),
        ("ko", "안녕하세요. 잘 지내세요? 네, 좋아요!", ["안녕하세요.", "잘 지내세요?", "네, 좋아요!"]),
        ("ko", "회의는 2024. 3. 1.에 열려요. 좋아요.", ["회의는 2024. 3. 1.에 열려요.", "좋아요."]),
        ("ko", "날짜: 2024. 3. 1 입니다. 네.", ["날짜: 2024. 3. 1 입니다.", "네."]),
        ("es", "Hola. ¿Cómo estás? ¡Muy bien!", ["Hola.", "¿Cómo estás?", "¡Muy bien!"]),
        (
            "es",
            "Dijo ¡qué bien! y se fue. El Sr. Pérez llegó.",
            ["Dijo ¡qué bien! y se fue.", "El Sr. Pérez llegó."],
        ),
        ("es", "La Dra. Ruiz y Ud. vinieron. Sí.", ["La Dra. Ruiz y Ud. vinieron.", "Sí."]),
        (
            "fr",
            "M. Dupont et Mme Martin sont là. Bonjour !",
            ["M. Dupont et Mme Martin sont là.", "Bonjour !"],
        ),
        (
            "de",
            "Wir kommen am 3. Oktober, z.B. mit Dr. Weber. Gut.",
            ["Wir kommen am 3. Oktober, z.B. mit Dr. Weber.", "Gut."],
        ),
        ("de", "Das kostet ca. 5 Euro bzw. mehr. Ja.", ["Das kostet ca. 5 Euro bzw. mehr.", "Ja."]),
        (
            "it",
            "Il Sig. Rossi e il Dott. Bianchi, ecc. sono qui. Ciao.",
            ["Il Sig. Rossi e il Dott. Bianchi, ecc. sono qui.", "Ciao."],
        ),
    ],
)
def test_each_language_splits_where_its_reader_would(language, text, expected):
    assert split_sentences(text, language) == expected


def test_english_rules_stay_the_default():
    assert split_sentences("Dr. Smith left. Then he came back.") == ["Dr. Smith left.", "Then he came back."]
    # A German ordinal is a number at a sentence's end in English.
    assert split_sentences("We met on the 3. Then we left.") == ["We met on the 3.", "Then we left."]


@pytest.mark.parametrize("language", ["zh", "ja"])
def test_unspaced_scripts_join_without_spaces_and_cut_between_characters(language):
    text = "这是一个很长的句子" * 30 + "。" + "<laugh>好的。"
    pieces = utterances(text, language=language)
    assert "".join(pieces) == text
    assert all(len(piece) <= max_utterance_chars(language) for piece in pieces)
    assert joiner(language) == ""
    assert sum(piece.count("<laugh>") for piece in pieces) == 1


def test_chinese_clause_punctuation_is_preferred_for_cuts():
    text = "第一部分很长，" * 12 + "结束。"
    pieces = utterances(text, max_chars=30, language="zh")
    assert all(piece.endswith("，") or piece.endswith("。") for piece in pieces)
    assert "".join(pieces) == text


def test_languages_have_their_own_utterance_length():
    assert max_utterance_chars("zh") < max_utterance_chars("ko") < max_utterance_chars("en")
    assert max_utterance_chars("fr") == max_utterance_chars("en")


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("zh", "你好。」他说：“走吧。”<laugh>然后呢？！我们走了。"),
        ("hi", "नमस्ते। <sigh> आप कैसे हैं? ठीक।"),
        ("es", "¿Vienes? dijo ella. ¡Claro! Sr. Gómez, ¿y usted?"),
        ("de", "Am 3. Oktober kam er. Dann ging er am 12. November."),
        ("ko", "오늘은 2024. 3. 1. 입니다. 좋아요? 네!"),
    ],
)
def test_streamed_splitting_equals_one_shot_in_every_script(language, text):
    expected = split_sentences(text, language)
    for step in (1, 2, 3, 5):
        buffer = SentenceBuffer(language)
        streamed = [s for i in range(0, len(text), step) for s in buffer.feed(text[i : i + step])]
        assert streamed + buffer.flush() == expected


@pytest.mark.parametrize("language", ["zh", "ja", "hi", "ko", "es", "fr", "de", "it", "en"])
def test_emotion_tags_stay_whole_in_every_language(language):
    sample = {"zh": "好的。", "ja": "はい。", "hi": "ठीक है।", "ko": "좋아요."}.get(language, "Bien.")
    text = "".join(
        f"{sample}{tag}" if language in ("zh", "ja") else f"{sample} {tag} " for tag in EMOTION_TAGS
    )
    for pieces in (split_sentences(text, language), utterances(text, max_chars=12, language=language)):
        joined = joiner(language).join(pieces)
        for tag in EMOTION_TAGS:
            assert joined.count(tag) == text.count(tag)
            assert sum(piece.count(tag) for piece in pieces) == text.count(tag)
