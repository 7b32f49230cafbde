"""Which model names mean the served recogniser: OpenAI's, present and future, and its own id."""

from __future__ import annotations

import pytest

from coordinator.stt.model_names import names_the_recogniser

SERVED = "whisper-small"


@pytest.mark.parametrize(
    ("requested", "accepted"),
    [
        # Unset, as Open WebUI sends it by default, and the id /v1/models lists.
        ("", True),
        ("  ", True),
        ("whisper-small", True),
        ("WHISPER-SMALL", True),
        # OpenAI's and the hosted Whispers' names, any version.
        ("whisper-1", True),
        ("Whisper-1", True),
        ("whisper", True),
        ("whisper-large-v3", True),
        ("whisper-large-v3-turbo", True),
        ("openai/whisper-large-v3", True),
        ("Systran/faster-whisper-small", True),
        ("distil-whisper-large-v3", True),
        # OpenAI's gpt transcription names, present and future.
        ("gpt-4o-transcribe", True),
        ("gpt-4o-mini-transcribe", True),
        ("gpt-4o-mini-transcribe-2025-12-15", True),
        ("gpt-4o-transcribe-diarize", True),
        ("gpt-transcribe", True),  # pipecat 1.14's default
        ("gpt-5-transcribe", True),
        ("openai/gpt-4o-transcribe", True),
        # Anything else names a model this server does not have.
        ("tts-1", False),
        ("gpt-4o-mini-tts", False),
        ("gpt-4o", False),
        ("gpt-4o-realtime-preview", False),
        ("orpheus-3b-ft", False),
        ("large-v3", False),
        ("transcribe", False),
        ("my-gpt-transcribe", False),
        ("nova-3", False),
    ],
)
def test_openai_transcription_names_and_the_served_id_mean_the_recogniser(requested, accepted):
    assert names_the_recogniser(requested, SERVED) is accepted
