#!/usr/bin/env bash
# Builds probe.c into a WASI command module with the toolchain of examples/c-hello (clang and
# wasi-libc). Usage: build.sh OUT_WASM_PATH
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
C_SOURCE=$here/probe.c exec bash "$here/../../../examples/c-hello/build.sh" "$@"
