"""GET /health, /livez, /readyz, /v1/models."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from coordinator import __version__
from coordinator.errors import ShuttingDownError
from coordinator.runtime.loading import Runtime
from coordinator.server.deps import get_runtime
from coordinator.server.errors import error_response
from coordinator.server.routes.voices import model_voices
from coordinator.server.schemas.listings import ModelCard, ModelList
from coordinator.service.readiness import LOADING_MESSAGE, SHUTTING_DOWN_MESSAGE

router = APIRouter()


def orpheus_model_id(runtime: Runtime) -> str:
    return runtime.orpheus_text.model_id


def not_ready(request: Request) -> JSONResponse | None:
    """The 503 a readiness probe gets while the models load and warm up, or the server drains."""
    if request.app.state.lifecycle.draining:
        return error_response(SHUTTING_DOWN_MESSAGE, 503, code=ShuttingDownError.code)
    if request.app.state.runtime is None:
        message = request.app.state.not_ready_reason or LOADING_MESSAGE
        return error_response(message, 503, code="model_loading")
    return None


@router.get("/livez")
async def livez() -> dict:
    """200 whenever the process serves HTTP: loading, ready or draining (restart only if not)."""
    return {"status": "alive"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> JSONResponse | dict:
    """200 once both models are loaded and warmed up; 503 before, and while draining."""
    return not_ready(request) or {"status": "ready"}


@router.get("/health", response_model=None)
async def health(request: Request) -> JSONResponse | dict:
    """Readiness as /readyz, and once ready, what is loaded and where."""
    refusal = not_ready(request)
    if refusal is not None:
        return refusal
    runtime: Runtime = request.app.state.runtime
    tts, llm = runtime.tts, runtime.llm
    return {
        "status": "ok",
        "version": __version__,
        "models": {
            "tts": {"id": orpheus_model_id(runtime), "quantization": tts.quant, "loaded": True},
            "llm": {"id": llm.model_id, "quantization": llm.quant, "loaded": True},
            # Every Orpheus model, the default ("tts") first.
            "speech": [
                {
                    "id": model.model_id,
                    "key": model.key,
                    "languages": model.languages,
                    "quantization": model.tts.quant,
                    "loaded": True,
                }
                for model in runtime.speech
            ],
            "stt": (
                {
                    "id": runtime.stt.model_id,
                    "quantization": runtime.stt.transcriber.config.compute_type,
                    "loaded": True,
                }
                if runtime.stt is not None
                else {"loaded": False, "reason": runtime.stt_missing}
            ),
        },
        "device": {"snac": str(getattr(tts.codec, "device", "cpu"))},
        "features": {
            "text_to_speech": True,
            "streaming": True,
            "conversational_ai": True,
            "speech_to_text": runtime.stt is not None,
        },
    }


@router.get("/v1/models", response_model_exclude_none=True)
async def list_models(runtime: Runtime = Depends(get_runtime)) -> ModelList:
    catalog = runtime.catalog
    return ModelList(
        data=[
            *(
                ModelCard(
                    id=model.model_id,
                    owned_by=model.spec.provider,
                    quantization=model.tts.quant,
                    license=model.spec.license,
                    languages=model.languages,
                    voices=model_voices(runtime, model),
                )
                for model in runtime.speech
            ),
            ModelCard(
                id=runtime.llm.model_id,
                owned_by=catalog.llm.provider,
                quantization=runtime.llm.quant,
                license=catalog.llm.license,
            ),
            *(
                [
                    ModelCard(
                        id=runtime.stt.model_id,
                        owned_by=catalog.stt.provider if catalog.stt else "OpenAI",
                        quantization=runtime.stt.transcriber.config.compute_type,
                        license=catalog.stt.license if catalog.stt else "MIT",
                    )
                ]
                if runtime.stt is not None
                else []
            ),
        ]
    )
