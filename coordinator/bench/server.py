"""The real server (app factory, lifespan, uvicorn) on a loopback port of this process, for measuring.

Benchmarks run the same path clients reach: engine, batched SNAC, encoders, HTTP. In-process,
so the measurement can also read the runtime's own counters (engine steps, SNAC calls).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import uvicorn
from fastapi import FastAPI

from coordinator.config.settings import Settings
from coordinator.errors import ModelLoadError
from coordinator.launch.app import create_app

LOOPBACK = "127.0.0.1"
READY_POLL_S = 0.1
STOP_TIMEOUT_S = 60.0
# Loading a real 4 GB model, and its warm-up, take a while on a CPU.
DEFAULT_STARTUP_TIMEOUT_S = 600.0
LOAD_FAILED = "model loading failed"  # how a failed load is worded (service/startup.py)


@contextlib.contextmanager
def running_server(
    settings: Settings, *, startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S
) -> Iterator[tuple[str, FastAPI]]:
    """Yield (base URL, app) once /health answers 200 (models loaded and warmed up)."""
    app = create_app(settings)
    sock = socket.socket()
    sock.bind((LOOPBACK, 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://{LOOPBACK}:{sock.getsockname()[1]}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if not thread.is_alive():
                raise ModelLoadError("the server stopped while starting: see the log above")
            reason = getattr(app.state, "not_ready_reason", None) or ""
            if reason.startswith(LOAD_FAILED):
                raise ModelLoadError(reason)
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/health").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise ModelLoadError(f"the server was not ready within {startup_timeout_s:.0f} s")
            time.sleep(READY_POLL_S)
        yield url, app
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT_S)
        sock.close()
