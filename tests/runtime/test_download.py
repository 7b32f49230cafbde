"""What the download command plans and how it fails offline (the real hub path: deployment issue)."""

import os
import subprocess
import sys

import pytest

from coordinator.cli import main
from tests.conftest import REPO


@pytest.fixture
def catalog_models(cli_env, monkeypatch):
    """The CLI environment without the rig's local model paths: models come from the catalog."""
    for name in ("ORPHEUS_MODEL_PATH", "LLM_MODEL_PATH", "SNAC_MODEL_PATH"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("MODELS_DIR", str(cli_env))
    return cli_env


def _run(capsys, *argv):
    code = main(["download", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_files_sizes_licenses_and_status(catalog_models, capsys):
    cli_env = catalog_models
    (cli_env / "gemma-2-2b-it-Q4_K_M.gguf").write_bytes(b"GGUF")
    code, out, _ = _run(capsys, "--list", "--quant", "Q4_K_M", "--only", "llm", "--only", "snac")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split()[:4] == ["llm", "gemma-2-2b-it-Q4_K_M.gguf", "1.70GB", "present"]
    assert "Gemma Terms of Use" in lines[1]
    assert [line.split()[1] for line in lines[2:]] == ["config.json", "pytorch_model.bin"]
    assert all("missing" in line and "MIT" in line for line in lines[2:])


def test_dry_run_with_everything_present_needs_no_network(catalog_models, capsys):
    cli_env = catalog_models
    (cli_env / "Orpheus-3b-FT-Q8_0.gguf").write_bytes(b"GGUF")
    code, out, _ = _run(capsys, "--only", "orpheus", "--dry-run")
    assert (code, out) == (0, "nothing to fetch: every file is present\n")
    code, out, _ = _run(capsys, "--only", "orpheus")
    assert code == 0 and "0 file(s) fetched, 1 already present" in out


def test_an_unknown_quantization_is_refused(catalog_models, capsys):
    code, _, err = _run(capsys, "--only", "orpheus", "--quant", "Q3")
    assert code == 1 and "choose one of Q8_0, Q4_K_M, Q2_K" in err


def test_offline_with_a_file_missing_fails_with_one_line(cli_env):
    env = {**os.environ, "MODELS_DIR": str(cli_env / "models"), "HF_HUB_OFFLINE": "1"}
    del env["SNAC_MODEL_PATH"]
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "download_models.py"), "--only", "snac"],
        capture_output=True,
        text=True,
        env=env,
        cwd=cli_env,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "config.json is missing" in result.stderr
    assert "cannot be reached" in result.stderr
    assert not (cli_env / "models" / "snac_24khz" / "config.json").exists()


def test_models_with_a_local_path_are_not_downloaded(cli_env, capsys, monkeypatch):
    monkeypatch.setenv("MODELS_DIR", str(cli_env / "models"))
    code, out, _ = _run(capsys, "--list")
    roles = [line.split()[0] for line in out.splitlines()[1:]]
    assert code == 0 and roles == ["snac", "snac"]  # ORPHEUS_/LLM_MODEL_PATH point at local files


def test_the_whisper_variant_is_listed_and_chosen_with_stt_model(catalog_models, capsys, monkeypatch):
    monkeypatch.delenv("STT_MODEL_PATH")
    code, out, _ = _run(capsys, "--list", "--only", "stt")
    lines = out.splitlines()[1:]
    assert code == 0 and {line.split()[1] for line in lines} >= {"model.bin", "config.json", "tokenizer.json"}
    assert all(line.split()[0] == "stt" and "Systran/faster-whisper-small" in line for line in lines)
    monkeypatch.setenv("STT_MODEL", "small.en")
    _, out, _ = _run(capsys, "--list", "--only", "stt")
    assert "Systran/faster-whisper-small.en" in out
    monkeypatch.setenv("STT_MODEL", "tiny.xx")
    code, _, err = _run(capsys, "--list", "--only", "stt")
    assert code == 1 and "choose one of small, small.en, base, large-v3" in err


def test_the_pretrained_model_is_planned_under_its_own_name(catalog_models, capsys, monkeypatch):
    cli_env = catalog_models
    monkeypatch.setenv("ORPHEUS_MODELS", "en,pretrained")
    code, out, _ = _run(capsys, "--list", "--only", "orpheus")
    assert code == 0
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [row[:4] for row in rows] == [
        ["orpheus", "Orpheus-3b-FT-Q8_0.gguf", "4.00GB", "missing"],
        ["orpheus", "model.q8_0.gguf", "4.03GB", "missing"],
    ]
    assert rows[1][-1] == "annuvin/orpheus-3b-0.1-pt-gguf"
    (cli_env / "Orpheus-3b-Pretrained-Q8_0.gguf").write_bytes(b"GGUF")  # present under its local name
    code, out, _ = _run(capsys, "--list", "--only", "orpheus")
    assert out.splitlines()[2].split()[3] == "present"


def test_the_pretrained_file_is_fetched_from_the_hub_into_its_local_name(orpheus_gguf, tmp_path):
    from coordinator.config.catalog import load_catalog
    from coordinator.config.settings import Settings
    from coordinator.runtime.download import fetch, plan_downloads
    from tests.rig.fake_hub import FakeHub

    catalog = load_catalog(REPO / "models.yaml")
    settings = Settings(_env_file=None, models_dir=tmp_path, orpheus_models="pretrained")
    (item,) = plan_downloads(catalog, settings, only=["orpheus"])
    hub = FakeHub()
    hub.files[("annuvin/orpheus-3b-0.1-pt-gguf", "model.q8_0.gguf")] = orpheus_gguf.read_bytes()
    hub.start()
    try:
        assert fetch([item], endpoint=hub.url) == [item]
    finally:
        hub.stop()
    target = tmp_path / "Orpheus-3b-Pretrained-Q8_0.gguf"
    assert target.read_bytes() == orpheus_gguf.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
