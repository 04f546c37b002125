#!/usr/bin/env bash
# Builds app.py into a WebAssembly component for the world `fdo:function/function` (the
# repository's wit/ directory) with componentize-py. Usage: build.sh OUT_WASM_PATH
# Works offline once setup.sh has run; exits non-zero with a message on failure.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUT_WASM_PATH" >&2
    exit 2
fi
out=$1
case $out in /*) ;; *) out=$PWD/$out ;; esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
componentize_py=$here/.venv/bin/componentize-py
if [ ! -x "$componentize_py" ]; then
    componentize_py=$(command -v componentize-py || true)
fi
if [ -z "$componentize_py" ]; then
    echo "python-hello: componentize-py not found: run $here/setup.sh first" >&2
    exit 1
fi

mkdir -p "$(dirname "$out")"
tmp=$out.tmp.$$
# Build from a copy of the source so componentize-py's __pycache__ stays out of the source tree.
work=$(mktemp -d)
trap 'rm -rf "$tmp" "$work"' EXIT
cp "$here/app.py" "$work/"
# componentize-py reports success on stdout: keep stdout clean for whoever runs this script.
if ! "$componentize_py" -d "$here/../../wit" -w fdo:function/function componentize \
        -p "$work" app -o "$tmp" >&2; then
    echo "python-hello: componentize-py failed to build $out" >&2
    exit 1
fi
mv "$tmp" "$out"
