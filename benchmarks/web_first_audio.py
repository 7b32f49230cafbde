"""The browser page's time to first audio against the API's own, side by side.

The issue asks that Speak make its first sound "in about the time the API's first chunk takes".
This runs a real server on the tiny models and, alternating, (a) the same seeded `pcm` request
with httpx, timed to its first audio byte, and (b) the page's Speak in headless Chromium, timed
by the page from the click to the first samples handed to the player. On this CPU only the ratio
means something; a GPU host runs it with the real models for absolute figures.

    python -m benchmarks.web_first_audio [--runs 7] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

from benchmarks.tiny_server import tiny_server

ROOT = Path(__file__).resolve().parent.parent

TEXT = "Hello there, how are you today?"
MAX_TOKENS = 140
PAGE_TIMEOUT_S = 120


def api_first_audio_s(url: str, seed: int) -> float:
    body = {
        "model": "tts-1",
        "input": TEXT,
        "voice": "tara",
        "response_format": "pcm",
        "max_tokens": MAX_TOKENS,
        "seed": seed,
    }
    started = time.perf_counter()
    first = None
    with httpx.stream("POST", url + "/v1/audio/speech", json=body, timeout=PAGE_TIMEOUT_S) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():  # to the end, so that runs do not overlap
            if first is None and chunk:
                first = time.perf_counter() - started
    assert first is not None
    return first


def poll(page, expression: str) -> object:
    deadline = time.monotonic() + PAGE_TIMEOUT_S
    while not (value := page.evaluate(expression)):
        if time.monotonic() > deadline:
            raise TimeoutError(expression)
        time.sleep(0.01)
    return value


def page_first_audio_s(page, seed: int) -> dict:
    page.fill("#speech-seed", str(seed))
    page.evaluate("orpheus.lastSpeechMetrics = null")
    page.click("#speech-speak")
    metrics = poll(page, "orpheus.lastSpeechMetrics")
    poll(page, "(() => { const s = orpheus.player.stats(); return s.played === s.scheduled; })()")
    return metrics  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "web_first_audio.json")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    api, page_ttfa, page_rtf = [], [], []
    with tiny_server() as (url, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=args.chromium, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"]
        )
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("#speech-speak:not([disabled])")
        page.fill("#speech-text", TEXT)
        page.click(".advanced summary")
        page.fill("#speech-max-tokens", str(MAX_TOKENS))
        page_first_audio_s(page, seed=0)  # the first Speak also loads the worklet: not counted
        for run in range(args.runs):
            api.append(api_first_audio_s(url, seed=run + 1))
            metrics = page_first_audio_s(page, seed=run + 1)
            page_ttfa.append(metrics["ttfa"])
            page_rtf.append(metrics["rtf"])
        browser.close()

    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.system()}, tiny random models, CPU",
        "runs": args.runs,
        "api_first_audio_s": {"median": statistics.median(api), "all": api},
        "page_first_audio_s": {"median": statistics.median(page_ttfa), "all": page_ttfa},
        "page_real_time_factor_median": statistics.median(page_rtf),
        "page_over_api": statistics.median(page_ttfa) / statistics.median(api),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
