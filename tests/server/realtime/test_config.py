"""The Realtime session's settings: both shapes clients send, what is refused and why, and the
session object written back in the client's dialect. Pure: no models."""

from __future__ import annotations

import pytest

from coordinator.errors import InvalidInputError
from coordinator.server.realtime.config import (
    SessionConfig,
    TurnDetection,
    parse_session,
    session_object,
    updated,
)


def _update(raw, config=None):
    return updated(config or SessionConfig(), parse_session(raw))


def test_a_ga_update_sets_voice_instructions_turn_detection_transcription_and_tokens():
    config = _update(
        {
            "type": "realtime",
            "instructions": "Be brief.",
            "output_modalities": ["audio"],
            "max_output_tokens": 64,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {"model": "whisper-1", "language": "en"},
                    "turn_detection": {"type": "server_vad", "threshold": 0.6, "silence_duration_ms": 300},
                },
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "tara", "speed": 1.0},
            },
            "tracing": "auto",  # accepted and ignored, as clients send it
        }
    )
    assert config.voice == "tara" and config.instructions == "Be brief." and config.max_output_tokens == 64
    assert config.turn_detection == TurnDetection(threshold=0.6, silence_duration_ms=300)
    assert config.transcription is not None and config.transcription.language == "en"


def test_a_beta_update_sets_the_same_settings_from_its_flat_shape():
    config = _update(
        {
            "modalities": ["audio", "text"],
            "voice": "alloy",
            "input_audio_format": "pcm16",
            "output_audio_format": "pcm16",
            "input_audio_transcription": {"model": "whisper-1"},
            "turn_detection": {"type": "server_vad", "prefix_padding_ms": 200, "create_response": False},
            "temperature": 0.8,
            "max_response_output_tokens": "inf",
        }
    )
    assert config.voice == "alloy" and config.modalities == ("audio",) and config.temperature == 0.8
    assert config.turn_detection == TurnDetection(prefix_padding_ms=200, create_response=False)
    assert config.max_output_tokens is None and config.transcription is not None


def test_null_turn_detection_means_manual_commits_and_null_transcription_turns_it_off():
    config = _update({"turn_detection": None, "input_audio_transcription": None})
    assert config.turn_detection is None and config.transcription is None
    again = _update({"audio": {"input": {"turn_detection": {"type": "server_vad"}}}}, config)
    assert again.turn_detection == TurnDetection()
    # Fields an update does not name stay as they were.
    assert _update({"instructions": "x"}, config).turn_detection is None


@pytest.mark.parametrize(
    ("raw", "param", "words"),
    [
        ({"tools": [{"type": "function", "name": "f"}]}, "session.tools", "no tool calling"),
        ({"input_audio_format": "g711_ulaw"}, "session.input_audio_format", "pcm16"),
        (
            {"audio": {"output": {"format": {"type": "audio/pcm", "rate": 16000}}}},
            "session.audio.output.format",
            "24000",
        ),
        ({"turn_detection": {"type": "server_vad", "threshold": 2}}, "session.turn_detection.threshold", "1"),
        ({"temperature": 9}, "session.temperature", "2"),
        ({"max_output_tokens": 0}, "session.max_output_tokens", "1"),
        ("not an object", "session", "object"),
    ],
)
def test_what_this_server_cannot_do_is_refused_naming_the_field_and_the_fix(raw, param, words):
    with pytest.raises(InvalidInputError) as info:
        _update(raw)
    assert info.value.param == param and words in info.value.message


def test_the_session_is_written_back_in_the_clients_dialect():
    config = SessionConfig(voice="tara", instructions="Hi")
    ga = session_object(config, session_id="sess_1", model="m", beta=False)
    assert ga["type"] == "realtime" and ga["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "tara",
        "speed": 1.0,
    }
    assert ga["audio"]["input"]["turn_detection"]["type"] == "server_vad" and ga["tools"] == []
    beta = session_object(config, session_id="sess_1", model="m", beta=True)
    assert (
        beta["voice"] == "tara"
        and beta["input_audio_format"] == "pcm16"
        and beta["turn_detection"]["threshold"] == 0.5
    )
    transcription = session_object(SessionConfig(kind="transcription"), session_id="s", model="m", beta=False)
    assert transcription["type"] == "transcription" and "output" not in transcription["audio"]


def test_semantic_vad_is_served_by_the_server_vad_its_eagerness_read_as_the_pause_that_ends_a_turn():
    eager = _update({"audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}}})
    patient = _update({"turn_detection": {"type": "semantic_vad", "eagerness": "low"}})
    assert eager.turn_detection is not None and patient.turn_detection is not None
    assert eager.turn_detection.silence_duration_ms < patient.turn_detection.silence_duration_ms
    shown = session_object(eager, session_id="s", model="m", beta=False)["audio"]["input"]["turn_detection"]
    assert shown["type"] == "server_vad"  # what the session really does
