"""The requests popular clients send, replayed on a real uvicorn with an API key set, and each
answer read the way that client reads it.

Every replay names the client and the source file it follows (see /work/shared/CLIENTS.md, read
from those clients' own code). The tiny Orpheus never ends an utterance by itself, so an utterance
without max_tokens is the rig's TTS_MAX_TOKENS long: 140 tokens, 20 frames.
"""

import asyncio
import base64
import http.client
import io
import json
import struct
import urllib.parse

import av
import httpx
import openai
import pytest
import requests
import soundfile as sf
from pydantic import SecretStr

from coordinator.audio.format import SAMPLE_RATE, SAMPLES_PER_FRAME
from coordinator.server.app import create_app
from tests.rig.audio_samples import encode, spoken
from tests.server.conftest import serving

KEY = "client-replay-key"
BEARER = {"Authorization": f"Bearer {KEY}"}
UTTERANCE_SAMPLES = 140 // 7 * SAMPLES_PER_FRAME
# MP3 decoders keep the encoder's delay and the last frame's padding.
MP3_SLACK = 2 * 1152
TIMEOUT_S = 60
SENTENCE = "Hello there, this is a sentence long enough for a client to send."


@pytest.fixture(scope="module")
def secured_base(settings, runtime):
    """The server as a user would start it for these clients: with API_KEY set."""
    secured = settings.model_copy(update={"api_key": SecretStr(KEY)})
    with serving(create_app(secured, runtime=runtime)) as url:
        yield f"{url}/v1"


@pytest.fixture(scope="module")
def open_base(live_url):
    """A server without API_KEY (loopback only), as a local setup runs it."""
    return f"{live_url}/v1"


def mp3_samples(data: bytes) -> tuple[int, int]:
    """Samples as FFmpeg decodes the MP3 (what browsers, pydub and ffplay use), and as libsndfile does."""
    with av.open(io.BytesIO(data), format="mp3") as container:
        ffmpeg = sum(frame.samples for frame in container.decode(audio=0))
    libsndfile = sf.info(io.BytesIO(data)).frames
    return ffmpeg, libsndfile


def assert_utterances_of_mp3(data: bytes, utterances: int) -> None:
    expected = utterances * UTTERANCE_SAMPLES
    for samples in mp3_samples(data):
        assert expected <= samples <= expected + utterances * MP3_SLACK


# --- Open WebUI: backend/open_webui/routers/audio.py -------------------------------------------


def test_open_webui_reads_the_voice_and_model_lists_without_a_key(secured_base):
    # get_available_voices / get_available_models: requests.get(f"{base}/audio/voices"), no headers,
    # raise_for_status(), then {voice["id"]: voice["name"]} and data.get("models", []).
    response = requests.get(f"{secured_base}/audio/voices", timeout=TIMEOUT_S)
    response.raise_for_status()
    voices = {voice["id"]: voice["name"] for voice in response.json().get("voices", [])}
    assert voices["tara"] == "Tara" and voices["alloy"] == "Alloy (Tara)"
    response = requests.get(f"{secured_base}/audio/models", timeout=TIMEOUT_S)
    response.raise_for_status()
    models = [model["id"] for model in response.json().get("models", [])]
    assert models[0] == "orpheus-3b-ft" and "tts-1" in models


def test_open_webui_speech_with_its_default_voice_and_no_format_is_a_decodable_mp3(secured_base):
    # speech(): POST f"{base}/audio/speech", json={input, voice, model} (no response_format),
    # Authorization: Bearer <key>; the whole body is saved as .mp3 and served as audio/mpeg.
    payload = {"input": SENTENCE, "voice": "alloy", "model": "tts-1"}
    headers = {"Content-Type": "application/json", **BEARER}
    response = httpx.post(f"{secured_base}/audio/speech", json=payload, headers=headers, timeout=TIMEOUT_S)
    response.raise_for_status()
    assert response.headers["content-type"] == "audio/mpeg"
    assert_utterances_of_mp3(response.content, 1)


