"""Giving freed heap memory back to the operating system.

glibc's malloc keeps what a process frees in its arenas for reuse, and a server that decodes
audio on several threads (SNAC's tensors, FFmpeg's buffers, numpy's chunks) fragments them: the
resident size creeps up over hundreds of requests although nothing leaks. ``malloc_trim`` hands
the free pages back. It is glibc only: elsewhere (macOS, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import sys
from typing import Any

logger = logging.getLogger(__name__)

# malloc_trim's argument: bytes to leave untrimmed at the top of the heap (none).
KEEP_PAD_BYTES = 0


@functools.cache
def _malloc_trim() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # no libc by that name, or not glibc (musl has no malloc_trim)
        logger.debug("malloc_trim is not available: freed heap memory stays with the process")
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_heap() -> bool:
    """Return the heap's free pages to the OS; True if any were returned."""
    trim = _malloc_trim()
    if trim is None:
        return False
    return bool(trim(KEEP_PAD_BYTES))
