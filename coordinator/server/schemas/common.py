"""What every endpoint shares: the error shape."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    """Every error, in OpenAI's shape (built in server/errors.py; this documents it)."""

    error: ErrorDetail
