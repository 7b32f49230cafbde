"""Reading JSON a client sent (a WebSocket text message, a Wyoming event's header or data), with
every way it can fail named as bad input: not JSON, or nested deeper than Python's parser goes
(``[[[[…`` raises RecursionError, which would otherwise surface as an internal error)."""

from __future__ import annotations

import json
from typing import Any

from coordinator.errors import InvalidInputError


def parse_json(raw: str | bytes, *, what: str, fix: str, param: str | None = None) -> Any:
    """The JSON value of ``raw``; InvalidInputError "``what`` is not JSON: ``fix``" (or "is JSON
    nested too deeply to read") otherwise."""
    try:
        return json.loads(raw)
    except ValueError:
        raise InvalidInputError(f"{what} is not JSON: {fix}", param=param) from None
    except RecursionError:
        raise InvalidInputError(f"{what} is JSON nested too deeply to read: {fix}", param=param) from None
