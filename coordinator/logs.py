"""Log records that carry the id of the request they belong to, as text or as JSON lines.

The server's middleware puts each request's id into ``REQUEST_ID``; ``RequestIdFilter`` copies it
onto every record logged while that request is handled. Context variables follow the request's
asyncio tasks, not plain threads: what the engine worker threads log carries no request id.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import TextIO

from coordinator.config.settings import LogFormat

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
REQUEST_ID_FIELD = "request_id"

# Attributes every LogRecord has; anything else on a record came from ``extra=``. uvicorn adds
# ``color_message``, its message again with terminal colour codes: noise in a JSON line.
_STANDARD_FIELDS = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (None outside a request) to every record it sees; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, REQUEST_ID_FIELD):  # an explicit extra={"request_id": ...} wins
            setattr(record, REQUEST_ID_FIELD, REQUEST_ID.get())
        return True


class TextFormatter(logging.Formatter):
    """One human-readable line; the request id, when there is one, in brackets at the end."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, REQUEST_ID_FIELD, None)
        if request_id is None:
            return line
        first, newline, rest = line.partition("\n")  # after the message, before any traceback
        return f"{first} [{request_id}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and every ``extra=`` field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            REQUEST_ID_FIELD: getattr(record, REQUEST_ID_FIELD, None),
        }
        entry.update((k, v) for k, v in vars(record).items() if k not in _STANDARD_FIELDS)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str, fmt: LogFormat, stream: TextIO | None = None) -> logging.Handler:
    """Route every log record (the package's, uvicorn's, llama.cpp's) to one handler on ``stream``
    (stderr by default), replacing the root logger's handlers. Returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
