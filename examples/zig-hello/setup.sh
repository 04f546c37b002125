#!/usr/bin/env bash
# Installs what build.sh needs: the Zig compiler (PyPI's `ziglang`, pinned in requirements.txt)
# in .venv beside this script. Idempotent and silent when already installed. Needs PyPI; on a
# machine without python3 or its venv module it installs them from Debian's packages (as root).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=$here/.venv
stamp=$venv/fdo-requirements.txt

if cmp -s "$here/requirements.txt" "$stamp" && "$venv/bin/python" -m ziglang version >/dev/null 2>&1; then
    exit 0
fi

if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    if [ "$(id -u)" != 0 ]; then
        echo "zig-hello setup: python3 with its venv module is missing; install python3-venv (as root)" >&2
        exit 1
    fi
    echo "zig-hello setup: installing python3 and python3-venv from Debian" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
fi

echo "zig-hello setup: installing $(grep -v '^#' "$here/requirements.txt" | tr '\n' ' ')into $venv" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/python" -m ziglang version >/dev/null
cp "$here/requirements.txt" "$stamp"
