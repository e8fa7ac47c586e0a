#!/usr/bin/env bash
# CI smoke test of the benchmark harness: its own unit tests, then a short quick-mode run of
# S0/S1 with devmesh and HAProxy. It proves the harness works end to end on a fresh machine;
# it asserts no speed (shared CI machines are too noisy for that), only that every target
# started and no run failed with errors.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${DEVMESH_BIN:-.build/release/devmesh}
out=$(mktemp -d /tmp/devmesh-bench-smoke.XXXXXX)

DEVMESH_BIN=$bin python3 -m unittest discover -q -s Benchmarks/system/tests -t Benchmarks/system
DEVMESH_BIN=$bin bash scripts/bench.sh --quick --only S1 --proxies devmesh,haproxy --no-build --out "$out"
python3 - "$out/results.json" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
problems = [f"{name}: unavailable ({t['reason']})" for name, t in data["meta"]["targets"].items() if not t["available"]]
problems += [f"harness: {e}" for e in data["meta"]["harness_errors"]]
problems += [f"{r['scenario']} {r['target']} {r['variant']}: {r.get('errors')} errors"
             for r in data["records"] if r.get("errors")]
# Keep-alive load on a warm pool opens no upstream connections; a burst that outgrows the idle
# pool turns into a connect per request (what the c256 rows of 2026-11-29 showed).
problems += [f"{r['scenario']} {r['target']} {r['variant']}: {r['extra']['upstream_connects']} upstream connects "
             f"for {r['requests']} requests" for r in data["records"]
             if r["extra"].get("upstream_connects", 0) > 0.01 * (r.get("requests") or 0)]
if problems:
    print("bench smoke: FAILED\n  " + "\n  ".join(problems))
    sys.exit(1)
print(f"bench smoke: ok ({len(data['records'])} records, devmesh {data['meta']['targets']['devmesh']['version']})")
PY
