#!/usr/bin/env bash
# Runs every test: the C++ suite (ctest) and the Python suite (pytest), including the short
# end-to-end trainings on the real data in ../shared/data when it is there.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${CAFFE_BUILD_DIR:-build}
export CAFFE_BUILD_DIR="$BUILD_DIR"
export PYTHONPATH="$PWD/$BUILD_DIR/python${PYTHONPATH:+:$PYTHONPATH}"
PYTHON=${PYTHON:-.venv/bin/python}

echo "== C++ tests (ctest)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)"
cpp_status=$?

echo "== Python tests (pytest)"
"$PYTHON" -m pytest -q tests/python
py_status=$?

if [ $cpp_status -ne 0 ] || [ $py_status -ne 0 ]; then
  echo "FAILED: ctest exit $cpp_status, pytest exit $py_status"
  exit 1
fi
echo "All tests passed."
