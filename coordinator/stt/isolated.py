"""Untrusted uploads decoded in a short-lived child process: a crash in FFmpeg or PyAV on hostile
input costs that request a 400, not the server.

Why a process. ``audio.py`` normalises what is known to crash (planar frames of 8 or more
channels) and budgets what is known to swamp (low rates, long frames); a 110-byte FLAC that
segfaulted the whole voice server showed that the next unknown crash in a C decoder fed by strangers
would do the same. In a child, a segfault, an allocation past its memory limit or a decode that
never ends are all answered: the child dies or is killed, the request gets a 400 naming the file.

Why this shape. ``forkserver``: the server process runs llama.cpp, CTranslate2 and CUDA threads, and
fork() of a threaded process is unsafe; ``spawn`` would import PyAV and numpy again for every upload.
The fork server is one small process, started at load (``warm``) with av, numpy and this package's
decoder imported, that forks a fresh child per decode. One child per decode, not a pool: nothing
one hostile file does carries over to the next, a crash needs no pool repaired, and the memory a
decode took is the OS's again when it exits. The child's address space is capped (RLIMIT_AS, what
it has at start plus a budget sized from the upload and MAX_AUDIO_SECONDS), its wall-clock time too,
and it is killed as soon as its request is cancelled (the client left, or shutdown).

What it costs, measured on the 2-core dev VM (shared, under load): about 17 ms added to the decode
of a 5 s clip (median of 40, wav, ogg/opus and mp3 alike: 8 → 27 ms for wav), the fork server's
59 MB resident, about 1.6 s once to start it (``warm``, at load). Against that: the 110-byte FLAC
that killed the server is a 400 even with the old decoder, and a 1 Hz FLAC bomb that took the
server +3.5 GB is held to the child's cap.
Where forkserver does not exist (Windows), decoding runs in the calling thread, with the same
checks and no isolation.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import signal
import struct
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.context import ForkServerContext
from typing import Any

import numpy as np

from coordinator.errors import CancelledError, InternalError, InvalidInputError
from coordinator.stt.audio import FORMATS_HINT, InvalidAudioError, decode_audio
from coordinator.stt.transcript import SAMPLE_RATE

logger = logging.getLogger(__name__)

START_METHOD = "forkserver"
# Imported once in the fork server, so each child starts with them loaded. "__main__": a program
# started as a script (the orpheus-coordinator or uvicorn command) is imported there once, or every
# child would run the script's imports again (multiprocessing's rule for spawned children); started
# with -m (python -m coordinator, the image's command) there is nothing to import. That preload is
# a no-op on Python 3.12 and older (CPython gh-137996, fixed in 3.13's later releases), so this
# package's command line is imported there too: the orpheus-coordinator script's one import is then already done in each child.
PRELOAD = ("__main__", "numpy", "av", "coordinator.stt.isolated", "coordinator.cli")
# How often the waiting thread looks at the request's cancellation while the child decodes.
POLL_INTERVAL_S = 0.05
# The wall-clock limit: a fixed allowance for the fork and the copies, plus the audio's length at
# a decoding speed far below what a loaded CPU does (the worst legal upload, 30 minutes of 8-channel
# 48 kHz FLAC, decodes about 400× faster than real time on the dev VM; Opus about 150×).
DECODE_BASE_TIMEOUT_S = 10.0
MIN_DECODE_SPEED = 20.0  # seconds of audio per second of decoding
# The memory a child may add to what it starts with: FFmpeg's buffers, threads' stacks, malloc
# arenas; plus three copies of the upload and of the largest output (received, decoded pieces and
# their concatenation, sent).
DECODE_MEMORY_SLACK_BYTES = 512 * 1024 * 1024
COPIES = 3
FLOAT32_BYTES = 4
WARM_UP_SECONDS = 0.1
WAV_PCM = 1
PCM16_BYTES = 2
_PAGE_FILE = "/proc/self/statm"  # Linux: the first field is the address space in pages

_lock = threading.Lock()
_context: ForkServerContext | None = None


def isolation_available() -> bool:
    return START_METHOD in multiprocessing.get_all_start_methods()


def _fork_server() -> ForkServerContext:
    global _context
    with _lock:
        if _context is None:
            context = multiprocessing.get_context(START_METHOD)
            assert isinstance(context, ForkServerContext)
            context.set_forkserver_preload(list(PRELOAD))
            _context = context
        return _context


def warm() -> None:
    """Start the fork server and decode a moment of silence in a child, now: the first upload
    does not wait for the fork server to import PyAV (about a second)."""
    decode_isolated(_silent_wav(WARM_UP_SECONDS), max_seconds=1.0, param="warm-up")


def _silent_wav(seconds: float) -> bytes:
    frames = int(seconds * SAMPLE_RATE)
    fmt = struct.pack("<HHIIHH", WAV_PCM, 1, SAMPLE_RATE, SAMPLE_RATE * PCM16_BYTES, PCM16_BYTES, 16)
    data = bytes(frames * PCM16_BYTES)
    body = (
        b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def decode_timeout_s(max_seconds: float) -> float:
    return DECODE_BASE_TIMEOUT_S + max_seconds / MIN_DECODE_SPEED


def memory_budget_bytes(upload_bytes: int, max_seconds: float) -> int:
    output = max_seconds * SAMPLE_RATE * FLOAT32_BYTES
    return int(DECODE_MEMORY_SLACK_BYTES + COPIES * (upload_bytes + output))


Decoder = Callable[..., np.ndarray]  # decode_audio's signature; run in the child


def decode_isolated(
    data: bytes,
    *,
    max_seconds: float,
    param: str = "file",
    stop: threading.Event | None = None,
    decoder: Decoder = decode_audio,
) -> np.ndarray:
    """``decode_audio`` in a child process (blocking: call it from a worker thread). ``stop``:
    once set, the child is killed and CancelledError raised. ``decoder``: what the child runs, a
    module-level function (tests put one there that crashes or hangs)."""
    if not isolation_available():
        return decode_audio(data, max_seconds=max_seconds, param=param, stop=stop)
    if not data:  # answered here: no process for what needs none
        return decode_audio(data, max_seconds=max_seconds, param=param)
    finite = math.isfinite(max_seconds)
    limit = memory_budget_bytes(len(data), max_seconds) if finite else None
    deadline = time.monotonic() + decode_timeout_s(max_seconds) if finite else math.inf
    context = _fork_server()
    ours, theirs = context.Pipe()
    child = context.Process(
        target=_child_main, args=(theirs, decoder, max_seconds, param, limit), name="stt-decode", daemon=True
    )
    started = time.perf_counter()
    try:
        child.start()
    except OSError:
        logger.exception("could not start a decoder process")
        raise InternalError(
            "the server could not start an audio decoder: the server logged the details"
        ) from None
    theirs.close()
    try:
        # A child that died before reading it: its exit code says how, below.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            ours.send_bytes(data)
        reply = _wait(ours, child, stop, deadline, max_seconds, param)
        if reply is None:
            raise _died(child, param)
        kind, *rest = reply
        if kind == "samples":
            samples = np.empty(rest[0], dtype=np.float32)
            if samples.size:
                ours.recv_bytes_into(samples)
            logger.debug(
                "decoded %.1f s of audio in %.3f s", samples.size / SAMPLE_RATE, time.perf_counter() - started
            )
            return samples
        if kind == "invalid":
            message, bad_param, code = rest
            refusal = InvalidAudioError if code == InvalidAudioError.code else InvalidInputError
            raise refusal(message, param=bad_param, code=code)
        if kind == "memory":
            raise InvalidAudioError(
                f"{param} needs more memory to decode than this server allows one upload: {FORMATS_HINT}",
                param=param,
            )
        logger.error("the decoder process failed:\n%s", rest[0])
        raise InternalError("the audio decoder failed: the server logged the details")
    except EOFError:
        raise _died(child, param) from None
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        ours.close()


def _wait(
    conn: multiprocessing.connection.Connection,
    child: multiprocessing.process.BaseProcess,
    stop: threading.Event | None,
    deadline: float,
    max_seconds: float,
    param: str,
) -> Any:
    """The child's first message; None if it exited without one."""
    while True:
        ready = multiprocessing.connection.wait([conn, child.sentinel], timeout=POLL_INTERVAL_S)
        if conn in ready:
            return conn.recv()
        if ready:
            return None
        if stop is not None and stop.is_set():
            child.kill()
            raise CancelledError("the decode was cancelled")
        if time.monotonic() > deadline:
            child.kill()
            logger.warning(
                "an upload took longer than %.0f s to decode: killed", decode_timeout_s(max_seconds)
            )
            raise InvalidAudioError(
                f"{param} took longer to decode than {decode_timeout_s(max_seconds):.0f} s: {FORMATS_HINT}",
                param=param,
            )


