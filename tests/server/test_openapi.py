"""The OpenAPI document says what the app really answers: errors in OpenAI's shape, streams."""

import pytest

from coordinator.server.app import create_app

GENERATING = [
    "/v1/audio/speech",
    "/v1/audio/speech/stream",
    "/v1/chat/completions",
    "/v1/completions",
    "/chat",
]


@pytest.fixture(scope="module")
def schema(settings):
    return create_app(settings).openapi()  # no models needed: the document comes from the routes


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_no_operation_documents_fastapis_422_which_the_app_never_sends(schema):
    assert all("422" not in op["responses"] for _, _, op in _operations(schema))
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_every_error_is_documented_in_openai_shape(schema):
    error = schema["components"]["schemas"]["ErrorResponse"]
    assert error["required"] == ["error"]
    detail = schema["components"]["schemas"]["ErrorDetail"]
    assert set(detail["properties"]) == {"message", "type", "param", "code"}
    for _, _, operation in _operations(schema):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorResponse"


@pytest.mark.parametrize("path", GENERATING)
def test_generating_operations_document_every_refusal(schema, path):
    responses = schema["paths"][path]["post"]["responses"]
    assert {"400", "401", "413", "429", "503"} <= set(responses)


def test_an_unknown_model_is_documented_where_a_model_is_named(schema):
    assert "404" in schema["paths"]["/v1/audio/speech"]["post"]["responses"]
    assert "404" in schema["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert "404" not in schema["paths"]["/chat"]["post"]["responses"]


def test_health_is_open_and_documents_its_503(schema):
    responses = schema["paths"]["/health"]["get"]["responses"]
    assert "503" in responses and "401" not in responses


def test_streams_document_their_content_types(schema):
    speech = schema["paths"]["/v1/audio/speech"]["post"]["responses"]["200"]["content"]
    assert {
        "audio/mpeg",
        "audio/ogg",
        "audio/aac",
        "audio/flac",
        "audio/wav",
        "audio/pcm",
        "text/event-stream",
    } == set(speech)
    chat = schema["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]
    assert {"application/json", "text/event-stream"} == set(chat)
    chat_events = {"audio/wav", "text/plain", "text/event-stream"}  # stream_text, stream_format "sse"
    assert set(schema["paths"]["/chat"]["post"]["responses"]["200"]["content"]) == chat_events
    assert set(schema["paths"]["/tts"]["get"]["responses"]["200"]["content"]) == {"audio/wav"}


def test_the_app_serves_the_corrected_document(client):
    served = client.get("/openapi.json").json()
    assert "422" not in served["paths"]["/v1/completions"]["post"]["responses"]
    assert "429" in served["paths"]["/v1/completions"]["post"]["responses"]
