# A stand-in for nvidia/cuda:13.0.x-runtime on a machine with no registry: Debian bookworm with the
# CUDA 13 runtime and cuBLAS (what libggml-cuda links) from NVIDIA's PyPI wheels, laid out as
# /usr/local/cuda and on the loader's path as the real image has them, and the real image's
# NVIDIA_* variables (they tell the NVIDIA container runtime what to mount when --gpus is given).
# No driver: the GPU image built on it runs on the CPU here (.ci/gpu_image_check.sh).
ARG BASE
FROM ${BASE}
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && python3 -m venv /tmp/pip && /tmp/pip/bin/pip install --no-cache-dir --target /tmp/cuda \
        "nvidia-cuda-runtime==13.0.*" "nvidia-cublas==13.0.*" \
    && mv /tmp/cuda/nvidia/cu13 /usr/local/cuda-13.0 && ln -s /usr/local/cuda-13.0 /usr/local/cuda \
    && ln -s lib /usr/local/cuda/lib64 \
    && rm -rf /usr/local/cuda/include /tmp/pip /tmp/cuda \
    && echo /usr/local/cuda/lib64 > /etc/ld.so.conf.d/cuda.conf && ldconfig \
    && ldconfig -p | grep -q 'libcublas.so.13'
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    PATH=/usr/local/cuda/bin:$PATH
