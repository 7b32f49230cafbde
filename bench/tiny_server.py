"""A real server (uvicorn, loopback) on the tiny random test models, for the CPU benchmarks."""

from __future__ import annotations

import contextlib
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coordinator.config import Settings  # noqa: E402
from coordinator.server.app import create_app  # noqa: E402
from tests.rig.language_models import write_language_rig  # noqa: E402
from tests.rig.snac_checkpoint import write_random_snac  # noqa: E402
from tests.rig.tiny_gguf import build_chat_gguf, build_orpheus_gguf  # noqa: E402

STARTUP_TIMEOUT_S = 120


@contextlib.contextmanager
def tiny_server(*, languages: bool = False, **settings: object) -> Iterator[tuple[str, object]]:
    """Yield (base URL, app) of a ready server; models are built in a temporary directory.
    ``languages``: also tiny French and Chinese fine-tunes (tests/rig/language_models.py), each on
    its own engine, selected with ORPHEUS_MODELS=en,fr,zh."""
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp)
        catalog: dict[str, object] = {"models_config": ROOT / "models.yaml"}
        if languages:
            catalog = {
                "models_config": write_language_rig(models),
                "models_dir": models,
                "orpheus_models": "en,fr,zh",
            }
        config = Settings(
            _env_file=None,
            orpheus_model_path=build_orpheus_gguf(models / "orpheus.gguf"),
            llm_model_path=build_chat_gguf(models / "chat.gguf"),
            snac_model_path=write_random_snac(models / "snac"),
            snac_device="cpu",
            **{"n_ctx": 1024, "tts_max_tokens": 140, "max_concurrent_streams": 8, **catalog, **settings},
        )
        app = create_app(config)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/health").status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("the server did not become ready")
        try:
            yield url, app
        finally:
            server.should_exit = True
            thread.join(timeout=60)
