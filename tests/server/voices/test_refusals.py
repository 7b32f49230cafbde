"""Every bad creation request gets OpenAI's error shape with the status and the field it is about:
no audio, not audio, silence, noise, too short, too long, too many samples, a name a built-in voice,
an OpenAI voice or another custom voice has (409), an unknown id (404), a body over
MAX_UPLOAD_BYTES (413). The server goes on serving: the listing is unchanged after them all."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.rig.audio_samples import encode, noise_bursts, silence
from tests.server.voices.conftest import HTTP_TIMEOUT_S, MAX_SAMPLES, MAX_UPLOAD_BYTES, VOICE_NAME
from tests.voices.rig import FOX, LONG_FOX, SHORT, sentences

RATE = 24_000
UNKNOWN_ID = "voice_" + "0" * 16


def _ogg(samples: np.ndarray, rate: int = RATE) -> bytes:
    return encode(samples, rate, "ogg")


def _too_long() -> bytes:
    speech, rate = sentences(LONG_FOX, FOX)
    return _ogg(speech, rate)


def _too_short() -> bytes:
    speech, rate = sentences(SHORT)
    return _ogg(speech, rate)


def _create(url: str, name: str, samples: list[bytes], **data: str) -> httpx.Response:
    files = [("audio_sample", (f"s{i}.ogg", s, "audio/ogg")) for i, s in enumerate(samples)]
    return httpx.post(
        f"{url}/v1/audio/voices", data={"name": name, **data}, files=files or None, timeout=HTTP_TIMEOUT_S
    )


def _refused(response: httpx.Response, status: int, param: str | None) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["message"]
    return error["message"]


CASES = {
    "no-audio": (lambda s: [], 400, "audio_sample"),
    "not-audio": (lambda s: [b"this is a text file, not a recording" * 20], 400, "audio_sample"),
    "silence": (lambda s: [_ogg(silence(4.0, RATE))], 400, "audio_sample"),
    "noise": (lambda s: [_ogg(noise_bursts(RATE, bursts=8))], 400, "audio_sample"),
    "too-short": (lambda s: [_too_short()], 400, "audio_sample"),
    "too-long": (lambda s: [_too_long()], 400, "audio_sample"),
    "too-many": (lambda s: [s] * (MAX_SAMPLES + 1), 400, "audio_sample"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_recording_is_a_400_naming_the_sample(url, sample, case):
    make, status, param = CASES[case]
    message = _refused(_create(url, "Fresh", make(sample), transcript="Some words."), status, param)
    if case == "too-many":
        assert "VOICE_MAX_SAMPLES" in message
    if case in ("too-short", "too-long"):
        assert " s" in message  # the bound, in seconds


@pytest.mark.parametrize("name", [VOICE_NAME.upper(), "tara", "alloy", "Alloy", "tts-1"])
def test_a_name_taken_by_a_custom_builtin_or_openai_voice_is_a_409(url, sample, voice, name):
    _refused(_create(url, name, [sample], transcript="Some words."), 409, "name")


def test_other_form_mistakes_name_their_field(url, sample):
    _refused(_create(url, "", [sample]), 400, "name")
    _refused(_create(url, "Prompted", [sample], type="prompt"), 400, "type")
    _refused(_create(url, "Texted", [b""], audio_sample="not a file"), 400, "audio_sample")
    no_form = httpx.post(f"{url}/v1/audio/voices", json={"name": "Json"}, timeout=HTTP_TIMEOUT_S)
    _refused(no_form, 400, "audio_sample")
    no_name = httpx.post(
        f"{url}/v1/audio/voices", files={"audio_sample": ("s.ogg", sample)}, timeout=HTTP_TIMEOUT_S
    )
    _refused(no_name, 400, "name")


def test_an_unknown_id_is_a_404_and_only_custom_voices_can_be_deleted(url):
    _refused(httpx.get(f"{url}/v1/audio/voices/{UNKNOWN_ID}"), 404, "voice_id")
    _refused(httpx.delete(f"{url}/v1/audio/voices/{UNKNOWN_ID}"), 404, "voice_id")
    _refused(httpx.delete(f"{url}/v1/audio/voices/tara"), 404, "voice_id")


def test_a_body_over_max_upload_bytes_is_a_413(url):
    big = b"\0" * (MAX_UPLOAD_BYTES + 1)
    response = _create(url, "Huge", [big])
    assert response.status_code == 413 and "MAX_UPLOAD_BYTES" in response.json()["error"]["message"]


def test_after_every_refusal_the_listing_holds_only_the_voice_made(url, voice):
    custom = [v["id"] for v in httpx.get(f"{url}/v1/audio/voices").json()["voices"] if v["custom"]]
    assert custom == [voice["id"]]
