#!/usr/bin/env bash
# Microbenchmarks of the pure layers (docs/benchmarks.md, "Microbenchmarks and allocation budgets"):
#
#   1. release build of devmesh-microbench;
#   2. timed run: ns/op (median of 5 runs, with min and max) and allocations/op per scenario;
#   3. instructions/op under callgrind: each scenario's loop only (the benchmark switches
#      collection on and off around it), a fixed number of operations; the repeatable figure;
#   4. with --proxy: instructions per request of the whole devmesh process (one worker, all
#      threads) for N keep-alive requests from h2load, between two nginx upstreams.
#
#   scripts/microbench.sh                     # steps 1-3
#   scripts/microbench.sh --proxy             # steps 1-4
#   scripts/microbench.sh --filter routing    # only scenarios whose name contains "routing"
#   scripts/microbench.sh --no-callgrind      # steps 1-2
#
# Results go to bench-results/micro/ (git-ignored): microbench.json, instructions.json,
# proxy-instructions.json and the callgrind dumps, which `callgrind_annotate` can read.
#
# Environment:
#   SWIFT_SCRATCH_PATH  SwiftPM build folder (default .build; engineers use .build-<name>)
#   PROXY_REQUESTS      requests per measured proxy run (default 10000)
set -euo pipefail
cd "$(dirname "$0")/.."

filter=()
proxy=0
callgrind=1
while (($#)); do
  case "$1" in
    --filter) filter=(--filter "$2"); shift ;;
    --proxy) proxy=1 ;;
    --no-callgrind) callgrind=0 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "microbench.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

scratch="${SWIFT_SCRATCH_PATH:-.build}"
out=bench-results/micro
mkdir -p "$out"

echo "==> release build"
swift build -c release --scratch-path "$scratch" --product devmesh-microbench
bench="$scratch/release/devmesh-microbench"

echo
echo "==> timed run (ns/op, allocations/op)"
"$bench" "${filter[@]}" --json "$out/microbench.json"

((callgrind)) || exit 0
if ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null; then
  echo "microbench.sh: valgrind is not installed (Debian: apt-get install valgrind); no instruction counts" >&2
  exit 1
fi

# Valgrind 3.19 (Debian 12) cannot read the DWARF 5 debug info Swift 6.3 emits and gives up on
# the binary, so callgrind runs a copy without debug info; the symbol table, which is all the
# counts need, stays.
stripped() {
  objcopy --strip-debug "$1" "$2"
}

# callgrind_totals FILE...: "REASON<TAB>TOTAL" for every dump, REASON being the text after
# "Client Request: " (microbench) or "Trigger: " (callgrind_control dumps).
callgrind_totals() {
  awk '/^desc: Trigger: /{ sub(/^desc: Trigger: (Client Request: )?/, ""); reason=$0 }
       /^totals: /{ if (reason != "") print reason "\t" $2; reason="" }' "$@"
}

echo
echo "==> instructions/op (callgrind, the measured loop only)"
rm -f "$out"/callgrind.micro.*
stripped "$bench" "$out/devmesh-microbench.nodebug"
valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out/callgrind.micro.%p" \
  "$out/devmesh-microbench.nodebug" --instructions "${filter[@]}" >/dev/null 2>"$out/callgrind.micro.log" || {
  cat "$out/callgrind.micro.log" >&2; exit 1; }
# Dumps are numbered in run order (PID.1, PID.2, ...): sort -V keeps the benchmark's order.
callgrind_totals $(ls "$out"/callgrind.micro.*.* | sort -V) | awk -F'\t' -v json="$out/instructions.json" '
  BEGIN { printf "%-32s %16s %11s\n", "scenario", "instructions/op", "operations" }
  $1 ~ /^devmesh-microbench / {
    split($1, words, " ")
    names[++n] = words[2]; per[n] = $2 / words[3]
    printf "%-32s %16.1f %11d\n", words[2], per[n], words[3]
  }
  END {
    print "{\n  \"instructions_per_op\": {" > json
    for (i = 1; i <= n; i++) printf "    \"%s\": %.1f%s\n", names[i], per[i], (i < n ? "," : "") > json
    print "  }\n}" > json
  }'

