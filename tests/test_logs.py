"""Log formatting: JSON lines with the extra fields, text lines with the request id."""

import json
import logging
import sys
from pathlib import Path

from coordinator.logs import JsonFormatter, TextFormatter


def _record(**extra) -> logging.LogRecord:
    try:
        raise ValueError("broken")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("coordinator.x", logging.ERROR, __file__, 1, "failed %s", ("twice",), exc_info)
    record.__dict__.update(extra)
    return record


def test_a_json_line_holds_the_message_the_extra_fields_and_the_traceback():
    line = JsonFormatter().format(_record(request_id="r1", where=Path("/tmp"), color_message="\x1b[36m"))
    entry = json.loads(line)
    assert "\n" not in line
    assert (
        entry["message"] == "failed twice"
        and entry["level"] == "ERROR"
        and entry["logger"] == "coordinator.x"
    )
    assert entry["request_id"] == "r1" and entry["where"] == "/tmp"  # what JSON cannot hold becomes text
    assert "ValueError: broken" in entry["exc_info"] and "color_message" not in entry
    assert entry["time"].endswith("+00:00")


def test_a_text_line_puts_the_request_id_after_the_message_not_after_the_traceback():
    first, *traceback = TextFormatter().format(_record(request_id="r1")).splitlines()
    assert first.endswith("ERROR coordinator.x: failed twice [r1]")
    assert traceback[-1] == "ValueError: broken"
    without = TextFormatter().format(_record(request_id=None)).splitlines()[0]
    assert without.endswith("failed twice")
