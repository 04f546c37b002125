#!/usr/bin/env bash
# Installs what building and testing fdo needs on a fresh Debian 12 machine. Idempotent: it
# installs only what is missing, so running it again is quick. Run as root when packages are
# missing (CI runs it as root); everything else is left as it is.
#
#   - Debian packages for building Rust guests offline: rustc-web cargo-web rust-web-src lld
#     wasi-libc (not needed when rustup already has the wasm32-wasip2 target: then the guests
#     are built with `--target wasm32-wasip2`); see ../shared/docs/guest-toolchain.md.
#   - wrk, the HTTP load generator the benchmarks use.
#   - whatever each examples/*/setup.sh installs (componentize-py, componentize-js, ...).
#
# It never calls `rustup target add`: on machines that only reach the package registries it hangs.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Packages the offline guest build needs (test-guests/build/toolchain.rs looks for them).
GUEST_PACKAGES=(rustc-web cargo-web rust-web-src lld wasi-libc)
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

say "done"