def _died(child: multiprocessing.process.BaseProcess, param: str) -> InvalidAudioError:
    child.join()
    code = child.exitcode
    how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
    logger.warning("the decoder process died on an upload (%s)", how)
    return InvalidAudioError(
        f"{param} crashed the audio decoder ({how}): it is not audio this server can read; {FORMATS_HINT}",
        param=param,
    )


def _child_main(
    conn: multiprocessing.connection.Connection,
    decoder: Decoder,
    max_seconds: float,
    param: str,
    limit: int | None,
) -> None:
    # The server handles Ctrl-C and kills its children; a traceback from each would be noise.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if limit is not None:
        _limit_address_space(limit)
    try:
        data = conn.recv_bytes()
        samples = np.ascontiguousarray(decoder(data, max_seconds=max_seconds, param=param), dtype=np.float32)
        del data
        conn.send(("samples", samples.size))
        conn.send_bytes(samples.data.cast("B"))
    except InvalidInputError as exc:
        conn.send(("invalid", exc.message, exc.param, exc.code))
    except MemoryError:
        conn.send(("memory",))
    except Exception:
        conn.send(("failed", traceback.format_exc()))


def _limit_address_space(extra: int) -> None:
    """Cap this process's address space at what it has now plus ``extra`` bytes (Linux)."""
    try:
        import resource

        with open(_PAGE_FILE) as statm:
            size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (ImportError, OSError, ValueError):
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size + extra if hard == resource.RLIM_INFINITY else min(size + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
