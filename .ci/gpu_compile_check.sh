#!/usr/bin/env bash
# Builds the GPU image's llama.cpp stage (`--target gpu-llama`, the Dockerfile's own CMake line)
# against a CUDA 13 toolkit from PyPI wheels (.ci/cuda-devel.Dockerfile), for ONE architecture, so
# a broken CMake line fails here rather than on a user's GPU host. CPU-heavy (see README for the
# time measured): not part of .ci/run. Usage: .ci/gpu_compile_check.sh [ARCHITECTURES] (default 90-real)
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/docker_engine.sh

ARCHITECTURES=${1:-90-real}
BASE=orpheus-ci/bookworm:base
CUDA_BASE=orpheus-ci/cuda-devel:13.0
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
LOG=${GPU_COMPILE_LOG:-$ORPHEUS_CI_CACHE/gpu-compile.log}

engine_start
base_image "$BASE"
secret=()
if [ -s "$CA_BUNDLE" ]; then
    secret=(--secret "id=ca_bundle,src=$CA_BUNDLE")
fi
if ! docker image inspect "$CUDA_BASE" >/dev/null 2>&1; then
    docker build --progress=plain --build-arg "BASE=$BASE" "${secret[@]}" -t "$CUDA_BASE" \
        -f .ci/cuda-devel.Dockerfile .ci >"$LOG.base" 2>&1 || { tail -n 40 "$LOG.base" >&2; exit 1; }
fi
started=$SECONDS
if ! docker build --progress=plain --target gpu-llama --build-arg "CUDA_DEVEL_BASE=$CUDA_BASE" \
    --build-arg "CUDA_ARCHITECTURES=$ARCHITECTURES" "${secret[@]}" -t orpheus-coordinator:gpu-llama-check . \
    >"$LOG" 2>&1; then
    tail -n 60 "$LOG" >&2
    echo "gpu compile check: FAILED after $((SECONDS - started)) s (log: $LOG)" >&2
    exit 1
fi
echo "gpu compile check: llama.cpp CUDA ($ARCHITECTURES) built in $((SECONDS - started)) s (log: $LOG)"
# The CUDA library exists and needs no libcuda.so.1 (GGML_CUDA_NO_VMM): the image then starts,
# on the CPU, without --gpus.
docker run --rm --entrypoint sh orpheus-coordinator:gpu-llama-check -c '
    lib=$(find /opt/venv -name "libggml-cuda.so*" -type f | head -n 1)
    test -n "$lib" || { echo "no libggml-cuda in the venv"; exit 1; }
    ls -la "$lib"
    if ldd "$lib" | grep -q "libcuda\.so"; then echo "$lib links libcuda.so.1"; exit 1; fi
    echo "$lib needs no libcuda.so.1"'
