#!/usr/bin/env bash
# Profiles one fdo serving RPC calls of the hello example, the way benches/RESULTS.md was made.
#
#   benches/profile.sh cpu        # wrk -t1 -c32 -d10s: req/s, latency, fdo CPU per request
#                                 #   (whole process and log-writer thread), page faults per
#                                 #   request, dropped log entries
#   benches/profile.sh perf       # the same under `perf record -g` (report: perf report -i ...;
#                                 #   PERF_ARGS="--call-graph dwarf" for code without frame pointers)
#   benches/profile.sh callgrind  # instructions per request: 1 worker thread, 500 sequential
#                                 #   calls after 200 of warm-up, under valgrind --tool=callgrind
#
# Environment: CONNS (default 32), FDO (default target/release/fdo), OUT (default
# target/profile), FUNCTIONS (deploy hello as FUNCTIONS functions f-0.. and rotate the calls
# over all of them, as the 1,000-functions scenario of fdo-load does; FUNCTIONS=1 is its
# one-function baseline), WARMUP (seconds of load before measuring, default 3; with many
# functions, long enough for every function to reach its log retention), DISTINCT=1 (with
# FUNCTIONS: a distinct copy of the component for each function; pass --cache-memory-mb
# through FDO_ARGS when they do not fit the default budget), FDO_ARGS (more `fdo serve`
# arguments), WASM (another RPC component exporting `main` to call instead of the hello
# example). Needs wrk, and perf or valgrind for those modes. Build first:
#   cargo build --release -p fdo --bin fdo -p test-guests
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
mode=${1:-cpu}
conns=${CONNS:-32}
fdo=${FDO:-target/release/fdo}
out=${OUT:-target/profile}
key=fdo-profile-key-0123456789abcdef
body='{"method":"main","params":{"name":"world"}}'
mkdir -p "$out"
[ -x "$fdo" ] || { echo "no $fdo: cargo build --release -p fdo --bin fdo" >&2; exit 1; }
wasm=${WASM:-$(ls -t target/release/build/test-guests-*/out/guests/hello.wasm 2>/dev/null | head -1)}
[ -f "$wasm" ] || { echo "no component at '${wasm:-hello.wasm}': cargo build --release -p test-guests, or set WASM" >&2; exit 1; }

data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
launch=(env -u RUST_BACKTRACE FDO_API_KEY=$key RUST_LOG=warn)
if [ "$mode" = callgrind ]; then
    launch+=(TOKIO_WORKER_THREADS=1 valgrind --tool=callgrind "--callgrind-out-file=$out/callgrind.out.%p")
fi
# shellcheck disable=SC2086
"${launch[@]}" "$fdo" serve --listen "127.0.0.1:$port" --data-dir "$data" --no-rate-limit ${FDO_ARGS:-} \
    >"$out/fdo.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 600); do curl -s -o /dev/null "$base/" && break; sleep 0.2; done

python3 - "$wasm" >"$out/deploy.json" <<'PY'
import base64, json, sys
code = base64.b64encode(open(sys.argv[1], "rb").read()).decode()
print(json.dumps({"id": "hello", "version": "1.0.0", "language": "rust",
                  "entryPoint": "src/lib.rs", "dependencies": {}, "code": code}))
PY
functions=${FUNCTIONS:-}
if [ -z "$functions" ]; then
    curl -sf -X POST -H "x-api-key: $key" -H 'content-type: application/json' \
        --data "@$out/deploy.json" "$base/v1/api/functions" >/dev/null
    url=$base/v1/functions/hello
else
    python3 - "$out/deploy.json" "$functions" "$base" "$key" "${DISTINCT:-}" <<'PY'
