"""Prometheus metrics of one app: HTTP traffic, speech latency, SNAC decoding, engines, GPU memory.

Each app has its own registry (tests build many apps in one process). The engines and the speech
pipeline know nothing of Prometheus: engine counters and gauges are read from ``BatchEngine.stats``
at scrape time, and a speech response's ``SynthesisStats`` are recorded when it ends.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, Literal

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from coordinator.runtime.loading import Runtime
from coordinator.tts.synthesis import SpeechStream, SynthesisStats

SpeechEndpoint = Literal["speech", "tts", "chat", "ws", "voice_ws", "realtime", "wyoming"]

# Buckets, in seconds unless said otherwise. Streamed responses last as long as their audio.
HTTP_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
FIRST_AUDIO_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30)
# Processing seconds per audio second: above 1 a listener hears stalls.
REAL_TIME_FACTOR_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 5, 10)
WORD_ERROR_BUCKETS = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 2.0)
# Finish reasons of an utterance that ran to its end, so its real-time factor means something.
_COMPLETED = ("stop", "length")


class Metrics:
    """The registry of one app and the metrics the server records into it."""

    def __init__(self, runtime: Callable[[], Runtime | None], *, cuda: Any | None = None) -> None:
        """``runtime`` returns the loaded runtime (None while loading); ``cuda`` (torch.cuda or None)
        adds GPU memory gauges."""
        self.registry = CollectorRegistry()
        registry = self.registry
        self.http_requests = Counter(
            "orpheus_http_requests_total",
            "HTTP requests and WebSocket sessions, by route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.http_duration = Histogram(
            "orpheus_http_request_duration_seconds",
            "Time from a request's arrival to its last byte (a streamed response's whole stream).",
            ["method", "route"],
            buckets=HTTP_DURATION_BUCKETS,
            registry=registry,
        )
        self.first_audio = Histogram(
            "orpheus_speech_time_to_first_audio_seconds",
            "Time from a speech response's start to its first decoded audio (for /chat: the "
            "chat model's first sentence included; for voice_ws and realtime: from the end of the user's "
            "turn, its transcription included).",
            ["endpoint"],
            buckets=FIRST_AUDIO_BUCKETS,
            registry=registry,
        )
        self.real_time_factor = Histogram(
            "orpheus_speech_real_time_factor",
            "Processing seconds per second of audio of each utterance that ran to its end.",
            ["endpoint"],
            buckets=REAL_TIME_FACTOR_BUCKETS,
            registry=registry,
        )
        self.utterances = Counter(
            "orpheus_speech_utterances_total",
            "Utterances spoken, by how they ended (stop, length, cancelled, error).",
            ["endpoint", "finish_reason"],
            registry=registry,
        )
        self.length_capped = Counter(
            "orpheus_speech_length_capped_total",
            "Utterances that did not end by themselves and were cut at the length their text can "
            "plausibly need (TTS_LENGTH_CAP).",
            ["endpoint"],
            registry=registry,
        )
        self.audio_seconds = Counter(
            "orpheus_speech_audio_seconds_total",
            "Seconds of audio decoded, recorded when each response ends.",
            ["endpoint"],
            registry=registry,
        )
        self.speech_checks = Counter(
            "orpheus_speech_checks_total",
            "Utterances checked by ear (Whisper's transcript against their text), by result; a "
            "retaken utterance counts once, for the take kept.",
            ["endpoint", "result"],
            registry=registry,
        )
        self.speech_word_error = Histogram(
            "orpheus_speech_word_error",
            "Word error rate of each checked utterance (the take kept).",
            ["endpoint"],
            buckets=WORD_ERROR_BUCKETS,
            registry=registry,
        )
        self.speech_retakes = Counter(
            "orpheus_speech_retakes_total",
            "Utterances generated again (another seed) because their check failed.",
            ["endpoint"],
            registry=registry,
        )
        self.listen_seconds = Histogram(
            "orpheus_speech_listen_seconds",
            "Time Whisper took to listen to one utterance (word timings and checks).",
            ["endpoint"],
            buckets=FIRST_AUDIO_BUCKETS,
            registry=registry,
        )
        registry.register(RuntimeCollector(runtime))
        if cuda is not None:
            registry.register(GpuMemoryCollector(cuda))

    def observe_request(self, method: str, route: str, status: int, duration_s: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_duration.labels(method, route).observe(duration_s)

    def observe_utterance(self, endpoint: SpeechEndpoint, stats: SynthesisStats) -> None:
        reason = stats.finish_reason or "cancelled"  # a stream closed by its response, not by itself
        self.utterances.labels(endpoint, reason).inc()
        if stats.length_capped:
            self.length_capped.labels(endpoint).inc()
        self.audio_seconds.labels(endpoint).inc(stats.audio_s)
        if reason in _COMPLETED and stats.frames:
            self.real_time_factor.labels(endpoint).observe(stats.real_time_factor)

    def speech_audio(
        self,
        endpoint: SpeechEndpoint,
        chunks: AsyncIterator[np.ndarray],
        streams: Sequence[SpeechStream],
        *,
        started: float,
    ) -> AsyncIterator[np.ndarray]:
        """``chunks`` passed through, recording the time to the first one (from ``started``, a
        ``time.perf_counter()``) and, when it ends, every utterance in ``streams`` (a list that
        grows as the response goes on)."""
        return self._recorded(endpoint, chunks, streams, started)

    async def _recorded(
        self,
        endpoint: SpeechEndpoint,
        chunks: AsyncIterator[np.ndarray],
        streams: Sequence[SpeechStream],
        started: float,
    ) -> AsyncIterator[np.ndarray]:
        first = True
        try:
            async for chunk in chunks:
                if first:
                    self.first_audio.labels(endpoint).observe(time.perf_counter() - started)
                    first = False
                yield chunk
        finally:
            # Close the source first: its utterances' stats are final only once it has closed them.
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
            for stream in streams:
                self.observe_utterance(endpoint, stream.stats)


class RuntimeCollector:
    """Readiness, loaded models and engine counters, read from the runtime at scrape time."""

    def __init__(self, runtime: Callable[[], Runtime | None]) -> None:
        self._runtime = runtime

    def describe(self) -> Iterable[Metric]:
        return self._families().values()

    def collect(self) -> Iterable[Metric]:
        families = self._families()
        runtime = self._runtime()
        families["ready"].add_metric([], 0 if runtime is None else 1)
        if runtime is None:
            return families.values()
        engines = (
            *(("tts", model.model_id, model.tts.quant, model.tts.engine) for model in runtime.speech),
            ("llm", runtime.llm.model_id, runtime.llm.quant, runtime.llm.engine),
        )
        for role, model, quant, engine in engines:
            stats = engine.stats
            families["info"].add_metric([model, role, quant], 1)
            families["generated"].add_metric([model], stats.tokens_sampled)
            families["prompt"].add_metric([model], stats.prompt_tokens)
            families["steps"].add_metric([model], stats.steps)
            families["active"].add_metric([model], stats.active_sequences)
            families["queued"].add_metric([model], stats.waiting_sequences)
            families["capacity"].add_metric([model], engine.max_sequences)
            for reason, count in dict(stats.finish_reasons).items():
                families["finished"].add_metric([model, reason], count)
        snac = runtime.snac.stats
        families["snac_seconds"].add_metric([], snac.busy_s)
        families["snac_calls"].add_metric([], snac.calls)
        families["snac_windows"].add_metric([], snac.windows)
        families["snac_frames"].add_metric([], snac.frames)
        families["snac_failures"].add_metric([], snac.failures)
        families["snac_largest_batch"].add_metric([], snac.largest_batch)
        return families.values()

    @staticmethod
    def _families() -> dict[str, Any]:
        model = ["model"]
        return {
            "ready": GaugeMetricFamily("orpheus_ready", "1 once every model is loaded, else 0."),
            "info": GaugeMetricFamily(
                "orpheus_model_info", "The loaded models (value 1).", labels=["model", "role", "quantization"]
            ),
            "generated": CounterMetricFamily(
                "orpheus_generated_tokens",
                "Tokens sampled (rate() is tokens per second), end-of-sequence tokens included.",
                labels=model,
            ),
            "prompt": CounterMetricFamily("orpheus_prompt_tokens", "Prompt tokens decoded.", labels=model),
            "steps": CounterMetricFamily(
                "orpheus_engine_steps", "Batched llama.cpp decode calls.", labels=model
            ),
            "active": GaugeMetricFamily(
                "orpheus_active_sequences", "Sequences being generated now.", labels=model
            ),
            "queued": GaugeMetricFamily(
                "orpheus_queued_requests", "Requests waiting for a free sequence slot.", labels=model
            ),
            "capacity": GaugeMetricFamily(
                "orpheus_max_sequences", "Sequence slots (MAX_CONCURRENT_STREAMS).", labels=model
            ),
            "finished": CounterMetricFamily(
                "orpheus_sequences_finished",
                "Sequences ended, by reason (stop, length, cancelled, error).",
                labels=["model", "reason"],
            ),
            # The shared SNAC decode thread (audio/decode_scheduler.py): rate() of the seconds is
            # its utilisation (near 1: SNAC is the bottleneck); seconds / calls is the time per call.
            "snac_seconds": CounterMetricFamily(
                "orpheus_snac_decode_seconds", "Seconds the SNAC decode thread spent decoding."
            ),
            "snac_calls": CounterMetricFamily(
                "orpheus_snac_decode_calls", "Batched SNAC decode calls (one or more windows each)."
            ),
            "snac_windows": CounterMetricFamily("orpheus_snac_windows_decoded", "SNAC windows decoded."),
            "snac_frames": CounterMetricFamily(
                "orpheus_snac_frames_decoded", "Audio frames (2048 samples each) SNAC decoded."
            ),
            "snac_failures": CounterMetricFamily(
                "orpheus_snac_decode_failures",
                "SNAC decode calls that raised (a failed batch is retried singly).",
            ),
            "snac_largest_batch": GaugeMetricFamily(
                "orpheus_snac_largest_batch", "Most windows decoded in one call so far."
            ),
        }


class GpuMemoryCollector:
    """torch's CUDA memory per device (SNAC's tensors; llama.cpp allocates outside torch), and the
    device-wide free and total memory (llama.cpp included) of the devices torch uses."""

    def __init__(self, cuda: Any) -> None:
        self._cuda = cuda  # torch.cuda, or a stand-in in tests

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        allocated, reserved, free, total = families = self._families()
        for index in range(self._cuda.device_count()):
            device = [str(index)]
            reserved_bytes = self._cuda.memory_reserved(index)
            allocated.add_metric(device, self._cuda.memory_allocated(index))
            reserved.add_metric(device, reserved_bytes)
            # Only where torch already holds memory: asking another device would create a CUDA
            # context there, which itself takes memory.
            if reserved_bytes:
                free_bytes, total_bytes = self._cuda.mem_get_info(index)
                free.add_metric(device, free_bytes)
                total.add_metric(device, total_bytes)
        return families

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        device = ["device"]
        return [
            GaugeMetricFamily(
                "orpheus_gpu_memory_allocated_bytes", "Bytes in torch tensors (SNAC).", labels=device
            ),
            GaugeMetricFamily(
                "orpheus_gpu_memory_reserved_bytes", "Bytes torch's CUDA allocator holds.", labels=device
            ),
            GaugeMetricFamily(
                "orpheus_gpu_memory_free_bytes", "Free device memory (every process).", labels=device
            ),
            GaugeMetricFamily("orpheus_gpu_memory_total_bytes", "Device memory.", labels=device),
        ]


def cuda_if_available() -> Any | None:
    """torch.cuda when torch sees a GPU, else None (then no GPU gauges are registered)."""
    import torch

    return torch.cuda if torch.cuda.is_available() else None
