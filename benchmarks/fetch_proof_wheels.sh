#!/usr/bin/env bash
# Downloads the cp312 manylinux wheels of benchmarks/proof_requirements.txt into benchmarks/gpu_wheels/ (ignored
# by git), for benchmarks/gpu_proof.sh on a GPU host without internet. The CUDA llama-cpp-python wheel is
# built by benchmarks/build_cuda_wheel.sh. --no-deps: the list is the closure already (torch's own deps excluded).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p benchmarks/gpu_wheels
grep -v '^#' benchmarks/proof_requirements.txt | grep . > benchmarks/gpu_wheels/.requirements
python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux_2_27_x86_64 --platform manylinux_2_5_x86_64 --platform linux_x86_64 --platform any \
    -r benchmarks/gpu_wheels/.requirements -d benchmarks/gpu_wheels
rm benchmarks/gpu_wheels/.requirements
du -ch benchmarks/gpu_wheels/*.whl | tail -1