import base64, http.client, json, sys, urllib.parse
deploy, n, base, key = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3], sys.argv[4]
distinct = sys.argv[5] not in ("", "0")
code = base64.b64decode(deploy["code"])
def leb(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)
def copy(i):
    # A custom section makes each copy a different component (compiled and cached apart).
    name, payload = b"fdo-bench-copy", str(i).encode()
    content = leb(len(name)) + name + payload
    return code + b"\x00" + leb(len(content)) + content
u = urllib.parse.urlparse(base)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
for i in range(n):
    deploy["id"] = f"f-{i}"
    if distinct:
        deploy["code"] = base64.b64encode(copy(i)).decode()
    c.request("POST", "/v1/api/functions", json.dumps(deploy),
              {"x-api-key": key, "content-type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status in (200, 201), (i, r.status)
PY
    export FDO_WRK_PATHS="/v1/functions/f-|$functions|"
    url=$base/v1/functions/f-0
fi
curl -sf -X POST -H "x-api-key: $key" -H 'content-type: application/json' -d "$body" "$url"
echo

# Sequential keep-alive calls (callgrind: one request at a time, nothing else running).
calls() {
    python3 - "$url" "$1" "$key" "$body" <<'PY'
import http.client, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1]); n = int(sys.argv[2])
c = http.client.HTTPConnection(u.hostname, u.port)
for _ in range(n):
    c.request("POST", u.path, sys.argv[4], {"x-api-key": sys.argv[3], "content-type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
}

if [ "$mode" = callgrind ]; then
    n=500
    calls 200
    callgrind_control -z $pid >/dev/null
    calls $n
    callgrind_control -d $pid >/dev/null
    file=$(ls -t "$out"/callgrind.out.$pid* | head -1)
    ir=$(grep -E '^(summary|totals):' "$file" | head -1 | awk '{print $2}')
    echo "instructions per request: $((ir / n))  ($file)"
    exit 0
fi

export FDO_WRK_METHOD=POST FDO_WRK_BODY=$body FDO_WRK_API_KEY=$key
wrk -t1 -c"$conns" -d"${WARMUP:-3}s" -s benches/wrk/request.lua "$url" >/dev/null   # warm-up
cpu() { awk '{print $14 + $15}' "$1"; }
writer_stat() {
    for t in /proc/$pid/task/*; do
        if grep -qx fdo-log-writer "$t/comm"; then echo "$t/stat"; fi
    done
}
ws=$(writer_stat)
perf_pid=
if [ "$mode" = perf ]; then
    perf record -F 1999 ${PERF_ARGS:--g} -p $pid -o "$out/perf.data" -- sleep 8 >/dev/null 2>&1 &
    perf_pid=$!
fi
t0=$(cpu /proc/$pid/stat); w0=$(cpu "$ws"); f0=$(awk '{print $10}' /proc/$pid/stat)
wrk -t1 -c"$conns" -d10s -s benches/wrk/request.lua "$url" >"$out/wrk.out"
t1=$(cpu /proc/$pid/stat); w1=$(cpu "$ws"); f1=$(awk '{print $10}' /proc/$pid/stat)
[ -z "$perf_pid" ] || wait "$perf_pid"
grep -E 'Requests/sec' "$out/wrk.out"
grep -o '"p50":[0-9]*,"p90":[0-9]*,"p99":[0-9]*,"p999":[0-9]*' "$out/wrk.out"
requests=$(grep -E 'requests in' "$out/wrk.out" | awk '{print $1}')
tick_ns=$((1000000000 / $(getconf CLK_TCK)))
echo "fdo CPU per request: $(((t1 - t0) * tick_ns / requests)) ns (log writer $(((w1 - w0) * tick_ns / requests)) ns)"
echo "page faults per request: $(((f1 - f0) * 100 / requests))/100"
grep -E "^VmRSS" /proc/$pid/status
curl -s -H "x-api-key: $key" "$base/metrics" | grep -E '^fdo_logs_dropped'
[ "$mode" = perf ] && echo "perf data: $out/perf.data (perf report -i $out/perf.data --no-children)"
exit 0
