"""benchmarks/voice_similarity.py, the GPU proof's voice-similarity step, without its weights: what
it computes (resampling, cosine, the verdict) and how it refuses what it cannot run."""

import numpy as np
import pytest

from benchmarks.voice_similarity import CARD_THRESHOLD, Verdict, cosine, parse, resample

RATE, TO_RATE = 24_000, 16_000
TONE_HZ = 440.0


def test_resampling_keeps_a_tones_pitch_length_and_level():
    t = np.arange(RATE) / RATE
    tone = (0.5 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    out = resample(tone, RATE, TO_RATE)
    assert out.size == TO_RATE and out.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * TO_RATE / out.size - TONE_HZ) < 1.0
    assert abs(float(np.sqrt(np.mean(out**2))) - 0.5 / np.sqrt(2)) < 0.01
    assert resample(tone, RATE, RATE) is tone


def test_cosine_is_one_for_the_same_direction_and_zero_for_nothing():
    a = np.array([1.0, 2.0, 3.0])
    assert cosine(a, 2 * a) == pytest.approx(1.0)
    assert cosine(a, -a) == pytest.approx(-1.0)
    assert cosine(a, np.zeros(3)) == 0.0


def test_the_verdict_is_relative_to_the_built_in_voice_and_reports_the_cards_threshold():
    closer = Verdict(cloned=[0.8, 0.9], built_in=[0.5, 0.6])
    assert closer.passed and closer.as_dict()["cloned_closer_than_built_in"] is True
    assert closer.as_dict()["card_threshold"] == CARD_THRESHOLD
    assert closer.as_dict()["cloned_above_card_threshold"] is False  # 0.85 < 0.86: reported, not judged
    assert not Verdict(cloned=[0.5], built_in=[0.7]).passed
    assert Verdict(cloned=[0.5], built_in=None).passed  # no baseline: measured, nothing to compare


def test_missing_weights_and_unpaired_transcripts_are_refused_by_name(tmp_path, capsys):
    present = tmp_path / "here"
    present.mkdir()
    base = [
        "--pretrained",
        str(tmp_path / "pt.gguf"),
        "--snac",
        str(present),
        "--speaker-model",
        str(present),
    ]
    with pytest.raises(SystemExit) as exit_info:
        parse([*base, "--reference", str(present), "--transcript", "hello"])
    assert exit_info.value.code == 2 and f"not found: {tmp_path / 'pt.gguf'}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse([*base, "--reference", str(present), "--reference", str(present), "--transcript", "one"])
    assert "one --transcript per --reference" in capsys.readouterr().err
