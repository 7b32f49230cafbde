#!/bin/sh
# pip install for the image builds. A CA bundle given as the BuildKit secret `ca_bundle` (a
# TLS-intercepting proxy's, say) is used for this step only and never lands in a layer; wheels
# placed in docker/wheels/ (e.g. a local torch wheel) are offered before the indexes.
set -eu
if [ -s /run/secrets/ca_bundle ]; then
    export PIP_CERT=/run/secrets/ca_bundle
fi
if ls /wheels/*.whl >/dev/null 2>&1; then
    set -- --find-links /wheels "$@"
fi
exec pip install --no-cache-dir --disable-pip-version-check "$@"
