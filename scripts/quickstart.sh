#!/usr/bin/env bash
# From a fresh clone to a running fdo with the examples deployed, in one command. A thin wrapper
# over `fdo up` on examples/:
#
#   1. scripts/setup.sh installs what building guests needs (Debian's offline Rust-to-wasm
#      toolchain unless rustup already has wasm32-wasip2; componentize-py and componentize-js
#      for the Python and JavaScript examples);
#   2. cargo builds the `fdo` binary (unless FDO_BIN names one);
#   3. `fdo up` in examples/ builds every example (`fdo build`, which reuses what an earlier
#      build of the guests left in the per-user cache), starts a host on examples/.fdo/data,
#      deploys examples/fdo.toml, and prints the URL, the API key and a call for each function.
#      .fdo/quickstart.env gets FDO_URL, FDO_API_KEY and fdo on PATH for other terminals.
#      Ctrl-C stops the host; the functions stay deployed for the next start.
#
# Options:   --check   run the README's commands against the host, then stop it (exit status
#                      says whether they all worked)
# Environment: FDO_LISTEN (default 127.0.0.1:8080), FDO_DATA_DIR (default examples/.fdo/data),
#              FDO_BIN (an fdo binary to use instead of building one).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

say() { printf '[quickstart] %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}

CHECK=no
for arg in "$@"; do
    case $arg in
        --check) CHECK=yes ;;
        -h | --help)
            sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown option $arg (try --help)" ;;
    esac
done

LISTEN=${FDO_LISTEN:-127.0.0.1:8080}
ENV_FILE=.fdo/quickstart.env

scripts/setup.sh

if [[ -z ${FDO_BIN:-} ]]; then
    say "building fdo (the first build compiles wasmtime: 10 minutes or more on a small machine)"
    build_log=$(mktemp)
    cargo build -p fdo --message-format=json-render-diagnostics >"$build_log"
    FDO_BIN=$(sed -n 's/.*"reason":"compiler-artifact".*"executable":"\([^"]*\/fdo\)".*/\1/p' "$build_log" | tail -n 1)
    rm -f "$build_log"
fi
[[ -x $FDO_BIN ]] || die "no fdo binary (FDO_BIN=$FDO_BIN)"
say "fdo: $FDO_BIN"

up_args=(up --listen "$LISTEN")
if [[ -n ${FDO_DATA_DIR:-} ]]; then
    up_args+=(--data-dir "$FDO_DATA_DIR")
fi

if [[ $CHECK == no ]]; then
    mkdir -p .fdo
    # fdo up writes examples/.fdo/env once it serves; this file adds fdo to PATH.
    cat >"$ENV_FILE" <<EOF2
# Written by scripts/quickstart.sh: \`source $ENV_FILE\` to talk to the quickstart host.
source '$ROOT/examples/.fdo/env'
export PATH='$(dirname "$FDO_BIN")':"\$PATH"
EOF2
    say "fdo up in examples/ (then, in another terminal: source $ENV_FILE)"
    cd examples
    exec "$FDO_BIN" "${up_args[@]}"
fi

# --check: fdo up in the background, the README's commands against it, then stop it.
out=$(mktemp)
(cd examples && exec "$FDO_BIN" "${up_args[@]}") >"$out" 2>&1 &
UP=$!
stop_up() {
    if kill -0 "$UP" 2>/dev/null; then
        kill -TERM "$UP" 2>/dev/null || true
        wait "$UP" || true
    fi
    rm -f "$out"
}
trap stop_up EXIT
trap 'exit 130' INT TERM

URL=
for _ in $(seq 1 3000); do
    URL=$(sed -n 's/^fdo listening on \(http:.*\)$/\1/p' "$out")
    [[ -n $URL ]] && break
    if ! kill -0 "$UP" 2>/dev/null; then
        cat "$out" >&2
        die "fdo up stopped (is $LISTEN in use? set FDO_LISTEN)"
    fi
    sleep 0.2
done
[[ -n $URL ]] || { cat "$out" >&2; die "fdo up did not serve within 10 minutes"; }
cat "$out" >&2

say "checking the README's commands"
# shellcheck source=/dev/null
source examples/.fdo/env
PATH=$(dirname "$FDO_BIN"):$PATH
expect() {
    local want=$1
    shift
    local got
    got=$("$@" 2>&1) || die "failed: $* -> $got"
    [[ $got == *"$want"* ]] || die "$* printed $got (expected $want)"
    say "ok: $*"
}
expect 'hello' fdo list
expect '"body": "Hello Alice!"' fdo invoke hello main -p name=Alice
expect '{"result":{"body":"Hello Alice!"}}' curl -s -H "X-API-Key: $FDO_API_KEY" -H 'Content-Type: application/json' \
    -d '{"method": "main", "params": {"name": "Alice"}}' "$FDO_URL/v1/functions/hello"
expect '"message":"Hello from fdo!"' fdo invoke --http http-handler
expect '{"echo":{"hi":1}}' curl -s -H "X-API-Key: $FDO_API_KEY" -d '{"hi":1}' "$FDO_URL/v1/functions/http-handler/echo"
expect '"body": "Hello Ada!"' fdo invoke python-hello hello Ada
expect '"body": "Hello Grace!"' fdo invoke js-hello hello Grace
expect '"body": "Hello Ada!"' fdo invoke zig-hello hello Ada
expect '"body": "Hello Ada!"' fdo invoke assemblyscript-hello hello Ada
expect '"body": "Hello Ada!"' fdo invoke c-hello hello Ada
expect 'Hello Ada!' curl -s -H "X-API-Key: $FDO_API_KEY" "$FDO_URL/v1/functions/c-hello-http/hello?name=Ada"
expect 'main succeeded' fdo logs hello
expect 'fdo_invocations_total{function="hello"' curl -s -H "X-API-Key: $FDO_API_KEY" "$FDO_URL/metrics"
say "all README commands worked"
