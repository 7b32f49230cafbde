"""Loading the models after start-up: what AUTO_DOWNLOAD fetches first, the load, the warm-up,
and a failure turned into the reason the server gives for never becoming ready. Run in the
background by the door that owns the process's lifespan (``server/app.py``), so that the
probes can answer while the models load."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable

from coordinator.config.catalog import load_catalog
from coordinator.config.settings import Settings
from coordinator.errors import CoordinatorError
from coordinator.runtime.loading import Runtime, load_runtime
from coordinator.service.lifecycle import Lifecycle
from coordinator.service.readiness import DOWNLOADING_MESSAGE

logger = logging.getLogger(__name__)

LOAD_FAILED = "model loading failed"


def download_missing(settings: Settings) -> None:
    """Fetch the model files the settings select and the models directory lacks (blocking)."""
    from coordinator.runtime.download import fetch, plan_downloads

    missing = [
        item for item in plan_downloads(load_catalog(settings.catalog_path()), settings) if not item.present
    ]
    if missing:
        logger.info("AUTO_DOWNLOAD: fetching %s", ", ".join(item.filename for item in missing))
        fetch(
            missing, token=os.environ.get("HF_TOKEN") or None, endpoint=os.environ.get("HF_ENDPOINT") or None
        )


async def load_models(
    settings: Settings, lifecycle: Lifecycle, *, report: Callable[[str | None], None]
) -> Runtime | None:
    """Download what is missing (with AUTO_DOWNLOAD), load and warm up the models, in threads.
    ``report`` is told why the server is not ready meanwhile (downloading; None once that is
    done). Returns the runtime once warm, or None after a failure, which is reported, logged
    and given to ``lifecycle`` as the reason the server gives up."""
    try:
        if settings.auto_download:
            report(DOWNLOADING_MESSAGE)
            await asyncio.to_thread(download_missing, settings)
            report(None)
        runtime = await asyncio.to_thread(load_runtime, settings)
        try:
            # Published only once warm: the first user request must not pay for first calls.
            await asyncio.to_thread(runtime.warm_up)
        except BaseException:
            await asyncio.to_thread(runtime.close)
            raise
    except CoordinatorError as exc:
        reason = f"{LOAD_FAILED}: {exc}"
        report(reason)
        logger.error("%s", reason)
        lifecycle.fail(reason)
        return None
    except Exception as exc:
        reason = f"{LOAD_FAILED}: {type(exc).__name__}: {exc} (see the server log)"
        report(reason)
        logger.exception("model loading failed")
        lifecycle.fail(reason)
        return None
    logger.info("models loaded and warmed up: ready")
    return runtime
