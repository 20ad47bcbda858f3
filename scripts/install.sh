#!/usr/bin/env bash
# Installs everything ApproxCaffe needs on Debian 12 and builds it (idempotent: re-running only
# rebuilds what changed).  Run as root (or with sudo available) from anywhere in the repo.
#   CAFFE_BUILD_DIR   build folder (default: build)
#   CAFFE_CUDA_ARCH   CUDA architecture when nvcc is present (default: 90)
#   CAFFE_SKIP_APT=1  skip apt-get (packages already installed)
# Python packages go into .venv, whose approxcaffe.pth puts the build's python folder on its path.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${CAFFE_BUILD_DIR:-build}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(build-essential cmake pkg-config git
  libprotobuf-dev protobuf-compiler libgoogle-glog-dev libgflags-dev liblmdb-dev
  libopenblas-dev libhdf5-dev zlib1g-dev libgtest-dev
  libdnnl-dev libjpeg62-turbo-dev libpng-dev graphviz ccache openmpi-bin libopenmpi-dev
  python3 python3-dev python3-venv python3-pip dataset-fashion-mnist
  clang libclang-rt-dev)  # (clang + libFuzzer: the fuzz harnesses, scripts/fuzz.sh)

if [ "${CAFFE_SKIP_APT:-0}" != "1" ]; then
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

# A virtual environment keeps pip away from Debian's externally managed Python.
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  python3 -m venv .venv
fi
echo "== installing Python packages (requirements.txt)"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -r requirements.txt

echo "== configuring and building in ${BUILD_DIR} ($(nproc) cores)"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
  -DPython3_EXECUTABLE="$PWD/.venv/bin/python" \
  -DCAFFE_CUDA_ARCH="${CAFFE_CUDA_ARCH:-90}" >"$BUILD_DIR.configure.log" 2>&1 \
  || { cat "$BUILD_DIR.configure.log"; exit 1; }
grep "ApproxCaffe:" "$BUILD_DIR.configure.log" || true
cmake --build "$BUILD_DIR" -j"$(nproc)"

# .venv's Python finds pycaffe in this build without PYTHONPATH (scripts/*.py just import caffe).
case "$BUILD_DIR" in
  /*) PYCAFFE_DIR="$BUILD_DIR/python" ;;
  *) PYCAFFE_DIR="$PWD/$BUILD_DIR/python" ;;
esac
SITE_PACKAGES=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "$PYCAFFE_DIR" >"$SITE_PACKAGES/approxcaffe.pth"
echo "== build done: $BUILD_DIR/tools/caffe; .venv/bin/python imports caffe from $PYCAFFE_DIR"
echo "   (other interpreters: PYTHONPATH=$PYCAFFE_DIR)"
