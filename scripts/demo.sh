#!/usr/bin/env bash
# devmesh in one minute: builds the proxy, starts a baseline and a sandbox backend on loopback,
# routes requests by the routing key they carry, and shows where each one went.
#
#   scripts/demo.sh                   # build (release) and run
#   DEVMESH_BIN=path scripts/demo.sh  # run an already built binary
#
# Everything it starts is stopped on exit, Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/.."

KEY=4835rlwxwbwyl
work=$(mktemp -d "${TMPDIR:-/tmp}/devmesh-demo.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# wait_for_line FILE REGEX WHAT: prints the first matching line; gives up after 20 s.
wait_for_line() {
  local file=$1 regex=$2 what=$3 line
  for _ in $(seq 200); do
    line=$(grep -m1 -E "$regex" "$file" 2>/dev/null || true)
    if [ -n "$line" ]; then echo "$line"; return 0; fi
    sleep 0.1
  done
  echo "demo: $what did not come up; its output:" >&2
  cat "$file" >&2
  exit 1
}

say "Installing what the demo needs (quiet when already there)"
bash scripts/setup.sh

if [ -z "${DEVMESH_BIN:-}" ]; then
  say "Building devmesh (release)"
  scratch="${SWIFT_SCRATCH_PATH:-.build}"
  swift build -c release --scratch-path "$scratch" --product devmesh
  DEVMESH_BIN="$scratch/release/devmesh"
fi

say "Starting two backends on kernel-chosen ports"
for name in baseline sandbox; do
  python3 scripts/demo_backend.py "$name" >"$work/$name.out" 2>&1 &
  pids+=($!)
done
baseline_port=$(wait_for_line "$work/baseline.out" '^[0-9]+$' "the baseline backend")
sandbox_port=$(wait_for_line "$work/sandbox.out" '^[0-9]+$' "the sandbox backend")
echo "baseline on 127.0.0.1:$baseline_port, sandbox on 127.0.0.1:$sandbox_port"

say "Starting devmesh"
cmd=("$DEVMESH_BIN" proxy --listen 127.0.0.1:0 --baseline "127.0.0.1:$baseline_port"
     --route "$KEY=127.0.0.1:$sandbox_port" --admin 127.0.0.1:0)
echo "${cmd[*]}"
"${cmd[@]}" >"$work/devmesh.out" 2>"$work/devmesh.err" &
pids+=($!)
proxy=$(wait_for_line "$work/devmesh.err" 'devmesh: listening on ' "devmesh" | awk '{print $NF}')
admin=$(wait_for_line "$work/devmesh.err" 'devmesh: admin on ' "the admin listener" | awk '{print $NF}')
echo "proxy on $proxy, admin on $admin"

say "Sending requests"
failures=0
row() {  # row DESCRIPTION EXPECTED ACTUAL
  local mark="ok"
  [ "$2" = "$3" ] || { mark="UNEXPECTED"; failures=$((failures + 1)); }
  printf '  %-58s -> %-9s %s\n' "$1" "${3:-(none)}" "$mark"
}
ask() { curl -s --max-time 5 "$@" "http://$proxy/" || true; }

printf '  %-58s    %-9s\n' "request" "went to"
row "no routing key"                          baseline "$(ask)"
row "baggage: sd-routing-key=$KEY"            sandbox  "$(ask -H "baggage: sd-routing-key=$KEY")"
row "baggage: userId=alice, sd-routing-key=$KEY" sandbox "$(ask -H "baggage: userId=alice, sd-routing-key=$KEY")"
row "tracestate: sd-routing-key=$KEY"         sandbox  "$(ask -H "tracestate: sd-routing-key=$KEY")"
row "uberctx-sd-routing-key: $KEY"            sandbox  "$(ask -H "uberctx-sd-routing-key: $KEY")"
row "baggage: sd-routing-key=someotherkey (no route)" baseline "$(ask -H "baggage: sd-routing-key=someotherkey")"

# Two requests on one keep-alive connection (curl --next reuses it): each is routed on its own.
# The -w output shows how many new connections each transfer opened (0 = reused).
pair=$(curl -s --max-time 5 -w ' %{num_connects}\n' "http://$proxy/" \
       --next -s --max-time 5 -w ' %{num_connects}\n' -H "baggage: sd-routing-key=$KEY" "http://$proxy/" || true)
first=$(sed -n 1p <<<"$pair"); second=$(sed -n 2p <<<"$pair")
row "keep-alive #1: no key"                   baseline "${first% *}"
row "keep-alive #2: same connection, baggage key" sandbox "${second% *}"
reused="no"; [ "${second##* }" = "0" ] && reused="yes"
printf '  (second request reused the first one'"'"'s connection: %s)\n' "$reused"

say "GET http://$admin/routes"
routes=$(curl -s --max-time 5 "http://$admin/routes" || true)
python3 -m json.tool <<<"$routes" 2>/dev/null || echo "$routes"

say "GET http://$admin/metrics (a few lines)"
curl -s --max-time 5 "http://$admin/metrics" \
  | grep -E '^devmesh_(requests_total|upstream_errors_total|route_table_version|downstream_connections)' || true

echo
if ((failures)); then
  echo "demo: $failures request(s) did not go where expected" >&2
  exit 1
fi
echo "demo: every request went where its routing key said."
