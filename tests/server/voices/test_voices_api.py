"""POST /v1/audio/voices, GET and DELETE /v1/audio/voices/{voice_id} over a live server: OpenAI's
shapes, the listings, speaking by id, by {"id"} and by name, a restart on the same VOICES_DIR, the
omitted transcript heard by the server's real Whisper (through the openai SDK's voices call),
creation racing creation and speech, and deleting a voice a stream is speaking with."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from coordinator.runtime.loading import Runtime
from coordinator.server.app import create_app
from tests.rig.audio_samples import encode
from tests.server.voices.conftest import HTTP_TIMEOUT_S, TRANSCRIPT, VOICE_NAME
from tests.voices.rig import KITCHEN, WEATHER, sentences

SPOKEN = "Hello there."
LOOPBACK = ("127.0.0.1", 50000)


def _speak(url: str, voice: object, **extra: object) -> httpx.Response:
    body = {"model": "tts-1", "input": SPOKEN, "voice": voice, "response_format": "pcm", "seed": 1, **extra}
    return httpx.post(f"{url}/v1/audio/speech", json=body, timeout=HTTP_TIMEOUT_S)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def test_a_created_voice_has_openais_shape_and_every_listing_shows_it(url, voice, cloning_runtime):
    cloning_model = cloning_runtime.speech.cloning.model_id
    assert voice["object"] == "audio.voice" and voice["type"] == "audio_sample"
    assert re.fullmatch(r"voice_[0-9a-f]+", voice["id"]) and voice["name"] == VOICE_NAME
    assert isinstance(voice["created_at"], int) and voice["model"] == cloning_model
    (sample,) = voice["samples"]
    assert sample["transcript"] == TRANSCRIPT and 3.0 < sample["seconds"] < 6.0
    assert httpx.get(f"{url}/v1/audio/voices/{voice['id']}").json() == voice
    listing = httpx.get(f"{url}/v1/audio/voices").json()
    (card,) = [v for v in listing["voices"] if v["custom"]]
    assert (card["id"], card["name"], card["model"]) == (voice["id"], VOICE_NAME, cloning_model)
    assert not any(v["custom"] for v in listing["voices"] if v["id"] != voice["id"])
    options = httpx.get(f"{url}/v1/audio/voices/{cloning_model}").json()["voices"]
    assert {"value": voice["id"], "label": VOICE_NAME} in options
    models = httpx.get(f"{url}/v1/models").json()["data"]
    assert voice["id"] in next(m["voices"] for m in models if m["id"] == cloning_model)
    seed_models = httpx.get(f"{url}/models").json()["tts_models"]
    assert voice["id"] in next(m["voices"] for m in seed_models if m["id"] == cloning_model)
    # A built-in name still reaches the model listing, not the custom voice route.
    assert httpx.get(f"{url}/v1/audio/voices/tts-1").status_code == 200


def test_the_voice_speaks_by_id_by_id_object_and_by_name(url, voice):
    spoken = [_speak(url, name) for name in (voice["id"], {"id": voice["id"]}, VOICE_NAME.lower())]
    assert [r.status_code for r in spoken] == [200, 200, 200], [r.text for r in spoken]
    assert all(len(r.content) > 0 for r in spoken)


def test_a_new_server_on_the_same_voices_dir_has_the_voice(cloning_settings, cloning_runtime, voice):
    """A restart: a new runtime (its store read from VOICES_DIR) and a new app over the same models."""
    old = cloning_runtime
    restarted = Runtime(old.settings, old.catalog, llm=old.llm, speech=old.speech, stt=old.stt)
    try:
        assert restarted.voices is not old.voices
        with TestClient(create_app(cloning_settings, runtime=restarted), client=LOOPBACK) as client:
            assert client.get(f"/v1/audio/voices/{voice['id']}").json() == voice
            body = {"model": "tts-1", "input": SPOKEN, "voice": voice["id"], "response_format": "pcm"}
            response = client.post("/v1/audio/speech", json=body)
            assert response.status_code == 200 and len(response.content) > 0, response.text
    finally:
        restarted.snac.close()
        old.speech.attach_voices(old.voices)


def test_the_openai_sdk_creates_a_voice_whose_transcript_whisper_writes_and_deletes_it(url):
    speech, rate = sentences(WEATHER, KITCHEN)  # words whisper tiny.en hears exactly
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", timeout=HTTP_TIMEOUT_S)
    # The SDK insists on OpenAI's consent id: ignored here (VOICE_CONSENT_PHRASE is not set).
    recording = ("heard.webm", encode(speech, rate, "webm"))
    created = client.audio.voices.create(name="Heard", audio_sample=recording, consent="cons_local")
    assert created.id.startswith("voice_") and created.name == "Heard" and created.object == "audio.voice"
    kept = httpx.get(f"{url}/v1/audio/voices/{created.id}").json()
    assert _words(kept["samples"][0]["transcript"]) == _words(f"{WEATHER} {KITCHEN}")
    assert kept["language"] == "en"
    deleted = client.audio.voices.delete(created.id)
    assert (deleted.id, deleted.deleted) == (created.id, True)
    assert httpx.get(f"{url}/v1/audio/voices/{created.id}").status_code == 404


def test_two_creations_of_one_name_one_wins_and_speech_goes_on_meanwhile(url, sample, voice):
    def create() -> httpx.Response:  # two samples, the field repeated, a transcript each
        return httpx.post(
            f"{url}/v1/audio/voices",
            data={"name": "Twin", "transcript": [TRANSCRIPT, "Again."]},
            files=[
                ("audio_sample", ("s.ogg", sample, "audio/ogg")),
                ("file", ("t.ogg", sample, "audio/ogg")),
            ],
            timeout=HTTP_TIMEOUT_S,
        )

    with ThreadPoolExecutor(3) as pool:
        creations = [pool.submit(create), pool.submit(create)]
        speech = pool.submit(_speak, url, voice["id"])
        answers = [c.result() for c in creations]
        assert speech.result().status_code == 200
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    loser = next(a for a in answers if a.status_code == 409).json()["error"]
    assert loser["param"] == "name" and "Twin" in loser["message"]
    twin = next(a for a in answers if a.status_code == 200).json()
    assert [s["transcript"] for s in twin["samples"]] == [TRANSCRIPT, "Again."]

    # Deleting a voice a stream is speaking with: the stream finishes, later requests are refused.
    body = {
        "model": "tts-1",
        "input": f"{SPOKEN} {SPOKEN} {SPOKEN}",
        "voice": twin["id"],
        "response_format": "pcm",
        "seed": 2,
    }
    with httpx.stream("POST", f"{url}/v1/audio/speech/stream", json=body, timeout=HTTP_TIMEOUT_S) as stream:
        assert stream.status_code == 200
        chunks = stream.iter_bytes()
        first = next(chunks)
        deleted = httpx.delete(f"{url}/v1/audio/voices/{twin['id']}", timeout=HTTP_TIMEOUT_S)
        assert deleted.json() == {"id": twin["id"], "object": "audio.voice", "deleted": True}
        rest = b"".join(chunks)
    assert len(first) + len(rest) > len(first)
    refused = _speak(url, twin["id"])
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "voice"
    assert twin["id"] not in {v["id"] for v in httpx.get(f"{url}/v1/audio/voices").json()["voices"]}


@pytest.mark.parametrize("key", [None, "sesame"])
def test_create_and_delete_need_the_key_or_this_machine_and_the_listings_stay_open(
    cloning_settings, cloning_runtime, voice, key
):
    settings = cloning_settings.model_copy(update={"api_key": key and SecretStr(key)})
    elsewhere = ("10.1.2.3", 50000)
    with TestClient(create_app(settings, runtime=cloning_runtime), client=elsewhere) as client:
        for method, path in (("POST", "/v1/audio/voices"), ("DELETE", f"/v1/audio/voices/{voice['id']}")):
            refused = client.request(method, path)
            assert refused.status_code == 401, refused.text
            assert "API key" in refused.json()["error"]["message"]
        assert client.get("/v1/audio/voices").status_code == 200
        assert client.get(f"/v1/audio/voices/{voice['id']}").json()["id"] == voice["id"]
        if key is not None:  # the key lets anyone in: past auth, the empty form is the problem
            given = client.post("/v1/audio/voices", headers={"Authorization": f"Bearer {key}"})
            assert given.status_code == 400 and given.json()["error"]["param"] == "audio_sample"
    with TestClient(create_app(settings, runtime=cloning_runtime), client=LOOPBACK) as client:
        # This machine, no key set: past auth.
        expected = 401 if key is not None else 400
        assert client.post("/v1/audio/voices").status_code == expected


def test_with_a_consent_phrase_set_a_creation_without_the_recording_names_it(cloning_runtime, sample):
    old = cloning_runtime
    phrase = "I agree to have my voice cloned"
    settings = old.settings.model_copy(update={"voice_consent_phrase": phrase})
    guarded = Runtime(settings, old.catalog, llm=old.llm, speech=old.speech, stt=old.stt)
    try:
        with TestClient(create_app(settings, runtime=guarded), client=LOOPBACK) as client:
            response = client.post(
                "/v1/audio/voices",
                data={"name": "Unconsented", "transcript": TRANSCRIPT},
                files={"audio_sample": ("s.ogg", sample, "audio/ogg")},
            )
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["param"] == "consent" and phrase in error["message"]
    finally:
        guarded.snac.close()
        old.speech.attach_voices(old.voices)
