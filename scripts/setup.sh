#!/usr/bin/env bash
# Installs what building and testing fdo needs on a fresh Debian 12 machine. Idempotent: it
# installs only what is missing, so running it again is quick. Run as root when packages are
# missing (CI runs it as root); everything else is left as it is.
#
#   - Debian packages for building Rust guests offline: rustc-web cargo-web rust-web-src lld-19
#     wasi-libc (not needed when rustup already has the wasm32-wasip2 target: then the guests
#     are built with `--target wasm32-wasip2`); see test-guests/README.md. Guests are built for
#     wasm32-wasip2, which needs wasi-libc's wasm32-wasip2 build: Debian 13's wasi-libc has it,
#     Debian 12's does not, so on Debian 12 the script downloads Debian 13's wasi-libc package
#     with apt (signature-checked, without adding Debian 13 to the system's sources) and
#     extracts its wasm32-wasip2 directory into /usr/local/lib/wasm32-wasip2.
#   - wrk, the HTTP load generator the benchmarks use.
#   - WASI command toolchains (C: clang-19, lld-19, compiler-rt's wasm32 builtins and
#     wasi-libc's wasm32-wasi (preview1) build, which Debian 12's wasi-libc package is); Zig and
#     AssemblyScript come from PyPI and npm through examples/zig-hello/setup.sh and
#     examples/assemblyscript-hello/setup.sh.
#   - whatever each examples/*/setup.sh installs (componentize-py, componentize-js, ...).
#   - schemathesis (PyPI, in host/tests/schemathesis/.venv): the API fuzzing test runs it.
#
# It never calls `rustup target add`: on machines that only reach the package registries it hangs.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Packages the offline guest build needs (test-guests/build/toolchain.rs looks for them).
GUEST_PACKAGES=(rustc-web cargo-web rust-web-src lld-19 wasi-libc)
# Where the Debian 12 fallback puts wasi-libc's wasm32-wasip2 build (test-guests/build/toolchain.rs
# looks there after Debian 13's /usr/lib/wasm32-wasip2).
WASI_LIBC_P2_DIR=/usr/local/lib/wasm32-wasip2
# The Debian release whose wasi-libc has wasm32-wasip2.
WASI_LIBC_P2_SUITE=trixie
# Packages that build WASI command modules from C (examples/c-hello/build.sh, the command probe
# of test-guests/commands/): clang, its wasm-ld and wasm32 builtins, wasi-libc's preview1 build
# (/usr/lib/wasm32-wasi on Debian 12).
COMMAND_PACKAGES=(clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc)
# Packages for benchmarks and tooling; a failure to install them is reported, not fatal.
TOOL_PACKAGES=(wrk)

say() { printf '[setup] %s\n' "$*"; }

# Prints the packages among "$@" that dpkg does not report as installed.
missing_packages() {
    local package
    for package in "$@"; do
        if ! dpkg -s "$package" >/dev/null 2>&1; then
            printf '%s\n' "$package"
        fi
    done
}

