import numpy as np
import pytest

from coordinator.audio.tempo import TempoFilter, atempo_stages

RATE = 24000


@pytest.mark.parametrize("speed", [0.25, 0.5, 0.8, 1.25, 2.0, 3.0, 4.0])
def test_stages_stay_in_atempos_best_range_and_multiply_to_the_speed(speed):
    stages = atempo_stages(speed)
    assert all(0.5 <= s <= 2.0 for s in stages)
    assert np.prod(stages) == pytest.approx(speed)


@pytest.mark.parametrize("speed", [0.25, 0.5, 1.5, 4.0])
def test_duration_scales_by_one_over_speed_and_pitch_is_kept(speed):
    seconds = 2.0
    t = np.arange(int(seconds * RATE)) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    stretcher = TempoFilter(speed)
    parts = [stretcher.process(tone[i : i + 2048]) for i in range(0, len(tone), 2048)]
    out = np.concatenate([*parts, stretcher.flush()])
    assert len(out) == pytest.approx(len(tone) / speed, rel=0.03)
    spectrum = np.abs(np.fft.rfft(out[len(out) // 4 : 3 * len(out) // 4]))
    peak_hz = np.argmax(spectrum) * RATE / (len(out) // 2)
    assert peak_hz == pytest.approx(440, rel=0.02)
