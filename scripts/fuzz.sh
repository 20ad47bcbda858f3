#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, clang + ASan/LSan + UBSan, in their own build folder)
# and runs each for a while, one at a time.  A crash, a leak, undefined behaviour, an uncaught
# exception, a timeout or an input-driven allocation over the malloc limit fails the script; the
# reproducer is kept under <build>/crashes/<harness>/ and printed.  Move it to
# fuzz/regressions/<harness>/ with the fix: tests/cpp/test_fuzz_regressions.cpp replays it.
#
#   scripts/fuzz.sh [--seconds N] [--json FILE] [--only NAME[,NAME...]] [--corpus]
#     --seconds N   run each harness N seconds (default 20)
#     --json FILE   write one row per harness: {"harness", "execs", "crashes"}
#     --only NAMES  run these harnesses only (names as in fuzz/fuzz_<name>.cpp)
#     --corpus      rewrite the seed corpora fuzz/corpus/ with build/make_corpus first
#   Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_TIMEOUT (seconds per input, 30),
#   FUZZ_MALLOC_LIMIT_MB (largest single allocation, 1024).
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=20
json=""
only=""
rewrite_corpus=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --json) json="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --corpus) rewrite_corpus=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

build=${FUZZ_BUILD_DIR:-build-fuzz}
timeout_s=${FUZZ_TIMEOUT:-30}
malloc_limit_mb=${FUZZ_MALLOC_LIMIT_MB:-1024}

echo "== building the harnesses in $build"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S fuzz -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null ||
    exit 2
fi
cmake --build "$build" -j"$(nproc)" >"$build/build.log" 2>&1 || {
  tail -40 "$build/build.log"
  echo "fuzz.sh: the build failed (log: $build/build.log)" >&2
  exit 2
}
if [ "$rewrite_corpus" = 1 ]; then
  "$build/make_corpus" . || exit 2
fi

harnesses=()
for source in fuzz/fuzz_*.cpp; do
  name=$(basename "$source" .cpp)
  name=${name#fuzz_}
  if [ -n "$only" ] && [[ ",$only," != *",$name,"* ]]; then continue; fi
  harnesses+=("$name")
done
if [ ${#harnesses[@]} -eq 0 ]; then
  echo "fuzz.sh: no harness matches --only '$only'" >&2
  exit 2
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
rows=()
failed=0
for name in "${harnesses[@]}"; do
  work="$build/corpus/$name"        # what the fuzzer adds; the committed seeds stay untouched
  crashes_dir="$build/crashes/$name"
  mkdir -p "$work" "$crashes_dir"
  dict=()
  case "$name" in net_text|solver_text|upgrade) dict=(-dict=fuzz/dicts/prototxt.dict) ;; esac
  log="$build/$name.log"
  echo "== $name: ${seconds}s"
  "$build/fuzz_$name" -max_total_time="$seconds" -timeout="$timeout_s" \
    -malloc_limit_mb="$malloc_limit_mb" -rss_limit_mb=2560 -print_final_stats=1 \
    -artifact_prefix="$crashes_dir/" "${dict[@]}" "$work" "fuzz/corpus/$name" >"$log" 2>&1
  status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs=${execs:-0}
  crashes=0
  if [ $status -ne 0 ]; then
    crashes=1
    failed=1
    reproducer=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    echo "!! $name failed (exit $status) after $execs executions; log: $log"
    grep -E "ERROR: |runtime error|SUMMARY|uncaught|what\(\)" "$log" | head -5
    if [ -n "$reproducer" ]; then
      echo "   reproducer: $reproducer ($(wc -c <"$reproducer") bytes)"
      od -A d -c "$reproducer" | head -8
    fi
  fi
  echo "   $name: $execs executions, $crashes crash(es)"
  rows+=("{\"harness\": \"$name\", \"execs\": $execs, \"crashes\": $crashes}")
done

if [ -n "$json" ]; then
  {
    echo "["
    for i in "${!rows[@]}"; do
      separator=","
      [ "$i" -eq $((${#rows[@]} - 1)) ] && separator=""
      echo "  ${rows[$i]}$separator"
    done
    echo "]"
  } >"$json"
fi
if [ $failed -ne 0 ]; then
  echo "fuzz.sh: FAILED (reproducers under $build/crashes/)"
  exit 1
fi
echo "fuzz.sh: no crashes"
