"""Smoke test of the built CPU image and the compose file, against a running Docker engine.

Run by .ci/docker_smoke.sh (which starts the engine and builds the image); every request goes to
127.0.0.1 only. Fails (exit 1) on the first check that does not hold, saying which; prints the
figures as JSON at the end (docs/measurements.md quotes them).

    python .ci/docker_smoke.py IMAGE --figures OUT.json
    python .ci/docker_smoke.py IMAGE --gpu-image   # the GPU image, run WITHOUT --gpus (.ci/gpu_image_check.sh)

With --gpu-image the image keeps its own GPU defaults (N_GPU_LAYERS=-1, SNAC_DEVICE=auto) and must
start all the same, say that no GPU is visible and serve on the CPU; the compose checks (whose GPU
service reserves an NVIDIA device) are left out.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.rig.snac_checkpoint import write_random_snac  # noqa: E402
from tests.rig.tiny_gguf import build_chat_gguf, build_orpheus_gguf  # noqa: E402

logger = logging.getLogger("docker_smoke")

DOCKER = os.environ.get("DOCKER_BIN", "/usr/bin/docker")
API_KEY = "ci-smoke-key"
# Measured 1.76 GB (CPU torch; speech in brings CTranslate2 and onnxruntime); with PyPI's CUDA
# torch it was 6.17 GB. The budget catches that, and any other multi-GB slip.
SIZE_BUDGET_BYTES = 2_200_000_000
# The GPU image: CUDA torch with its NVIDIA libraries (cuDNN, cuBLAS, NCCL, ...) is most of it.
GPU_SIZE_BUDGET_BYTES = 14_000_000_000
# What the GPU image must log when started without --gpus (coordinator.engine.llama_model.no_gpu_message).
NO_GPU_LOG = "llama.cpp sees no GPU"
READY_TIMEOUT_S = 240
HEALTHY_TIMEOUT_S = 120
REQUEST_TIMEOUT_S = 120
# Longer than SHUTDOWN_GRACE_S (25 s), as compose's stop_grace_period: 40s.
STOP_TIMEOUT_S = 40
# What the container runs as (Dockerfile: USER 10001:10001).
APP_UID = "10001"
# AVX-512 (zmm registers, opmask registers, EVEX-only mnemonics) and AMX (tile) instructions: none
# may be in a portable build (x86-64-v3 is AVX2 at most).
BEYOND_BASELINE = re.compile(
    r"%zmm|%k[1-7]\b|\{%k[1-7]\}|\{1to\d+\}|\bvpternlog|\bvpermt2|\bvpermi2|\bvpcompress|\bvpexpand"
    r"|\bvcvtne2ps2bf16|\bvdpbf16ps|\bvpdpbusds?\s.*%zmm|\btdp\w+|\btileloadd|\bldtilecfg|\btilerelease"
)
MODEL_ENV = {
    "ORPHEUS_MODEL_PATH": "/test-models/tiny-orpheus.gguf",
    "LLM_MODEL_PATH": "/test-models/tiny-chat.gguf",
    "SNAC_MODEL_PATH": "/test-models/snac_24khz",
    "AUTO_DOWNLOAD": "0",
    "N_CTX": "1024",
    "TTS_MAX_TOKENS": "140",
    "N_THREADS": "2",
}
SPEECH = {"model": "tts-1", "voice": "tara", "input": "Hello from the container."}
# One utterance each (two would pass the 250-character utterance limit); the stream interrupted by
# `docker stop` speaks enough of them to last about STREAM_TARGET_S.
UTTERANCE = (
    "This sentence is spoken as an utterance of its own, because together with the next one it "
    "would run past the limit of two hundred and fifty characters."
)
STREAM_TARGET_S = 4.0
MAX_STREAM_UTTERANCES = 24  # 24 x 160 characters: within MAX_INPUT_CHARS (4096)


class SmokeFailure(Exception):
    pass


PASSED: list[str] = []


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SmokeFailure(what)
    PASSED.append(what)
    logger.info("ok: %s", what)


def docker(*args: str, timeout: float = 300, check_rc: bool = True, env: dict | None = None) -> str:
    result = subprocess.run(
        [DOCKER, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    if check_rc and result.returncode != 0:
        raise SmokeFailure(f"docker {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout.strip()


def container_logs(container: str) -> str:
    """stdout and stderr (the server logs to stderr): `docker logs` passes each through as is."""
    result = subprocess.run([DOCKER, "logs", container], capture_output=True, text=True, timeout=60)
    return result.stdout + result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout_s: float, headers: dict | None = None) -> float:
    """Seconds until ``url`` answers 200."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        try:
            if httpx.get(url, timeout=5, headers=headers).status_code == 200:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SmokeFailure(f"{url} not 200 within {timeout_s} s")


