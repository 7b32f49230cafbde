#!/usr/bin/env bash
# Downloads the cp312 manylinux wheels of bench/proof_requirements.txt into bench/gpu_wheels/ (ignored
# by git), for bench/gpu_proof.sh on a GPU host without internet. The CUDA llama-cpp-python wheel is
# built by bench/build_cuda_wheel.sh. --no-deps: the list is the closure already (torch's own deps excluded).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/gpu_wheels
grep -v '^#' bench/proof_requirements.txt | grep . > bench/gpu_wheels/.requirements
python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux_2_27_x86_64 --platform manylinux_2_5_x86_64 --platform linux_x86_64 --platform any \
    -r bench/gpu_wheels/.requirements -d bench/gpu_wheels
rm bench/gpu_wheels/.requirements
du -ch bench/gpu_wheels/*.whl | tail -1
