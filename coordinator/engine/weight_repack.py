"""CPU_WEIGHT_REPACK=auto: whether llama.cpp may re-lay quantized weights held on the CPU.

llama.cpp can copy quantized weights that stay on the CPU into "extra buffer types" laid out for
its fastest kernels: AMX tiles (Intel CPUs with AMX, when the build compiled AMX in) and the
generic CPU_REPACK interleaving (on x86: Q4_0, Q4_K, IQ4_NL, Q2_K; never Q8_0, whose only x86
repack is AMX). llama.cpp's parameters offer one switch for all of them (``use_extra_bufts``).

llama.cpp's AMX path segfaults at the first decode on some Sapphire Rapids class (virtual) CPUs
(ggml-org/llama.cpp#20824, open; dspy removed the AMX variant from its CI for it), with Q8_0 and
Q4_K_M alike. So ``auto`` turns the repack off exactly where the AMX path would run: this llama.cpp
has AMX compiled in (its system info says AMX_INT8 = 1, a compile-time flag) and the CPU has AMX
(``amx_int8`` in /proc/cpuinfo; ggml uses AMX only once the kernel grants the tile state, which
a CPU without AMX never gets). Where the CPU's flags cannot be read (not Linux) an AMX build gets
the repack off too: a crash costs more than the speed. Everywhere else (the Docker images, built
with GGML_NATIVE=OFF and so without AMX; AMD and older Intel CPUs; ARM) the repack stays on.

What that costs where the AMX path works: AMX against llama.cpp's AVX-512 kernels, which no
machine of this project could measure (none had a working AMX path). Upstream measurements put it
near zero for decoding, what a speech server spends its time on: ollama measured decode 11 %
*faster* without AMX on Sapphire Rapids and 7 % slower on Emerald Rapids, and ships without AMX
(ollama/ollama#9203); AMX's gain is in prompt processing (ggml-org/llama.cpp#8998). On Q4_K_M
models the generic Q4_K repack goes too, as the one switch cannot keep it apart from AMX; measured
on a 2-core AVX-512 VM without AMX at Orpheus 3B's shapes (benchmarks/weight_repack.py, on and off
alternating in one run: benchmarks/results/weight_repack_3b.json), it bought nothing: decode with it
off ran 1.18x (1 stream) and 1.04x (4 streams) as fast as with it on, against 1.06x and 1.00x
between two identical Q8_0 configurations (x86 has no Q8_0 repack besides AMX).

Alternatives weighed:
- Keeping the generic repack and skipping only AMX, by pointing weights at the CPU_REPACK buffer
  type through ``tensor_buft_overrides``: llama.cpp takes an override without checking that the
  tensor has a repack kernel, and for one without (the tensor's type, row count and the CPU's
  features decide, by a table that changes between llama.cpp versions) it dereferences a null
  pointer while loading. Copying that table here would crash the day it drifts.
- Probing in a subprocess: the crash comes at the first matrix product, so a probe must load a
  model and decode: seconds and a second copy of the weights at every start, and a tiny model that
  passes proves nothing for the real one, as the crash depends on the weights' types and shapes.

Everything here is pure (text in, decision out) except ``read_cpu_flags``, the thin reader; the
caller passes llama.cpp's system info (coordinator/engine/llama_model.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

WeightRepack = bool | Literal["auto"]

CPUINFO = Path("/proc/cpuinfo")
# ggml's system info lists the features compiled in as "NAME = VALUE", separated by "|", after each
# backend's name: "CPU : SSE3 = 1 | AVX2 = 1 | AMX_INT8 = 1 | REPACK = 1 | ".
_FEATURE = re.compile(r"(\w+)\s*=\s*([^|\s]*)")
# The per-CPU feature line of /proc/cpuinfo: "flags" on x86, "Features" on ARM.
_FLAGS_LINE = re.compile(r"^(?:flags|Features)\s*:(.*)$", re.MULTILINE)
BUILD_AMX_FEATURE = "AMX_INT8"
CPU_AMX_FLAG = "amx_int8"
UPSTREAM_ISSUE = "ggml-org/llama.cpp#20824"


@dataclass(frozen=True)
class RepackDecision:
    enabled: bool
    reason: str  # one line for the log


def build_features(system_info: str) -> dict[str, str]:
    """llama.cpp's system info (``llama_print_system_info()``) → {feature: value}."""
    return dict(_FEATURE.findall(system_info))


def cpu_flags(cpuinfo: str) -> frozenset[str] | None:
    """The first CPU's feature flags from /proc/cpuinfo text; None when it lists none."""
    match = _FLAGS_LINE.search(cpuinfo)
    return frozenset(match.group(1).split()) if match else None


def read_cpu_flags(path: Path = CPUINFO) -> frozenset[str] | None:
    """This host's CPU flags; None where /proc/cpuinfo cannot be read (not Linux)."""
    try:
        return cpu_flags(path.read_text(errors="replace"))
    except OSError:
        return None


def decide_weight_repack(
    setting: WeightRepack, *, flags: frozenset[str] | None, features: Mapping[str, str]
) -> RepackDecision:
    """CPU_WEIGHT_REPACK and what this host and this llama.cpp build are → repack on or off, and why."""
    if isinstance(setting, bool):
        state = "on" if setting else "off"
        return RepackDecision(setting, f"llama.cpp weight repack {state} (CPU_WEIGHT_REPACK={int(setting)})")
    if features.get(BUILD_AMX_FEATURE) != "1":
        return RepackDecision(True, "llama.cpp weight repack on: this llama.cpp is built without AMX")
    if flags is not None and CPU_AMX_FLAG not in flags:
        return RepackDecision(True, "llama.cpp weight repack on: this CPU has no AMX")
    where = "this CPU has AMX" if flags is not None else "this CPU's features cannot be read"
    return RepackDecision(
        False,
        f"llama.cpp weight repack off: {where}, where llama.cpp's AMX repack crashes "
        f"({UPSTREAM_ISSUE}); CPU_WEIGHT_REPACK=1 turns it on",
    )
