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

from coordinator.audio.format import SAMPLES_PER_FRAME
from coordinator.orpheus.layout import FRAME_TOKENS
from tests.rig.waiting import eventually

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 120
EXIT_TIMEOUT_S = 60
SPEECH = {"model": "tts-1", "input": "Hello there.", "voice": "tara", "response_format": "wav"}

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

WAV_HEADER_BYTES = 44
# Streams as long as asked: the length cap would end "Hello there." after a few seconds of audio
# whatever max_tokens says, and a fast idle CPU generates that before the signal is handled.
LONG_TOKENS = 4000  # 571 frames, 48 s of audio
# Long enough to be in flight while the refusal of new requests is checked, short enough to wait for.
FINISHED_TOKENS = 700  # 100 frames
LONG_STREAMS = {"N_CTX": "4096", "MAX_COMPLETION_TOKENS": str(LONG_TOKENS), "TTS_LENGTH_CAP": "0"}
# A hundredth of the time LONG_TOKENS take on a 2-core CPU (27 s); a CPU 100 times faster at the
# tiny model would still be mid-stream when the grace ends.
SHORT_GRACE_S = 0.2


def whole_stream_bytes(max_tokens: int) -> int:
    """The 16-bit samples of every whole frame in ``max_tokens`` audio tokens."""
    return max_tokens // FRAME_TOKENS * SAMPLES_PER_FRAME * 2


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

        def ready() -> bool:
            assert self.process.poll() is None, f"the server died:\n{self.log.read_text()}"
            try:
                return httpx.get(self.url + "/readyz", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        eventually(ready, f"the server became ready (log: {self.log})", timeout_s=READY_TIMEOUT_S)

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
    """Start a streamed speech request (WAV); returns once audio samples, not only the header, have
    arrived: the stream has demonstrably started. ``result`` gets the status, every byte read
    (``audio``, even when the stream is cut) and the client's error, if any."""
    result: dict = {"audio": bytearray()}
    started = threading.Event()

    def run() -> None:
        try:
            with httpx.stream(
                "POST", url + "/v1/audio/speech", json=body, timeout=EXIT_TIMEOUT_S
            ) as response:
                result["status"] = response.status_code
                for chunk in response.iter_bytes():
                    result["audio"] += chunk
                    if len(result["audio"]) > WAV_HEADER_BYTES:
                        started.set()
        except httpx.HTTPError as exc:
            result["error"] = exc
        finally:
            started.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(EXIT_TIMEOUT_S)
    assert len(result["audio"]) > WAV_HEADER_BYTES, f"the stream never started: {result}"
    return thread, result


def test_sigterm_lets_the_stream_in_flight_finish_refuses_new_requests_and_exits_0(start_server):
    server = start_server(SHUTDOWN_GRACE_S="60", **LONG_STREAMS)
    thread, result = _stream_in_background(server.url, {**SPEECH, "max_tokens": FINISHED_TOKENS})
    server.terminate()
    refused = eventually(
        lambda: (answer := httpx.get(server.url + "/readyz", timeout=5)).status_code != 200 and answer,
        "the server began draining",
    )
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "shutting_down"
    new = httpx.post(server.url + "/v1/audio/speech", json=SPEECH, timeout=5)
    assert new.status_code == 503 and new.headers["retry-after"]
    assert httpx.get(server.url + "/livez", timeout=5).status_code == 200
    thread.join(EXIT_TIMEOUT_S)
    assert server.wait() == 0
    assert result.get("status") == 200 and "error" not in result
    # The whole stream: the header, then every sample of the frames it generated.
    assert len(result["audio"]) == WAV_HEADER_BYTES + whole_stream_bytes(FINISHED_TOKENS)
    log = server.log.read_text()
    assert "1 in flight" in log and "aborting" not in log  # it was in flight, and was not cut


def test_a_stream_outliving_the_grace_period_is_cut_and_the_process_still_exits_0(start_server):
    # The signal goes only once audio has arrived, and the stream is far longer than the grace
    # period: it is certainly in flight, and certainly not over, when the grace period ends.
    server = start_server(SHUTDOWN_GRACE_S=str(SHORT_GRACE_S), **LONG_STREAMS)
    thread, result = _stream_in_background(server.url, {**SPEECH, "max_tokens": LONG_TOKENS})
    started = time.monotonic()
    server.terminate()
    assert server.wait() == 0
    thread.join(EXIT_TIMEOUT_S)
    assert time.monotonic() - started < EXIT_TIMEOUT_S
    log = server.log.read_text()
    assert "1 in flight" in log and "aborting" in log and "Traceback" not in log, log
    assert result.get("status") == 200  # it had started; it was cut, not refused
    assert len(result["audio"]) < WAV_HEADER_BYTES + whole_stream_bytes(LONG_TOKENS)  # cut short


def test_a_second_sigterm_stops_at_once_without_waiting_out_the_grace_period(start_server):
    server = start_server(SHUTDOWN_GRACE_S="60", **LONG_STREAMS)
    thread, result = _stream_in_background(server.url, {**SPEECH, "max_tokens": LONG_TOKENS})
    server.terminate()
    eventually(lambda: httpx.get(server.url + "/readyz", timeout=5).status_code != 200, "the drain began")
    started = time.monotonic()
    server.terminate()
    code = server.wait()
    thread.join(EXIT_TIMEOUT_S)
    # Kept, a wall-clock check that cannot flake: the subject is a real process's 60 s grace
    # period, and half of it is far more than any machine needs to stop.
    assert time.monotonic() - started < 30  # not the 60 s grace period
    assert code == 0
    assert "second stop signal" in server.log.read_text()
    assert len(result["audio"]) < WAV_HEADER_BYTES + whole_stream_bytes(LONG_TOKENS)  # cut short


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
