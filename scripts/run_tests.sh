#!/usr/bin/env bash
# Runs every test, in three passes (CI runs all three through the README's test command):
#   normal    the C++ suite (ctest) and the Python suite (pytest) on the build that
#             scripts/install.sh made, including the short end-to-end trainings on the real data
#             in ../shared/data when it is there;
#   sanitize  the C++ suite on a CPU-only AddressSanitizer + UndefinedBehaviorSanitizer build
#             (LeakSanitizer on, -O1) that this script configures and builds itself, and the
#             Python modules that import caffe (the extension in-process) without the e2e
#             trainings.  A sanitizer report from any process, the tools the
#             tests start included, fails the pass (docs/reliability.md, "Sanitizers");
#   fuzz      every libFuzzer harness for FUZZ_SECONDS each (scripts/fuzz.sh).
#
#   scripts/run_tests.sh [--normal] [--sanitize] [--fuzz]      (no flag: all three, in this order)
# Environment: CAFFE_BUILD_DIR (normal build, default build), CAFFE_SANITIZE_BUILD_DIR (default
# build-sanitize), FUZZ_SECONDS (default 20), PYTHON (default .venv/bin/python).
set -uo pipefail
cd "$(dirname "$0")/.."

passes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --normal) passes+=(normal) ;;
    --sanitize) passes+=(sanitize) ;;
    --fuzz) passes+=(fuzz) ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "run_tests.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#passes[@]} -eq 0 ] && passes=(normal sanitize fuzz)

BUILD_DIR=${CAFFE_BUILD_DIR:-build}
SANITIZE_BUILD_DIR=${CAFFE_SANITIZE_BUILD_DIR:-build-sanitize}
PYTHON=${PYTHON:-.venv/bin/python}
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT

# note LINE: a line for the recap at the end.
note() { echo "$*" >>"$LOGS/summary"; }

# run_logged NAME COMMAND...: runs the command with its output shown and kept in $LOGS/NAME.
run_logged() {
  local name=$1
  shift
  "$@" 2>&1 | tee "$LOGS/$name"
  return "${PIPESTATUS[0]}"
}

# The runners' own summary lines, for the recap at the end.
ctest_summary() { grep -E "tests passed|No tests were found" "$LOGS/$1" | tail -1; }
pytest_summary() { grep -E "[0-9]+ (passed|failed|error)|no tests ran" "$LOGS/$1" | tail -1; }

# (each pass runs in a subshell, so that its environment stays its own)
normal_pass() (
  export CAFFE_BUILD_DIR="$BUILD_DIR"
  export PYTHONPATH="$PWD/$BUILD_DIR/python${PYTHONPATH:+:$PYTHONPATH}"
  echo "== C++ tests (ctest)"
  run_logged normal_ctest ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)"
  local cpp_status=$?
  echo "== Python tests (pytest)"
  run_logged normal_pytest "$PYTHON" -m pytest -q tests/python
  local py_status=$?
  note "normal ctest:    $(ctest_summary normal_ctest)"
  note "normal pytest:   $(pytest_summary normal_pytest)"
  [ $cpp_status -eq 0 ] && [ $py_status -eq 0 ]
)

# Where the sanitizers write their reports (one file per process that reported), so that a
# report is seen even from a process whose exit status a test expects to be non-zero.
SANITIZER_REPORTS="$PWD/$SANITIZE_BUILD_DIR/sanitizer-reports"
SUPPRESSIONS="$PWD/tests/sanitizers"

build_sanitized() {
  local python_path
  python_path="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")"
  echo "== sanitizer build in $SANITIZE_BUILD_DIR (ASan + UBSan, CPU only, -O1)"
  if [ ! -f "$SANITIZE_BUILD_DIR/CMakeCache.txt" ]; then
    mkdir -p "$SANITIZE_BUILD_DIR"
    cmake -S . -B "$SANITIZE_BUILD_DIR" -DCAFFE_SANITIZE=ON -DPython3_EXECUTABLE="$python_path" \
      >"$SANITIZE_BUILD_DIR/configure.log" 2>&1 || { cat "$SANITIZE_BUILD_DIR/configure.log"; return 1; }
  fi
  local start=$SECONDS
  cmake --build "$SANITIZE_BUILD_DIR" -j"$(nproc)" >"$SANITIZE_BUILD_DIR/build.log" 2>&1 || {
    tail -40 "$SANITIZE_BUILD_DIR/build.log"
    echo "run_tests.sh: the sanitizer build failed (log: $SANITIZE_BUILD_DIR/build.log)" >&2
    return 1
  }
  note "sanitize build:  $((SECONDS - start)) s"
}

