#!/usr/bin/env bash
# Builds main.zig into a WASI command module (wasm32-wasi, WASI preview1), which fdo deploys
# as is. Usage: build.sh OUT_WASM_PATH (`fdo build` runs it). Zig comes from .venv (PyPI's
# ziglang: `python3 -m venv .venv && .venv/bin/pip install -r requirements.txt`), else `zig`.
set -euo pipefail
out=${1:?usage: build.sh OUT_WASM_PATH}
case $out in /*) ;; *) out=$PWD/$out ;; esac
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
zig=("$here/.venv/bin/python" -m ziglang)
if ! "${zig[@]}" version >/dev/null 2>&1; then
    if ! command -v zig >/dev/null; then
        echo "{{name}}: Zig not found: python3 -m venv .venv && .venv/bin/pip install -r requirements.txt" >&2
        exit 1
    fi
    zig=(zig)
fi
mkdir -p "$(dirname "$out")"
# Zig writes its cache and object files beside the output: build in a scratch directory.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && "${zig[@]}" build-exe "$here/main.zig" -target wasm32-wasi -O ReleaseSmall \
    -fstrip --name out --cache-dir "$work/cache" >&2)
mv "$work/out.wasm" "$out"
