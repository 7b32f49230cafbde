"""Output files written atomically: a temp file beside the target, renamed into place on success.

A failure or Ctrl-C half way leaves the target untouched (and no temp file behind).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import wave
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from coordinator.audio.format import CHANNELS, SAMPLE_RATE, to_pcm16
from coordinator.errors import InvalidCodesError, InvalidInputError
from coordinator.orpheus.codes import CODEBOOK_NAMES, codebooks_to_frames, frames_to_codebooks


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[IO[bytes]]:
    """Yield a binary file that becomes ``path`` only if the block completes."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InvalidInputError(f"cannot write {path}: directory {directory} does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "w+b") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


PCM16_BYTES = 2


class WavWriter:
    """Appends float chunks to a 24 kHz mono 16-bit WAV as they arrive.

    Written by the standard library's ``wave`` (pure Python), not libsndfile: libsndfile reads and
    writes a Python file through C callbacks, and a Ctrl-C landing inside one is swallowed there
    ("Exception ignored in callback"), so the synth went on and kept its output (seen in the suite).
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self._file = wave.open(handle, "wb")  # noqa: SIM115  (closed by close(); the handle is the caller's)
        self._file.setnchannels(CHANNELS)
        self._file.setsampwidth(PCM16_BYTES)
        self._file.setframerate(SAMPLE_RATE)
        self.samples = 0

    def write(self, samples: np.ndarray) -> None:
        self._file.writeframes(to_pcm16(samples).astype("<i2", copy=False).tobytes())
        self.samples += len(samples)

    def close(self) -> None:
        self._file.close()


@contextlib.contextmanager
def open_wav(path: Path) -> Iterator[WavWriter]:
    with atomic_output(path) as handle:
        writer = WavWriter(handle)
        try:
            yield writer
        finally:
            writer.close()


def save_codes(path: Path, frames: np.ndarray) -> None:
    """Save frames as c0 (F), c1 (2F), c2 (4F) int arrays in an .npz, atomically."""
    c0, c1, c2 = frames_to_codebooks(frames)
    with atomic_output(path) as handle:
        np.savez(handle, c0=c0, c1=c1, c2=c2)


def load_codes(path: Path) -> np.ndarray:
    """Read and validate an .npz of c0/c1/c2 codes; return (F, 7) frames."""
    if not path.is_file():
        raise InvalidCodesError(f"codes file {path} not found: give the .npz written by synth --codes-out")
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            missing = [name for name in CODEBOOK_NAMES if name not in keys]
            if missing:
                raise InvalidCodesError(
                    f"{path} lacks {', '.join(missing)}: a codes file holds c0 (F), c1 (2F) and c2 (4F) "
                    f"arrays (found: {', '.join(sorted(keys)) or 'nothing'})"
                )
            books = [data[name] for name in CODEBOOK_NAMES]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InvalidCodesError(
            f"{path} is not a valid .npz codes file ({str(exc).splitlines()[0][:120]})"
        ) from None
    return codebooks_to_frames(*books)
