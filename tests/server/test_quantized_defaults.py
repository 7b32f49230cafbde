"""`python -m coordinator serve` with quantized models and CPU_WEIGHT_REPACK at its default answers
speech and chat. Quantized weights are what llama.cpp repacks (the rig's F32 models never are): on
a CPU where its AMX repack crashes, the old default (1) died here with a segmentation fault at the
first request (ggml-org/llama.cpp#20824)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from coordinator.bench.shapes import TINY_GEMMA2, TINY_QUANTIZABLE
from tests.rig.tiny_gguf import build_chat_gguf, build_orpheus_gguf
from tests.rig.waiting import eventually

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 120
REQUEST_TIMEOUT_S = 120
WAV_HEADER_BYTES = 44
SPEECH = {"model": "tts-1", "input": "Hello there.", "voice": "tara", "response_format": "wav"}
CHAT = {"model": "gemma-2-2b-instruct", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8}

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX exit signals")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _death(process: subprocess.Popen, log: Path) -> str:
    code = process.returncode
    why = " (SIGSEGV: llama.cpp crashed)" if code == -11 else ""
    return f"the server died with exit code {code}{why}:\n{log.read_text()}"


@pytest.mark.parametrize("quant", ["Q8_0", "Q4_K_M"])
def test_serve_with_quantized_models_and_default_repack_answers_speech_and_chat(model_env, tmp_path, quant):
    orpheus = build_orpheus_gguf(tmp_path / "orpheus.gguf", shape=TINY_QUANTIZABLE, quant=quant)
    chat = build_chat_gguf(tmp_path / "chat.gguf", shape=TINY_GEMMA2, quant=quant)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **model_env, "ORPHEUS_MODEL_PATH": str(orpheus), "LLM_MODEL_PATH": str(chat)}
    env.update(LOG_LEVEL="INFO", PYTHONPATH=str(REPO))
    for name in ("CPU_WEIGHT_REPACK", "API_KEY"):
        env.pop(name, None)
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "coordinator", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def ready() -> bool:
            assert process.poll() is None, _death(process, log)
            try:
                return httpx.get(url + "/readyz", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        eventually(ready, f"the server became ready (log: {log})", timeout_s=READY_TIMEOUT_S)
        try:
            speech = httpx.post(url + "/v1/audio/speech", json=SPEECH, timeout=REQUEST_TIMEOUT_S)
            completion = httpx.post(url + "/v1/chat/completions", json=CHAT, timeout=REQUEST_TIMEOUT_S)
        except httpx.TransportError:
            process.wait(timeout=REQUEST_TIMEOUT_S)
            raise AssertionError(_death(process, log)) from None
        assert speech.status_code == 200, speech.text
        assert speech.content[:4] == b"RIFF" and len(speech.content) > WAV_HEADER_BYTES
        assert completion.status_code == 200, completion.text
        assert completion.json()["usage"]["completion_tokens"] > 0
        assert process.poll() is None, _death(process, log)
        assert "llama.cpp weight repack" in log.read_text()  # the decision is in the log, once
        assert log.read_text().count("llama.cpp weight repack") == 1
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=READY_TIMEOUT_S)
