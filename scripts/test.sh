#!/usr/bin/env bash
# Runs fdo's whole test suite: installs the toolchain (scripts/setup.sh), then tests every
# crate of the workspace. Building the tests also builds every guest component
# (test-guests/build/main.rs). Last, the README's quickstart commands are run against a real
# host (scripts/quickstart.sh --check, with the fdo binary the tests used). Extra arguments go
# to the test runner.
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
# The README's quickstart, as printed: `fdo up` on examples/ with a fresh data directory, the
# README's curl and `fdo` commands, stop. It runs the fdo binary the test build above made:
# `cargo build -p fdo` would resolve the dependencies' features differently from the
# workspace's test build and compile minutes of them again.
FDO_BIN=$(cargo test --workspace --no-run --message-format=json-render-diagnostics 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    t = m.get("target", {})
    if m.get("reason") == "compiler-artifact" and t.get("name") == "fdo" and t.get("kind") == ["bin"] \
            and not m.get("profile", {}).get("test") and m.get("executable"):
        print(m["executable"])
')
[[ -x $FDO_BIN ]] || { say "the test build reported no fdo binary"; exit 1; }
qs_data=$(mktemp -d)
say "scripts/quickstart.sh --check with $FDO_BIN (data in $qs_data)"
FDO_BIN=$FDO_BIN FDO_LISTEN=127.0.0.1:0 FDO_DATA_DIR=$qs_data scripts/quickstart.sh --check
rm -rf "$qs_data"
say "all tests passed"
