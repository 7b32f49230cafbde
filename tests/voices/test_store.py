"""The voices on disk: kept, found, deleted, read back by a new store, written atomically, and a
corrupt folder skipped with a warning, never a crash."""

from __future__ import annotations

import json
import logging
import threading

import numpy as np
import pytest
import soundfile as sf

from coordinator.errors import VoiceConflictError, VoiceNotFoundError
from coordinator.orpheus.clone import CLONE_SAMPLE_RATE
from coordinator.voices import store as store_module
from coordinator.voices.store import META, VoiceStore, new_voice_id
from tests.voices.rig import audio_for, random_voice

ID_A, ID_B, ID_C = "voice_" + "a" * 16, "voice_" + "b" * 16, "voice_" + "c" * 16


def _store(tmp_path, max_count: int = 10) -> VoiceStore:
    store = VoiceStore(tmp_path / "voices", max_count=max_count)
    store.load()
    return store


def _add(store: VoiceStore, voice_id: str, name: str, **kwargs):
    voice = random_voice(voice_id, name, **kwargs)
    store.add(voice, audio_for(voice))
    return voice


def test_new_ids_are_distinct_voice_hex():
    ids = {new_voice_id() for _ in range(100)}
    assert len(ids) == 100 and all(store_module.ID_PATTERN.fullmatch(i) for i in ids)


def test_a_missing_directory_is_an_empty_store_and_is_not_created_by_loading(tmp_path):
    store = _store(tmp_path)
    assert store.voices() == [] and not (tmp_path / "voices").exists()


def test_add_find_by_id_or_name_ignoring_case_and_delete(tmp_path):
    store = _store(tmp_path)
    voice = _add(store, ID_A, "Grandma Rose", samples=2)
    assert store.find(ID_A) is voice
    assert store.find("grandma rose") is voice and store.find("  GRANDMA ROSE ") is voice
    assert store.find("someone else") is None
    assert store.get(ID_A) is voice and store.voices() == [voice]
    assert store.delete(ID_A) is voice
    assert store.find(ID_A) is None and store.voices() == []
    assert not (tmp_path / "voices" / ID_A).exists()
    with pytest.raises(VoiceNotFoundError):
        store.delete(ID_A)
    with pytest.raises(VoiceNotFoundError):
        store.get(ID_A)


def test_what_is_written_is_what_a_new_store_reads_back(tmp_path):
    store = _store(tmp_path)
    first = _add(store, ID_A, "Rose", samples=2, created_at=100)
    second = _add(store, ID_B, "Émile", created_at=200)
    folder = tmp_path / "voices" / ID_A
    meta = json.loads((folder / META).read_text())
    assert meta["id"] == ID_A and meta["name"] == "Rose" and meta["created_at"] == 100
    assert [s["frames"] for s in meta["samples"]] == ["sample_0.npy", "sample_1.npy"]
    audio, rate = sf.read(folder / "sample_1.wav", dtype="float32")
    assert rate == CLONE_SAMPLE_RATE and audio.size == audio_for(first)[1].size
    assert store.audio_path(ID_A, 1) == folder / "sample_1.wav"

    reloaded = _store(tmp_path)
    assert [v.id for v in reloaded.voices()] == [ID_A, ID_B]  # oldest first
    for before in (first, second):
        after = reloaded.get(before.id)
        assert (after.name, after.created_at, after.language) == (
            before.name,
            before.created_at,
            before.language,
        )
        assert [s.transcript for s in after.samples] == [s.transcript for s in before.samples]
        for a, b in zip(after.samples, before.samples):
            assert a.frames.dtype == np.int64 and np.array_equal(a.frames, b.frames)


def test_a_taken_name_is_a_409_whatever_its_case(tmp_path):
    store = _store(tmp_path)
    _add(store, ID_A, "Rose")
    with pytest.raises(VoiceConflictError) as info:
        _add(store, ID_B, " rose")
    assert info.value.param == "name" and "delete that voice" in info.value.message
    with pytest.raises(VoiceConflictError):
        store.check_name("ROSE")
    assert not (tmp_path / "voices" / ID_B).exists()


def test_the_count_limit(tmp_path):
    store = _store(tmp_path, max_count=2)
    _add(store, ID_A, "one")
    store.check_room()
    with pytest.raises(VoiceConflictError):
        store.check_room(pending=1)
    _add(store, ID_B, "two")
    with pytest.raises(VoiceConflictError) as info:
        _add(store, ID_C, "three")
    assert "VOICE_MAX_COUNT" in info.value.message
    store.delete(ID_A)
    _add(store, ID_C, "three")


def test_a_failure_mid_write_leaves_no_voice_visible(tmp_path, monkeypatch):
    store = _store(tmp_path)
    real_write = store_module._write

    def failing(folder, voice, samples_audio):
        real_write(folder, voice, samples_audio)  # every file written...
        raise OSError(28, "No space left on device")  # ...then the disk fills before the rename

    monkeypatch.setattr(store_module, "_write", failing)
    with pytest.raises(OSError):
        _add(store, ID_A, "Rose")
    assert store.find("Rose") is None
    assert list((tmp_path / "voices").iterdir()) == []  # the temporary folder is gone too
    monkeypatch.setattr(store_module, "_write", real_write)
    _add(store, ID_A, "Rose")  # the name was not left taken
    assert [v.id for v in _store(tmp_path).voices()] == [ID_A]


