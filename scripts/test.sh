#!/usr/bin/env bash
# Runs fdo's whole test suite: installs the toolchain (scripts/setup.sh), then tests every
# crate of the workspace. Building the tests also builds every guest component
# (test-guests/build/main.rs). Last, the README's quickstart commands are run against a real
# host (scripts/quickstart.sh --check). Extra arguments go to the test runner.
#
# cargo-nextest is used when installed (parallel, one process per test), plus the doc tests it
# does not run; otherwise plain `cargo test`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh

say() { printf '[test] %s\n' "$*"; }

say "$(cargo --version)"
if cargo nextest --version >/dev/null 2>&1; then
    say "cargo nextest run --workspace $*"
    cargo nextest run --workspace --no-fail-fast "$@"
    say "cargo test --workspace --doc"
    cargo test --workspace --doc
else
    say "cargo test --workspace $*"
    cargo test --workspace --no-fail-fast "$@"
fi
# The README's quickstart, as printed: build, serve on a fresh data directory, deploy
# examples/fdo.toml, run the README's curl and `fdo` commands, stop.
qs_data=$(mktemp -d)
say "scripts/quickstart.sh --check (data in $qs_data)"
FDO_LISTEN=127.0.0.1:0 FDO_DATA_DIR=$qs_data scripts/quickstart.sh --check
rm -rf "$qs_data"
say "all tests passed"
