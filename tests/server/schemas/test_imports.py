"""The request and response schemas load without a model runtime or a web framework: a client, a
test or the OpenAPI document can use them on a machine that has only pydantic. Checked in a fresh
interpreter, since this one has long loaded torch for other tests."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

# What must stay out of sys.modules: the model runtimes and codecs, the media libraries, and the web
# stack (the schemas are pydantic models; the routes that serve them are the ones that need FastAPI).
HEAVY = (
    "torch",
    "llama_cpp",
    "snac",
    "faster_whisper",
    "ctranslate2",
    "av",
    "soundfile",
    "fastapi",
    "starlette",
    "uvicorn",
    "sse_starlette",
)

# Imports every module of the package, found by walking it (a new schema module is covered without
# editing this test), then reports what got loaded.
_PROBE = """
import importlib, json, pkgutil, sys
import coordinator.server.schemas as schemas
names = [f"{schemas.__name__}.{m.name}" for m in pkgutil.iter_modules(schemas.__path__)]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted({k.split(".")[0] for k in sys.modules})}))
"""
PROBE_TIMEOUT_S = 120


def test_every_schema_module_loads_without_torch_llama_or_a_web_framework():
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"speech", "transcription", "text", "chat", "listings", "status", "common"} <= {
        name.rsplit(".", 1)[1] for name in report["modules"]
    }
    assert sorted(set(HEAVY) & set(report["loaded"])) == []