def test_a_half_written_temporary_folder_is_never_a_voice_and_is_cleaned_at_start(tmp_path, caplog):
    store = _store(tmp_path)
    _add(store, ID_A, "Rose")
    # A crash mid-write leaves the hidden temporary folder (here: a complete copy under its temp name).
    root = tmp_path / "voices"
    leftover = root / f".tmp-{ID_B}"
    (root / ID_A).rename(leftover)
    _add(_store(tmp_path), ID_A, "Rose")
    caplog.set_level(logging.INFO)
    reloaded = _store(tmp_path)
    assert [v.id for v in reloaded.voices()] == [ID_A]
    assert not leftover.exists()


def _corrupt_cases():
    def bad_json(folder):
        (folder / META).write_text("{not json")

    def not_an_object(folder):
        (folder / META).write_text("[1, 2]")

    def no_meta(folder):
        (folder / META).unlink()

    def missing_frames(folder):
        (folder / "sample_0.npy").unlink()

    def wrong_shape(folder):
        np.save(folder / "sample_0.npy", np.zeros((10, 6), np.int64))

    def empty_frames(folder):
        np.save(folder / "sample_0.npy", np.zeros((0, 7), np.int64))

    def float_frames(folder):
        np.save(folder / "sample_0.npy", np.zeros((10, 7), np.float32))

    def codes_out_of_range(folder):
        np.save(folder / "sample_0.npy", np.full((10, 7), 4096, np.int64))

    def pickled_frames(folder):
        np.save(folder / "sample_0.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)

    def truncated_frames(folder):
        data = (folder / "sample_0.npy").read_bytes()
        (folder / "sample_0.npy").write_bytes(data[: len(data) // 2])

    def frames_outside_folder(folder):
        _edit(folder, lambda m: m["samples"][0].update(frames="../sample_0.npy"))

    def wrong_id(folder):
        _edit(folder, lambda m: m.update(id="voice_ffffffffffffffff"))

    def no_name(folder):
        _edit(folder, lambda m: m.update(name=""))

    def no_samples(folder):
        _edit(folder, lambda m: m.update(samples=[]))

    def no_transcript(folder):
        _edit(folder, lambda m: m["samples"][0].pop("transcript"))

    def bad_created_at(folder):
        _edit(folder, lambda m: m.update(created_at="yesterday"))

    return [
        bad_json, not_an_object, no_meta, missing_frames, wrong_shape, empty_frames, float_frames,
        codes_out_of_range, pickled_frames, truncated_frames, frames_outside_folder, wrong_id, no_name,
        no_samples, no_transcript, bad_created_at,
    ]  # fmt: skip


def _edit(folder, change):
    meta = json.loads((folder / META).read_text())
    change(meta)
    (folder / META).write_text(json.dumps(meta))


@pytest.mark.parametrize("corrupt", _corrupt_cases(), ids=lambda f: f.__name__)
def test_a_corrupt_voice_is_skipped_with_a_warning_naming_it_and_the_rest_load(tmp_path, caplog, corrupt):
    store = _store(tmp_path)
    _add(store, ID_A, "Broken")
    _add(store, ID_B, "Fine")
    corrupt(tmp_path / "voices" / ID_A)
    with caplog.at_level(logging.WARNING, logger="coordinator.voices.store"):
        reloaded = _store(tmp_path)
    assert [v.id for v in reloaded.voices()] == [ID_B]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and ID_A in warnings[0] and "skipped" in warnings[0]
    assert (tmp_path / "voices" / ID_A).exists()  # left for its owner to look at


def test_stray_files_and_foreign_folders_are_ignored(tmp_path, caplog):
    store = _store(tmp_path)
    _add(store, ID_A, "Rose")
    root = tmp_path / "voices"
    (root / "README.txt").write_text("my voices")
    (root / "lost+found").mkdir()
    (root / ".cache").mkdir()
    with caplog.at_level(logging.WARNING):
        reloaded = _store(tmp_path)
    assert [v.id for v in reloaded.voices()] == [ID_A]


def test_two_folders_of_one_name_keep_the_older(tmp_path, caplog):
    store = _store(tmp_path)
    _add(store, ID_A, "Rose", created_at=200)
    _edit_folder = tmp_path / "voices" / ID_A
    other = random_voice(ID_B, "Other", created_at=100)
    store.add(other, audio_for(other))
    _edit(tmp_path / "voices" / ID_B, lambda m: m.update(name="ROSE"))
    with caplog.at_level(logging.WARNING):
        reloaded = _store(tmp_path)
    assert [v.id for v in reloaded.voices()] == [ID_B]
    assert any(ID_A in r.getMessage() and "taken" in r.getMessage() for r in caplog.records)
    assert _edit_folder.exists()


def test_concurrent_adds_of_one_name_one_wins(tmp_path):
    store = _store(tmp_path)
    ids = [f"voice_{i:016x}" for i in range(8)]
    barrier = threading.Barrier(len(ids))
    outcomes: list[str] = []

    def add(voice_id: str) -> None:
        voice = random_voice(voice_id, "Same Name")
        barrier.wait()
        try:
            store.add(voice, audio_for(voice))
            outcomes.append("won")
        except VoiceConflictError:
            outcomes.append("409")

    threads = [threading.Thread(target=add, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["409"] * 7 + ["won"]
    assert len(_store(tmp_path).voices()) == 1
