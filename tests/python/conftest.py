"""pytest setup: import `caffe` from the build directory and skip GPU tests without a GPU.

The package lives in $CAFFE_BUILD_DIR/python (default <repo>/build/python; a relative
CAFFE_BUILD_DIR is taken from the repository root).  Tests marked ``@pytest.mark.gpu`` are
skipped, with the reason, when caffe.gpu_count() == 0.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = REPO / os.environ.get("CAFFE_BUILD_DIR", "build")  # an absolute value replaces REPO
sys.path.insert(0, str(BUILD_DIR / "python"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gpu: needs a CUDA device (skipped when there is none)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return  # suites that do not use caffe need not import it
    import caffe

    if caffe.gpu_count() > 0:
        return
    why = "no CUDA support in this build" if not caffe.cuda_compiled() else "no CUDA device present"
    skip = pytest.mark.skip(reason=f"GPU test skipped: caffe.gpu_count() == 0 ({why})")
    for item in gpu_items:
        item.add_marker(skip)
