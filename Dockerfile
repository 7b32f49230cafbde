# Orpheus Coordinator images. Models are not in the image: they live on the /models volume and are
# downloaded on first start (AUTO_DOWNLOAD=1).
#   GPU (default): docker build --target gpu -t orpheus-coordinator:gpu .
#   CPU:           docker build --target cpu -t orpheus-coordinator:cpu .
# Behind a TLS-intercepting proxy, give pip its CA bundle as a secret (used by the pip steps only,
# never stored in a layer): docker build --secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt ...
# The server listens on 0.0.0.0 in the container, so it needs an API key to start:
#   docker run -e API_KEY=<secret> ...   (or -e ALLOW_NO_AUTH=1 to serve without authentication)
# Stop it with `docker stop -t 40` (or run with --stop-timeout 40): Docker's default 10 s would
# SIGKILL streams the server drains within SHUTDOWN_GRACE_S (25 s).
#
# No `# syntax=` line on purpose: it makes BuildKit pull a frontend image, which fails on hosts with
# no registry; the built-in frontend of Docker >= 20.10 has everything used here (RUN --mount).

# Base images are build arguments, so a machine with no registry can build from local ones (CI does).
# CUDA 13.0 because PyPI's torch 2.13 is built for CUDA 13: one driver line (>= 580) serves both.
ARG CUDA_DEVEL_BASE=nvidia/cuda:13.0.1-devel-ubuntu24.04
ARG CUDA_RUNTIME_BASE=nvidia/cuda:13.0.1-runtime-ubuntu24.04
ARG CPU_BASE=debian:bookworm-slim
ARG LLAMA_CPP_PYTHON_VERSION=0.3.36

# ---- GPU: llama.cpp compiled with CUDA (its own stage, so CI can build just this) -----------------
FROM ${CUDA_DEVEL_BASE} AS gpu-llama
ARG LLAMA_CPP_PYTHON_VERSION
# Turing (75: T4, RTX 20) through Blackwell (100: B200, 120: RTX 50 / RTX PRO 6000), as real code
# for each, plus PTX of 120 so a newer GPU can still JIT. Unset, CMake 3.25 fails ("native", no
# GPU at build time) and newer CMakes build a list without sm_90. One architecture builds much
# faster: --build-arg CUDA_ARCHITECTURES=90-real (H100/H200).
ARG CUDA_ARCHITECTURES="75-real;80-real;86-real;89-real;90-real;100-real;120-real;120-virtual"
# GGML_NATIVE=OFF: no -march=native (the build host's CPU is not the user's). GGML_CUDA_NO_VMM=ON:
# libggml-cuda then needs no libcuda.so.1 to load, so the image starts, on the CPU and saying so,
# when run without --gpus (libcudart finds the driver at run time when there is one).
ARG LLAMA_CUDA_CMAKE_ARGS="-DGGML_CUDA=ON -DGGML_NATIVE=OFF -DGGML_CUDA_NO_VMM=ON"
RUN apt-get update && apt-get install -y --no-install-recommends \
        python3 python3-venv python3-dev build-essential cmake git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY docker/pip-install.sh /usr/local/bin/pip-install
RUN --mount=type=secret,id=ca_bundle --mount=type=bind,source=docker/wheels,target=/wheels \
    CMAKE_ARGS="${LLAMA_CUDA_CMAKE_ARGS} -DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHITECTURES}" \
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    pip-install --no-binary llama-cpp-python --verbose "llama-cpp-python==${LLAMA_CPP_PYTHON_VERSION}" \
        > /tmp/llama-build.log 2>&1 \
    || { tail -n 80 /tmp/llama-build.log; exit 1; }

# ---- GPU: torch for the same CUDA line, then the app ------------------------------------------
FROM gpu-llama AS gpu-build
# PyPI's torch 2.13.0 wheels for Linux are the CUDA 13 builds, matching CUDA_DEVEL_BASE. `===`, not
# `==`: "==2.13.0" also matches a local "2.13.0+cpu" wheel, and pip prefers it (a local version sorts
# higher), so a CPU torch in docker/wheels/ (CI puts one there for the CPU image) would land here.
ARG TORCH_SPEC="torch===2.13.0"
ARG TORCH_INDEX_URL=""
RUN --mount=type=secret,id=ca_bundle --mount=type=bind,source=docker/wheels,target=/wheels \
    pip-install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple} "${TORCH_SPEC}"
WORKDIR /src
COPY pyproject.toml README.md models.yaml ./
COPY coordinator ./coordinator
COPY scripts ./scripts
RUN --mount=type=secret,id=ca_bundle pip-install . && pip check

