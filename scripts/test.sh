#!/usr/bin/env bash
# The project's test command (README): setup, debug build, unit tests, release build of the
# devmesh binary, fuzz corpus replay, then the integration suite (pytest) against that binary.
#
#   scripts/test.sh            # everything but the slow integration cases
#   scripts/test.sh --full     # also the cases marked @pytest.mark.slow
#   scripts/test.sh -- -k routing -x   # anything after `--` goes to pytest
#
# Environment:
#   DEVMESH_BIN          binary the integration suite runs (default: <scratch>/release/devmesh)
#   SWIFT_SCRATCH_PATH   SwiftPM build folder (default .build; engineers use .build-<name>)
#   SKIP_SWIFT=1         skip the Swift steps (run only the integration suite)
#
# Every step runs even when an earlier one failed, unless it depends on it (no unit tests
# without a debug build, no integration suite without a binary). Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

full=0
pytest_extra=()
while (($#)); do
  case "$1" in
    --full) full=1 ;;
    --) shift; pytest_extra=("$@"); break ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

scratch="${SWIFT_SCRATCH_PATH:-.build}"
swiftpm=(--scratch-path "$scratch")
names=(); results=(); seconds=()
failed=0

# step NAME COMMAND...: runs one step, records its outcome and duration.
step() {
  local name="$1"; shift
  local start=$SECONDS
  echo
  echo "==> $name: $*"
  if "$@"; then results+=("ok"); else results+=("FAILED"); failed=1; fi
  names+=("$name"); seconds+=($((SECONDS - start)))
  [ "${results[-1]}" = ok ]
}
skip() { names+=("$1"); results+=("skipped ($2)"); seconds+=(0); failed=1; }

step setup bash scripts/setup.sh

if [ "${SKIP_SWIFT:-0}" = 1 ]; then
  echo "==> SKIP_SWIFT=1: Swift build and unit tests skipped"
else
  if step "swift build" swift build "${swiftpm[@]}"; then
    step "swift test" swift test "${swiftpm[@]}"
  else
    skip "swift test" "build failed"
  fi
  step "release build" swift build -c release "${swiftpm[@]}" --product devmesh || true
  # Every committed fuzz corpus file and fail case, once through its libFuzzer target (ASan
  # release build in .build-fuzz: about 1.5 minutes from scratch; docs/fuzzing.md).
  step "fuzz replay" bash scripts/fuzz-replay.sh || true
  # Allocation budgets of the pure layers (release figures; Benchmarks/Thresholds/allocations.json).
  step "alloc budgets" env SWIFT_SCRATCH_PATH="$scratch" scripts/alloc-check.sh --microbench-only || true
fi

export DEVMESH_BIN="${DEVMESH_BIN:-$PWD/$scratch/release/devmesh}"
markers=(-m "not slow")
((full)) && markers=()
if [ -x "$DEVMESH_BIN" ] || [ -n "${DEVMESH_STANDIN:-}" ]; then
  # Exit status 5 (no test collected) counts as a failure: a suite that ran nothing proves nothing.
  step "integration" .venv/bin/python -m pytest Tests/integration "${markers[@]}" "${pytest_extra[@]}"
else
  skip integration "no binary at $DEVMESH_BIN"
fi

echo
echo "==> summary"
for i in "${!names[@]}"; do
  printf '    %-14s %-28s %4ss\n' "${names[$i]}" "${results[$i]}" "${seconds[$i]}"
done
if ((failed)); then echo "==> FAILED"; exit 1; fi
echo "==> all green"