@pytest.mark.parametrize("fmt", ["wav", "webm"])
def test_open_webui_stt_with_the_json_request_format_reads_the_text(secured_base, fmt):
    # AUDIO_STT_OPENAI_API_REQUEST_FORMAT=json, routers/audio/__init__.py (0.12) _transcribe_openai:
    # POST f"{base}/audio/transcriptions", json={"model": <AUDIO_STT_MODEL, "" by default>,
    # "language"?: ..., "input_audio": {"data": b64encode(file), "format": <the file's extension>}},
    # Bearer <key>; 200 → r.json() is stored as the transcript ({"text"}). A non-200 with a
    # language is retried without it: a 4xx must name the problem, not hide it.
    audio = encode(*spoken("What is the weather like today?"), fmt)
    payload = {
        "model": "",
        "language": "en",
        "input_audio": {"data": base64.b64encode(audio).decode(), "format": fmt},
    }
    headers = {**BEARER, "Content-Type": "application/json"}
    response = requests.post(
        f"{secured_base}/audio/transcriptions", headers=headers, json=payload, timeout=TIMEOUT_S
    )
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"text"} and isinstance(response.json()["text"], str)


# --- SillyTavern -------------------------------------------------------------------------------


def test_sillytavern_openai_compatible_mp3_with_speed(secured_base):
    # public/scripts/extensions/tts/openai-compatible.js → src/endpoints/openai.js: the full
    # endpoint URL, {input, response_format: "mp3", voice, speed, model: "tts-1"}, Bearer <key>;
    # the body is relabelled audio/mpeg. speed 2.0 halves the duration, the pitch kept.
    body = {"input": SENTENCE, "response_format": "mp3", "voice": "nova", "speed": 2.0, "model": "tts-1"}
    response = httpx.post(f"{secured_base}/audio/speech", json=body, headers=BEARER, timeout=TIMEOUT_S)
    response.raise_for_status()
    half = UTTERANCE_SAMPLES // 2
    for samples in mp3_samples(response.content):
        assert half - SAMPLES_PER_FRAME <= samples <= half + SAMPLES_PER_FRAME + MP3_SLACK


def test_sillytavern_tts_webui_lists_voices_for_its_model_without_a_key(secured_base):
    # public/scripts/extensions/tts/tts-webui.js, fetchTtsVoiceObjects(): a browser fetch of
    # provider_endpoint.replace('/speech', '/voices/' + model), no headers; voices.map({value, label}).
    endpoint = f"{secured_base}/audio/speech"
    response = httpx.get(endpoint.replace("/speech", "/voices/" + "tts-1"), timeout=TIMEOUT_S)
    assert response.status_code == 200
    voices = [{"name": v["label"], "voice_id": v["value"]} for v in response.json()["voices"]]
    assert voices[0] == {"name": "Tara", "voice_id": "tara"}


def test_sillytavern_tts_webui_streams_a_wav_whose_first_chunk_holds_the_header(open_base):
    # tts-webui.js, fetchTtsGeneration(): {model, voice, input, response_format: "wav", speed,
    # stream: true, params: {...}} with only Content-Type (this provider never sends a key, so it
    # needs a server without API_KEY or a proxy that adds one); processStreamingAudio() reads the
    # sample rate at byte 24 of the first chunk, skips 44 bytes, and plays the rest as s16 PCM.
    body = {
        "model": "tts-1",
        "voice": "tara",
        "input": SENTENCE,
        "response_format": "wav",
        "speed": 1,
        "stream": True,
        "params": {"exaggeration": 0.5, "cfg_weight": 0.5, "temperature": 0.8, "seed": -1},
    }
    headers = {"Content-Type": "application/json", "Cache-Control": "no-cache"}
    with httpx.stream(
        "POST", f"{open_base}/audio/speech", json=body, headers=headers, timeout=TIMEOUT_S
    ) as r:
        assert r.status_code == 200
        chunks = list(r.iter_raw())
    first = chunks[0]
    assert len(first) >= 44 and first[:4] == b"RIFF"
    (rate,) = struct.unpack_from("<I", first, 24)
    (channels,) = struct.unpack_from("<H", first, 22)
    (bits,) = struct.unpack_from("<H", first, 34)
    assert (rate, channels, bits) == (SAMPLE_RATE, 1, 16)
    assert len(b"".join(chunks)[44:]) == UTTERANCE_SAMPLES * 2


def test_sillytavern_chat_with_bearer_undefined_and_its_extra_fields(open_base):
    # SillyTavern's chat completion sends "Bearer undefined" when no key is set, and fields this
    # server does not use (top_k, n, logit_bias); all tolerated when API_KEY is unset.
    body = {
        "model": "gemma-2-2b-instruct",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_completion_tokens": 4,
        "seed": 1,
        "top_k": 40,
        "n": 1,
        "logit_bias": {},
    }
    headers = {"Authorization": "Bearer undefined"}
    response = httpx.post(f"{open_base}/chat/completions", json=body, headers=headers, timeout=TIMEOUT_S)
    assert response.status_code == 200 and response.json()["object"] == "chat.completion"


