"""The real download path (huggingface_hub, no mocks) against a fake hub on loopback."""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.rig.fake_hub import FakeHub

SNAC_REPO = "hubertsiuzdak/snac_24khz"
ORPHEUS_REPO, ORPHEUS_FILE = "lex-au/Orpheus-3b-FT-Q4_K_M.gguf", "Orpheus-3b-FT-Q4_K_M.gguf"
GEMMA_REPO = "bartowski/gemma-2-2b-it-GGUF"


@pytest.fixture
def hub(snac_dir, orpheus_gguf):
    hub = FakeHub()
    for name in ("config.json", "pytorch_model.bin"):
        hub.files[(SNAC_REPO, name)] = (snac_dir / name).read_bytes()
    hub.files[(ORPHEUS_REPO, ORPHEUS_FILE)] = orpheus_gguf.read_bytes()
    hub.start()
    yield hub
    hub.stop()


def _download(tmp_path, hub_url, *args, offline=False):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_MODEL_PATH") and not k.startswith("HF_")}
    env |= {
        "MODELS_DIR": str(tmp_path / "models"),
        "MODELS_CONFIG": str(REPO / "models.yaml"),
        "HF_ENDPOINT": hub_url,
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "download_models.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


def test_a_fresh_download_puts_exact_files_in_place_and_a_second_run_skips_them(tmp_path, hub, snac_dir):
    result = _download(tmp_path, hub.url, "--only", "snac")
    assert result.returncode == 0, result.stderr
    assert "2 file(s) fetched" in result.stdout
    target = tmp_path / "models" / "snac_24khz"
    for name in ("config.json", "pytorch_model.bin"):
        assert (target / name).read_bytes() == (snac_dir / name).read_bytes()
    before = len(hub.requests)
    again = _download(tmp_path, hub.url, "--only", "snac")
    assert again.returncode == 0 and "0 file(s) fetched, 2 already present" in again.stdout
    assert len(hub.requests) == before  # nothing asked of the hub


def test_an_interrupted_download_leaves_no_model_file_and_the_next_run_resumes_it(
    tmp_path, hub, orpheus_gguf
):
    data = orpheus_gguf.read_bytes()
    hub.cut_after[(ORPHEUS_REPO, ORPHEUS_FILE)] = len(data) // 2
    first = _download(tmp_path, hub.url, "--only", "orpheus", "--quant", "Q4_K_M")
    assert first.returncode == 1 and first.stderr.count("\n") == 1
    partial = tmp_path / "models" / (ORPHEUS_FILE + ".incomplete")
    kept = partial.stat().st_size
    assert 0 < kept <= len(data) // 2
    assert f"stopped at {kept} of {len(data)} bytes: run the download again to resume" in first.stderr
    assert not (tmp_path / "models" / ORPHEUS_FILE).exists()  # never a truncated file at the model path
    second = _download(tmp_path, hub.url, "--only", "orpheus", "--quant", "Q4_K_M")
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "models" / ORPHEUS_FILE).read_bytes() == data
    assert hub.gets(ORPHEUS_FILE) == [None, f"bytes={kept}-"]  # only what was missing, once
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [ORPHEUS_FILE]


def test_a_checksum_mismatch_is_refused_and_nothing_is_left_behind(tmp_path, hub):
    hub.corrupt.add((SNAC_REPO, "pytorch_model.bin"))
    result = _download(tmp_path, hub.url, "--only", "snac")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "does not match the hub's sha256 and was deleted" in result.stderr
    assert not (tmp_path / "models" / "snac_24khz" / "pytorch_model.bin").exists()


@pytest.mark.parametrize("status", [401, 403])
def test_a_gated_repo_explains_how_to_get_access(tmp_path, hub, status):
    hub.gated[GEMMA_REPO] = status
    result = _download(tmp_path, hub.url, "--only", "llm")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "is gated: accept its terms" in result.stderr and "HF_TOKEN" in result.stderr


def test_a_file_missing_on_the_hub_names_the_models_yaml_entry(tmp_path, hub):
    result = _download(tmp_path, hub.url, "--only", "orpheus")  # Q8_0 is not on this hub
    assert result.returncode == 1 and "not found" in result.stderr and "models.yaml" in result.stderr


def test_offline_with_everything_present_succeeds(tmp_path, hub):
    assert _download(tmp_path, hub.url, "--only", "snac").returncode == 0
    result = _download(tmp_path, "http://127.0.0.1:9", "--only", "snac", offline=True)
    assert result.returncode == 0 and "2 already present" in result.stdout


def test_an_unreachable_hub_is_one_line(tmp_path):
    result = _download(tmp_path, "http://127.0.0.1:9", "--only", "snac")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "cannot be reached" in result.stderr


def test_a_corrupt_partial_file_is_caught_by_the_checksum_and_the_next_run_starts_clean(
    tmp_path, hub, orpheus_gguf
):
    data = orpheus_gguf.read_bytes()
    partial = tmp_path / "models" / (ORPHEUS_FILE + ".incomplete")
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"\0" * (len(data) // 3))  # garbage from a broken earlier run
    first = _download(tmp_path, hub.url, "--only", "orpheus", "--quant", "Q4_K_M")
    assert first.returncode == 1 and "does not match the hub's sha256 and was deleted" in first.stderr
    assert not partial.exists() and not (tmp_path / "models" / ORPHEUS_FILE).exists()
    second = _download(tmp_path, hub.url, "--only", "orpheus", "--quant", "Q4_K_M")
    assert second.returncode == 0 and (tmp_path / "models" / ORPHEUS_FILE).read_bytes() == data


def test_a_full_disk_is_refused_before_the_transfer(tmp_path, hub, monkeypatch, capsys):
    import shutil
    from collections import namedtuple

    from coordinator.cli import main

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage(10**9, 10**9 - 1000, 1000))
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("MODELS_CONFIG", str(REPO / "models.yaml"))
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    for name in ("ORPHEUS_MODEL_PATH", "LLM_MODEL_PATH", "SNAC_MODEL_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["download", "--only", "orpheus", "--quant", "Q4_K_M"]) == 1
    err = capsys.readouterr().err
    assert "not enough disk space" in err and "GB free" in err and err.count("\n") == 1
    assert hub.gets(ORPHEUS_FILE) == []  # nothing was transferred


def test_the_selected_language_models_are_fetched_beside_the_english_one(tmp_path, hub, orpheus_gguf):
    french = ("lex-au/Orpheus-3b-French-FT-Q8_0.gguf", "Orpheus-3b-French-FT-Q8_0.gguf")
    korean = ("lex-au/Orpheus-3b-Korean-FT-Q8_0.gguf", "Orpheus-3b-Korean-FT-Q8_0.gguf")
    for repo, name in (french, korean):
        hub.files[(repo, name)] = orpheus_gguf.read_bytes()
    result = _download(tmp_path, hub.url, "--only", "orpheus", "--models", "fr,ko", "--quant", "Q8_0")
    assert result.returncode == 0, result.stderr
    assert "2 file(s) fetched" in result.stdout
    for _, name in (french, korean):
        assert (tmp_path / "models" / name).read_bytes() == orpheus_gguf.read_bytes()
    assert not (tmp_path / "models" / ORPHEUS_FILE).exists()  # English was not selected
