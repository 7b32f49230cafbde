# A stand-in for nvidia/cuda:13.0.x-devel on a machine with no registry: Debian bookworm (its
# CMake 3.25 is the one that fails without explicit CUDA architectures) with the CUDA 13 compiler,
# runtime and cuBLAS from NVIDIA's PyPI wheels, laid out as /usr/local/cuda. Enough to compile
# llama.cpp's CUDA backend (.ci/gpu_image_check.sh); it has no driver and runs nothing.
ARG BASE
FROM ${BASE}
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && python3 -m venv /tmp/pip && /tmp/pip/bin/pip install --no-cache-dir --target /tmp/cuda \
        "nvidia-cuda-nvcc==13.0.*" "nvidia-cuda-crt==13.0.*" "nvidia-nvvm==13.0.*" \
        "nvidia-cuda-runtime==13.0.*" "nvidia-cuda-cccl==13.0.*" "nvidia-cublas==13.0.*" \
    && mv /tmp/cuda/nvidia/cu13 /usr/local/cuda-13.0 && ln -s /usr/local/cuda-13.0 /usr/local/cuda \
    && ln -s lib /usr/local/cuda/lib64 \
    && for lib in /usr/local/cuda/lib/lib*.so.*; do \
           base="${lib%%.so.*}.so"; [ -e "$base" ] || ln -s "$(basename "$lib")" "$base"; \
       done \
    && rm -rf /tmp/pip /tmp/cuda \
    && /usr/local/cuda/bin/nvcc --version
ENV PATH=/usr/local/cuda/bin:$PATH \
    CUDA_HOME=/usr/local/cuda
