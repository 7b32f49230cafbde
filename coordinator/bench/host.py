"""What the report says about the host: the machine and its libraries, the memory this process
holds, and the memory a recommended number of streams needs (planned as `serve` plans it)."""

from __future__ import annotations

import os
import platform
import resource
from pathlib import Path

from coordinator.bench.report import MemoryNeed
from coordinator.config.settings import Settings


def memory_for(models: dict, *, streams: int, n_ctx: int, snac_bytes: int) -> MemoryNeed:
    """What ``streams`` slots of ``n_ctx`` tokens take with these models, planned as `serve` plans it."""
    from coordinator.runtime.memory_plan import engine_plan

    plans = [
        engine_plan(role, Path(models[role]["path"]), n_ctx_per_seq=n_ctx, sequences=max(streams, 1))
        for role in ("orpheus", "llm")
    ]
    return MemoryNeed(
        streams=streams,
        n_ctx=n_ctx,
        weights=sum(plan.weights for plan in plans),
        kv_cache=sum(plan.kv_cache for plan in plans) if streams else 0,
        compute=sum(plan.compute for plan in plans),
        snac=snac_bytes,
    )


def device_memory() -> dict:
    """What this process holds on the GPU: torch's peak (SNAC) and the device's use (llama.cpp too)."""
    import torch

    if not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return {"device": "cpu", "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    free, total = torch.cuda.mem_get_info()
    return {
        "device": torch.cuda.get_device_name(),
        "device_total_bytes": total,
        "device_in_use_bytes": total - free,
        "snac_peak_bytes": torch.cuda.max_memory_allocated(),
    }


def machine() -> dict:
    """The platform, the library versions that decide speed, the CPUs this process may use, the GPU."""
    import llama_cpp
    import torch

    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "llama_cpp_python": llama_cpp.__version__,
        "llama_cpp_gpu_offload": bool(llama_cpp.llama_supports_gpu_offload()),
        "cpus": len(os.sched_getaffinity(0)),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
        info["cuda"] = torch.version.cuda
    return info


def weight_repack_on(settings: Settings) -> bool:
    """What CPU_WEIGHT_REPACK (auto by default) came to on this host: it changes CPU speed."""
    from coordinator.engine.llama_model import weight_repack_enabled

    return weight_repack_enabled(settings.cpu_weight_repack)
