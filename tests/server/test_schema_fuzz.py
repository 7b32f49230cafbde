"""schemathesis against the app's own OpenAPI document, on a real server over loopback with the
real tiny models: no request, valid or not, gets a 5xx, and every answer is one the document
describes (status code, content type, body schema).

The fuzzed app runs with small limits (input characters, tokens per request, history), so that
valid requests generate a handful of tokens and the file stays well under a minute.
"""

from __future__ import annotations

import logging
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from coordinator.server.app import create_app
from tests.server.conftest import serving

logger = logging.getLogger(__name__)

# Small enough that a valid request generates a few tokens (two audio frames), large enough
# that most valid requests are served rather than refused.
FUZZ_LIMITS = {"max_input_chars": 40, "max_completion_tokens": 14, "max_history_messages": 2}
EXAMPLES_PER_OPERATION = 100
REQUEST_TIMEOUT_S = 30
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Every HTTP operation of the app (WebSocket routes are not in OpenAPI); checked against the
# document below, so a new route cannot escape the fuzzing.
OPERATIONS = [
    ("GET", "/health"),
    ("GET", "/livez"),
    ("GET", "/readyz"),
    ("GET", "/v1/models"),
    ("GET", "/v1/status"),
    ("GET", "/models"),
    ("GET", "/v1/audio/voices"),
    ("GET", "/v1/audio/voices/{name}"),
    ("POST", "/v1/audio/voices"),
    ("DELETE", "/v1/audio/voices/{name}"),
    ("GET", "/v1/audio/models"),
    ("GET", "/v1/status"),
    ("POST", "/v1/audio/speech"),
    ("POST", "/v1/audio/speech/stream"),
    ("POST", "/v1/audio/speech/captioned"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    ("POST", "/chat"),
    ("POST", "/v1/audio/transcriptions"),
    ("POST", "/v1/audio/translations"),
    ("GET", "/tts"),
    ("POST", "/tts"),
]


@pytest.fixture(scope="module")
def fuzz_url(settings, runtime):
    fuzz_settings = settings.model_copy(update=FUZZ_LIMITS)
    with serving(create_app(fuzz_settings, runtime=runtime)) as url:
        yield url


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_url):
    return schemathesis.openapi.from_url(f"{fuzz_url}/openapi.json")


def test_every_operation_of_the_document_is_fuzzed(fuzz_schema):
    documented = {
        (method.upper(), path) for path, ops in fuzz_schema.raw_schema["paths"].items() for method in ops
    }
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_request_gets_a_5xx_or_an_answer_outside_the_schema(fuzz_schema, fuzz_url, runtime, method, path):
    operation = fuzz_schema[path][method]
    # Valid requests (served, or refused by a server limit) and invalid ones (refused, never a 5xx).
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
    )
    # The document cannot know this server's model ids and voices (any string is valid, an
    # unknown one is refused), nor which short texts its small limits accept: often put real
    # ones in, so that many requests reach the models.
    texts = ["Hello there.", "Hi <laugh> you. Yes!", "Dr. Who?"]
    known = {
        "model": {
            "/v1/chat/completions": [runtime.llm.model_id],
            "/v1/completions": [runtime.llm.model_id, runtime.orpheus_text.model_id],
        }.get(path, [runtime.orpheus_text.model_id, "tts-1"]),
        "voice": [*runtime.tts.voices, *runtime.tts.voice_aliases, {"id": "alloy"}],
        **{field: texts for field in ("input", "prompt", "message")},
        "messages": [[{"role": "user", "content": text}] for text in texts],
    }
    # A real value three times in four; otherwise the generated one stays.
    real_values = st.fixed_dictionaries({k: st.sampled_from([None, *v * 3]) for k, v in known.items()})
    sent = []

    @given(case=cases, real=real_values)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case, real):
        for fields in (case.body, case.query):
            if isinstance(fields, dict):
                fields.update({k: v for k, v in real.items() if v is not None and k in fields})
        response = case.call(base_url=fuzz_url, timeout=REQUEST_TIMEOUT_S)
        sent.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    fuzz()
    logger.info(
        "%s %s: %d requests, by status %s", method, path, len(sent), dict(sorted(Counter(sent).items()))
    )
    raw = operation.definition.raw
    # An operation without any input has one possible request: it is sent, but not 100 times.
    assert len(sent) >= (EXAMPLES_PER_OPERATION if "requestBody" in raw or raw.get("parameters") else 1)
