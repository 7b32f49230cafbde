"""GET /v1/status: the server at a glance, for the browser page (and people).

/health is for probes (503 until ready, nothing about load) and /metrics for Prometheus; the page
needs one JSON answer that exists while the models load too: ready or not, which models run where,
and how busy their engines are. It reveals no secret (no key, no path), and needs the key like
every API route when API_KEY is set.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from coordinator import __version__
from coordinator.runtime.loading import Runtime
from coordinator.server.deps import get_limits
from coordinator.server.schemas.status import (
    LoadedModel,
    ServerState,
    ServerStatus,
    SpeechDefaults,
    StatusLimits,
)
from coordinator.service.readiness import DOWNLOADING_MESSAGE, LOADING_MESSAGE, SHUTTING_DOWN_MESSAGE

router = APIRouter()

GPU, CPU = "gpu", "cpu"


@router.get("/v1/status")
async def server_status(request: Request) -> ServerStatus:
    limits = get_limits(request)
    runtime: Runtime | None = request.app.state.runtime
    state, message = _state(request, runtime)
    return ServerStatus(
        status=state,
        message=message,
        version=__version__,
        models=_models(runtime) if runtime is not None else [],
        limits=StatusLimits(
            max_input_chars=limits.max_input_chars,
            max_completion_tokens=limits.max_completion_tokens,
            max_history_messages=limits.max_history_messages,
        ),
        speech_defaults=_speech_defaults(runtime) if runtime is not None else None,
    )


def _state(request: Request, runtime: Runtime | None) -> tuple[ServerState, str | None]:
    if request.app.state.lifecycle.draining:
        return "shutting_down", SHUTTING_DOWN_MESSAGE
    if runtime is not None:
        return "ready", None
    reason: str | None = request.app.state.not_ready_reason
    if reason is None or reason == DOWNLOADING_MESSAGE:
        return "loading", reason or LOADING_MESSAGE
    return "failed", reason


def llm_device(n_gpu_layers: int) -> str:
    """Where llama.cpp runs a model: on the GPU when layers are offloaded and the build can."""
    import llama_cpp  # loaded already by the models; imported here to keep the module light

    return GPU if n_gpu_layers != 0 and llama_cpp.llama_supports_gpu_offload() else CPU


def _models(runtime: Runtime) -> list[LoadedModel]:
    catalog, settings = runtime.catalog, runtime.settings
    device = llm_device(settings.n_gpu_layers)
    models = []
    for role, name, text_model in (
        # Every loaded Orpheus model, the default one first, each on its own engine.
        *(("tts", model.spec.name, model.text) for model in runtime.speech),
        ("llm", catalog.llm.name, runtime.llm),
    ):
        engine = text_model.engine
        stats = engine.stats
        models.append(
            LoadedModel(
                id=text_model.model_id,
                role=role,  # type: ignore[arg-type]
                name=name,
                quantization=text_model.quant,
                device=device,
                active=stats.active_sequences,
                queued=stats.waiting_sequences,
                capacity=engine.max_sequences,
            )
        )
    codec_device = str(getattr(runtime.tts.codec, "device", CPU))
    models.append(
        LoadedModel(
            id=catalog.snac.repo.rsplit("/", 1)[-1],
            role="codec",
            name=catalog.snac.name,
            quantization="fp32",
            device=GPU if codec_device.startswith("cuda") else CPU,
        )
    )
    if runtime.stt is not None:  # speech in is optional: the page shows its microphone only then
        stt = runtime.stt
        models.append(
            LoadedModel(
                id=stt.model_id,
                role="stt",
                name=catalog.stt.name if catalog.stt else "Whisper",
                quantization=stt.transcriber.config.compute_type,
                device=GPU if stt.transcriber.device.startswith("cuda") else CPU,
                active=stt.busy,
                queued=stt.waiting,
                capacity=stt.slots,
            )
        )
    return models


def _speech_defaults(runtime: Runtime) -> SpeechDefaults:
    params = runtime.tts.default_params
    return SpeechDefaults(
        voice=runtime.speech.default.default_voice,
        temperature=params.temperature,
        top_p=params.top_p,
        repetition_penalty=params.repetition_penalty,
        max_tokens=params.max_tokens,
    )
