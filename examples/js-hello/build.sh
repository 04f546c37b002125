#!/usr/bin/env bash
# Builds hello.js into a WebAssembly component for the world `fdo:function/function` (the
# repository's wit/ directory) with componentize-js. Usage: build.sh OUT_WASM_PATH
# Works offline once setup.sh has run; exits non-zero with a message on failure.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUT_WASM_PATH" >&2
    exit 2
fi
out=$1
case $out in /*) ;; *) out=$PWD/$out ;; esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=node-env.sh
. "$here/node-env.sh"
if ! fdo_pick_node "$here" || [ ! -d "$here/node_modules/@bytecodealliance/componentize-js" ]; then
    echo "js-hello: Node.js $FDO_MIN_NODE_MAJOR+ or componentize-js not found: run $here/setup.sh first" >&2
    exit 1
fi

mkdir -p "$(dirname "$out")"
tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT
if ! "$NODE" "$here/build.mjs" "$tmp" >&2; then
    echo "js-hello: componentize-js failed to build $out" >&2
    exit 1
fi
mv "$tmp" "$out"
