#!/usr/bin/env bash
# Builds main.zig into a WASI command module (a core module exporting `_start`, for
# wasm32-wasi = WASI preview1), which fdo deploys as is. Usage: build.sh OUT_WASM_PATH
# Works offline once setup.sh has run; exits non-zero with a message on failure.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUT_WASM_PATH" >&2
    exit 2
fi
out=$1
case $out in /*) ;; *) out=$PWD/$out ;; esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
zig=("$here/.venv/bin/python" -m ziglang)
if ! "${zig[@]}" version >/dev/null 2>&1; then
    if command -v zig >/dev/null; then
        zig=(zig)
    else
        echo "zig-hello: Zig not found: run $here/setup.sh first" >&2
        exit 1
    fi
fi

mkdir -p "$(dirname "$out")"
# Zig writes its caches and the output's object file beside the output: build in a scratch
# directory so nothing lands in the source tree.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && "${zig[@]}" build-exe "$here/main.zig" -target wasm32-wasi -O ReleaseSmall \
        -fstrip --name zig-hello --cache-dir "$work/cache" >&2); then
    echo "zig-hello: zig build-exe failed to build $out" >&2
    exit 1
fi
mv "$work/zig-hello.wasm" "$out"