FROM ${CUDA_RUNTIME_BASE} AS gpu
RUN apt-get update && apt-get install -y --no-install-recommends python3 libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 app \
    && mkdir -p /models /voices && chown app:app /models /voices
COPY --from=gpu-build /opt/venv /opt/venv
COPY --from=gpu-build /src/models.yaml /app/models.yaml
COPY --from=gpu-build /src/scripts /app/scripts
# HOST=0.0.0.0: serve refuses to start without API_KEY (or ALLOW_NO_AUTH=1), given at run time.
ENV PATH=/opt/venv/bin:$PATH \
    MODELS_CONFIG=/app/models.yaml \
    MODELS_DIR=/models \
    VOICES_DIR=/voices \
    HF_HOME=/models/.hf \
    HOST=0.0.0.0 \
    PORT=8080 \
    N_GPU_LAYERS=-1 \
    SNAC_DEVICE=auto \
    AUTO_DOWNLOAD=1
WORKDIR /app
USER 10001:10001
VOLUME ["/models"]
# Custom voices (people's recordings and their codes): kept apart from the downloads.
VOLUME ["/voices"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30m --retries=3 \
    CMD python3 -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('PORT', '8080'), timeout=4)"
CMD ["python3", "-m", "coordinator", "serve"]

# ---- CPU variant: same app, llama.cpp without CUDA, CPU torch ----------------------------------
FROM ${CPU_BASE} AS cpu-build
ARG LLAMA_CPP_PYTHON_VERSION
# GGML_NATIVE=OFF builds for x86-64-v3 (AVX2, FMA, F16C: Intel Haswell / AMD Excavator and newer),
# never the build host's AVX-512/AMX, which crash older CPUs with "Illegal instruction". For a CPU
# without AVX2: --build-arg LLAMA_CPU_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF".
# (llama.cpp's runtime-dispatched CPU variants, GGML_CPU_ALL_VARIANTS, need GGML_BACKEND_DL and a
# ggml_backend_load_all() call that llama-cpp-python 0.3 never makes.)
ARG LLAMA_CPU_CMAKE_ARGS="-DGGML_NATIVE=OFF"
# The CPU build of torch, the version the tests run: PyPI's Linux torch is a multi-GB CUDA build.
ARG TORCH_SPEC="torch==2.13.0+cpu"
ARG TORCH_INDEX_URL="https://download.pytorch.org/whl/cpu"
RUN apt-get update && apt-get install -y --no-install-recommends \
        python3 python3-venv python3-dev build-essential cmake git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY docker/pip-install.sh /usr/local/bin/pip-install
RUN --mount=type=secret,id=ca_bundle --mount=type=bind,source=docker/wheels,target=/wheels \
    pip-install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple} "${TORCH_SPEC}"
RUN --mount=type=secret,id=ca_bundle --mount=type=bind,source=docker/wheels,target=/wheels \
    CMAKE_ARGS="${LLAMA_CPU_CMAKE_ARGS}" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    pip-install --no-binary llama-cpp-python "llama-cpp-python==${LLAMA_CPP_PYTHON_VERSION}"
WORKDIR /src
COPY pyproject.toml README.md models.yaml ./
COPY coordinator ./coordinator
COPY scripts ./scripts
RUN --mount=type=secret,id=ca_bundle pip-install . && pip check

FROM ${CPU_BASE} AS cpu
RUN apt-get update && apt-get install -y --no-install-recommends python3 libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 app \
    && mkdir -p /models /voices && chown app:app /models /voices
COPY --from=cpu-build /opt/venv /opt/venv
COPY --from=cpu-build /src/models.yaml /app/models.yaml
COPY --from=cpu-build /src/scripts /app/scripts
# HOST=0.0.0.0: serve refuses to start without API_KEY (or ALLOW_NO_AUTH=1), given at run time.
ENV PATH=/opt/venv/bin:$PATH \
    MODELS_CONFIG=/app/models.yaml \
    MODELS_DIR=/models \
    VOICES_DIR=/voices \
    HF_HOME=/models/.hf \
    HOST=0.0.0.0 \
    PORT=8080 \
    N_GPU_LAYERS=0 \
    SNAC_DEVICE=cpu \
    AUTO_DOWNLOAD=1
WORKDIR /app
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
VOLUME ["/models"]
# Custom voices (people's recordings and their codes): kept apart from the downloads.
VOLUME ["/voices"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30m --retries=3 \
    CMD python3 -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('PORT', '8080'), timeout=4)"
CMD ["python3", "-m", "coordinator", "serve"]
