#!/usr/bin/env bash
# Builds one libFuzzer target and fuzzes it (docs/fuzzing.md).
#
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer options...]
#   scripts/fuzz.sh FuzzHTTP1Request 900
#   scripts/fuzz.sh FuzzCarriers 60 -only_ascii=1
#   FUZZ_MERGE=1 scripts/fuzz.sh FuzzChunkedBody 0   # fold new inputs into the committed corpus
#
# Targets: FuzzHTTP1Request FuzzHTTP1Response FuzzChunkedBody FuzzHeadRewriter FuzzCarriers
#          FuzzRouteTable FuzzConfigLoader FuzzRouteUpdate FuzzRoutesJSON
#
# - Builds in release with ASan and libFuzzer in its own scratch path (.build-fuzz).
# - Runs niced (the machine is shared), one process, for SECONDS of wall time.
# - Reads the committed seeds in FuzzTesting/Corpus/TARGET/ and writes the inputs it finds to
#   .build-fuzz/corpus/TARGET/ (not committed; FUZZ_MERGE=1 merges them, minimised, into the
#   committed corpus).
# - A crash, leak, timeout or out-of-memory input is written to FuzzTesting/FailCases/TARGET/:
#   keep it, fix the bug, and add the unit test (Tests/*/FuzzRegressionTests.swift replays
#   every file of that folder).
# - The log goes to .build-fuzz/logs/TARGET.log; the summary (CPU time, exec/s, cov/ft) is
#   printed at the end. Exit status: 0 when no crash was found.
set -uo pipefail
cd "$(dirname "$0")/.."

if (($# < 2)); then sed -n '2,21p' "$0"; exit 2; fi
target="$1"; seconds="$2"; shift 2

# Per-target input size cap, dictionary and per-input timeout (seconds).
case "$target" in
  FuzzHTTP1Request|FuzzHTTP1Response|FuzzHeadRewriter) max_len=4096; dict=http1; timeout=10 ;;
  FuzzChunkedBody) max_len=1024; dict=http1; timeout=10 ;;
  FuzzCarriers) max_len=2048; dict=carriers; timeout=10 ;;
  FuzzRouteTable) max_len=512; dict=""; timeout=10 ;;
  # libyaml and Yams are not linear on every input: keep configs small and allow slow ones.
  FuzzConfigLoader) max_len=2048; dict=config; timeout=20 ;;
  # Route updates are small protobuf messages; 4 KiB holds dozens of rules.
  FuzzRouteUpdate) max_len=4096; dict=routes-protobuf; timeout=10 ;;
  FuzzRoutesJSON) max_len=4096; dict=json; timeout=10 ;;
  *) echo "fuzz.sh: unknown target $target" >&2; exit 2 ;;
esac

scratch=.build-fuzz
# SwiftPM passes --sanitize flags to swiftc one by one and swiftc keeps only the last one, which
# would leave the Swift code without coverage instrumentation (libFuzzer then finds nothing).
# The -Xswiftc flag restores both sanitizers in one argument.
build=(swift build -c release --scratch-path "$scratch" --product "$target"
       --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address)
echo "==> ${build[*]}"
nice -n 19 "${build[@]}" || { echo "fuzz.sh: build failed" >&2; exit 2; }
binary="$scratch/release/$target"

seeds="FuzzTesting/Corpus/$target"
work="$scratch/corpus/$target"
failcases="FuzzTesting/FailCases/$target"
logs="$scratch/logs"
mkdir -p "$seeds" "$work" "$failcases" "$logs"
log="$logs/$target.log"

# The Swift runtime's backtracer keeps the output pipe open after a crash and the run hangs.
export SWIFT_BACKTRACE=enable=no
options=(-max_len="$max_len" -timeout="$timeout" -rss_limit_mb=4096 -print_final_stats=1
         -artifact_prefix="$failcases/")
[ -n "$dict" ] && options+=(-dict="FuzzTesting/Dictionaries/$dict.dict")

if [ "${FUZZ_MERGE:-0}" = 1 ]; then
  echo "==> merging $work into $seeds"
  nice -n 19 "$binary" -set_cover_merge=1 "${options[@]}" "$seeds" "$work" "$@" 2>&1 | tail -3
  exit "${PIPESTATUS[0]}"
fi

echo "==> fuzzing $target for ${seconds}s (log: $log)"
TIMEFORMAT='cpu: %U user + %S sys seconds, wall %R s'
{ time nice -n 19 "$binary" "${options[@]}" -max_total_time="$seconds" "$@" "$work" "$seeds" > "$log" 2>&1; } 2> "$logs/$target.time"
status=$?

echo "==> summary"
grep -E "INITED|DONE" "$log" | sed 's/^/    /'
grep -E "stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)" "$log" | sed 's/^/    /'
sed 's/^/    /' "$logs/$target.time"
if ((status != 0)); then
  echo "==> finding (exit $status): see $log; input saved under $failcases/"
  grep -E "fuzz check failed|ERROR:|SUMMARY:|Test unit written" "$log" | head -5 | sed 's/^/    /'
fi
exit "$status"
