#!/usr/bin/env bash
# Installs what build.sh needs: the AssemblyScript compiler and its WASI shim (node_modules,
# from the committed package-lock.json). They need Node.js 20 or newer: the machine's, or the
# one js-hello's setup installs from PyPI where the machine has none recent enough (shared
# through js-hello's node-env.sh). Idempotent and silent when already installed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
js_hello=$here/../js-hello
# shellcheck source=../js-hello/node-env.sh
. "$js_hello/node-env.sh"
if ! fdo_pick_node "$js_hello"; then
    bash "$js_hello/setup.sh"
    fdo_pick_node "$js_hello"
fi

# npm leaves node_modules/.package-lock.json behind; newer than the lock file means done.
installed=$here/node_modules/.package-lock.json
if [ -f "$installed" ] && [ "$installed" -nt "$here/package-lock.json" ] \
        && [ "$installed" -nt "$here/package.json" ] \
        && [ -d "$here/node_modules/@assemblyscript/wasi-shim" ]; then
    exit 0
fi
echo "assemblyscript-hello setup: npm ci in $here" >&2
(cd "$here" && "${NPM[@]}" ci --no-audit --no-fund --loglevel=error >&2)
touch "$installed"
