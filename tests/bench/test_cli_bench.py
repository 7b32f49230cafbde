"""`python -m coordinator bench`: bad flags end as one line before anything slow starts; the
synthetic bench runs to the end with the default settings."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coordinator.cli import EXIT_ERROR, main

REPO = Path(__file__).resolve().parents[2]
BENCH_TIMEOUT_S = 300


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tiny"], "--tiny needs --synthetic"),
        (["--build-only"], "--build-only needs --synthetic"),
        (["--cloning"], "--cloning needs --synthetic"),
        (["--synthetic", "--out", "report.txt"], "--out report.txt must end in .json"),
        (["--synthetic", "--max-tokens", "3"], "--max-tokens must be at least 7"),
        (["--synthetic", "--max-seconds", "0"], "--max-seconds must be positive"),
        (["--synthetic", "--margin", "1.5"], "--margin must be in (0, 1]"),
        (["--synthetic", "--max-streams", "0"], "--max-streams must be 1 to 256"),
    ],
)
def test_bad_bench_flags_are_one_line_and_nonzero(cli_env, capsys, args, message):
    assert main(["bench", *args]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert list(cli_env.iterdir()) == []  # no models written, no report


def test_an_unknown_quantization_is_refused_by_the_parser(cli_env, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--synthetic", "--quant", "Q2_K"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'Q2_K'" in capsys.readouterr().err


def test_the_synthetic_tiny_bench_runs_to_the_end_with_the_default_settings(tmp_path):
    """Its Q8_0 models through the real server, CPU_WEIGHT_REPACK at its default, as a user runs it.
    On a CPU where llama.cpp's AMX repack crashes, the old default (1) died here with a
    segmentation fault (exit 139) at the first request (ggml-org/llama.cpp#20824)."""
    env = {k: v for k, v in os.environ.items() if k != "CPU_WEIGHT_REPACK"}
    report = tmp_path / "report.json"
    # One stream of four frames of audio, and /chat's three first audios: every model decodes, briefly.
    args = ["--synthetic", "--tiny", "--max-streams", "1", "--max-tokens", "28", "--out", str(report)]
    result = subprocess.run(
        [sys.executable, "-m", "coordinator", "-v", "bench", *args, "--models-dir", str(tmp_path / "models")],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=BENCH_TIMEOUT_S,
    )
    why = " (SIGSEGV: llama.cpp crashed)" if result.returncode in (-11, 139) else ""
    assert result.returncode == 0, f"exit code {result.returncode}{why}:\n{result.stderr[-4000:]}"
    measured = json.loads(report.read_text())
    assert {measured["models"][role]["quant"] for role in ("orpheus", "llm")} == {"Q8_0"}
    assert measured["settings"]["cpu_weight_repack"] == "auto"
    assert measured["single_stream"]["audio_tokens_per_s"] > 0
    assert len(measured["chat_first_audio_s"]["runs"]) > 0
    assert "llama.cpp weight repack" in result.stderr


def test_the_synthetic_bench_with_a_cloning_model_measures_a_custom_voices_first_audio(tmp_path):
    """A random pretrained stand-in beside the fine-tune: a custom voice made in a temporary store,
    its first audio cold (the reference prefilled) and warm (its KV cells kept). A 2 s reference
    here: the random SNAC's encoder is slow on a shared CPU (the default is 10 s and 30 s)."""
    report = tmp_path / "report.json"
    args = ["--synthetic", "--tiny", "--cloning", "--cloned-references", "2", "--no-chat"]
    args += ["--max-streams", "1", "--max-tokens", "28", "--out", str(report)]
    result = subprocess.run(
        [sys.executable, "-m", "coordinator", "bench", *args, "--models-dir", str(tmp_path / "models")],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO), "VOICES_DIR": str(tmp_path / "mine")},
        capture_output=True,
        text=True,
        timeout=BENCH_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    measured = json.loads(report.read_text())
    cloned = measured["cloned_voices"]
    assert cloned["model"] and measured["models"]["pretrained"]["synthetic"] is True
    (row,) = cloned["references"]
    assert row["reference_s"] == 2.0 and row["reference_tokens"] > 0
    assert row["first_audio_s_cold"] > 0 and row["first_audio_s_warm_p50"] > 0
    assert len(row["runs"]) == 4
    assert "custom voice, 2 s reference" in result.stdout
    assert not (tmp_path / "mine").exists()  # the host's own voices are never touched
