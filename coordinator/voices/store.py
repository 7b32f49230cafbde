"""The custom voices on disk (VOICES_DIR): one folder per voice, written atomically, read at start.

Layout of a voice's folder, named by its id (``voice_<hex>``)::

    meta.json        {"format": 1, "id", "name", "created_at", "language",
                      "samples": [{"transcript", "frames": "sample_0.npy", "audio": "sample_0.wav"}]}
    sample_0.npy     the sample's SNAC frames, (F, 7) int64 codes 0..4095 in Orpheus' frame layout
    sample_0.wav     the normalised recording, 24 kHz mono 16-bit (what the voice was made from)

**Atomic.** A voice is written into a hidden temporary folder (``.tmp-<id>``), each file flushed to
disk, then renamed to its id in one step: a crash or a full disk mid-write leaves a temporary folder
(removed at the next start), never a half voice. Deleting renames the folder away (``.del-<id>``)
before removing it, so a voice is there or gone, never half gone.

**Never crashes the start.** ``load`` reads every folder; one it cannot use (unreadable or bad
JSON, a missing or malformed frames file, a name taken by an earlier voice) is skipped with a
warning naming it and what is wrong, and left on disk for its owner to look at.

Thread-safe: the service adds and deletes from worker threads while requests resolve voices.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from coordinator.errors import VoiceConflictError, VoiceNotFoundError
from coordinator.orpheus.clone import CLONE_SAMPLE_RATE, ClonedVoice, ReferenceSample
from coordinator.orpheus.layout import FRAME_TOKENS

logger = logging.getLogger(__name__)

FORMAT = 1
META = "meta.json"
ID_PREFIX = "voice_"
ID_HEX_BYTES = 8
ID_PATTERN = re.compile(r"voice_[0-9a-f]{8,32}")
TEMP_PREFIX = ".tmp-"
DELETED_PREFIX = ".del-"
CODEBOOK_SIZE = 4096  # SNAC 24 kHz: codes 0..4095
WAV_SUBTYPE = "PCM_16"


class CorruptVoiceError(Exception):
    """A voice folder the store cannot use; the message says what is wrong with it."""


def new_voice_id() -> str:
    return ID_PREFIX + secrets.token_hex(ID_HEX_BYTES)


def name_key(name: str) -> str:
    """What two names are compared by: case and surrounding spaces ignored."""
    return name.strip().casefold()


class VoiceStore:
    """The custom voices kept in ``directory`` (created on the first ``add``), at most
    ``max_count``. Implements tts.registry.VoiceBook (``find``, ``voices``)."""

    def __init__(self, directory: Path, *, max_count: int) -> None:
        self.directory = Path(directory)
        self.max_count = max_count
        self._lock = threading.Lock()
        self._by_id: dict[str, ClonedVoice] = {}

    # -- reading
    def load(self) -> None:
        """Read every voice folder (at start). Leftovers of an interrupted write or delete are
        removed; a folder that cannot be used is skipped with a warning."""
        loaded: dict[str, ClonedVoice] = {}
        if self.directory.is_dir():
            for entry in sorted(self.directory.iterdir()):
                if entry.name.startswith((TEMP_PREFIX, DELETED_PREFIX)):
                    logger.info("removing %s, left by an interrupted write or delete", entry)
                    shutil.rmtree(entry, ignore_errors=True)
                    continue
                if not entry.is_dir() or entry.name.startswith("."):
                    continue
                try:
                    voice = read_voice(entry)
                except CorruptVoiceError as exc:
                    logger.warning("custom voice %s skipped: %s", entry, exc)
                    continue
                loaded[voice.id] = voice
        # Two folders of one name (copied by hand): the older keeps it.
        kept: dict[str, ClonedVoice] = {}
        names: set[str] = set()
        for voice in sorted(loaded.values(), key=lambda v: (v.created_at, v.id)):
            if name_key(voice.name) in names:
                logger.warning(
                    "custom voice %s skipped: its name %r is taken by an older voice", voice.id, voice.name
                )
                continue
            names.add(name_key(voice.name))
            kept[voice.id] = voice
        with self._lock:
            self._by_id = kept
        logger.info("%d custom voice(s) in %s", len(kept), self.directory)

    def find(self, name: str) -> ClonedVoice | None:
        """The voice whose id is ``name``, else whose name is ``name`` (case ignored)."""
        with self._lock:
            voice = self._by_id.get(name.strip())
            if voice is not None:
                return voice
            key = name_key(name)
            return next((v for v in self._by_id.values() if name_key(v.name) == key), None)

    def voices(self) -> list[ClonedVoice]:
        """Every voice, oldest first."""
        with self._lock:
            return sorted(self._by_id.values(), key=lambda v: (v.created_at, v.id))

    def get(self, voice_id: str) -> ClonedVoice:
        with self._lock:
            voice = self._by_id.get(voice_id)
        if voice is None:
            raise VoiceNotFoundError(
                f"no custom voice has the id {voice_id!r}: GET /v1/audio/voices lists them", param="voice_id"
            )
        return voice

    def audio_path(self, voice_id: str, index: int) -> Path:
        """The normalised recording of a voice's sample ``index`` (to be heard)."""
        self.get(voice_id)
        return self.directory / voice_id / f"sample_{index}.wav"

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_id)

    # -- writing
    def check_name(self, name: str) -> None:
        """VoiceConflictError if a kept voice has ``name``."""
        if self._name_taken(name):
            raise _taken(name)

    def check_room(self, pending: int = 0) -> None:
        """VoiceConflictError if ``pending`` more voices would pass the count limit."""
        if len(self) + pending >= self.max_count:
            raise _full(self.max_count)

    def add(self, voice: ClonedVoice, samples_audio: Sequence[np.ndarray]) -> None:
        """Write ``voice`` (its frames, ``samples_audio``: each sample's normalised 24 kHz
        recording) and keep it. VoiceConflictError if its name is taken or the store is full;
        nothing is visible on disk or here unless all of it was written."""
        if len(samples_audio) != len(voice.samples):
            raise ValueError("one recording per sample")
        if not ID_PATTERN.fullmatch(voice.id):
            raise ValueError(f"bad voice id {voice.id!r}")
        self._check_room_and_name(voice.name)  # early: no files written for a refusal
        self.directory.mkdir(parents=True, exist_ok=True)
        temp = self.directory / f"{TEMP_PREFIX}{voice.id}"
        try:
            _write(temp, voice, samples_audio)  # outside the lock: finding voices never waits on a disk
            with self._lock:
                # Checked again and made visible under the lock: of two creations of one name, one
                # renames its folder in, the other is refused and removes its own.
                self._check_room_and_name(voice.name, locked=True)
                os.replace(temp, self.directory / voice.id)
                self._by_id[voice.id] = voice
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        _fsync_dir(self.directory)
        logger.info(
            "custom voice %s (%r) created: %.1f s of reference", voice.id, voice.name, voice.reference_seconds
        )

    def delete(self, voice_id: str) -> ClonedVoice:
        """Forget and remove a voice (VoiceNotFoundError if there is none). Streams already
        speaking in it hold its frames in memory and finish."""
        with self._lock:
            voice = self._by_id.get(voice_id)
            if voice is None:
                raise VoiceNotFoundError(
                    f"no custom voice has the id {voice_id!r}: GET /v1/audio/voices lists them",
                    param="voice_id",
                )
            folder = self.directory / voice_id
            gone = self.directory / f"{DELETED_PREFIX}{voice_id}"
            if folder.exists():
                os.replace(folder, gone)
            del self._by_id[voice_id]
        shutil.rmtree(gone, ignore_errors=True)
        logger.info("custom voice %s (%r) deleted", voice.id, voice.name)
        return voice

    def _name_taken(self, name: str) -> bool:
        with self._lock:
            return any(name_key(v.name) == name_key(name) for v in self._by_id.values())

    def _check_room_and_name(self, name: str, *, locked: bool = False) -> None:
        if not locked:
            with self._lock:
                self._check_room_and_name(name, locked=True)
            return
        if any(name_key(v.name) == name_key(name) for v in self._by_id.values()):
            raise _taken(name)
        if len(self._by_id) >= self.max_count:
            raise _full(self.max_count)


