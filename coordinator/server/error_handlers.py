"""The app's exception handlers: whatever a route raises, FastAPI's own validation failures and
its 404 and 405 included, is answered through ``errors.py`` in OpenAI's error shape."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from coordinator.errors import CoordinatorError, InternalError
from coordinator.server.errors import REQUEST_ID_HEADER, domain_error_response, error_response
from coordinator.service.failures import INTERNAL_ERROR_MESSAGE

logger = logging.getLogger(__name__)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    first = exc.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON: send a JSON object", None
    param = ".".join(location) or None
    message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    if first.get("type") == "model_attributes_type":
        return "the request body must be a JSON object (Content-Type: application/json)", None
    return (f"{param}: {message}" if param else message), param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CoordinatorError)
    async def _domain(_: Request, exc: CoordinatorError) -> JSONResponse:
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        return error_response(message, 400, param=param, code="invalid_value")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}: see /docs for the API"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        # Keep the exception's headers: a 405 must say which methods are allowed (RFC 9110).
        return error_response(message, exc.status_code, code=None, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # This handler runs outside the request-id middleware: take the id from the request.
        request_id = getattr(request.state, "request_id", None)
        logger.exception("unhandled error", extra={"request_id": request_id})
        response = error_response(INTERNAL_ERROR_MESSAGE, 500, code=InternalError.code)
        if request_id is not None:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response
