#!/usr/bin/env bash
# Builds the GPU image on a machine with no GPU and no registry, as far as such a machine allows:
#   1. `--target gpu-llama`, the Dockerfile's own llama.cpp CUDA CMake line, for ONE architecture,
#      against a CUDA 13 toolkit from PyPI wheels (.ci/cuda-devel.Dockerfile), so a broken CMake
#      line fails here rather than on a user's GPU host; libggml-cuda must need no libcuda.so.1;
#   2. (unless --compile-only) the whole `gpu` target on a stand-in for nvidia/cuda's runtime image
#      (.ci/cuda-runtime.Dockerfile) with PyPI's CUDA torch, then runs it WITHOUT --gpus with the tiny
#      test models (.ci/docker_smoke.py --gpu-image): it must start, say that no GPU is visible, and
#      serve on the CPU.
# .ci/run runs it after the CPU smoke. Compiling llama.cpp's CUDA kernels for one architecture took
# 28 min on an idle 2-core machine (docs/measurements.md); Docker's layer cache in ORPHEUS_CI_CACHE makes a rerun
# without a Dockerfile change about a minute. That cache's key includes docker/wheels/ (the pip steps
# mount it): .ci/run's CPU smoke leaves the CPU torch wheel there first, so a checkout without it
# compiles once more.
#   Usage: .ci/gpu_image_check.sh [--compile-only] [ARCHITECTURES]   (default 90-real)
# Expects a virtualenv with the project's test extras (the smoke test builds the tiny models).
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/docker_engine.sh

COMPILE_ONLY=0
if [ "${1:-}" = "--compile-only" ]; then
    COMPILE_ONLY=1
    shift
fi
ARCHITECTURES=${1:-90-real}
BASE=orpheus-ci/bookworm:base
CUDA_DEVEL=orpheus-ci/cuda-devel:13.0
CUDA_RUNTIME=orpheus-ci/cuda-runtime:13.0
IMAGE=orpheus-coordinator:gpu-check
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
LOG=${GPU_CHECK_LOG:-$ORPHEUS_CI_CACHE/gpu-image-check.log}

engine_start
base_image "$BASE"
secret=()
if [ -s "$CA_BUNDLE" ]; then
    secret=(--secret "id=ca_bundle,src=$CA_BUNDLE")
fi
stand_in() {  # NAME DOCKERFILE
    if ! docker image inspect "$1" >/dev/null 2>&1; then
        docker build --progress=plain --build-arg "BASE=$BASE" "${secret[@]}" -t "$1" -f "$2" .ci \
            >"$LOG.$(basename "$2")" 2>&1 || { tail -n 40 "$LOG.$(basename "$2")" >&2; exit 1; }
    fi
}
build() {  # TARGET TAG
    local started=$SECONDS
    if ! docker build --progress=plain --target "$1" --build-arg "CUDA_DEVEL_BASE=$CUDA_DEVEL" \
        --build-arg "CUDA_RUNTIME_BASE=$CUDA_RUNTIME" --build-arg "CUDA_ARCHITECTURES=$ARCHITECTURES" \
        "${secret[@]}" -t "$2" . >"$LOG.$1" 2>&1; then
        tail -n 60 "$LOG.$1" >&2
        echo "gpu image check: --target $1 FAILED after $((SECONDS - started)) s (log: $LOG.$1)" >&2
        exit 1
    fi
    echo "gpu image check: --target $1 ($ARCHITECTURES) built in $((SECONDS - started)) s (log: $LOG.$1)"
}

stand_in "$CUDA_DEVEL" .ci/cuda-devel.Dockerfile
build gpu-llama orpheus-coordinator:gpu-llama-check
# The CUDA library exists and needs no libcuda.so.1 (GGML_CUDA_NO_VMM): the image then starts,
# on the CPU, without --gpus.
docker run --rm --entrypoint sh orpheus-coordinator:gpu-llama-check -c '
    lib=$(find /opt/venv -name "libggml-cuda.so*" -type f | head -n 1)
    test -n "$lib" || { echo "no libggml-cuda in the venv"; exit 1; }
    ls -la "$lib"
    if ldd "$lib" | grep -q "libcuda\.so"; then echo "$lib links libcuda.so.1"; exit 1; fi
    echo "$lib needs no libcuda.so.1"'
if [ "$COMPILE_ONLY" = 1 ]; then
    exit 0
fi

stand_in "$CUDA_RUNTIME" .ci/cuda-runtime.Dockerfile
build gpu "$IMAGE"
python .ci/docker_smoke.py "$IMAGE" --gpu-image --figures "$ORPHEUS_CI_CACHE/gpu-smoke-figures.json"
# Every code change leaves a superseded multi-GB image behind: keep the engine's cache bounded
# (least recently used first; the CUDA compile, used by every run, stays).
docker image prune -f >/dev/null
docker builder prune -f --keep-storage "${ORPHEUS_CI_KEEP_STORAGE:-30GB}" >/dev/null
docker system df
