"""`python -m coordinator synth/decode`: real models, real files, clear one-line errors."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from coordinator.audio.files import WavWriter
from coordinator.audio.format import SAMPLES_PER_FRAME
from coordinator.cli import EXIT_ERROR, EXIT_INTERRUPTED, main
from tests.conftest import REPO
from tests.rig.waiting import eventually


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _files(directory):
    return sorted(p.name for p in directory.iterdir())


def test_synth_writes_a_24khz_mono_16bit_wav_and_its_codes(cli_env, capsys):
    code, out, err = _run(
        capsys,
        "synth",
        "--text",
        "Hello there <laugh> nice to meet you.",
        "--voice",
        "tara",
        "--out",
        "hello.wav",
        "--seed",
        "1",
        "--max-tokens",
        "70",
        "--codes-out",
        "hello.npz",
    )
    assert code == 0, err
    info = sf.info(cli_env / "hello.wav")
    assert (info.samplerate, info.channels, info.subtype) == (24000, 1, "PCM_16")
    assert info.frames == 10 * SAMPLES_PER_FRAME
    with np.load(cli_env / "hello.npz") as codes:
        assert [codes[k].shape for k in ("c0", "c1", "c2")] == [(10,), (20,), (40,)]
    assert out.startswith("wrote hello.wav: 0.85 s audio, 10 frames, first audio ")
    assert "real-time factor" in out and out.count("\n") == 1
    assert "token limit reached: raise --max-tokens" in out
    assert _files(cli_env) == ["hello.npz", "hello.wav"]


def test_decode_turns_saved_codes_back_into_the_same_length_wav(cli_env, capsys):
    assert (
        _run(
            capsys, "synth", "--text", "Hi.", "--out", "a.wav", "--max-tokens", "49", "--codes-out", "a.npz"
        )[0]
        == 0
    )
    code, out, err = _run(capsys, "decode", "--codes", "a.npz", "--out", "b.wav")
    assert code == 0, err
    assert sf.info(cli_env / "b.wav").frames == sf.info(cli_env / "a.wav").frames == 7 * SAMPLES_PER_FRAME
    assert out == "wrote b.wav: 0.60 s audio, 7 frames\n"


def test_snac_out_of_memory_is_one_line_with_the_fix_and_writes_nothing(cli_env, capsys, monkeypatch):
    import torch

    from coordinator.audio.snac_codec import SnacCodec

    assert (
        _run(
            capsys, "synth", "--text", "Hi.", "--out", "a.wav", "--max-tokens", "49", "--codes-out", "a.npz"
        )[0]
        == 0
    )

    def out_of_memory(self, *args):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(SnacCodec, "_forward", out_of_memory)
    code, out, err = _run(capsys, "decode", "--codes", "a.npz", "--out", "b.wav")
    assert code != 0 and out == ""
    assert err.startswith("error: SNAC ran out of memory") and "SNAC_DEVICE=cpu" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (cli_env / "b.wav").exists()


def test_synth_runs_as_a_module_with_one_summary_line(cli_env):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "coordinator",
            "synth",
            "--text",
            "Hi.",
            "--out",
            "m.wav",
            "--max-tokens",
            "21",
        ],
        capture_output=True,
        text=True,
        cwd=cli_env,
        env={**_env(), "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("wrote m.wav: 0.26 s audio, 3 frames")
    assert result.stderr == ""  # llama.cpp's chatter goes to logging, not the terminal


def _env():
    import os

    # This host has no GPU: ask for none, so the default's "no GPU visible" warning (tested in
    # tests/engine/test_batch_engine.py) does not stand between the CLI and its one summary line.
    return {**os.environ, "N_GPU_LAYERS": "0"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--text", ""], "text is empty: give the words to speak"),
        (["--text", "  \t "], "text is empty"),
        (["--text", "hi", "--voice", "bob"], "unknown voice 'bob': choose one of tara, leah, jess"),
        (["--text", "y" * 4097], "over this server's limit of 4096 (MAX_INPUT_CHARS)"),
        (["--text", "hi", "--max-tokens", "0"], "max_tokens=0 is out of range"),
        (["--text", "hi", "--max-tokens", "5"], "cannot hold one audio frame"),
        (["--text", "hi", "--max-tokens", "9999"], "exceeds the context of 1024 tokens"),
        (["--text", "hi", "--temperature", "-1"], "temperature=-1.0 is out of range"),
    ],
)
def test_bad_synth_input_is_one_line_nonzero_and_writes_nothing(cli_env, capsys, args, message):
    code, out, err = _run(capsys, "synth", "--out", "x.wav", *args)
    assert code == EXIT_ERROR
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert "Traceback" not in err and out == ""
    assert _files(cli_env) == []


def test_a_missing_model_names_the_path_and_the_download_command(cli_env, capsys, monkeypatch):
    monkeypatch.delenv("ORPHEUS_MODEL_PATH")
    monkeypatch.setenv("MODELS_DIR", str(cli_env / "models"))
    code, _, err = _run(capsys, "synth", "--text", "hi", "--out", "x.wav")
    assert code == EXIT_ERROR
    assert (
        "Orpheus-3b-FT-Q8_0.gguf" in err and "scripts/download_models.py --only orpheus --quant Q8_0" in err
    )


def test_an_unknown_quantization_lists_the_valid_ones(cli_env, capsys, monkeypatch):
    monkeypatch.setenv("ORPHEUS_QUANT", "Q5")
    code, _, err = _run(capsys, "synth", "--text", "hi", "--out", "x.wav")
    assert code == EXIT_ERROR and "choose one of Q8_0, Q4_K_M, Q2_K" in err


def test_a_corrupt_gguf_is_one_clear_line(cli_env, capsys, monkeypatch):
    broken = cli_env / "broken.gguf"
    broken.write_bytes(b"GGUF\x03\x00\x00\x00garbage")
    monkeypatch.setenv("ORPHEUS_MODEL_PATH", str(broken))
    code, _, err = _run(capsys, "synth", "--text", "hi", "--out", "x.wav")
    assert code == EXIT_ERROR and "corrupt or truncated" in err and err.count("\n") == 1
    assert _files(cli_env) == ["broken.gguf"]


def test_a_model_without_orpheus_tokens_is_refused(cli_env, capsys, monkeypatch, chat_gguf):
    monkeypatch.setenv("ORPHEUS_MODEL_PATH", str(chat_gguf))
    code, _, err = _run(capsys, "synth", "--text", "hi", "--out", "x.wav")
    assert code == EXIT_ERROR and "lacks Orpheus tokens" in err and "not an Orpheus TTS model" in err


def _broken_snac(cli_env, monkeypatch, snac_dir, weights):
    """A SNAC directory with the real config and ``weights`` (None: no weights file) in use."""
    broken = cli_env / "snac"
    broken.mkdir()
    (broken / "config.json").write_text((snac_dir / "config.json").read_text())
    if weights is not None:
        (broken / "pytorch_model.bin").write_bytes(weights)
    monkeypatch.setenv("SNAC_MODEL_PATH", str(broken))


def test_a_snac_directory_without_weights_is_refused(cli_env, capsys, monkeypatch, snac_dir):
    _broken_snac(cli_env, monkeypatch, snac_dir, weights=None)
    code, _, err = _run(capsys, "synth", "--text", "hi", "--out", "x.wav")
    assert code == EXIT_ERROR and "has no pytorch_model.bin" in err and "--only snac" in err


def test_corrupt_snac_weights_are_refused(cli_env, capsys, monkeypatch, snac_dir):
    _broken_snac(cli_env, monkeypatch, snac_dir, weights=b"not torch")
    code, _, err = _run(capsys, "decode", "--codes", str(_codes(cli_env)), "--out", "x.wav")
    assert code == EXIT_ERROR and "cannot be loaded" in err and err.count("\n") == 1


def _codes(directory, **arrays):
    arrays = arrays or {"c0": np.array([1]), "c1": np.array([1, 2]), "c2": np.array([1, 2, 3, 4])}
    path = directory / "codes.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"codes": np.array([1])}, "lacks c0, c1, c2"),
        ({"c0": np.array([1, 2]), "c1": np.array([1, 2]), "c2": np.array([1, 2, 3, 4])}, "c1 has 2 codes"),
        ({"c0": np.array([1]), "c1": np.array([1, 2]), "c2": np.array([1, 2, 3, 4096])}, "outside the valid"),
    ],
)
def test_bad_codes_files_are_refused_and_nothing_is_written(cli_env, capsys, arrays, message):
    path = _codes(cli_env, **arrays)
    code, _, err = _run(capsys, "decode", "--codes", str(path), "--out", "x.wav")
    assert code == EXIT_ERROR and message in err
    assert _files(cli_env) == ["codes.npz"]


def test_wrong_output_extension_is_refused(cli_env, capsys):
    code, _, err = _run(capsys, "synth", "--text", "hi", "--out", "x.mp3")
    assert code == EXIT_ERROR and "--out x.mp3 must end in .wav" in err


def test_ctrl_c_mid_synthesis_leaves_no_file(cli_env, capsys, monkeypatch):
    def interrupted(self, samples):
        raise KeyboardInterrupt

    monkeypatch.setattr(WavWriter, "write", interrupted)
    code, out, err = _run(
        capsys, "synth", "--text", "hi", "--out", "x.wav", "--codes-out", "x.npz", "--max-tokens", "70"
    )
    assert code == EXIT_INTERRUPTED and "nothing was written" in err
    assert _files(cli_env) == []


def _with_default_sigint() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_a_real_sigint_mid_synthesis_exits_130_and_leaves_nothing(cli_env):
    import signal

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "coordinator",
            "synth",
            "--text",
            "Hello there.",
            "--out",
            "s.wav",
            "--codes-out",
            "s.npz",
            "--max-tokens",
            "980",
        ],
        cwd=cli_env,
        # The per-utterance length cap would end "Hello there." within a second or so, and on an idle
        # machine before the signal lands (exit 0, nothing interrupted): without it the random model
        # runs to all 980 tokens, seconds longer than the interrupt takes.
        env={**_env(), "PYTHONPATH": str(REPO), "TTS_LENGTH_CAP": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as a terminal delivers it: a suite started in the background (`pytest &`, a CI
        # runner) runs with SIGINT ignored, the child inherits that, and Python then installs no
        # KeyboardInterrupt handler at all (the synth ran to the end and exited 0: seen here).
        preexec_fn=_with_default_sigint,
    )
    # Wait until it is writing (the temp file exists), then interrupt as a terminal's Ctrl-C would.
    eventually(
        lambda: any(p.name.startswith(".s.wav.") for p in cli_env.iterdir()) or process.poll() is not None,
        "the synth started writing",
    )
    assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED, (out, err)
    assert err == "interrupted: nothing was written\n" and out == ""
    assert _files(cli_env) == []