def _taken(name: str) -> VoiceConflictError:
    return VoiceConflictError(
        f"a custom voice named {name!r} exists: choose another name, or delete that voice first",
        param="name",
    )


def _full(max_count: int) -> VoiceConflictError:
    return VoiceConflictError(
        f"this server keeps at most {max_count} custom voices (VOICE_MAX_COUNT): delete one first",
        param="name",
        code="voice_limit",
    )


def _write(folder: Path, voice: ClonedVoice, samples_audio: Sequence[np.ndarray]) -> None:
    import soundfile as sf

    folder.mkdir()
    samples_meta = []
    for index, (sample, audio) in enumerate(zip(voice.samples, samples_audio)):
        frames_name, audio_name = f"sample_{index}.npy", f"sample_{index}.wav"
        with open(folder / frames_name, "wb") as file:
            np.save(file, np.asarray(sample.frames, dtype=np.int64), allow_pickle=False)
            _flush(file)
        with open(folder / audio_name, "wb") as file:
            sf.write(
                file,
                np.asarray(audio, dtype=np.float32),
                CLONE_SAMPLE_RATE,
                subtype=WAV_SUBTYPE,
                format="WAV",
            )
            _flush(file)
        samples_meta.append({"transcript": sample.transcript, "frames": frames_name, "audio": audio_name})
    meta = {
        "format": FORMAT,
        "id": voice.id,
        "name": voice.name,
        "created_at": voice.created_at,
        "language": voice.language,
        "samples": samples_meta,
    }
    with open(folder / META, "w", encoding="utf-8") as file:
        json.dump(meta, file, ensure_ascii=False, indent=1)
        _flush(file)


