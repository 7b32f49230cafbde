"""Hostile uploads, built byte by byte (each a few hundred bytes): what a client may send to
crash or swamp the decoder. Written here, not with an encoder, because no encoder writes them:
FFmpeg's FLAC encoder refuses a 1 Hz rate, and these headers lie on purpose. And decoders that
crash, hang or grab memory, to show what the decoder process makes of them."""

from __future__ import annotations

import os
import resource
import signal
import struct
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tests.rig.waiting import HANG_GUARD_S, eventually

WAV_PCM = 1
FLAC_STREAMINFO = 0
FLAC_SYNC = 0b11111111111110
FLAC_BLOCK_SIZE_16_BIT = 0b0111  # the block size - 1 follows the header as 16 bits
FLAC_RATE_FROM_STREAMINFO = 0b0000
FLAC_RATE_16_BIT_HZ = 0b1101  # the frame's own rate in Hz follows the header as 16 bits
FLAC_SAMPLE_SIZE_16_BIT = 0b100
FLAC_SUBFRAME_CONSTANT = 0b000000
FLAC_BITS = 16
FLAC_MAX_BLOCK = 65_535
# How long a test waits for the decoder process to show up or to be gone: a hang guard only, never
# waited out when all is well.
NOTICED_WITHIN_S = HANG_GUARD_S
GREEDY_BYTES = 64 * 1024**3


def wav(*, channels: int, rate: int, frames: int, bits: int = 16, block_align: int | None = None) -> bytes:
    """A PCM WAV of silence whose header says what the arguments say, sensible or not."""
    align = block_align if block_align is not None else channels * bits // 8
    data = bytes(frames * align) if bits != 8 else b"\x80" * (frames * align)  # 8-bit PCM is unsigned
    fmt = struct.pack("<HHIIHH", WAV_PCM, channels, rate, rate * align, align, bits)
    body = (
        b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


class _Bits:
    def __init__(self) -> None:
        self.value, self.size = 0, 0

    def put(self, value: int, bits: int) -> None:
        self.value = (self.value << bits) | (value & ((1 << bits) - 1))
        self.size += bits

    def bytes(self) -> bytes:
        pad = -self.size % 8
        return (self.value << pad).to_bytes((self.size + pad) // 8, "big")


def _utf8(number: int) -> bytes:
    """A FLAC frame number, coded as UTF-8 codes a character (one or two bytes here)."""
    if number < 0x80:
        return bytes([number])
    assert number < 0x800
    return bytes([0xC0 | number >> 6, 0x80 | number & 0x3F])


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def flac(
    *, channels: int, rate: int, block: int, frames: int, frame_rates: Sequence[int | None] = ()
) -> bytes:
    """A FLAC of ``frames`` frames of ``block`` samples of silence per channel (1 ≤ channels ≤ 8,
    FLAC's own limit; 1 ≤ rate < 2**20): a few bytes each, CONSTANT subframes. ``frame_rates``: the
    rate each frame header claims for itself, in order (None, or past the end: the stream's)."""
    assert 1 <= channels <= 8 and 1 <= block <= FLAC_MAX_BLOCK
    info = _Bits()
    info.put(block, 16)  # min block size
    info.put(block, 16)  # max block size
    info.put(0, 24)  # min frame size: unknown
    info.put(0, 24)  # max frame size: unknown
    info.put(rate, 20)
    info.put(channels - 1, 3)
    info.put(FLAC_BITS - 1, 5)
    info.put(block * frames, 36)
    streaminfo = info.bytes() + bytes(16)  # MD5 of the audio: 0, "not computed"
    last_block = 0x80
    out = b"fLaC" + bytes([last_block | FLAC_STREAMINFO]) + len(streaminfo).to_bytes(3, "big") + streaminfo
    for number in range(frames):
        frame_rate = frame_rates[number] if number < len(frame_rates) else None
        header = _Bits()
        header.put(FLAC_SYNC, 14)
        header.put(0, 1)  # reserved
        header.put(0, 1)  # fixed block size
        header.put(FLAC_BLOCK_SIZE_16_BIT, 4)
        header.put(FLAC_RATE_FROM_STREAMINFO if frame_rate is None else FLAC_RATE_16_BIT_HZ, 4)
        header.put(channels - 1, 4)  # independent channels
        header.put(FLAC_SAMPLE_SIZE_16_BIT, 3)
        header.put(0, 1)  # reserved
        head = header.bytes() + _utf8(number) + (block - 1).to_bytes(2, "big")
        if frame_rate is not None:
            head += frame_rate.to_bytes(2, "big")
        head += bytes([_crc8(head)])
        body = _Bits()
        for _ in range(channels):
            body.put(0, 1)  # zero padding
            body.put(FLAC_SUBFRAME_CONSTANT, 6)
            body.put(0, 1)  # no wasted bits
            body.put(0, FLAC_BITS)  # the constant: silence
        frame = head + body.bytes()
        out += frame + _crc16(frame).to_bytes(2, "big")
    return out


# Decoders that misbehave as FFmpeg might on a file nobody has met yet, for the decoder process
# (coordinator/stt/isolated.py runs whichever module-level function it is given, in a child).


def crashing_decoder(data: bytes, *, max_seconds: float, param: str) -> np.ndarray:
    """Dies of a segmentation fault, as PyAV did on 8-channel planar frames."""
    os.kill(os.getpid(), signal.SIGSEGV)
    raise AssertionError("unreachable")


def hanging_decoder(data: bytes, *, max_seconds: float, param: str) -> np.ndarray:
    """Writes its process id to the file named by ``data`` (so a test knows it runs), then never
    returns, as a demuxer stuck in a loop."""
    # Written whole, then renamed: a reader polling the name never sees half a number (and would
    # watch some other process for good).
    target = Path(data.decode())
    partial = target.with_name(target.name + ".partial")
    partial.write_text(str(os.getpid()))
    os.replace(partial, target)
    threading.Event().wait()  # never set: blocked for good, until the parent kills this process


def greedy_decoder(data: bytes, *, max_seconds: float, param: str) -> np.ndarray:
    """Asks for far more memory than any upload may cost, as a decoder trusting a header would."""
    return np.ones(GREEDY_BYTES // 4, dtype=np.float32)


def failing_decoder(data: bytes, *, max_seconds: float, param: str) -> np.ndarray:
    """Fails with an error nobody expected (a bug, not the client's file)."""
    raise RuntimeError("a bug in the decoder")


def pid_decoder(data: bytes, *, max_seconds: float, param: str) -> np.ndarray:
    """Answers with the id of the process it runs in."""
    return np.array([os.getpid()], dtype=np.float32)  # exact: ids are below 2**24


def peak_memory_decoder(data: bytes, *, max_seconds: float, param: str) -> np.ndarray:
    """decode_audio, answering with what the decode cost instead of the samples: [refused (0 or
    1), growth of this process's peak resident memory in KiB]. A fresh child per decode makes the
    peak this decode's own."""
    from coordinator.errors import InvalidInputError
    from coordinator.stt.audio import decode_audio

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        decode_audio(data, max_seconds=max_seconds, param=param)
        refused = 0
    except InvalidInputError:
        refused = 1
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return np.array([refused, growth], dtype=np.float32)


def process_gone(pid: int) -> bool:
    """No such process any more (a zombie not yet reaped by the fork server counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


def pid_written_to(path: Path) -> int:
    """The process id a hanging_decoder wrote, once it has."""
    eventually(lambda: path.exists() and path.read_text(), "the decoder process started")
    return int(path.read_text())