apt_updated=no
# Installs Debian packages "$@" (running apt-get update the first time).
apt_install() {
    if [[ $(id -u) -ne 0 ]]; then
        say "cannot install $* : not root. Run as root: apt-get install -y $*"
        return 1
    fi
    if [[ $apt_updated == no ]]; then
        say "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -q
        apt_updated=yes
    fi
    say "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

# Downloads the wasi-libc package of $WASI_LIBC_P2_SUITE with apt (its own lists and cache in a
# temporary directory: the system's sources are left alone; the Release file's signature is
# checked against the system's Debian keyring) and extracts its wasm32-wasip2 directory.
install_wasi_libc_p2() {
    local tmp
    tmp=$(mktemp -d)
    mkdir -p "$tmp/lists/partial" "$tmp/archives/partial" "$tmp/deb"
    echo "deb http://deb.debian.org/debian $WASI_LIBC_P2_SUITE main" >"$tmp/sources.list"
    local opts=(-q -o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache::archives=$tmp/archives"
        -o APT::Sandbox::User=root)
    say "downloading wasi-libc (wasm32-wasip2) from Debian $WASI_LIBC_P2_SUITE"
    if ! apt-get "${opts[@]}" update >"$tmp/apt.log" 2>&1 \
        || ! (cd "$tmp/deb" && apt-get "${opts[@]}" download wasi-libc >>"$tmp/apt.log" 2>&1); then
        cat "$tmp/apt.log" >&2
        rm -rf "$tmp"
        return 1
    fi
    dpkg-deb -x "$tmp"/deb/wasi-libc_*.deb "$tmp/root"
    if [[ ! -f $tmp/root/usr/lib/wasm32-wasip2/libc.a ]]; then
        say "the downloaded wasi-libc has no wasm32-wasip2 build"
        rm -rf "$tmp"
        return 1
    fi
    rm -rf "$WASI_LIBC_P2_DIR"
    mkdir -p "$(dirname "$WASI_LIBC_P2_DIR")"
    cp -a "$tmp/root/usr/lib/wasm32-wasip2" "$WASI_LIBC_P2_DIR"
    say "installed $(basename "$tmp"/deb/wasi-libc_*.deb)'s wasm32-wasip2 into $WASI_LIBC_P2_DIR"
    rm -rf "$tmp"
}

if ! command -v dpkg >/dev/null 2>&1; then
    say "not a Debian system: skipping system packages (install a wasm toolchain yourself:"
    say "  rustup target add wasm32-wasip2)"
else
    if command -v rustup >/dev/null 2>&1 \
        && rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
        say "rustup has wasm32-wasip2: guests build with it, the offline Debian toolchain is not needed"
    else
        mapfile -t missing < <(missing_packages "${GUEST_PACKAGES[@]}")
        if ((${#missing[@]} == 0)); then
            say "guest toolchain present: ${GUEST_PACKAGES[*]}"
        else
            apt_install "${missing[@]}"
        fi
        if [[ -f /usr/lib/wasm32-wasip2/libc.a || -f $WASI_LIBC_P2_DIR/libc.a ]]; then
            say "wasi-libc for wasm32-wasip2 present"
        elif [[ $(id -u) -ne 0 ]]; then
            say "cannot install wasi-libc for wasm32-wasip2 into $WASI_LIBC_P2_DIR: not root"
            exit 1
        else
            install_wasi_libc_p2
        fi
    fi

    # --- WASI command toolchains (issue 28): C via clang + wasi-libc ---
    mapfile -t missing < <(missing_packages "${COMMAND_PACKAGES[@]}")
    if ((${#missing[@]} == 0)); then
        say "C to WASI command toolchain present: ${COMMAND_PACKAGES[*]}"
    else
        apt_install "${missing[@]}"
    fi

    mapfile -t missing < <(missing_packages "${TOOL_PACKAGES[@]}")
    if ((${#missing[@]} == 0)); then
        say "tools present: ${TOOL_PACKAGES[*]}"
    elif ! apt_install "${missing[@]}"; then
        say "warning: could not install ${missing[*]} (only the benchmarks need them)"
    fi
fi

shopt -s nullglob
for script in examples/*/setup.sh; do
    say "running $script"
    bash "$script"
done

# --- Web console browser tests (host/tests/all/console.rs) -------------------------------------
# Debian's Chromium, driven by playwright-core from npm (pinned in host/tests/browser's
# package-lock.json). Only the tests need them: fdo itself builds and serves the console without.
CONSOLE_TESTS=host/tests/browser
if command -v dpkg >/dev/null 2>&1; then
    if dpkg -s chromium >/dev/null 2>&1; then
        say "chromium present ($(chromium --version 2>/dev/null || echo '?'))"
    else
        apt_install chromium
    fi
fi
if ! command -v npm >/dev/null 2>&1; then
    say "npm missing: installing Debian's nodejs and npm (playwright-core needs Node.js 20 or later)"
    apt_install nodejs npm
fi
if [[ -f $CONSOLE_TESTS/node_modules/.package-lock.json \
    && $CONSOLE_TESTS/node_modules/.package-lock.json -nt $CONSOLE_TESTS/package-lock.json ]]; then
    say "console test packages present ($CONSOLE_TESTS/node_modules)"
else
    say "npm ci in $CONSOLE_TESTS"
    (cd "$CONSOLE_TESTS" && npm ci --no-audit --no-fund --loglevel=error)
fi

# --- schemathesis (PyPI), for the test that fuzzes the API against its OpenAPI document ---
say "running host/tests/schemathesis/setup.sh"
bash host/tests/schemathesis/setup.sh

# --- PostgreSQL and nginx for the many-hosts tests (issue 24) -----------------------------------
# Debian's PostgreSQL 15 server binaries (/usr/lib/postgresql/15/bin): the tests run initdb
# into a temporary directory and start their own cluster on a free loopback port (as the
# `postgres` user when run as root); nothing is configured or started system-wide here. nginx is
# the round-robin load balancer of the end-to-end tests, likewise started by the tests. The
# Debian packages start their own services on install: stopped again, they are not needed.
if command -v dpkg >/dev/null 2>&1; then
    mapfile -t missing < <(missing_packages postgresql-15 nginx)
    if [[ ${#missing[@]} -eq 0 ]]; then
        say "postgresql-15 and nginx present"
    else
        apt_install "${missing[@]}"
        if command -v service >/dev/null 2>&1; then
            service postgresql stop >/dev/null 2>&1 || true
            service nginx stop >/dev/null 2>&1 || true
        fi
    fi
fi

say "done"