# --- Home Assistant ----------------------------------------------------------------------------


def test_home_assistant_core_openai_tts_with_instructions_the_string_none(secured_base):
    # homeassistant/components/openai_conversation/tts.py: the openai client's streaming response,
    # response_format mp3, and instructions that may be the string "None".
    client = openai.OpenAI(base_url=secured_base, api_key=KEY, max_retries=0, timeout=TIMEOUT_S)
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="shimmer", input=SENTENCE, instructions="None", response_format="mp3"
    ) as response:
        data = response.read()
    assert_utterances_of_mp3(data, 1)


def test_home_assistant_openai_tts_integration_posts_to_the_full_url(secured_base):
    # sfortis/openai_tts, openaitts_engine.py: the full URL, {model, input, voice,
    # response_format: "mp3", speed, instructions}, a 30 s socket timeout.
    body = {
        "model": "gpt-4o-mini-tts",
        "input": SENTENCE,
        "voice": "coral",
        "response_format": "mp3",
        "speed": 1.0,
        "instructions": "Speak in a cheerful tone.",
    }
    response = httpx.post(f"{secured_base}/audio/speech", json=body, headers=BEARER, timeout=30)
    response.raise_for_status()
    assert_utterances_of_mp3(response.content, 1)


# --- LibreChat: api/server/services/Files/Audio/TTSService.js ----------------------------------


def test_librechat_pipes_several_answers_into_one_mp3_stream(secured_base):
    # openAIProvider: the full URL, {input, model, voice} only, Bearer <key>, no redirects
    # followed; the answers for the chunks of one message are piped back to back into one
    # audio/mpeg response, which the browser decodes as one stream.
    chunks = ["First part of the message.", "Second part, a little longer.", "And the end."]
    answers = []
    with httpx.Client(follow_redirects=False, timeout=TIMEOUT_S) as client:
        for chunk in chunks:
            body = {"input": chunk, "model": "tts-1", "voice": "echo"}
            response = client.post(f"{secured_base}/audio/speech", json=body, headers=BEARER)
            assert response.status_code == 200 and response.headers["content-type"] == "audio/mpeg"
            answers.append(response.content)
    joined = b"".join(answers)
    assert_utterances_of_mp3(joined, len(chunks))
    # One stream: what each answer decodes to, summed, with nothing lost or added at the joins.
    each = [mp3_samples(answer) for answer in answers]
    assert mp3_samples(joined) == tuple(sum(counts) for counts in zip(*each))


def test_librechat_with_a_trailing_slash_gets_the_answer_not_a_redirect(secured_base):
    body = {"input": "Hi there.", "model": "tts-1", "voice": "alloy"}
    with httpx.Client(follow_redirects=False, timeout=TIMEOUT_S) as client:
        response = client.post(f"{secured_base}/audio/speech/", json=body, headers=BEARER)
    assert response.status_code == 200
    assert_utterances_of_mp3(response.content, 1)


def test_older_librechat_sends_authorization_undefined_which_a_keyless_server_accepts(open_base):
    body = {"input": "Hi there.", "model": "tts-1", "voice": "alloy", "response_format": "pcm"}
    response = httpx.post(
        f"{open_base}/audio/speech", json=body, headers={"Authorization": "undefined"}, timeout=TIMEOUT_S
    )
    assert response.status_code == 200 and len(response.content) == UTTERANCE_SAMPLES * 2


# --- Pipecat: src/pipecat/services/openai/tts.py -----------------------------------------------

PIPECAT_CHUNK_BYTES = SAMPLE_RATE * 2 // 2  # 0.5 s of s16 mono


def test_pipecat_streams_pcm_through_the_openai_clients_streaming_response(secured_base):
    # AsyncOpenAI; audio.speech.with_streaming_response.create(input, model="gpt-4o-mini-tts",
    # voice="alloy", response_format="pcm"), then iter_bytes(chunk_size) of raw s16le 24 kHz mono.
    async def replay() -> list[bytes]:
        client = openai.AsyncOpenAI(base_url=secured_base, api_key=KEY, max_retries=0, timeout=TIMEOUT_S)
        async with client.audio.speech.with_streaming_response.create(
            input=SENTENCE, model="gpt-4o-mini-tts", voice="alloy", response_format="pcm"
        ) as response:
            assert response.status_code == 200
            chunks = [chunk async for chunk in response.iter_bytes(PIPECAT_CHUNK_BYTES)]
        await client.close()
        return chunks

    chunks = asyncio.run(replay())
    assert len(chunks) >= 2 and all(len(chunk) == PIPECAT_CHUNK_BYTES for chunk in chunks[:-1])
    assert sum(len(chunk) for chunk in chunks) == UTTERANCE_SAMPLES * 2


