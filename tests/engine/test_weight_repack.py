"""CPU_WEIGHT_REPACK=auto: the repack is off exactly where llama.cpp's AMX path would run."""

import logging

import pytest

from coordinator.engine.weight_repack import (
    build_features,
    cpu_flags,
    decide_weight_repack,
    read_cpu_flags,
)

# /proc/cpuinfo excerpts (one CPU each; the real file repeats the block per CPU).
SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse sse2 avx avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 avx512_fp16 amx_tile amx_int8
"""
EPYC = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu vme sse sse2 avx avx2 avx512f avx512_vnni avx512_bf16 avx512vbmi
"""
GRAVITON = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimddp i8mm bf16
CPU implementer\t: 0x41
"""

# llama_print_system_info() of builds: x86 without AMX, x86 -march=native on Sapphire Rapids,
# CUDA (the GPU image, GGML_NATIVE=OFF), ARM.
X86_BUILD = (
    "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 1 | AVX512_VNNI = 1 | LLAMAFILE = 1 | REPACK = 1 | "
)
AMX_BUILD = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | AVX512_VNNI = 1 | AMX_INT8 = 1 | REPACK = 1 | "
CUDA_BUILD = "CUDA : ARCHS = 890 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | CPU : SSE3 = 1 | AVX2 = 1 | REPACK = 1 | "
ARM_BUILD = "CPU : NEON = 1 | ARM_FMA = 1 | FP16_VA = 1 | MATMUL_INT8 = 1 | DOTPROD = 1 | REPACK = 1 | "


def _auto(cpuinfo, system_info):
    return decide_weight_repack("auto", flags=cpu_flags(cpuinfo), features=build_features(system_info))


def test_system_info_is_read_feature_by_feature_across_backends():
    features = build_features(CUDA_BUILD)
    assert features["ARCHS"] == "890" and features["AVX2"] == "1" and features["REPACK"] == "1"
    assert "AMX_INT8" not in features and build_features(AMX_BUILD)["AMX_INT8"] == "1"


def test_cpu_flags_come_from_the_x86_flags_line_or_the_arm_features_line():
    assert {"amx_int8", "amx_tile"} <= cpu_flags(SAPPHIRE_RAPIDS)
    assert "avx512f" in cpu_flags(EPYC) and "amx_int8" not in cpu_flags(EPYC)
    assert {"asimddp", "i8mm"} <= cpu_flags(GRAVITON)
    assert cpu_flags("processor\t: 0\n") is None


def test_an_amx_cpu_under_an_amx_build_gets_the_repack_off_with_the_reason_and_the_way_back():
    decision = _auto(SAPPHIRE_RAPIDS, AMX_BUILD)
    assert not decision.enabled
    assert decision.reason == (
        "llama.cpp weight repack off: this CPU has AMX, where llama.cpp's AMX repack crashes "
        "(ggml-org/llama.cpp#20824); CPU_WEIGHT_REPACK=1 turns it on"
    )


@pytest.mark.parametrize(
    ("cpuinfo", "system_info", "why"),
    [
        (SAPPHIRE_RAPIDS, X86_BUILD, "built without AMX"),  # e.g. the Docker images
        (SAPPHIRE_RAPIDS, CUDA_BUILD, "built without AMX"),
        (EPYC, X86_BUILD, "built without AMX"),
        (EPYC, AMX_BUILD, "this CPU has no AMX"),  # ggml never gets the tile state there
        (GRAVITON, ARM_BUILD, "built without AMX"),
        ("", X86_BUILD, "built without AMX"),
    ],
)
def test_everywhere_the_amx_path_cannot_run_the_repack_stays_on(cpuinfo, system_info, why):
    decision = _auto(cpuinfo, system_info)
    assert decision.enabled and why in decision.reason


def test_an_amx_build_on_a_cpu_whose_flags_cannot_be_read_keeps_the_repack_off():
    decision = decide_weight_repack("auto", flags=None, features=build_features(AMX_BUILD))
    assert not decision.enabled and "cannot be read" in decision.reason


@pytest.mark.parametrize("setting", [True, False])
def test_an_explicit_setting_wins_over_the_hardware(setting):
    decision = decide_weight_repack(
        setting, flags=cpu_flags(SAPPHIRE_RAPIDS), features=build_features(AMX_BUILD)
    )
    assert decision.enabled is setting
    assert decision.reason.endswith(f"(CPU_WEIGHT_REPACK={int(setting)})")


def test_a_missing_cpuinfo_reads_as_unknown(tmp_path):
    assert read_cpu_flags(tmp_path / "absent") is None
    (tmp_path / "cpuinfo").write_text(EPYC)
    assert "avx2" in read_cpu_flags(tmp_path / "cpuinfo")


def test_loading_resolves_auto_on_this_host_and_logs_it_once(caplog):
    from coordinator.engine.llama_model import weight_repack_enabled

    weight_repack_enabled.cache_clear()
    with caplog.at_level(logging.INFO, logger="coordinator.engine.llama_model"):
        first, second = weight_repack_enabled("auto"), weight_repack_enabled("auto")
    lines = [r.getMessage() for r in caplog.records if "weight repack" in r.getMessage()]
    assert first == second and len(lines) == 1
    assert lines[0].startswith(f"llama.cpp weight repack {'on' if first else 'off'}")
