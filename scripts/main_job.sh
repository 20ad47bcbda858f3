#!/usr/bin/env bash
# The main job: trains the paper's MNIST MLP (784-2048-2048-10) with standard dropout and with
# Approximate Random Dropout (ROW and TILE patterns) at p = 0.3, 0.5, 0.7, and prints accuracy and
# training speed-up side by side.  Uses MNIST from --data-dir / ../shared/data / a download, and
# otherwise Fashion-MNIST from Debian's dataset-fashion-mnist (it says which).
#   MAIN_JOB_ITERATIONS  iterations per run (default 1000, about two epochs)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
exec "$PYTHON" scripts/reproduce_mnist.py --experiment a --ratios 0.3 0.5 0.7 \
  --iterations "${MAIN_JOB_ITERATIONS:-1000}" --out-dir examples_out/main_job "$@"
