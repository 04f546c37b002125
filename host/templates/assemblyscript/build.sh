#!/usr/bin/env bash
# Builds assembly/index.ts into a WASI command module with the AssemblyScript compiler and its
# WASI shim (`npm install` first), which fdo deploys as is. Usage: build.sh OUT_WASM_PATH
# (`fdo build` runs it).
set -euo pipefail
out=${1:?usage: build.sh OUT_WASM_PATH}
case $out in /*) ;; *) out=$PWD/$out ;; esac
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
asc=$here/node_modules/assemblyscript/bin/asc.js
if [ ! -f "$asc" ] || ! command -v node >/dev/null; then
    echo "{{name}}: the AssemblyScript compiler is not installed: npm install (Node.js 18+)" >&2
    exit 1
fi
mkdir -p "$(dirname "$out")"
cd "$here"
node "$asc" --config asconfig.json --outFile "$out" >&2
