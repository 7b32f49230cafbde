"""POST /v1/audio/transcriptions and /translations on the real app with the tiny random Whisper.

The random model's words are meaningless: these tests check what the server does with them
(containers decoded, formats, limits, errors, slots), never what it heard.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient

from coordinator.server.app import create_app
from coordinator.stt.engine import SpeechToText
from tests.rig.audio_samples import CONTAINERS, encode, noise_bursts, silence, spoken
from tests.rig.clock import FakeClock
from tests.rig.waiting import HANG_GUARD_S, eventually_async
from tests.server.stt_doubles import FailsAfterFirstSegment, HeldAfterFirstWords, busy_recogniser, with_stt

SRT_TIME = r"\d\d:\d\d:\d\d,\d\d\d"
VTT_TIME = r"\d\d:\d\d:\d\d\.\d\d\d"


@pytest.fixture(scope="module")
def sentence():
    samples, rate = spoken("The quick brown fox jumps over the lazy dog.")
    return samples, rate


@pytest.fixture(scope="module")
def wav(sentence):
    return encode(*sentence, "wav")


def _post(
    client,
    data: bytes,
    *,
    path="/v1/audio/transcriptions",
    filename="speech.wav",
    content_type="audio/wav",
    **fields,
):
    files = {"file": (filename, data, content_type) if content_type else (filename, data)}
    return client.post(path, files=files, data={k: str(v) for k, v in fields.items()})


@pytest.mark.parametrize("fmt", sorted(CONTAINERS))
def test_every_common_container_is_transcribed(client, sentence, fmt):
    response = _post(
        client, encode(*sentence, fmt), filename=f"speech.{fmt}", content_type=None, model="whisper-1"
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert set(response.json()) == {"text"}
    assert isinstance(response.json()["text"], str)


def test_a_part_without_content_type_or_model_works_as_open_webui_sends_it(client, wav):
    response = client.post(
        "/v1/audio/transcriptions", files={"file": ("blob", wav)}, data={"model": "", "language": ""}
    )
    assert response.status_code == 200, response.text


def test_a_file_part_without_a_filename_is_a_400_saying_to_add_one(client):
    body = b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nRIFF....\r\n--b--\r\n'
    response = client.post(
        "/v1/audio/transcriptions", content=body, headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert response.status_code == 400
    assert "filename" in response.json()["error"]["message"]


def test_verbose_json_has_language_duration_and_ordered_segments_inside_the_audio(client, sentence, wav):
    response = _post(client, wav, response_format="verbose_json", language="en")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["task"] == "transcribe"
    assert body["language"] == "english"
    expected = round(sentence[0].size / sentence[1], 1)
    assert body["duration"] == pytest.approx(expected, abs=0.1)
    assert body["segments"], "the random model still writes something for two seconds of audio"
    previous_end = 0.0
    for segment in body["segments"]:
        assert {"id", "start", "end", "text", "tokens", "avg_logprob", "no_speech_prob"} <= set(segment)
        assert previous_end <= segment["start"] <= segment["end"] <= body["duration"]
        previous_end = segment["end"]
    assert body["text"] == "".join(s["text"] for s in body["segments"]).strip()


def test_text_srt_and_vtt_come_back_as_text_in_their_own_shapes(client, wav):
    text = _post(client, wav, response_format="text", language="en")
    assert text.headers["content-type"].startswith("text/plain")
    srt = _post(client, wav, response_format="srt", language="en")
    assert srt.status_code == 200 and srt.headers["content-type"].startswith("application/x-subrip")
    first = srt.text.split("\n\n")[0].splitlines()
    assert first[0] == "1" and re.fullmatch(f"{SRT_TIME} --> {SRT_TIME}", first[1]) and first[2]
    vtt = _post(client, wav, response_format="vtt", language="en")
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT\n\n")
    assert re.search(f"^{VTT_TIME} --> {VTT_TIME}$", vtt.text, flags=re.M)


def test_the_language_parameter_is_used_instead_of_detection(client, wav):
    german = _post(client, wav, response_format="verbose_json", language="de").json()
    by_name = _post(client, wav, response_format="verbose_json", language="German").json()
    assert german["language"] == by_name["language"] == "german"


def test_an_unknown_language_is_a_400_naming_it(client, wav):
    response = _post(client, wav, language="klingon")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "language"
    assert "klingon" in response.json()["error"]["message"]


def test_translation_answers_with_the_translate_task(client, wav):
    response = _post(client, wav, path="/v1/audio/translations", response_format="verbose_json")
    assert response.status_code == 200, response.text
    assert response.json()["task"] == "translate"


def test_a_file_that_is_not_audio_is_a_400_naming_the_file(client):
    response = _post(
        client,
        b"this is a text file, not a recording\n" * 20,
        filename="notes.txt",
        content_type="text/plain",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "file" and error["code"] == "invalid_audio"
    assert "not audio" in error["message"]


def test_an_empty_file_and_a_missing_file_are_400s(client):
    assert _post(client, b"").status_code == 400
    missing = client.post("/v1/audio/transcriptions", files={"other": ("x", b"1")})
    assert missing.status_code == 400 and "'file'" in missing.json()["error"]["message"]
    not_multipart = client.post("/v1/audio/transcriptions", data={"file": "x"})
    assert not_multipart.status_code == 400 and "multipart" in not_multipart.json()["error"]["message"]


def test_an_unknown_model_is_a_404_naming_what_to_send_and_bad_fields_are_400s(client, stt, wav):
    unknown = _post(client, wav, model="gpt-4o-mini-tts")
    assert unknown.status_code == 404
    error = unknown.json()["error"]
    assert error["param"] == "model" and error["code"] == "model_not_found"
    assert "whisper-1" in error["message"] and "gpt-4o-transcribe" in error["message"]
    assert stt.model_id in error["message"]
    assert _post(client, wav, response_format="docx").json()["error"]["param"] == "response_format"
    assert _post(client, wav, temperature="2").json()["error"]["param"] == "temperature"


@pytest.mark.parametrize(
    "model", ["whisper-large-v3", "gpt-transcribe", "gpt-4o-transcribe-diarize", "WHISPER-1"]
)
def test_openai_transcription_names_present_and_future_select_the_recogniser(client, wav, model):
    assert _post(client, wav, model=model).status_code == 200


def _events(response) -> list[dict]:
    assert response.headers["content-type"].startswith("text/event-stream")
    return [
        json.loads(line[len("data: ") :]) for line in response.text.splitlines() if line.startswith("data: ")
    ]


def test_stream_true_answers_delta_events_then_done_with_the_whole_text_and_usage(client, wav):
    whole = _post(client, wav, language="en").json()["text"]
    events = _events(_post(client, wav, language="en", stream="true"))
    *deltas, done = events
    assert deltas and {e["type"] for e in deltas} == {"transcript.text.delta"}
    assert done["type"] == "transcript.text.done"
    assert done["text"] == "".join(e["delta"] for e in deltas) == whole
    usage = done["usage"]
    assert usage["type"] == "tokens" and usage["output_tokens"] > 0
    assert usage["input_token_details"]["audio_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_a_stream_of_several_windows_has_a_delta_per_segment(client):
    long_audio = encode(noise_bursts(16_000, bursts=60), 16_000, "wav")  # ~42 s: two windows
    verbose = _post(client, long_audio, language="en", response_format="verbose_json").json()
    events = _events(_post(client, long_audio, language="en", stream="true"))
    assert len(events) - 1 == len([s for s in verbose["segments"] if s["text"].strip()]) > 1
    assert events[-1]["text"] == verbose["text"]


@pytest.mark.parametrize("fmt", ["verbose_json", "srt", "vtt"])
def test_stream_with_a_format_that_cannot_stream_is_a_400_naming_the_fix(client, wav, fmt):
    response = _post(client, wav, stream="true", response_format=fmt)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "stream" and "response_format=json" in error["message"]


def test_stream_false_and_text_format_streams_are_as_openai_clients_send_them(client, wav):
    assert _post(client, wav, stream="false").json().keys() == {"text"}
    assert (
        _events(_post(client, wav, stream="true", response_format="text"))[-1]["type"]
        == "transcript.text.done"
    )


def test_a_bad_file_in_a_stream_is_still_an_http_400(client):
    response = _post(client, b"not audio at all" * 10, stream="true")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_audio"


def test_a_failure_after_the_stream_started_is_an_error_event(settings, stt, runtime, wav):
    failing = SpeechToText(FailsAfterFirstSegment(stt.transcriber), slots=1, max_queue=1, queue_timeout_s=5)
    try:
        with TestClient(create_app(settings, runtime=with_stt(runtime, failing))) as client:
            events = _events(
                _post(client, encode(noise_bursts(16_000, bursts=60), 16_000, "wav"), stream="true")
            )
    finally:
        failing.close()
    assert events[0]["type"] == "transcript.text.delta"
    assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "server_error"
    assert "logged" in events[-1]["error"]["message"] and "CUDA" not in events[-1]["error"]["message"]


def _multipart(parts: list[tuple[str, str]], wav: bytes) -> tuple[bytes, dict[str, str]]:
    """A multipart body with repeated fields, as openai-python writes lists (``name[]`` per item)."""
    boundary = "granularities"
    chunks = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in parts
    ]
    chunks.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'.encode()
        + wav
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(chunks), {"content-type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.parametrize("name", ["timestamp_granularities[]", "timestamp_granularities"])
def test_word_and_segment_granularities_fill_words_and_segments(client, wav, name):
    body, headers = _multipart(
        [("response_format", "verbose_json"), ("language", "en"), (name, "word"), (name, "segment")], wav
    )
    verbose = client.post("/v1/audio/transcriptions", content=body, headers=headers).json()
    assert verbose["segments"] and verbose["words"], "the random model's words are aligned too"
    previous_end = 0.0
    for word in verbose["words"]:
        assert set(word) == {"word", "start", "end"} and word["word"] == word["word"].strip()
        assert previous_end <= word["start"] <= word["end"] <= verbose["duration"]
        previous_end = word["end"]


def test_word_granularity_alone_answers_words_without_segments(client, wav):
    body, headers = _multipart(
        [("response_format", "verbose_json"), ("timestamp_granularities[]", "word")], wav
    )
    verbose = client.post("/v1/audio/transcriptions", content=body, headers=headers).json()
    assert "words" in verbose and "segments" not in verbose


def test_granularities_without_verbose_json_or_unknown_ones_are_400s(client, wav):
    body, headers = _multipart([("timestamp_granularities[]", "word")], wav)
    plain = client.post("/v1/audio/transcriptions", content=body, headers=headers)
    assert plain.status_code == 400
    assert plain.json()["error"]["param"] == "timestamp_granularities"
    assert "response_format=verbose_json" in plain.json()["error"]["message"]
    body, headers = _multipart(
        [("response_format", "verbose_json"), ("timestamp_granularities[]", "letter")], wav
    )
    unknown = client.post("/v1/audio/transcriptions", content=body, headers=headers)
    assert unknown.status_code == 400 and unknown.json()["error"]["param"].startswith(
        "timestamp_granularities"
    )


def _open_webui_json(wav: bytes, **fields) -> dict:
    """Open WebUI 0.12's body with AUDIO_STT_OPENAI_API_REQUEST_FORMAT=json (routers/audio/__init__.py,
    _transcribe_openai): the configured model, the language when it has one, the file base64 with
    its extension as the format."""
    return {"model": "", **fields, "input_audio": {"data": base64.b64encode(wav).decode(), "format": "wav"}}


def test_open_webuis_json_body_is_transcribed_like_the_multipart_upload(client, wav):
    multipart = _post(client, wav, language="en").json()
    response = client.post("/v1/audio/transcriptions", json=_open_webui_json(wav, language="en"))
    assert response.status_code == 200, response.text
    assert response.json() == multipart


def test_the_json_body_takes_the_other_fields_a_data_url_and_translations(client, wav):
    body = _open_webui_json(wav, model="whisper-1", response_format="verbose_json")
    body["input_audio"]["data"] = "data:audio/wav;base64," + body["input_audio"]["data"]
    verbose = client.post("/v1/audio/transcriptions", json=body).json()
    assert verbose["task"] == "transcribe" and verbose["duration"] > 0
    translated = client.post("/v1/audio/translations", json=_open_webui_json(wav))
    assert translated.status_code == 200 and set(translated.json()) == {"text"}


def test_the_json_body_takes_granularities_as_a_list_or_one_string(client, wav):
    for granularities in (["word", "segment"], "word"):
        body = {
            **_open_webui_json(wav),
            "response_format": "verbose_json",
            "timestamp_granularities": granularities,
        }
        verbose = client.post("/v1/audio/transcriptions", json=body).json()
        assert "words" in verbose and ("segments" in verbose) == (granularities != "word")


def test_bad_base64_a_missing_input_audio_and_other_content_types_are_400s_naming_the_fix(client, wav):
    body = _open_webui_json(wav)
    body["input_audio"]["data"] = "not base64!"
    bad = client.post("/v1/audio/transcriptions", json=body)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "input_audio.data"
    assert "base64" in bad.json()["error"]["message"]
    missing = client.post("/v1/audio/transcriptions", json={"model": "whisper-1"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "input_audio"
    for response in (
        missing,
        client.post("/v1/audio/transcriptions", content=wav, headers={"content-type": "audio/wav"}),
    ):
        message = response.json()["error"]["message"]
        assert response.status_code == 400 and "multipart/form-data" in message and "input_audio" in message
    assert (
        client.post(
            "/v1/audio/transcriptions", content=b"{", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'"input_audio"',
        b'{"input_audio": ' + b"[" * 200_000,
        b"[" * 200_000,
        b'{"input_audio": {"data": 5}}',
    ],
)
def test_hostile_or_malformed_json_bodies_are_400s(client, body):
    response = client.post(
        "/v1/audio/transcriptions", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_a_json_body_over_max_upload_bytes_is_a_413_before_any_decoding(settings, runtime):
    app = create_app(settings.model_copy(update={"max_upload_bytes": 4096}), runtime=runtime)
    with TestClient(app) as client:
        response = client.post(
            "/v1/audio/transcriptions", json=_open_webui_json(encode(silence(1.0, 16_000), 16_000, "wav"))
        )
    assert response.status_code == 413 and "MAX_UPLOAD_BYTES" in response.json()["error"]["message"]


def test_audio_over_the_duration_cap_is_a_400_naming_the_limit(settings, runtime):
    app = create_app(settings.model_copy(update={"max_audio_seconds": 1.0}), runtime=runtime)
    with TestClient(app) as client:
        response = _post(client, encode(silence(2.0, 16_000), 16_000, "wav"))
    assert response.status_code == 400
    assert "MAX_AUDIO_SECONDS" in response.json()["error"]["message"]


def test_an_upload_over_max_upload_bytes_is_a_413_and_other_routes_keep_max_body_bytes(settings, runtime):
    app = create_app(
        settings.model_copy(update={"max_upload_bytes": 4096, "max_body_bytes": 2048}), runtime=runtime
    )
    with TestClient(app) as client:
        big = _post(client, encode(silence(1.0, 16_000), 16_000, "wav"))
        assert big.status_code == 413 and "MAX_UPLOAD_BYTES" in big.json()["error"]["message"]
        small = _post(client, encode(silence(0.05, 16_000), 16_000, "wav"))
        assert small.status_code == 200, small.text  # 3 kB: over MAX_BODY_BYTES, under MAX_UPLOAD_BYTES
        speech = client.post(
            "/v1/audio/speech", json={"model": "tts-1", "voice": "tara", "input": "x" * 3000}
        )
        assert speech.status_code == 413 and "MAX_BODY_BYTES" in speech.json()["error"]["message"]


def test_without_a_whisper_model_the_server_runs_and_transcription_is_a_503_naming_the_download(
    settings, runtime
):
    speechless = with_stt(runtime, None)
    speechless.stt_missing = "stt model not found at /x: download it with `--only stt`"
    with TestClient(create_app(settings, runtime=speechless)) as client:
        assert client.get("/health").status_code == 200
        response = _post(client, b"RIFF")
    assert response.status_code == 503
    assert "--only stt" in response.json()["error"]["message"]


def test_models_list_the_recogniser(client, stt):
    ids = [card["id"] for card in client.get("/v1/models").json()["data"]]
    assert stt.model_id in ids


def test_a_served_model_id_selects_the_recogniser(client, stt, wav):
    assert _post(client, wav, model=stt.model_id).status_code == 200


def test_a_full_queue_is_a_429_with_retry_after(settings, stt, runtime, wav):
    with busy_recogniser(stt, max_queue=0, queue_timeout_s=5) as busy:
        app = create_app(settings, runtime=with_stt(runtime, busy))
        with TestClient(app) as client:
            response = _post(client, wav)
    assert response.status_code == 429 and response.headers["retry-after"]
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


def test_a_wait_past_queue_timeout_is_a_503(settings, stt, runtime, wav):
    clock = FakeClock()
    with busy_recogniser(stt, max_queue=4, queue_timeout_s=0.3, clock=clock) as busy:
        app = create_app(settings, runtime=with_stt(runtime, busy))
        with TestClient(app) as client, ThreadPoolExecutor(1) as requests:
            answer = requests.submit(_post, client, wav)
            clock.wait_for_sleepers(timed=True)  # the request waits for the held slot
            clock.advance(0.3)
            response = answer.result(HANG_GUARD_S)
        assert busy.waiting == 0
    assert response.status_code == 503 and response.json()["error"]["code"] == "queue_timeout"


def test_a_cancelled_transcription_stops_and_frees_its_slot(stt):
    long_audio = noise_bursts(16_000, bursts=120)  # ~84 s: three 30 s windows
    held = HeldAfterFirstWords(stt.transcriber)
    recogniser = SpeechToText(held, slots=1, max_queue=0, queue_timeout_s=HANG_GUARD_S)  # type: ignore[arg-type]

    async def scenario():
        task = asyncio.ensure_future(recogniser.transcribe(long_audio))
        await eventually_async(lambda: held.held, "a segment with words was decoded")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await eventually_async(lambda: recogniser.busy == 0, "the slot was given back")

    try:
        asyncio.run(scenario())
        # The cancel reached the worker while it was held, and it decoded nothing after: stopped by
        # the cancel, not by the end of the audio (counted, so a loaded machine cannot fail it).
        assert held.cancelled.wait(HANG_GUARD_S) and held.segments == held.held_at
        assert recogniser.busy == 0 and recogniser.waiting == 0
    finally:
        recogniser.close()


def test_transcripts_are_the_same_for_the_same_audio(client, wav):
    first = _post(client, wav, language="en", response_format="verbose_json").json()
    second = _post(client, wav, language="en", response_format="verbose_json").json()
    assert json.dumps(first) == json.dumps(second)


def test_the_openai_client_transcribes(live_url, wav, tmp_path):
    from openai import OpenAI

    path = tmp_path / "hello.wav"
    path.write_bytes(wav)
    client = OpenAI(base_url=f"{live_url}/v1", api_key="unused")
    with path.open("rb") as handle:
        result = client.audio.transcriptions.create(
            model="whisper-1", file=handle, response_format="verbose_json"
        )
    assert isinstance(result.text, str) and result.duration > 0
    with path.open("rb") as handle:
        srt = client.audio.transcriptions.create(model="whisper-1", file=handle, response_format="srt")
    assert "-->" in srt
    assert np.isfinite(result.duration)
