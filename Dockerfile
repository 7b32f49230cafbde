# syntax=docker/dockerfile:1
# Orpheus Coordinator images. Models are not in the image: they live on the /models volume and are
# downloaded on first start (AUTO_DOWNLOAD=1).
#   GPU (default): docker build --target gpu -t orpheus-coordinator:gpu .
#   CPU:           docker build --target cpu -t orpheus-coordinator:cpu .
# The server listens on 0.0.0.0 in the container, so it needs an API key to start:
#   docker run -e API_KEY=<secret> ...   (or -e ALLOW_NO_AUTH=1 to serve without authentication)

ARG CUDA_VERSION=12.4.1
ARG UBUNTU_VERSION=22.04
ARG LLAMA_CPP_PYTHON_VERSION=0.3.36

# ---- GPU build: llama.cpp compiled with CUDA, torch with CUDA ---------------------------------
FROM nvidia/cuda:${CUDA_VERSION}-devel-ubuntu${UBUNTU_VERSION} AS gpu-build
ARG LLAMA_CPP_PYTHON_VERSION
RUN apt-get update && apt-get install -y --no-install-recommends \
        python3 python3-venv python3-dev build-essential cmake git \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir --upgrade pip
# PyPI's Linux torch wheels are CUDA builds.
RUN pip install --no-cache-dir "torch>=2.4"
# Link against the driver stub at build time; the real libcuda comes from the host at run time.
RUN CMAKE_ARGS="-DGGML_CUDA=on" LDFLAGS="-L/usr/local/cuda/lib64/stubs" \
    pip install --no-cache-dir "llama-cpp-python==${LLAMA_CPP_PYTHON_VERSION}"
WORKDIR /src
COPY pyproject.toml README.md models.yaml ./
COPY coordinator ./coordinator
COPY scripts ./scripts
RUN pip install --no-cache-dir .

FROM nvidia/cuda:${CUDA_VERSION}-runtime-ubuntu${UBUNTU_VERSION} AS gpu
RUN apt-get update && apt-get install -y --no-install-recommends python3 libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 app \
    && mkdir -p /models && chown app:app /models
COPY --from=gpu-build /opt/venv /opt/venv
COPY --from=gpu-build /src/models.yaml /app/models.yaml
COPY --from=gpu-build /src/scripts /app/scripts
# HOST=0.0.0.0: serve refuses to start without API_KEY (or ALLOW_NO_AUTH=1), given at run time.
ENV PATH=/opt/venv/bin:$PATH \
    MODELS_CONFIG=/app/models.yaml \
    MODELS_DIR=/models \
    HF_HOME=/models/.hf \
    HOST=0.0.0.0 \
    PORT=8080 \
    N_GPU_LAYERS=-1 \
    SNAC_DEVICE=auto \
    AUTO_DOWNLOAD=1
WORKDIR /app
USER app
VOLUME ["/models"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30m --retries=3 \
    CMD python3 -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('PORT', '8080'), timeout=4)"
CMD ["python3", "-m", "coordinator", "serve"]

# ---- CPU variant: same app, llama.cpp without CUDA --------------------------------------------
FROM python:3.11-slim AS cpu-build
ARG LLAMA_CPP_PYTHON_VERSION
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake git \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir --upgrade pip && pip install --no-cache-dir "torch>=2.4" \
    && pip install --no-cache-dir "llama-cpp-python==${LLAMA_CPP_PYTHON_VERSION}"
WORKDIR /src
COPY pyproject.toml README.md models.yaml ./
COPY coordinator ./coordinator
COPY scripts ./scripts
RUN pip install --no-cache-dir .

FROM python:3.11-slim AS cpu
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 app \
    && mkdir -p /models && chown app:app /models
COPY --from=cpu-build /opt/venv /opt/venv
COPY --from=cpu-build /src/models.yaml /app/models.yaml
COPY --from=cpu-build /src/scripts /app/scripts
# HOST=0.0.0.0: serve refuses to start without API_KEY (or ALLOW_NO_AUTH=1), given at run time.
ENV PATH=/opt/venv/bin:$PATH \
    MODELS_CONFIG=/app/models.yaml \
    MODELS_DIR=/models \
    HF_HOME=/models/.hf \
    HOST=0.0.0.0 \
    PORT=8080 \
    N_GPU_LAYERS=0 \
    SNAC_DEVICE=cpu \
    AUTO_DOWNLOAD=1
WORKDIR /app
USER app
VOLUME ["/models"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30m --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('PORT', '8080'), timeout=4)"
CMD ["python", "-m", "coordinator", "serve"]
