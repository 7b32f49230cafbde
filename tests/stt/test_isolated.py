"""The decoder process: whatever the decoder does on a hostile upload (crash, hang, grab memory,
fail), the caller gets a clear error, the child is gone, and the next upload decodes."""

from __future__ import annotations

import logging
import os
import threading

import numpy as np
import pytest

from coordinator.errors import CancelledError, InternalError
from coordinator.stt import isolated
from coordinator.stt.audio import InvalidAudioError
from coordinator.stt.isolated import decode_isolated, memory_budget_bytes
from tests.rig.audio_samples import encode
from tests.rig.hostile_audio import (
    GREEDY_BYTES,
    NOTICED_WITHIN_S,
    crashing_decoder,
    failing_decoder,
    greedy_decoder,
    hanging_decoder,
    pid_decoder,
    pid_written_to,
    process_gone,
)

RATE = 16_000
GOOD = encode(np.zeros(RATE, np.float32), RATE, "wav")


def _good_decode_still_works() -> None:
    assert decode_isolated(GOOD, max_seconds=10).size == RATE


def test_a_decoder_crash_is_a_400_naming_the_file_and_the_server_lives(caplog):
    with (
        caplog.at_level(logging.WARNING, logger="coordinator.stt.isolated"),
        pytest.raises(InvalidAudioError) as error,
    ):
        decode_isolated(b"anything", max_seconds=10, param="audio", decoder=crashing_decoder)
    assert (
        error.value.param == "audio" and "crashed the audio decoder (signal SIGSEGV)" in error.value.message
    )
    assert "SIGSEGV" in caplog.text
    _good_decode_still_works()


def test_a_decoder_asking_for_more_memory_than_the_budget_gets_a_400():
    assert memory_budget_bytes(len(b"x"), 10) < GREEDY_BYTES
    with pytest.raises(InvalidAudioError) as error:
        decode_isolated(b"x", max_seconds=10, decoder=greedy_decoder)
    assert "more memory" in error.value.message
    _good_decode_still_works()


def test_an_unexpected_decoder_failure_is_a_logged_500(caplog):
    with caplog.at_level(logging.ERROR, logger="coordinator.stt.isolated"), pytest.raises(InternalError):
        decode_isolated(b"x", max_seconds=10, decoder=failing_decoder)
    assert "a bug in the decoder" in caplog.text  # the child's traceback, in the server's log
    _good_decode_still_works()


def test_a_stop_kills_the_decoder_process(tmp_path):
    pid_file = tmp_path / "pid"
    stop = threading.Event()
    outcome: list[BaseException] = []

    def decode() -> None:
        try:
            decode_isolated(str(pid_file).encode(), max_seconds=10, stop=stop, decoder=hanging_decoder)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=decode)
    thread.start()
    pid = pid_written_to(pid_file)
    assert not process_gone(pid)
    stop.set()
    thread.join(timeout=NOTICED_WITHIN_S)
    assert not thread.is_alive() and isinstance(outcome[0], CancelledError)
    assert process_gone(pid)
    _good_decode_still_works()


def test_a_decode_past_its_wall_clock_limit_is_killed_and_a_400(tmp_path, monkeypatch):
    monkeypatch.setattr(isolated, "DECODE_BASE_TIMEOUT_S", 2.0)
    pid_file = tmp_path / "pid"
    with pytest.raises(InvalidAudioError) as error:
        decode_isolated(str(pid_file).encode(), max_seconds=1, decoder=hanging_decoder)
    assert "took longer to decode" in error.value.message
    if pid_file.exists() and pid_file.read_text():  # it may not have started before being killed
        assert process_gone(int(pid_file.read_text()))
    _good_decode_still_works()


def test_the_limits_grow_with_the_cap_and_the_upload():
    assert isolated.decode_timeout_s(1800) > isolated.decode_timeout_s(60) >= isolated.DECODE_BASE_TIMEOUT_S
    assert (
        memory_budget_bytes(25 << 20, 1800) > memory_budget_bytes(1, 60) > isolated.DECODE_MEMORY_SLACK_BYTES
    )


def test_each_upload_is_decoded_in_a_child_that_is_gone_after():
    assert isolated.isolation_available()
    first = int(decode_isolated(b"x", max_seconds=1, decoder=pid_decoder)[0])
    second = int(decode_isolated(b"x", max_seconds=1, decoder=pid_decoder)[0])
    assert os.getpid() not in (first, second) and first != second
    assert process_gone(first) and process_gone(second)
