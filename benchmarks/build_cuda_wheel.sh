#!/usr/bin/env bash
# Builds the llama-cpp-python CUDA wheel that benchmarks/gpu_proof.sh carries to a bare H200 host.
#
# Runs on a host WITHOUT a GPU: only nvcc (CUDA 13.0 toolkit), CMake and ninja are needed. The wheel goes
# to benchmarks/gpu_wheels/ (ignored by git). Same llama-cpp-python version as pyproject pins and CI builds.
#
# Why each flag:
#   GGML_CUDA=on                      the CUDA backend (the point of the wheel)
#   CMAKE_CUDA_ARCHITECTURES=90-real  H100/H200 only (sm_90 machine code). Plain "90" would also embed
#                                     compute_90 PTX, which only a future GPU would JIT: it costs carry bytes
#                                     (the proof carries at most 64 MiB) and buys nothing on an H200.
#   GGML_NATIVE=OFF                   no -march=native: this host's CPU is not the proof host's CPU
#   GGML_CUDA_FA_QUANTS=f16-f16;q8_0-q8_0  FlashAttention kernels for the KV cache types we use (F16 is
#                                     llama.cpp's default; q8_0 for a later KV-quantization test), not
#                                     q4_0/bf16: fewer template instances, a shorter build
#   LLAVA_BUILD=OFF                   the multimodal library: never loaded (llama_cpp imports it lazily)
#   GGML_CUDA_NCCL=OFF                one GPU; no NCCL on either host
#   GGML_CUDA_NO_VMM=ON               this toolkit (assembled from NVIDIA's pip packages) has no libcuda.so
#                                     stub to link the driver API against; without VMM ggml allocates its
#                                     scratch pool with cudaMalloc instead of growing a reserved range (the
#                                     pool reaches its high-water mark once, then is reused)
# The toolkit here lacks cuBLAS, which ggml-cuda links: the script fetches NVIDIA's nvidia-cublas wheel of the
# same CUDA release (13.0) and lays a merged toolkit tree of symlinks, so nothing under /usr/local is changed.
# At run time the wheel needs libcudart.so.13 and libcublas.so.13: torch's CUDA 13 build brings both as
# nvidia-* pip packages, and benchmarks/gpu_proof.sh puts their lib folders on LD_LIBRARY_PATH.
# Usage: benchmarks/build_cuda_wheel.sh [JOBS]   (JOBS: parallel compile jobs, default 2)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
JOBS="${1:-2}"
OUT_DIR="benchmarks/gpu_wheels"
WORK="${CUDA_WHEEL_WORK:-/tmp/llama-cuda-build}"
NVCC="${NVCC:-/usr/local/bin/nvcc}"

CUBLAS_VERSION="${CUBLAS_VERSION:-13.0.2.14}"

mkdir -p "$OUT_DIR" "$WORK"
# The real toolkit root, even when $NVCC is a wrapper script (as /usr/local/bin/nvcc is here).
echo '__global__ void probe() {}' > "$WORK/probe.cu"
TOOLKIT="$("$NVCC" --dryrun -c "$WORK/probe.cu" -o "$WORK/probe.o" 2>&1 | sed -n 's/^#\$ _HERE_=//p' | head -1)"
TOOLKIT="$(cd "$TOOLKIT/.." && pwd -P)"
if [ ! -e "$TOOLKIT/include/cublas_v2.h" ]; then
    MERGED="$WORK/cuda"
    rm -rf "$MERGED" "$WORK/cublas"
    python -m pip download --no-deps --only-binary=:all: "nvidia-cublas==${CUBLAS_VERSION}" -d "$WORK/cublas"
    python -m zipfile -e "$WORK"/cublas/nvidia_cublas-*.whl "$WORK/cublas/x"
    mkdir -p "$MERGED/include" "$MERGED/lib" "$MERGED/targets/x86_64-linux"
    for entry in "$TOOLKIT"/*; do
        case "$(basename "$entry")" in include | lib | lib64 | targets) ;; *) ln -s "$entry" "$MERGED/" ;; esac
    done
    ln -s "$TOOLKIT"/include/* "$MERGED/include/"
    ln -s "$TOOLKIT"/lib/* "$MERGED/lib/"
    ln -s "$WORK"/cublas/x/nvidia/cu13/include/* "$MERGED/include/"
    for lib in "$WORK"/cublas/x/nvidia/cu13/lib/*.so.*; do
        ln -s "$lib" "$MERGED/lib/"
        ln -s "$lib" "$MERGED/lib/$(basename "$lib" | sed 's/\.so\..*/.so/')"
    done
    ln -s lib "$MERGED/lib64"
    ln -s ../../include "$MERGED/targets/x86_64-linux/include"
    ln -s ../../lib "$MERGED/targets/x86_64-linux/lib"
    TOOLKIT="$MERGED"
fi
export CUDACXX="$TOOLKIT/bin/nvcc"
export CUDAToolkit_ROOT="$TOOLKIT"
export PATH="$TOOLKIT/bin:$PATH"
export CMAKE_BUILD_PARALLEL_LEVEL="$JOBS"
export CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=90-real -DGGML_NATIVE=OFF \
-DGGML_CUDA_FA_QUANTS=f16-f16;q8_0-q8_0 -DLLAVA_BUILD=OFF -DGGML_CUDA_NCCL=OFF -DGGML_CUDA_NO_VMM=ON -DCUDAToolkit_ROOT=$TOOLKIT"

# A fixed source folder (not pip's random temporary one), with a fixed build folder: a build that
# was stopped resumes where it was (ninja rebuilds only what is missing) when the script is rerun.
SRC="$WORK/src/llama_cpp_python-${VERSION}"
if [ ! -f "$SRC/pyproject.toml" ]; then
    mkdir -p "$WORK/src"
    python -m pip download --no-deps --no-binary :all: "llama-cpp-python==${VERSION}" -d "$WORK/src"
    tar -xzf "$WORK/src/llama_cpp_python-${VERSION}.tar.gz" -C "$WORK/src"
fi

start=$(date +%s)
# --no-cache-dir: pip would otherwise reuse a CPU wheel it built earlier for the same version.
python -m pip wheel --no-cache-dir --no-deps "$SRC" -w "$OUT_DIR" \
    --config-settings=build-dir="$WORK/build" -v
end=$(date +%s)
WHEEL="$OUT_DIR/llama_cpp_python-${VERSION}-py3-none-linux_x86_64.whl"
echo "built in $((end - start)) s with $JOBS jobs: $(ls -la "$WHEEL")"
# 143 MB as built (every library stored three times, plus llama.cpp's C install): the proof carries
# at most 64 MiB. What nothing loads goes; 23 MB are left (benchmarks/slim_wheel.py says what and why).
python -m benchmarks.slim_wheel "$WHEEL" "$WHEEL"
ls -la "$WHEEL"
