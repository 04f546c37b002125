#!/usr/bin/env bash
# The load benchmark, end to end: builds the release binaries (fdo, fdo-load, hello-native and
# the guest components), installs `wasmtime serve` 48.0.8 under target/tools if it is not
# there yet (a one-time ~20 minute build), installs wrk from Debian's packages if missing,
# then runs fdo-load. Arguments go to fdo-load (`benches/load.sh --help` lists them), e.g.
#
#   benches/load.sh                              # everything, 1/8/32 connections, 10 s each
#   benches/load.sh --only wasmtime,fdo-http --connections 32
#   benches/load.sh --only many --functions 1000 --distinct --json /tmp/many.json
#
# Set WASMTIME=/path/to/wasmtime to use a wasmtime you already have.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}

say() { printf '[load] %s\n' "$*" >&2; }

scripts/setup.sh

if ! command -v wrk >/dev/null 2>&1; then
    say "installing wrk"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get install -y -q wrk >/dev/null
fi

if [ -z "${WASMTIME:-}" ] && ! [ -x "$target/tools/bin/wasmtime" ]; then
    say "installing wasmtime-cli 48.0.8 into $target/tools (first run only; about 20 minutes on 2 cores)"
    cargo install wasmtime-cli --version 48.0.8 --locked --root "$target/tools"
fi

say "building release binaries"
cargo build --release -p fdo --bin fdo -p fdo-benches --bin fdo-load --bin hello-native

say "machine: $(nproc) cores, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$target/release/fdo-load" "$@"
