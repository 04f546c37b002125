#!/usr/bin/env bash
# Builds hello.c into a WASI command module with clang and wasi-libc, which fdo deploys as is.
# Usage: build.sh OUT_WASM_PATH (`fdo build` runs it). Needs clang 16+ with wasm-ld, compiler-rt's
# wasm32 builtins and wasi-libc (Debian: clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc).
# CC overrides the compiler, WASI_SYSROOT the sysroot (default /usr, Debian's layout).
set -euo pipefail
out=${1:?usage: build.sh OUT_WASM_PATH}
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
sysroot=${WASI_SYSROOT:-/usr}
target=
for triple in wasm32-wasip1 wasm32-wasi; do
    if [ -f "$sysroot/lib/$triple/libc.a" ]; then
        target=$triple
        break
    fi
done
if [ -z "$cc" ] || [ -z "$target" ]; then
    echo "{{name}}: clang or wasi-libc not found (Debian: apt-get install clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc)" >&2
    exit 1
fi
mkdir -p "$(dirname "$out")"
"$cc" --target="$target" --sysroot="$sysroot" -O2 -Wall -Wextra -s -o "$out" "$here/hello.c"
