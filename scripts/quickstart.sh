#!/usr/bin/env bash
# From a fresh clone to a running fdo with the examples deployed, in one command:
#
#   1. scripts/setup.sh installs what building guests needs (Debian's offline Rust-to-wasm
#      toolchain unless rustup already has wasm32-wasip2; componentize-py and componentize-js
#      for the Python and JavaScript examples);
#   2. cargo builds the `fdo` binary and every example component (the test-guests crate builds
#      examples/);
#   3. `fdo serve` starts on the embedded default storage (./.fdo), `fdo deploy
#      examples/fdo.toml` deploys the examples, and the URL and API key are printed, and saved in
#      .fdo/quickstart.env for other terminals. Ctrl-C stops the host; the functions stay
#      deployed for the next start.
#
# Options:   --check   run the README's commands against the host, then stop it (exit status
#                      says whether they all worked)
# Environment: FDO_LISTEN (default 127.0.0.1:8080), FDO_DATA_DIR (default .fdo).
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
            sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown option $arg (try --help)" ;;
    esac
done

LISTEN=${FDO_LISTEN:-127.0.0.1:8080}
DATA_DIR=${FDO_DATA_DIR:-.fdo}
ENV_FILE=$DATA_DIR/quickstart.env

scripts/setup.sh

say "building fdo and the example components (the first build can take 15 minutes or more on a small machine)"
# cargo reports, as JSON lines, the binary it built and where test-guests' build script wrote
# the components ($OUT_DIR/guests/NAME.wasm).
build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
cargo build -p fdo -p test-guests --message-format=json-render-diagnostics >"$build_log"
FDO_BIN=$(sed -n 's/.*"reason":"compiler-artifact".*"executable":"\([^"]*\/fdo\)".*/\1/p' "$build_log" | tail -n 1)
OUT_DIR=$(grep '"reason":"build-script-executed"' "$build_log" | grep 'test-guests#' |
    sed -n 's/.*"out_dir":"\([^"]*\)".*/\1/p' | tail -n 1 || true)
[[ -x $FDO_BIN ]] || die "cargo did not report the fdo binary"
[[ -d $OUT_DIR/guests ]] || die "cargo did not report the test-guests output directory"
export FDO_GUESTS=$OUT_DIR/guests
say "fdo: $FDO_BIN"
say "components: $FDO_GUESTS"

mkdir -p "$DATA_DIR"
# One key per data directory, kept in the env file: the README's commands read it from there.
KEY=
if [[ -f $ENV_FILE ]]; then
    KEY=$(sed -n "s/^export FDO_API_KEY='\(.*\)'$/\1/p" "$ENV_FILE")
fi
if [[ -z $KEY ]]; then
    KEY=fdo_qs_$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
fi

serve_out=$DATA_DIR/quickstart-serve.out
: >"$serve_out"
say "starting fdo serve on $LISTEN (data in $DATA_DIR)"
FDO_API_KEY=$KEY "$FDO_BIN" serve --listen "$LISTEN" --data-dir "$DATA_DIR" >"$serve_out" &
SERVER=$!
stop_server() {
    if kill -0 "$SERVER" 2>/dev/null; then
        kill -TERM "$SERVER" 2>/dev/null || true
        wait "$SERVER" || true
    fi
}
trap 'stop_server; rm -f "$build_log"' EXIT
trap 'exit 130' INT TERM

URL=
for _ in $(seq 1 600); do
    URL=$(sed -n 's/^fdo listening on \(http:.*\)$/\1/p' "$serve_out")
    [[ -n $URL ]] && break
    kill -0 "$SERVER" 2>/dev/null || die "fdo serve stopped (is $LISTEN in use? set FDO_LISTEN)"
    sleep 0.1
done
[[ -n $URL ]] || die "fdo serve did not start within a minute"
# A host listening on every interface is reached on loopback from here.
URL=${URL/0.0.0.0/127.0.0.1}
URL=${URL/\[::\]/[::1]}

BIN_DIR=$(dirname "$FDO_BIN")
umask 077
cat >"$ENV_FILE" <<EOF
# Written by scripts/quickstart.sh: \`source $ENV_FILE\` to talk to the quickstart host.
export FDO_URL='$URL'
export FDO_API_KEY='$KEY'
export PATH='$BIN_DIR':"\$PATH"
export FDO_GUESTS='$FDO_GUESTS'
EOF

say "deploying examples/fdo.toml"
FDO_URL=$URL FDO_API_KEY=$KEY "$FDO_BIN" deploy examples/fdo.toml

cat >&2 <<EOF

  fdo is running at $URL with the examples deployed.
  API key: $KEY

  In another terminal, in $ROOT:
    source $ENV_FILE
    fdo list
    fdo invoke hello main -p name=Alice
    curl -s -H "X-API-Key: \$FDO_API_KEY" -H 'Content-Type: application/json' \\
      -d '{"method": "main", "params": {"name": "Alice"}}' "\$FDO_URL/v1/functions/hello"

  Ctrl-C stops the host; the functions stay deployed in $DATA_DIR.

EOF

if [[ $CHECK == yes ]]; then
    say "checking the README's commands"
    # shellcheck source=/dev/null
    source "$ENV_FILE"
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
    exit 0
fi

say "fdo serve is running (pid $SERVER); Ctrl-C stops it"
wait "$SERVER"
