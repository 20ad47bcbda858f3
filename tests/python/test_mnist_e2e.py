"""End to end on the real MNIST in ../shared/data/mnist: convert, train the paper's MLP with
`caffe train`, check the accuracy, and check that a resumed run continues exactly."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BUILD_DIR, REPO

MNIST = REPO.parent / "shared" / "data" / "mnist"
CAFFE = BUILD_DIR / "tools" / "caffe"
pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not (MNIST / "train-images-idx3-ubyte.gz").exists(),
                                 reason=f"real MNIST not found in {MNIST}")]


@pytest.fixture(scope="module")
def lmdbs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mnist")
    subprocess.run([sys.executable, str(REPO / "scripts" / "get_mnist.py"), "--dataset", "mnist",
                    "--data-dir", str(MNIST), "--out", str(out),
                    "--caffe-bin", str(BUILD_DIR / "tools")], check=True, capture_output=True)
    return out


def write_model(directory: Path, lmdbs: Path, hidden: int, max_iter: int, snapshot: int) -> Path:
    """models/mnist_mlp with the hidden width, data paths and schedule of this test."""
    net = (REPO / "models" / "mnist_mlp" / "train_val.prototxt").read_text()
    net = net.replace("data/mnist/", f"{lmdbs}/").replace("num_output: 2048",
                                                          f"num_output: {hidden}")
    (directory / "train_val.prototxt").write_text(net)
    solver = (REPO / "models" / "mnist_mlp" / "solver.prototxt").read_text()
    solver = re.sub(r'net: ".*"', f'net: "{directory}/train_val.prototxt"', solver)
    solver = re.sub(r"max_iter: \d+", f"max_iter: {max_iter}", solver)
    solver = re.sub(r"test_interval: \d+", f"test_interval: {max_iter}", solver)
    solver = re.sub(r"snapshot: \d+", f"snapshot: {snapshot}", solver)
    solver = re.sub(r'snapshot_prefix: ".*"', f'snapshot_prefix: "{directory}/mlp"', solver)
    path = directory / "solver.prototxt"
    path.write_text(solver)
    return path


def caffe_train(*args: str) -> str:
    # INFO logging on, whatever an earlier test left in os.environ (GLOG_minloglevel).
    result = subprocess.run([str(CAFFE), "train", *args], capture_output=True, text=True,
                            env={**os.environ, "GLOG_minloglevel": "0"})
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


def test_mlp_reaches_97_percent(lmdbs: Path, tmp_path: Path) -> None:
    """The paper's 784-2048-2048-10 MLP (lr 0.01), 4000 iterations (8.5 epochs): >= 97% test
    accuracy (the full 12,000-iteration run in models/mnist_mlp reaches 98.1%)."""
    log = caffe_train(f"--solver={write_model(tmp_path, lmdbs, 2048, 4000, 0)}")
    accuracies = [float(x) for x in re.findall(r"Test net output #\d+: accuracy = ([0-9.]+)", log)]
    assert accuracies, log[-2000:]
    print(f"MNIST MLP, 4000 iterations: test accuracy {accuracies[-1]:.4f}")
    assert accuracies[-1] >= 0.97


def test_resume_continues_exactly(lmdbs: Path, tmp_path: Path) -> None:
    """60 iterations straight == 30, snapshot, resume in a new process, 30 more: identical
    weights byte for byte (dropout masks, data order and momentum all continue)."""
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    straight.mkdir()
    halves.mkdir()
    caffe_train(f"--solver={write_model(straight, lmdbs, 64, 60, 0)}")
    solver = write_model(halves, lmdbs, 64, 60, 30)
    caffe_train(f"--solver={solver}", "--iterations=30")
    assert (halves / "mlp_iter_30.solverstate").exists()
    caffe_train(f"--solver={solver}", f"--snapshot={halves / 'mlp_iter_30.solverstate'}")
    assert (straight / "mlp_iter_60.caffemodel").read_bytes() == \
        (halves / "mlp_iter_60.caffemodel").read_bytes()
