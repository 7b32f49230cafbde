import numpy as np
import pytest
import soundfile as sf

from coordinator.audio.files import load_codes, open_wav, save_codes
from coordinator.errors import InvalidCodesError, InvalidInputError


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir())


def test_wav_is_24khz_mono_16bit_and_holds_every_sample(tmp_path):
    out = tmp_path / "a.wav"
    with open_wav(out) as wav:
        wav.write(np.linspace(-1, 1, 2048, dtype=np.float32))
        wav.write(np.zeros(4096, dtype=np.float32))
    info = sf.info(out)
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (24000, 1, "PCM_16", 6144)
    data, _ = sf.read(out, dtype="int16")
    assert data[0] == -32767 and data[2047] == 32767


def test_a_failure_mid_write_leaves_no_file_and_no_temp(tmp_path):
    out = tmp_path / "a.wav"
    with pytest.raises(KeyboardInterrupt), open_wav(out) as wav:
        wav.write(np.zeros(2048, dtype=np.float32))
        raise KeyboardInterrupt
    assert _leftovers(tmp_path) == []


def test_a_failed_write_keeps_the_previous_file_intact(tmp_path):
    out = tmp_path / "a.wav"
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError), open_wav(out):
        raise RuntimeError("boom")
    assert out.read_bytes() == b"old" and _leftovers(tmp_path) == ["a.wav"]


def test_writing_into_a_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"), open_wav(tmp_path / "no" / "a.wav"):
        pass


def test_codes_round_trip_through_npz(tmp_path):
    frames = np.random.default_rng(0).integers(0, 4096, size=(5, 7))
    frames[0, 0], frames[4, 6] = 0, 4095
    save_codes(tmp_path / "c.npz", frames)
    with np.load(tmp_path / "c.npz") as data:
        assert {k: data[k].shape for k in data.files} == {"c0": (5,), "c1": (10,), "c2": (20,)}
    assert load_codes(tmp_path / "c.npz").tolist() == frames.tolist()


def test_codes_file_with_wrong_keys_names_them(tmp_path):
    np.savez(tmp_path / "c.npz", a=np.zeros(1, dtype=int))
    with pytest.raises(InvalidCodesError, match="lacks c0, c1, c2.*found: a"):
        load_codes(tmp_path / "c.npz")


def test_codes_file_out_of_range_is_refused(tmp_path):
    np.savez(tmp_path / "c.npz", c0=np.array([1]), c1=np.array([1, 2]), c2=np.array([1, 2, 3, 5000]))
    with pytest.raises(InvalidCodesError, match=r"c2\[3\] = 5000"):
        load_codes(tmp_path / "c.npz")


def test_corrupt_or_missing_codes_file_is_refused(tmp_path):
    (tmp_path / "c.npz").write_bytes(b"not a zip")
    with pytest.raises(InvalidCodesError, match="not a valid .npz"):
        load_codes(tmp_path / "c.npz")
    with pytest.raises(InvalidCodesError, match="not found"):
        load_codes(tmp_path / "missing.npz")
