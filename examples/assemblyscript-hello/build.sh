#!/usr/bin/env bash
# Builds assembly/index.ts into a WASI command module (a core module exporting `_start`, WASI
# preview1 through @assemblyscript/wasi-shim), which fdo deploys as is.
# Usage: build.sh OUT_WASM_PATH. Works offline once setup.sh has run; exits non-zero with a
# message on failure.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUT_WASM_PATH" >&2
    exit 2
fi
out=$1
case $out in /*) ;; *) out=$PWD/$out ;; esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../js-hello/node-env.sh
. "$here/../js-hello/node-env.sh"
asc=$here/node_modules/assemblyscript/bin/asc.js
if ! fdo_pick_node "$here/../js-hello" || [ ! -f "$asc" ]; then
    echo "assemblyscript-hello: Node.js $FDO_MIN_NODE_MAJOR+ or assemblyscript not found: run $here/setup.sh first" >&2
    exit 1
fi

mkdir -p "$(dirname "$out")"
tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT
if ! (cd "$here" && "$NODE" "$asc" --config asconfig.json --outFile "$tmp" >&2); then
    echo "assemblyscript-hello: asc failed to build $out" >&2
    exit 1
fi
mv "$tmp" "$out"
