"""SIGTERM on the real server process: streams in flight finish (or are cut after the grace
period), new requests are refused, and the process exits 0 without hanging."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 120
EXIT_TIMEOUT_S = 60
SPEECH = {"model": "tts-1", "input": "Hello there.", "voice": "tara", "response_format": "wav"}

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

WAV_HEADER_BYTES = 44


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``python -m coordinator serve`` on a free loopback port, killed if still alive at the end."""

    def __init__(self, model_env: dict[str, str], tmp_path: Path, **env: str) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = tmp_path / "server.log"
        environment = {**os.environ, **model_env, "LOG_LEVEL": "INFO", **env}
        environment.pop("API_KEY", None)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "coordinator", "serve", "--host", "127.0.0.1", "--port", str(port)],
                cwd=tmp_path,
                env={**environment, "PYTHONPATH": str(REPO)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the server died:\n{self.log.read_text()}"
            try:
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"not ready in {READY_TIMEOUT_S} s:\n{self.log.read_text()}")

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def wait(self) -> int:
        try:
            return self.process.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the server hung on SIGTERM:\n{self.log.read_text()}") from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=EXIT_TIMEOUT_S)


@pytest.fixture
def start_server(model_env, tmp_path):
    servers: list[Server] = []

    def start(**env: str) -> Server:
        server = Server(model_env, tmp_path, **env)
        servers.append(server)
        server.wait_ready()
        return server

    yield start
    for server in servers:
        server.kill()


def _stream_in_background(url: str, body: dict) -> tuple[threading.Thread, dict]:
    """Start a streamed speech request; returns once its first bytes arrived."""
    result: dict = {}
    started = threading.Event()

    def run() -> None:
        try:
            with httpx.stream(
                "POST", url + "/v1/audio/speech", json=body, timeout=EXIT_TIMEOUT_S
            ) as response:
                result["status"] = response.status_code
                audio = bytearray()
                for chunk in response.iter_bytes():
                    audio += chunk
                    started.set()
                result["audio"] = bytes(audio)
        except httpx.HTTPError as exc:
            result["error"] = exc
        finally:
            started.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(EXIT_TIMEOUT_S)
    return thread, result


def test_sigterm_lets_the_stream_in_flight_finish_refuses_new_requests_and_exits_0(start_server):
    server = start_server(SHUTDOWN_GRACE_S="60")
    # Long enough to still be streaming when the signal arrives and the refusal is checked.
    thread, result = _stream_in_background(server.url, {**SPEECH, "max_tokens": 700})
    server.terminate()
    deadline = time.monotonic() + EXIT_TIMEOUT_S
    while (refused := httpx.get(server.url + "/readyz", timeout=5)).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "shutting_down"
    new = httpx.post(server.url + "/v1/audio/speech", json=SPEECH, timeout=5)
    assert new.status_code == 503 and new.headers["retry-after"]
    assert httpx.get(server.url + "/livez", timeout=5).status_code == 200
    thread.join(EXIT_TIMEOUT_S)
    assert server.wait() == 0
    assert result.get("status") == 200 and "error" not in result
    # The whole stream: a 44-byte header, then every sample of the 100 frames it generated.
    assert len(result["audio"]) > 44
    log = server.log.read_text()
    assert "1 in flight" in log and "aborting" not in log  # it was in flight, and was not cut


def test_a_stream_outliving_the_grace_period_is_cut_and_the_process_still_exits_0(start_server):
    server = start_server(SHUTDOWN_GRACE_S="0.5", N_CTX="4096", MAX_COMPLETION_TOKENS="4000")
    thread, result = _stream_in_background(server.url, {**SPEECH, "max_tokens": 4000})
    started = time.monotonic()
    server.terminate()
    assert server.wait() == 0
    thread.join(EXIT_TIMEOUT_S)
    assert time.monotonic() - started < EXIT_TIMEOUT_S
    log = server.log.read_text()
    assert "aborting" in log and "Traceback" not in log
    assert result.get("status") == 200  # it had started; it was cut, not refused


def test_a_second_sigterm_stops_at_once_without_waiting_out_the_grace_period(start_server):
    server = start_server(SHUTDOWN_GRACE_S="60", N_CTX="4096", MAX_COMPLETION_TOKENS="4000")
    thread, result = _stream_in_background(server.url, {**SPEECH, "max_tokens": 4000})
    server.terminate()
    deadline = time.monotonic() + EXIT_TIMEOUT_S
    while httpx.get(server.url + "/readyz", timeout=5).status_code == 200:  # draining has begun
        assert time.monotonic() < deadline
        time.sleep(0.02)
    started = time.monotonic()
    server.terminate()
    code = server.wait()
    thread.join(EXIT_TIMEOUT_S)
    assert time.monotonic() - started < 30  # not the 60 s grace period
    assert code == 0
    assert "second stop signal" in server.log.read_text()
    # Cut short, not run to its end (4000 tokens are 571 frames of 2048 16-bit samples).
    assert len(result.get("audio", b"")) < WAV_HEADER_BYTES + (4000 // 7) * 2048 * 2


def test_a_model_download_that_fails_exits_non_zero_naming_what_failed(model_env, tmp_path):
    # The hub is unreachable (nothing listens on the port): staying up unready would leave Docker
    # at "starting" for the whole start period with nothing retrying; exiting lets it restart.
    env = {k: v for k, v in model_env.items() if not k.endswith("_MODEL_PATH")}
    env |= {"AUTO_DOWNLOAD": "1", "MODELS_DIR": str(tmp_path / "models"), "HF_HOME": str(tmp_path / "hf")}
    env |= {"HF_ENDPOINT": f"http://127.0.0.1:{_free_port()}", "HF_HUB_OFFLINE": "0"}
    server = Server(env, tmp_path)
    try:
        code = server.wait()
    finally:
        server.kill()
    log = server.log.read_text()
    assert code == 1, log
    assert "exiting: the server cannot become ready" in log
    last = log.strip().splitlines()[-1]  # the CLI's one line names the file and the cause
    assert last.startswith("error: model loading failed: orpheus file") and "hub cannot be reached" in last