def _flush(file: Any) -> None:
    file.flush()
    os.fsync(file.fileno())


def _fsync_dir(directory: Path) -> None:
    """The rename itself on disk (POSIX; a no-op where a directory cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_voice(folder: Path) -> ClonedVoice:
    """A voice folder as a ClonedVoice; CorruptVoiceError saying what is wrong with it."""
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorruptVoiceError(f"no {META}") from None
    except (OSError, ValueError) as exc:
        raise CorruptVoiceError(f"{META} is not readable JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise CorruptVoiceError(f"{META} is not an object")
    voice_id, name, created_at = meta.get("id"), meta.get("name"), meta.get("created_at")
    language, samples = meta.get("language", "en"), meta.get("samples")
    if voice_id != folder.name or not ID_PATTERN.fullmatch(folder.name):
        raise CorruptVoiceError(f"its id {voice_id!r} is not its folder's name {folder.name!r}")
    if not isinstance(name, str) or not name.strip():
        raise CorruptVoiceError("it has no name")
    if not isinstance(created_at, int) or isinstance(created_at, bool):
        raise CorruptVoiceError("created_at is not a whole number of seconds")
    if not isinstance(language, str):
        raise CorruptVoiceError("language is not a string")
    if not isinstance(samples, list) or not samples:
        raise CorruptVoiceError("it has no samples")
    references = tuple(_read_sample(folder, index, entry) for index, entry in enumerate(samples))
    return ClonedVoice(id=voice_id, name=name, samples=references, created_at=created_at, language=language)


def _read_sample(folder: Path, index: int, entry: object) -> ReferenceSample:
    if not isinstance(entry, dict):
        raise CorruptVoiceError(f"sample {index} is not an object")
    transcript, frames_name = entry.get("transcript"), entry.get("frames")
    if not isinstance(transcript, str) or not transcript.strip():
        raise CorruptVoiceError(f"sample {index} has no transcript")
    if not isinstance(frames_name, str) or Path(frames_name).name != frames_name:
        raise CorruptVoiceError(f"sample {index} names no frames file in its folder")
    try:
        frames = np.load(folder / frames_name, allow_pickle=False)
    except FileNotFoundError:
        raise CorruptVoiceError(f"sample {index}'s frames file {frames_name} is missing") from None
    except (OSError, ValueError) as exc:
        raise CorruptVoiceError(f"sample {index}'s frames file {frames_name} is unreadable ({exc})") from None
    if frames.ndim != 2 or frames.shape[1] != FRAME_TOKENS or frames.shape[0] == 0:
        raise CorruptVoiceError(
            f"sample {index}'s frames have the shape {frames.shape}, not (frames, {FRAME_TOKENS})"
        )
    if not np.issubdtype(frames.dtype, np.integer):
        raise CorruptVoiceError(f"sample {index}'s frames are {frames.dtype}, not integers")
    if frames.min() < 0 or frames.max() >= CODEBOOK_SIZE:
        raise CorruptVoiceError(f"sample {index}'s frames hold codes outside 0..{CODEBOOK_SIZE - 1}")
    return ReferenceSample(transcript=transcript, frames=frames.astype(np.int64, copy=False))