sanitize_pass() (
  build_sanitized || { note "sanitize:        the build failed"; return 1; }
  rm -rf "$SANITIZER_REPORTS"
  mkdir -p "$SANITIZER_REPORTS"
  export CAFFE_BUILD_DIR="$SANITIZE_BUILD_DIR"
  export PYTHONPATH="$PWD/$SANITIZE_BUILD_DIR/python${PYTHONPATH:+:$PYTHONPATH}"
  local common="check_initialization_order=1:strict_init_order=1:log_path=$SANITIZER_REPORTS/asan"
  export LSAN_OPTIONS="suppressions=$SUPPRESSIONS/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$SANITIZER_REPORTS/ubsan"
  export CAFFE_UNDER_ASAN=1  # (tests of resident memory skip: ASan's quarantine grows it)

  echo "== C++ tests under ASan + UBSan + LSan (ctest)"
  ASAN_OPTIONS="detect_leaks=1:$common" \
    run_logged sanitize_ctest ctest --test-dir "$SANITIZE_BUILD_DIR" --output-on-failure \
    -j"$(nproc)"
  local cpp_status=$?

  # The Python tests that load the extension in-process (their module imports caffe), without
  # the e2e trainings: the tests that only drive the command-line tools and scripts run in the
  # normal pass, where those tools are the same code the C++ suite checks here.  (Keeps the
  # whole CI under an hour on 2 cores.)
  local extension_tests
  mapfile -t extension_tests < <(grep -lE "^(import caffe|from caffe)" tests/python/test_*.py)
  echo "== Python tests under ASan + UBSan (pytest -m 'not e2e', the ${#extension_tests[@]} modules that import caffe)"
  # The interpreter is not instrumented, so the ASan runtime is preloaded to come first, and
  # libstdc++ with it (else the runtime finds no __cxa_throw to forward C++ throws to).  Leaks
  # inside Python processes are not checked (tests/sanitizers/lsan.supp says why); mpirun comes
  # from tests/sanitizers/bin, which keeps the runtime off OpenMPI's own programs.
  PATH="$PWD/tests/sanitizers/bin:$PATH" \
    LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)" \
    ASAN_OPTIONS="detect_leaks=1:$common" \
    run_logged sanitize_pytest "$PYTHON" -m pytest -q -m "not e2e" "${extension_tests[@]}"
  local py_status=$?

  local reports
  reports=$(find "$SANITIZER_REPORTS" -type f | wc -l)
  if [ "$reports" -ne 0 ]; then
    echo "!! $reports sanitizer report(s) under $SANITIZER_REPORTS:"
    for report in "$SANITIZER_REPORTS"/*; do
      echo "---- $report"
      head -60 "$report"
    done
  fi
  note "sanitize ctest:  $(ctest_summary sanitize_ctest)"
  note "sanitize pytest: $(pytest_summary sanitize_pytest)"
  note "sanitize:        $reports sanitizer report(s)"
  [ $cpp_status -eq 0 ] && [ $py_status -eq 0 ] && [ "$reports" -eq 0 ]
)

fuzz_pass() (
  run_logged fuzz bash scripts/fuzz.sh --seconds "${FUZZ_SECONDS:-20}"
  local status=$?
  note "fuzz:            $(tail -1 "$LOGS/fuzz")"
  return $status
)

failed=()
for pass in "${passes[@]}"; do
  start=$SECONDS
  "${pass}_pass"
  status=$?
  note "$pass pass: $((SECONDS - start)) s, exit $status"
  [ $status -ne 0 ] && failed+=("$pass")
done

echo "== summary"
cat "$LOGS/summary"
if [ ${#failed[@]} -ne 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "All tests passed."