# --- Pipecat: src/pipecat/services/openai/stt.py (1.14) -----------------------------------------


def test_pipecat_stt_with_its_default_model_gpt_transcribe_gets_the_text(secured_base):
    # OpenAISTTService._transcribe: AsyncOpenAI audio.transcriptions.create(file=("audio.wav", <wav>,
    # "audio/wav"), model=<default "gpt-transcribe">, language=<Language.EN: "en">); a 404 there
    # ends the turn with an error frame.
    wav = encode(*spoken("What is the weather like today?"), "wav")

    async def replay():
        client = openai.AsyncOpenAI(base_url=secured_base, api_key=KEY, max_retries=0, timeout=TIMEOUT_S)
        try:
            return await client.audio.transcriptions.create(
                file=("audio.wav", wav, "audio/wav"), model="gpt-transcribe", language="en"
            )
        finally:
            await client.close()

    assert isinstance(asyncio.run(replay()).text, str)


# --- LiveKit Agents: livekit-plugins-openai/livekit/plugins/openai/tts.py ----------------------


def test_livekit_warms_up_then_streams_mp3_over_sse_with_a_custom_model_name(secured_base):
    # A GET of the base URL to warm the connection (its answer is ignored), then the openai
    # client with voice "ash", response_format "mp3", speed 1.0 and, for any model but tts-1 and
    # tts-1-hd, stream_format "sse": speech.audio.delta events (base64 in "audio"), then
    # speech.audio.done.
    httpx.get(f"{secured_base}/", headers=BEARER, timeout=TIMEOUT_S)
    client = openai.OpenAI(base_url=secured_base, api_key=KEY, max_retries=0, timeout=TIMEOUT_S)
    with client.audio.speech.with_streaming_response.create(
        input=SENTENCE,
        model="orpheus-3b-ft",
        voice="ash",
        response_format="mp3",
        speed=1.0,
        extra_body={"stream_format": "sse"},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[5:]) for line in response.iter_lines() if line.startswith("data:")]
    assert [e["type"] for e in events] == ["speech.audio.delta"] * (len(events) - 1) + ["speech.audio.done"]
    audio = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert_utterances_of_mp3(audio, 1)
    assert events[-1]["usage"]["output_tokens"] == 140


# --- openai-python: src/openai/resources/audio/speech.py, with soundfile -----------------------


@pytest.mark.parametrize("fmt", ["flac", "wav"])
def test_openai_python_whole_body_read_with_soundfile_gives_exactly_the_samples(secured_base, fmt):
    # Only input, model and voice are required, voice may be {"id": ...}; the whole body read,
    # then soundfile (libsndfile) opens it.
    client = openai.OpenAI(base_url=secured_base, api_key=KEY, max_retries=0, timeout=TIMEOUT_S)
    response = client.audio.speech.create(
        model="tts-1", voice={"id": "alloy"}, input=SENTENCE, response_format=fmt
    )
    audio, rate = sf.read(io.BytesIO(response.content))
    assert rate == SAMPLE_RATE and audio.shape == (UTTERANCE_SAMPLES,)


# --- Tolerance every client relies on -----------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer undefined", "Bearer junk"])
def test_unknown_fields_and_an_empty_or_junk_bearer_are_accepted_without_api_key(open_base, authorization):
    body = {
        "model": "tts-1",
        "input": "Hi there.",
        "voice": "alloy",
        "response_format": "pcm",
        "instructions": "None",
        "stream_format": "audio",
        "backend": "orpheus",
        "params": {"anything": 1},
        "stream": True,
    }
    # http.client, like aiohttp, sends "Bearer " as it is (httpx refuses a trailing space).
    url = urllib.parse.urlsplit(f"{open_base}/audio/speech")
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT_S)
    try:
        connection.request("POST", url.path, body=json.dumps(body), headers=headers)
        response = connection.getresponse()
        status, content = response.status, response.read()
    finally:
        connection.close()
    assert status == 200 and len(content) == UTTERANCE_SAMPLES * 2


def test_with_api_key_set_speech_still_needs_it(secured_base):
    body = {"model": "tts-1", "input": "Hi.", "voice": "alloy"}
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer undefined"}):
        response = httpx.post(f"{secured_base}/audio/speech", json=body, headers=headers, timeout=TIMEOUT_S)
        assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
