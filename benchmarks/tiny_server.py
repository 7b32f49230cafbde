"""A real server (uvicorn, loopback) on the tiny random test models, for the CPU benchmarks."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from coordinator.bench.server import running_server
from coordinator.bench.synthetic import build_chat_gguf, build_orpheus_gguf, write_random_snac
from coordinator.config.settings import Settings

ROOT = Path(__file__).resolve().parent.parent

STARTUP_TIMEOUT_S = 120


@contextlib.contextmanager
def tiny_server(*, languages: bool = False, **settings: object) -> Iterator[tuple[str, object]]:
    """Yield (base URL, app) of a ready server; models are built in a temporary directory.
    ``languages``: also tiny French and Chinese fine-tunes (tests/rig/language_models.py), each on
    its own engine, selected with ORPHEUS_MODELS=en,fr,zh."""
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp)
        catalog: dict[str, object] = {"models_config": ROOT / "models.yaml"}
        if languages:
            from tests.rig.language_models import write_language_rig

            catalog = {
                "models_config": write_language_rig(models),
                "models_dir": models,
                "orpheus_models": "en,fr,zh",
            }
        config = Settings(
            _env_file=None,
            orpheus_model_path=build_orpheus_gguf(models / "orpheus.gguf"),
            llm_model_path=build_chat_gguf(models / "chat.gguf"),
            snac_model_path=write_random_snac(models / "snac"),
            snac_device="cpu",
            **{"n_ctx": 1024, "tts_max_tokens": 140, "max_concurrent_streams": 8, **catalog, **settings},
        )
        with running_server(config, startup_timeout_s=STARTUP_TIMEOUT_S) as (url, app):
            yield url, app
