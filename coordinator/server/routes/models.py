"""GET /health, /v1/models."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from coordinator import __version__
from coordinator.runtime import Runtime
from coordinator.server.deps import LOADING_MESSAGE, get_runtime
from coordinator.server.errors import error_response
from coordinator.server.protocol import ModelCard, ModelList

router = APIRouter()


def orpheus_model_id(runtime: Runtime) -> str:
    return runtime.orpheus_text.model_id


@router.get("/health", response_model=None)
async def health(request: Request) -> JSONResponse | dict:
    """503 (OpenAI error shape) until the models are loaded, then what is loaded and where."""
    runtime: Runtime | None = request.app.state.runtime
    if runtime is None:
        message = request.app.state.not_ready_reason or LOADING_MESSAGE
        return error_response(message, 503, code="model_loading")
    tts, llm = runtime.tts, runtime.llm
    return {
        "status": "ok",
        "version": __version__,
        "models": {
            "tts": {"id": orpheus_model_id(runtime), "quantization": tts.quant, "loaded": True},
            "llm": {"id": llm.model_id, "quantization": llm.quant, "loaded": True},
        },
        "device": {"snac": str(getattr(tts.codec, "device", "cpu"))},
        "features": {"text_to_speech": True, "streaming": True, "conversational_ai": True},
    }


@router.get("/v1/models")
async def list_models(runtime: Runtime = Depends(get_runtime)) -> ModelList:
    catalog = runtime.catalog
    return ModelList(
        data=[
            ModelCard(
                id=orpheus_model_id(runtime),
                owned_by=catalog.orpheus.provider,
                quantization=runtime.tts.quant,
                license=catalog.orpheus.license,
            ),
            ModelCard(
                id=runtime.llm.model_id,
                owned_by=catalog.llm.provider,
                quantization=runtime.llm.quant,
                license=catalog.llm.license,
            ),
        ]
    )
