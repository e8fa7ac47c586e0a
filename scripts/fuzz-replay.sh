#!/usr/bin/env bash
# Replays the committed seed corpus and every committed fail case of each fuzz target once
# (libFuzzer -runs=0: every file is executed, nothing is mutated). Fast once the fuzz
# products are built; building them is a release build with ASan and libFuzzer (docs/fuzzing.md).
#
#   scripts/fuzz-replay.sh                 # every target
#   scripts/fuzz-replay.sh FuzzCarriers    # some targets
#
# Exit status: non-zero when a target does not build or any input crashes it.
set -uo pipefail
cd "$(dirname "$0")/.."

all=(FuzzHTTP1Request FuzzHTTP1Response FuzzChunkedBody FuzzHeadRewriter FuzzCarriers FuzzRouteTable
     FuzzConfigLoader FuzzRouteUpdate FuzzRoutesJSON)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

scratch=.build-fuzz
mkdir -p "$scratch/replay-artifacts"
export SWIFT_BACKTRACE=enable=no
failed=0
for target in "${targets[@]}"; do
  if ! nice -n 19 swift build -c release --scratch-path "$scratch" --product "$target" \
       --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address > "$scratch/replay-build.log" 2>&1; then
    echo "FAILED  $target: build (see $scratch/replay-build.log)"; failed=1; continue
  fi
  dirs=("FuzzTesting/Corpus/$target")
  [ -d "FuzzTesting/FailCases/$target" ] && dirs+=("FuzzTesting/FailCases/$target")
  files=$(find "${dirs[@]}" -type f ! -name '.*' | wc -l)
  # Crashes found while replaying go to a scratch folder, never over the committed cases.
  if out=$(nice -n 19 "$scratch/release/$target" -runs=0 -timeout=30 -rss_limit_mb=4096 \
             -artifact_prefix="$scratch/replay-artifacts/" "${dirs[@]}" 2>&1); then
    echo "ok      $target: $files inputs"
  else
    echo "FAILED  $target: $files inputs"
    echo "$out" | grep -E "fuzz check failed|ERROR:|SUMMARY:|Test unit written" | head -5 | sed 's/^/        /'
    failed=1
  fi
done
exit "$failed"
