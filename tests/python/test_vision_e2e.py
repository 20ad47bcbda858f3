"""End to end on the real MNIST and CIFAR-10 in ../shared/data: convert with the project's own
tools, train models/lenet and models/cifar10_quick with `caffe train`, check the accuracy."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BUILD_DIR, REPO

DATA = REPO.parent / "shared" / "data"
CAFFE = BUILD_DIR / "tools" / "caffe"
pytestmark = pytest.mark.e2e


def write_model(directory: Path, model: str, data_dir: Path, dataset: str, max_iter: int,
                test_interval: int) -> Path:
    """models/<model> with this test's data folder and schedule."""
    net = (REPO / "models" / model / "train_val.prototxt").read_text()
    (directory / "train_val.prototxt").write_text(net.replace(f"data/{dataset}/", f"{data_dir}/"))
    solver = (REPO / "models" / model / "solver.prototxt").read_text()
    for pattern, value in ((r'net: ".*"', f'net: "{directory}/train_val.prototxt"'),
                           (r"max_iter: \d+", f"max_iter: {max_iter}"),
                           (r"test_interval: \d+", f"test_interval: {test_interval}"),
                           (r"snapshot: \d+", "snapshot: 0"),
                           (r'snapshot_prefix: ".*"', f'snapshot_prefix: "{directory}/snap"')):
        solver = re.sub(pattern, value, solver)
    path = directory / "solver.prototxt"
    path.write_text(solver + "snapshot_after_train: false\n")
    return path


def trained_accuracies(solver: Path) -> list[float]:
    """`caffe train`'s test accuracies, in order (the last one is after the final iteration)."""
    # INFO logging on, whatever an earlier test left in os.environ (GLOG_minloglevel).
    result = subprocess.run([str(CAFFE), "train", f"--solver={solver}"], capture_output=True,
                            text=True, env={**os.environ, "GLOG_minloglevel": "0"})
    assert result.returncode == 0, result.stderr[-3000:]
    accuracies = re.findall(r"Test net output #\d+: accuracy = ([0-9.]+)", result.stderr)
    assert accuracies, result.stderr[-2000:]
    return [float(accuracy) for accuracy in accuracies]


@pytest.mark.skipif(not (DATA / "mnist" / "train-images-idx3-ubyte.gz").exists(),
                    reason=f"real MNIST not found in {DATA / 'mnist'}")
def test_lenet_reaches_98_5_percent(tmp_path: Path) -> None:
    """LeNet with Caffe's example settings: >= 98.5% test accuracy within 2,000 iterations (tested
    every 500; the last pass is at 2,000)."""
    lmdbs = tmp_path / "mnist"
    subprocess.run([sys.executable, str(REPO / "scripts" / "get_mnist.py"), "--dataset", "mnist",
                    "--data-dir", str(DATA / "mnist"), "--out", str(lmdbs),
                    "--caffe-bin", str(BUILD_DIR / "tools")], check=True, capture_output=True)
    accuracies = trained_accuracies(write_model(tmp_path, "lenet", lmdbs, "mnist", 2000, 500))
    print(f"LeNet, test accuracy every 500 of 2000 iterations: {accuracies}")
    assert max(accuracies) >= 0.985


@pytest.mark.skipif(not (DATA / "cifar10" / "train.txt").exists(),
                    reason=f"CIFAR-10 not found in {DATA / 'cifar10'}")
def test_cifar10_quick_reaches_65_percent(tmp_path: Path) -> None:
    """cifar10_quick with Caffe's example settings on the LMDBs of get_cifar10.py: >= 65% test
    accuracy within 4,000 iterations."""
    out = tmp_path / "cifar10"
    subprocess.run([sys.executable, str(REPO / "scripts" / "get_cifar10.py"), "--data-dir",
                    str(DATA / "cifar10"), "--out", str(out), "--caffe-bin", str(BUILD_DIR / "tools")],
                   check=True, capture_output=True)
    solver = write_model(tmp_path, "cifar10_quick", out, "cifar10", 4000, 4000)
    accuracies = trained_accuracies(solver)
    print(f"cifar10_quick, 4000 iterations: test accuracy {accuracies[-1]:.4f}")
    assert accuracies[-1] >= 0.65
