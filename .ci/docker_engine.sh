#!/usr/bin/env bash
# Sourced by the container checks: a private Docker engine and local base images, for machines
# with no registry. Nothing here touches a system-wide Docker: its state lives under
# ORPHEUS_CI_CACHE (kept between runs where the machine keeps it, so layers and the debootstrap
# base are reused) and its socket and pid file under a fresh temp folder.
#   engine_start / engine_stop       start and stop the daemon (engine_stop also runs on EXIT);
#                                    with DOCKER_HOST naming a live engine, use that one instead
#   base_image NAME                  a debootstrap bookworm minbase, imported as NAME (cached tarball)
set -euo pipefail

ORPHEUS_CI_CACHE=${ORPHEUS_CI_CACHE:-/var/cache/orpheus-ci}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Debian's client (20.10) speaks BuildKit without buildx; a newer client on PATH may not.
DOCKER_BIN=${DOCKER_BIN:-/usr/bin/docker}
ENGINE_START_TIMEOUT_S=60

engine_install() {
    if ! command -v dockerd >/dev/null || [ ! -x "$DOCKER_BIN" ] || ! command -v debootstrap >/dev/null; then
        apt-get update -qq -o DPkg::Lock::Timeout=600
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 \
            docker.io debootstrap binutils iproute2 >/dev/null
    fi
}

engine_start() {
    engine_install
    # An engine the caller already runs (DOCKER_HOST set and answering) is used, and left running.
    if [ -n "${DOCKER_HOST:-}" ] && "$DOCKER_BIN" info >/dev/null 2>&1; then
        export DOCKER_BUILDKIT=1
        return 0
    fi
    mkdir -p "$ORPHEUS_CI_CACHE/docker"
    ENGINE_RUN=$(mktemp -d /tmp/orpheus-ci-engine.XXXXXX)
    export DOCKER_HOST="unix://$ENGINE_RUN/docker.sock"
    export DOCKER_BUILDKIT=1
    # A bridge of its own, so a system dockerd (if any) keeps docker0. Raising nofile above the
    # sandbox's hard limit fails with EPERM, hence the explicit default ulimit.
    dockerd --data-root "$ORPHEUS_CI_CACHE/docker" --exec-root "$ENGINE_RUN/exec" \
        --pidfile "$ENGINE_RUN/dockerd.pid" --host "$DOCKER_HOST" \
        --default-ulimit nofile=1024:1024 >"$ENGINE_RUN/dockerd.log" 2>&1 &
    ENGINE_PID=$!
    trap engine_stop EXIT
    local waited=0
    until "$DOCKER_BIN" info >/dev/null 2>&1; do
        if ! kill -0 "$ENGINE_PID" 2>/dev/null || [ "$waited" -ge "$ENGINE_START_TIMEOUT_S" ]; then
            echo "docker engine did not start; its log:" >&2
            tail -n 30 "$ENGINE_RUN/dockerd.log" >&2
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
}

engine_stop() {
    if [ -n "${ENGINE_PID:-}" ] && kill -0 "$ENGINE_PID" 2>/dev/null; then
        kill "$ENGINE_PID"
        local waited=0
        while kill -0 "$ENGINE_PID" 2>/dev/null && [ "$waited" -lt 30 ]; do sleep 1; waited=$((waited + 1)); done
        ip link delete docker0 2>/dev/null || true
    fi
    ENGINE_PID=
}

docker() { "$DOCKER_BIN" "$@"; }

base_image() {
    local name=$1 tarball="$ORPHEUS_CI_CACHE/bookworm-minbase.tar"
    if docker image inspect "$name" >/dev/null 2>&1; then
        return 0
    fi
    if [ ! -s "$tarball" ]; then
        local root
        root=$(mktemp -d /tmp/orpheus-ci-rootfs.XXXXXX)
        echo "making the bookworm base with debootstrap (about 1.5 min)"
        debootstrap --variant=minbase bookworm "$root" "$DEBIAN_MIRROR" >"$root.log" 2>&1 \
            || { tail -n 20 "$root.log" >&2; return 1; }
        tar -C "$root" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
        rm -rf "$root" "$root.log"
    fi
    docker import "$tarball" "$name" >/dev/null
}
