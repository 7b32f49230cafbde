"""The OpenAPI document, made honest: what each operation may answer besides its 200.

FastAPI documents a 422 that this app never sends (validation failures are 400s in OpenAI's error
shape, see errors.py), no error responses at all, and JSON for routes that stream audio or SSE.
Here the generated document is corrected once, when first asked for, with what the 200s and the
request bodies FastAPI cannot see carry (openapi_bodies.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from coordinator.server.openapi_bodies import SUCCESS_CONTENT
from coordinator.server.schemas.common import ErrorResponse

ERROR_SCHEMA_NAME = "ErrorResponse"
_ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}

ERROR_DESCRIPTIONS = {
    400: "Invalid request: a field is missing, malformed, out of range or over a server limit",
    401: "No API key, or a wrong one (when the server has API_KEY set)",
    404: "The model named does not exist here",
    409: "The custom voice's name is taken: by another custom voice, a built-in or OpenAI voice, a model",
    413: "The request body is larger than MAX_BODY_BYTES (MAX_UPLOAD_BYTES on the routes that take audio)",
    429: "Every slot and the wait queue are busy: retry after Retry-After seconds",
    503: "The models are still loading (or failed to), or no slot freed up in time: retry later",
}
# Every operation: the key check and the body limit run before any route; every route but
# /health needs the loaded models.
_ALWAYS = (401, 413, 503)
# The name listings answer without a key too (security.py).
_OPEN_PATHS = frozenset({"/health", "/v1/audio/voices", "/v1/audio/models", "/v1/audio/voices/{name}"})
# A custom voice (or, for GET, a model's voices): reading is open, deleting needs the key.
_CUSTOM_VOICE = "/v1/audio/voices/{name}"
# Operations that generate: they may name a model and wait for an engine slot.
_GENERATES = frozenset(
    {
        "/v1/audio/speech",
        "/v1/audio/speech/stream",
        "/v1/audio/speech/captioned",
        "/v1/chat/completions",
        "/v1/completions",
        "/chat",
        "/tts",
        "/v1/audio/transcriptions",
        "/v1/audio/translations",
    }
)
_NAMES_A_MODEL = (_GENERATES - {"/chat", "/tts"}) | {"/v1/audio/voices/{name}"}


def install_openapi(app: FastAPI) -> None:
    """Serve the corrected document at /openapi.json (and in /docs)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            document_responses(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_responses(schema: dict[str, Any]) -> None:
    """Correct ``schema`` in place (see the module's docstring)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(error.pop("$defs", {}))
    components[ERROR_SCHEMA_NAME] = error
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if path in SUCCESS_CONTENT:
                responses.setdefault("200", {"description": "Successful Response"})["content"] = {
                    media_type: {"schema": body} for media_type, body in SUCCESS_CONTENT[path].items()
                }
            for status in _statuses(path, operation, method):
                responses[str(status)] = {
                    "description": ERROR_DESCRIPTIONS[status],
                    "content": {"application/json": {"schema": _ERROR_REF}},
                }


def _statuses(path: str, operation: dict[str, Any], method: str = "") -> list[int]:
    # Only reading is open (security.py): creating and deleting a voice need the key.
    opened = (path in _OPEN_PATHS or path == _CUSTOM_VOICE) and method in ("", "get", "head")
    statuses = [status for status in _ALWAYS if not (status == 401 and opened)]
    if path == _CUSTOM_VOICE and method == "delete":
        return sorted([*statuses, 404])
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.append(400)
    if path in _NAMES_A_MODEL:
        statuses.append(404)
    if path == "/v1/audio/voices" and method == "post":
        statuses.append(409)
    if path in _GENERATES:
        statuses.append(429)
    return sorted(statuses)
