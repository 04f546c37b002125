#!/usr/bin/env bash
# Builds hello.c into a WASI command module (a core module exporting `_start`, WASI preview1)
# with Debian's clang and wasi-libc, which fdo deploys as is. Usage: build.sh OUT_WASM_PATH
# Needs clang 16 or newer with wasm-ld, wasi-libc and compiler-rt's wasm32 builtins
# (scripts/setup.sh installs clang-19, lld-19, libclang-rt-19-dev-wasm32 and wasi-libc).
# CC overrides the compiler, WASI_SYSROOT the sysroot (default: Debian's layout under /usr),
# C_SOURCE the source file (test-guests' command probe builds with this script).
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUT_WASM_PATH" >&2
    exit 2
fi
out=$1
case $out in /*) ;; *) out=$PWD/$out ;; esac
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

cc=${CC:-}
if [ -z "$cc" ]; then
    for candidate in clang-22 clang-21 clang-20 clang-19 clang-18 clang-17 clang-16 clang; do
        if command -v "$candidate" >/dev/null; then
            cc=$candidate
            break
        fi
    done
fi
# Debian 12's wasi-libc is /usr/lib/wasm32-wasi; later releases name preview1 wasm32-wasip1.
sysroot=${WASI_SYSROOT:-/usr}
target=
for triple in wasm32-wasip1 wasm32-wasi; do
    if [ -f "$sysroot/lib/$triple/libc.a" ]; then
        target=$triple
        break
    fi
done
if [ -z "$cc" ] || [ -z "$target" ]; then
    echo "c-hello: clang or wasi-libc (wasm32-wasi) not found: run scripts/setup.sh (as root)" >&2
    exit 1
fi

mkdir -p "$(dirname "$out")"
tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT
"$cc" --target="$target" --sysroot="$sysroot" -O2 -Wall -Wextra -Werror -s \
    -o "$tmp" "${C_SOURCE:-$here/hello.c}"
mv "$tmp" "$out"