((proxy)) || exit 0

echo
echo "==> instructions per request of the whole proxy (callgrind, all threads)"
requests="${PROXY_REQUESTS:-10000}"
for tool in nginx h2load python3; do
  command -v "$tool" >/dev/null || { echo "microbench.sh: $tool is needed for --proxy" >&2; exit 1; }
done
swift build -c release --scratch-path "$scratch" --product devmesh
stripped "$scratch/release/devmesh" "$out/devmesh.nodebug"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
base_port="$(free_port)"
sandbox_port="$(free_port)"
mkdir -p "$work/nginx/logs" "$work/nginx/tmp"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$base_port; location / { return 200 "baseline\n"; } }
    server { listen 127.0.0.1:$sandbox_port; location / { return 200 "sandbox\n"; } }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/logs/error.log" &
pids+=($!)

key=4835rlwxwbwyl
rm -f "$out"/callgrind.proxy.*
valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.proxy.%p" "$out/devmesh.nodebug" proxy \
  --listen 127.0.0.1:0 --baseline "127.0.0.1:$base_port" --route "$key=127.0.0.1:$sandbox_port" --workers 1 \
  2>"$work/devmesh.err" &
devmesh_pid=$!
pids+=("$devmesh_pid")
port=""
for _ in $(seq 1 300); do
  port="$(sed -n 's/^devmesh: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/devmesh.err" | head -1)"
  [ -n "$port" ] && break
  kill -0 "$devmesh_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || { echo "devmesh did not start under valgrind:" >&2; cat "$work/devmesh.err" >&2; exit 1; }

load() {  # load N [header]: N keep-alive requests over 4 connections; fails unless all are 2xx
  local n="$1"; shift
  local result
  result="$(h2load --h1 -n "$n" -c 4 "$@" "http://127.0.0.1:$port/")"
  grep -q "status codes: $n 2xx" <<<"$result" || { echo "h2load: not all $n requests succeeded:" >&2; echo "$result" >&2; exit 1; }
}
# Warm-up: pools, buffers and the JIT-like first-run costs of valgrind itself.
load 2000
load 2000 -H "baggage: sd-routing-key=$key"

control() {  # control ARG: one callgrind_control command to devmesh (it talks through vgdb)
  callgrind_control "$1" "$devmesh_pid" >"$work/control.log" 2>&1 || {
    echo "callgrind_control $1 failed:" >&2; cat "$work/control.log" >&2; exit 1; }
}
measure() {  # measure NAME [header]: zero the counts, N requests, dump as NAME
  local name="$1"; shift
  control --zero
  load "$requests" "$@"
  control --dump="$name"
}
measure "proxy.unkeyed"
measure "proxy.keyed" -H "baggage: sd-routing-key=$key"
# What the process costs with no traffic (timer ticks, stats publication), for comparison.
control --zero
sleep 1
control --dump="proxy.idle_1s"

kill -TERM "$devmesh_pid"
wait "$devmesh_pid" 2>/dev/null || true
callgrind_totals "$out"/callgrind.proxy.*.[0-9]* | awk -F'\t' -v n="$requests" -v json="$out/proxy-instructions.json" '
  $1 == "dump proxy.unkeyed" { unkeyed = $2 / n }
  $1 == "dump proxy.keyed"   { keyed = $2 / n }
  $1 == "dump proxy.idle_1s" { idle = $2 }
  END {
    printf "%-36s %14.0f\n", "unkeyed request (baseline)", unkeyed
    printf "%-36s %14.0f\n", "keyed request (sandbox)", keyed
    printf "%-36s %14.0f\n", "idle, per second (timers, stats)", idle
    printf "(%d keep-alive requests over 4 connections per figure; connection setup included)\n", n
    printf "{\n  \"requests\": %d,\n  \"instructions_per_request\": {\"unkeyed\": %.0f, \"keyed\": %.0f},\n  \"idle_instructions_per_second\": %.0f\n}\n", n, unkeyed, keyed, idle > json
  }'
echo "callgrind dumps: $out/callgrind.proxy.* (callgrind_annotate --threshold=100 FILE)"
