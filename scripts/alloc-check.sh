#!/usr/bin/env bash
# Allocation budgets, both layers (docs/benchmarks.md, "Microbenchmarks and allocation budgets"):
#
#   1. the pure layers: `devmesh-microbench --check Benchmarks/Thresholds/allocations.json`
#      (release build; every scenario runs a few thousand times; about a second);
#   2. the whole proxy: devmesh under the LD_PRELOAD counter of Benchmarks/AllocPreload,
#      Tests/integration/test_allocations.py against Benchmarks/Thresholds/proxy-allocations.json
#      (keep-alive, access log on, new connection per request; a few seconds).
#
#   scripts/alloc-check.sh                   # both
#   scripts/alloc-check.sh --microbench-only # step 1 only (what scripts/test.sh runs; the
#                                            # integration suite runs step 2 by itself)
#
# Environment:
#   SWIFT_SCRATCH_PATH  SwiftPM build folder (default .build; engineers use .build-<name>)
#   DEVMESH_BIN         devmesh binary for step 2 (default: <scratch>/release/devmesh, built here)
# Exits non-zero when a budget is exceeded (the output names the scenario) or a step fails.
set -uo pipefail
cd "$(dirname "$0")/.."

microbench_only=0
case "${1:-}" in
  "") ;;
  --microbench-only) microbench_only=1 ;;
  -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
  *) echo "alloc-check.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
esac

scratch="${SWIFT_SCRATCH_PATH:-.build}"
failed=0

echo "==> pure layers: devmesh-microbench --check (release build)"
if swift build -c release --scratch-path "$scratch" --product devmesh-microbench; then
  "$scratch/release/devmesh-microbench" --check Benchmarks/Thresholds/allocations.json || failed=1
else
  failed=1
fi
((microbench_only)) && exit "$failed"

echo
echo "==> whole proxy: devmesh under Benchmarks/AllocPreload"
if [ -z "${DEVMESH_BIN:-}" ]; then
  swift build -c release --scratch-path "$scratch" --product devmesh || exit 1
  export DEVMESH_BIN="$PWD/$scratch/release/devmesh"
fi
# The library goes into the (git-ignored) scratch folder; the test would build its own otherwise.
preload_dir="$scratch/alloc-preload"
mkdir -p "$preload_dir"
cc -O2 -Wall -Wextra -shared -fPIC -o "$preload_dir/libdevmesh_alloc_preload.so" \
  Benchmarks/AllocPreload/alloc_preload.c || exit 1
export DEVMESH_ALLOC_PRELOAD="$PWD/$preload_dir/libdevmesh_alloc_preload.so"
bash scripts/setup.sh || exit 1
# -s shows the measured figures (allocations per request / per connection, by thread).
.venv/bin/python -m pytest Tests/integration/test_allocations.py -s -q || failed=1

exit "$failed"
