"""pytest setup: the build directory, where `caffe` comes from, and GPU tests without a GPU.

The build is $CAFFE_BUILD_DIR (default <repo>/build; a relative CAFFE_BUILD_DIR is taken from
the repository root).  `caffe` is imported from PYTHONPATH, which must hold
$CAFFE_BUILD_DIR/python (scripts/run_tests.sh sets it); the report header says where it was
found, or how to fix it.  Tests marked ``@pytest.mark.gpu`` are skipped, with the reason, when
caffe.gpu_count() == 0.
"""
from __future__ import annotations

import importlib.util
import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = REPO / os.environ.get("CAFFE_BUILD_DIR", "build")  # an absolute value replaces REPO



def write_quadrant_lmdb(directory: Path, images: int = 200) -> Path:
    """`images` 8x8 one-channel images in 4 classes (bright quadrant = class), written as IDX
    files in `directory` and converted by convert_mnist_data into `directory`/lmdb."""
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, size=images).astype(np.uint8)
    pixels = rng.integers(0, 60, size=(images, 8, 8)).astype(np.uint8)
    for i, label in enumerate(labels):
        row, col = divmod(int(label), 2)
        pixels[i, 4 * row:4 * row + 4, 4 * col:4 * col + 4] += 150
    (directory / "images.idx").write_bytes(struct.pack(">IIII", 0x803, images, 8, 8) +
                                           pixels.tobytes())
    (directory / "labels.idx").write_bytes(struct.pack(">II", 0x801, images) + labels.tobytes())
    db = directory / "lmdb"
    subprocess.run([str(BUILD_DIR / "tools" / "convert_mnist_data"), str(directory / "images.idx"),
                    str(directory / "labels.idx"), str(db)], check=True, capture_output=True,
                   timeout=600)
    return db

def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gpu: needs a CUDA device (skipped when there is none)")


def pytest_report_header(config: pytest.Config) -> str:
    spec = importlib.util.find_spec("caffe")
    if spec is None or spec.origin is None:
        return (f"caffe: not importable; put the build's python folder on PYTHONPATH "
                f"(PYTHONPATH={BUILD_DIR / 'python'}), as scripts/run_tests.sh does")
    return f"caffe: {Path(spec.origin).parent}"


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