def wait_healthy(container: str, timeout_s: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        status = docker("inspect", "-f", "{{.State.Health.Status}}", container)
        if status == "healthy":
            return time.monotonic() - start
        if status == "unhealthy":
            raise SmokeFailure(f"{container} is unhealthy:\n{docker('logs', container, check_rc=False)}")
        time.sleep(1)
    raise SmokeFailure(f"{container} not healthy within {timeout_s} s")


def make_models(directory: Path) -> None:
    build_orpheus_gguf(directory / "tiny-orpheus.gguf", seed=0)
    build_chat_gguf(directory / "tiny-chat.gguf", seed=0)
    write_random_snac(directory / "snac_24khz", seed=0)
    # The container's user must read them (the host's umask may not allow it).
    for path in [directory, *directory.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def check_image(image: str, figures: dict, *, gpu_image: bool = False) -> None:
    size = int(docker("image", "inspect", "-f", "{{.Size}}", image))
    figures["image_bytes"] = size
    budget = GPU_SIZE_BUDGET_BYTES if gpu_image else SIZE_BUDGET_BYTES
    check(size <= budget, f"image size {size / 1e9:.2f} GB within {budget / 1e9:.2f} GB")
    check(docker("image", "inspect", "-f", "{{.Config.User}}", image) == f"{APP_UID}:{APP_UID}", "image USER")
    uid = docker("run", "--rm", "--entrypoint", "id", image, "-u")
    check(uid == APP_UID, f"runs as uid {uid}, not root")
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image)
    secrets = docker("run", "--rm", "--entrypoint", "sh", image, "-c", "ls /run/secrets 2>/dev/null | wc -l")
    check("BEGIN CERTIFICATE" not in history and secrets == "0", "the CA bundle is in no layer")
    torch = docker(
        "run", "--rm", "--entrypoint", "python3", image, "-c",
        "import torch; print(torch.__version__, torch.version.cuda)",
    )  # fmt: skip
    if gpu_image:
        # PyPI's torch 2.13.0 is the CUDA 13.0 build: the same CUDA line as the llama.cpp stage.
        check(torch == "2.13.0+cu130 13.0", f"CUDA torch {torch}")
        cuda_lib = docker("run", "--rm", "--entrypoint", "sh", image, "-c",
                          "find /opt/venv -name 'libggml-cuda.so*' -type f")  # fmt: skip
        check(bool(cuda_lib), f"llama.cpp's CUDA library in the image: {cuda_lib}")
        # Without a driver (no --gpus) the loader must still resolve every library it links.
        ldd = docker("run", "--rm", "--entrypoint", "ldd", image, cuda_lib.split()[0])
        check("not found" not in ldd and "libcuda.so" not in ldd,
              "libggml-cuda resolves cudart and cuBLAS and needs no libcuda.so.1")  # fmt: skip
    else:
        check(torch == "2.13.0+cpu None", f"CPU torch {torch}")


def check_portable_cpu_code(image: str, workdir: Path, figures: dict) -> None:
    # libggml-cuda (GPU image) is left out: 40 MB that are nearly all an sm_90 fatbin, which objdump does
    # not disassemble; its host code comes from the same GGML_NATIVE=OFF CMake line as the libraries scanned.
    find = "find /opt/venv -path '*/llama_cpp/lib/*.so*' -type f ! -name 'libggml-cuda*'"
    libs = docker("run", "--rm", "--entrypoint", "sh", image, "-c", find).split()
    check(
        any("ggml-cpu" in lib or lib.endswith("libggml.so") for lib in libs), f"llama.cpp CPU library: {libs}"
    )
    container = docker("create", image)
    try:
        found: dict[str, int] = {}
        for lib in libs:
            local = workdir / Path(lib).name
            docker("cp", f"{container}:{lib}", str(local))
            listing = subprocess.run(
                ["objdump", "-d", "--no-show-raw-insn", str(local)],
                capture_output=True,
                text=True,
                check=True,
                timeout=300,
            ).stdout
            hits = [line for line in listing.splitlines() if BEYOND_BASELINE.search(line)]
            found[Path(lib).name] = len(hits)
            if hits:
                logger.error(
                    "%s: %d instructions beyond x86-64-v3, e.g.\n%s", lib, len(hits), "\n".join(hits[:5])
                )
        figures["instructions_beyond_baseline"] = found
        check(not any(found.values()), f"no AVX-512/AMX instruction in {', '.join(found)}")
    finally:
        docker("rm", "-v", container, check_rc=False)


def run_server(image: str, models: Path, figures: dict, *, gpu_image: bool = False) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {API_KEY}"}
    env_args = [arg for name, value in MODEL_ENV.items() for arg in ("-e", f"{name}={value}")]
    # No --gpus in either case: this machine has no GPU, and the GPU image must cope with that.
    started = time.monotonic()
    container = docker(
        "run", "-d", "-p", f"127.0.0.1:{port}:8080", "-v", f"{models}:/test-models:ro",
        "-e", f"API_KEY={API_KEY}", "-e", "MAX_CONCURRENT_STREAMS=2", *env_args,
        "--health-interval", "2s", "--health-start-period", "5m", image,
    )  # fmt: skip
    try:
        wait_for(url + "/livez", READY_TIMEOUT_S)
        wait_for(url + "/readyz", READY_TIMEOUT_S)
        figures["ready_s"] = round(time.monotonic() - started, 1)
        check(True, f"/livez and /readyz 200 ({figures['ready_s']} s after docker run)")
        wait_healthy(container, HEALTHY_TIMEOUT_S)
        check(True, "docker reports the container healthy")
        if gpu_image:
            logs = container_logs(container)
            check(NO_GPU_LOG in logs, f"the log says no GPU is visible ({NO_GPU_LOG!r})")
            health = httpx.get(url + "/health", timeout=10).json()
            check(health.get("device", {}).get("snac") == "cpu", f"SNAC falls back to the CPU: {health}")
        check(httpx.get(url + "/v1/models", timeout=10).status_code == 401, "the API needs the key")

        wav_started = time.monotonic()
        wav = httpx.post(url + "/v1/audio/speech", json={**SPEECH, "response_format": "wav"}, headers=auth,
                         timeout=REQUEST_TIMEOUT_S)  # fmt: skip
        check(wav.status_code == 200 and wav.content[:4] == b"RIFF" and len(wav.content) > 44 + 2048,
              f"speech as wav ({len(wav.content)} bytes)")  # fmt: skip
        wav_s = time.monotonic() - wav_started
        mp3 = httpx.post(url + "/v1/audio/speech", json={**SPEECH, "response_format": "mp3"}, headers=auth,
                         timeout=REQUEST_TIMEOUT_S)  # fmt: skip
        mp3_start = mp3.content[:3] == b"ID3" or (
            mp3.content[:1] == b"\xff" and mp3.content[1] & 0xE0 == 0xE0
        )
        check(
            mp3.status_code == 200 and mp3_start and len(mp3.content) > 1000,
            f"speech as mp3 ({len(mp3.content)} bytes)",
        )
        chat = httpx.post(url + "/chat", json={"message": "Hi there!", "voice": "tara", "max_tokens": 24},
                          headers=auth, timeout=REQUEST_TIMEOUT_S)  # fmt: skip
        check(
            chat.status_code == 200 and chat.content[:4] == b"RIFF",
            f"/chat answers speech ({len(chat.content)} bytes)",
        )

        # A stream in flight when `docker stop` comes must finish whole, and the process exit 0.
        # Sized from the time of one utterance so that it lasts a few seconds on any machine.
        utterances = max(1, min(MAX_STREAM_UTTERANCES, math.ceil(STREAM_TARGET_S / wav_s)))
        body = {**SPEECH, "input": " ".join([UTTERANCE] * utterances), "response_format": "wav"}
        whole = httpx.post(url + "/v1/audio/speech", json=body, headers=auth, timeout=REQUEST_TIMEOUT_S)
        check(
            whole.status_code == 200, f"a {utterances}-utterance speech request ({len(whole.content)} bytes)"
        )
        result: dict = {}
        first_bytes = threading.Event()

        def stream() -> None:
            try:
                with httpx.stream("POST", url + "/v1/audio/speech", json=body, headers=auth,
                                  timeout=REQUEST_TIMEOUT_S) as response:  # fmt: skip
                    result["status"] = response.status_code
                    data = bytearray()
                    for chunk in response.iter_bytes():
                        data += chunk
                        first_bytes.set()
                    result["bytes"] = len(data)
            except httpx.HTTPError as exc:
                result["error"] = repr(exc)
            finally:
                first_bytes.set()

        worker = threading.Thread(target=stream)
        worker.start()
        check(first_bytes.wait(REQUEST_TIMEOUT_S), "a stream started before the stop")
        check(worker.is_alive(), "the stream is still running when `docker stop` comes")
        stop_started = time.monotonic()
        docker("stop", "-t", str(STOP_TIMEOUT_S), container, timeout=STOP_TIMEOUT_S + 30)
        figures["stop_s"] = round(time.monotonic() - stop_started, 1)
        worker.join(REQUEST_TIMEOUT_S)
        exit_code = docker("inspect", "-f", "{{.State.ExitCode}}", container)
        check(
            exit_code == "0", f"docker stop drained and exited 0 in {figures['stop_s']} s (exit {exit_code})"
        )
        check(result.get("status") == 200 and result.get("bytes") == len(whole.content),
              f"the stream in flight finished whole: {result}, {len(whole.content)} bytes expected")  # fmt: skip
        logs = container_logs(container)
        check("drained: every request in flight finished" in logs, "the log says it drained, nothing cut")
    except SmokeFailure:
        logger.error("container log:\n%s", container_logs(container)[-6000:])
        raise
    finally:
        docker("rm", "-f", "-v", container, check_rc=False)


def compose_checks(image: str, models: Path, figures: dict) -> None:
    project = Path(tempfile.mkdtemp(prefix="orpheus-compose-"))
    for name in ("docker-compose.yml", "docker-compose.wyoming.yml", ".env.example"):
        shutil.copy(REPO / name, project / name)
    override = project / "docker-compose.smoke.yml"
    environment = {**MODEL_ENV, "API_KEY": API_KEY}
    override.write_text(
        json.dumps(
            {
                "services": {
                    "coordinator-cpu": {
                        "image": image,
                        "environment": environment,
                        "volumes": [f"{models}:/test-models:ro"],
                        "healthcheck": {"interval": "2s", "start_period": "5m"},
                    }
                }
            }
        )
    )
    base = [
        "compose",
        "--project-directory",
        str(project),
        "-p",
        "orpheus-smoke",
        "-f",
        str(project / "docker-compose.yml"),
    ]

    def config() -> dict:
        return json.loads(docker(*base, "config", "--format", "json"))

    bare = config()
    check(set(bare["services"]) >= {"coordinator"}, "compose config without .env")
    shutil.copy(project / ".env.example", project / ".env")
    with_env = json.loads(docker(*base, "--profile", "cpu", "config", "--format", "json"))
    cpu_env = with_env["services"]["coordinator-cpu"]["environment"]
    gpu_env = with_env["services"]["coordinator"]["environment"]
    check(cpu_env["MAX_CONCURRENT_STREAMS"] == "2" and gpu_env["MAX_CONCURRENT_STREAMS"] == "8",
          "compose config with .env: the CPU service keeps 2 streams, the GPU one 8")  # fmt: skip
    check(
        cpu_env["N_GPU_LAYERS"] == "0" and cpu_env["SNAC_DEVICE"] == "cpu", "the CPU service stays on the CPU"
    )
    wyoming = json.loads(
        docker(*base, "-f", str(project / "docker-compose.wyoming.yml"), "config", "--format", "json")
    )
    check(
        wyoming["services"]["coordinator"]["environment"]["WYOMING_PORT"] == "10200",
        "compose config with Wyoming",
    )

    port = free_port()
    dotenv = re.sub(r"^API_KEY=.*$", f"API_KEY={API_KEY}", (project / ".env").read_text(), flags=re.MULTILINE)
    dotenv = re.sub(r"^HOST_PORTS=.*$", f"HOST_PORTS=127.0.0.1:{port}", dotenv, flags=re.MULTILINE)
    (project / ".env").write_text(dotenv)
    smoke = [*base, "-f", str(override), "--profile", "cpu"]
    started = time.monotonic()
    try:
        docker(*smoke, "up", "-d", "--no-build", "coordinator-cpu", timeout=300)
        container = docker(*smoke, "ps", "-q", "coordinator-cpu")
        wait_healthy(container, READY_TIMEOUT_S)
        figures["compose_healthy_s"] = round(time.monotonic() - started, 1)
        check(True, f"compose --profile cpu up: healthy in {figures['compose_healthy_s']} s")
        check(
            httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200,
            "reachable on HOST_PORTS",
        )
        stop_started = time.monotonic()
        docker(*smoke, "stop", timeout=STOP_TIMEOUT_S + 30)
        exit_code = docker("inspect", "-f", "{{.State.ExitCode}}", container)
        check(
            exit_code == "0", f"compose stop drained and exited 0 in {time.monotonic() - stop_started:.1f} s"
        )
    except SmokeFailure:
        logger.error("compose log:\n%s", docker(*smoke, "logs", check_rc=False)[-6000:])
        raise
    finally:
        docker(*smoke, "down", "-v", check_rc=False, timeout=120)
        shutil.rmtree(project, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("--figures", type=Path, help="write the figures (JSON) here too")
    parser.add_argument(
        "--gpu-image", action="store_true", help="the GPU image, run without --gpus: no compose checks"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="smoke: %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    figures: dict = {}
    workdir = Path(tempfile.mkdtemp(prefix="orpheus-smoke-"))
    try:
        models = workdir / "models"
        models.mkdir()
        make_models(models)
        workdir.chmod(0o755)
        check_image(args.image, figures, gpu_image=args.gpu_image)
        check_portable_cpu_code(args.image, workdir, figures)
        run_server(args.image, models, figures, gpu_image=args.gpu_image)
        if not args.gpu_image:
            compose_checks(args.image, models, figures)
    except (SmokeFailure, subprocess.TimeoutExpired) as exc:
        logger.error("FAILED: %s", exc)
        logger.info("%d passed, 1 failed", len(PASSED))
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary = json.dumps(figures, sort_keys=True)
    logger.info("figures: %s", summary)
    if args.figures:
        args.figures.write_text(summary + "\n")
    logger.info("%d passed, 0 failed", len(PASSED))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
