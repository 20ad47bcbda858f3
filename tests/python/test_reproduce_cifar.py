"""scripts/reproduce_cifar.py: log parsing (accuracy, rho_nnz as the mean of the display points'
weighted densities, the loss curve), budgets per net, the table, and one real end-to-end run of
every net on the first images of the real CIFAR-10 (a few iterations of batch 4).

The end-to-end test uses $CAFFE_BUILD_DIR/tools/caffe (default <repo>/build, as conftest.py).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import reproduce_cifar
from conftest import BUILD_DIR, REPO

DATA = REPO.parent / "shared" / "data" / "cifar10"
SCRIPT = REPO / "scripts" / "reproduce_cifar.py"

TRAIN_LOG = """\
I20261125 10:00:01.000000  7 solver.cpp:115] Iteration 0, loss = 2.31
I20261125 10:00:01.000000  7 solver.cpp:118]     Train net output #0: loss = 2.31 (* 1 = 2.31 loss)
I20261125 10:00:01.000000  7 solver_report.cpp:130]     Gradient density layer conv2_gs = 0.5 (1000 elements)
I20261125 10:00:01.000000  7 solver_report.cpp:130]     Gradient density layer conv3_gs = 0.2 (3000 elements)
I20261125 10:00:01.000000  7 solver_report.cpp:133]     Gradient density mean = 0.275 (element-weighted over 2 layers)
I20261125 10:00:02.000000  7 solver.cpp:115] Iteration 20, loss = 2.05
I20261125 10:00:02.000000  7 solver_report.cpp:133]     Gradient density mean = 0.125 (element-weighted over 2 layers)
I20261125 10:00:03.000000  7 solver.cpp:125] Iteration 40, Testing net (#0)
I20261125 10:00:04.000000  7 solver.cpp:130]     Test net output #0: accuracy = 0.3125
I20261125 10:00:04.000000  7 solver.cpp:130]     Test net output #1: loss = 1.9 (* 1 = 1.9 loss)
"""


def test_log_gives_accuracy_density_mean_and_loss_curve() -> None:
    parsed = reproduce_cifar.parse_training_log(TRAIN_LOG)
    assert parsed.accuracy == pytest.approx(0.3125)
    assert parsed.density == pytest.approx(0.2)  # (0.275 + 0.125) / 2 display points
    assert parsed.loss_curve == [(0, pytest.approx(2.31)), (20, pytest.approx(2.05))]


def test_baseline_log_has_no_density_and_a_log_without_test_is_an_error() -> None:
    baseline = "\n".join(line for line in TRAIN_LOG.splitlines() if "density" not in line)
    assert reproduce_cifar.parse_training_log(baseline).density is None
    with pytest.raises(RuntimeError, match="no test accuracy"):
        reproduce_cifar.parse_training_log(TRAIN_LOG.replace("accuracy", "acc"))


def test_budgets_per_net_and_for_all() -> None:
    nets = ["alexnet", "resnet18", "mobilenet"]
    assert reproduce_cifar.parse_budgets(["400", "resnet18=100"], nets) == {
        "alexnet": 400, "resnet18": 100, "mobilenet": 400}
    assert reproduce_cifar.parse_budgets(["alexnet=0.5"], ["alexnet"]) == {"alexnet": 0.5}
    with pytest.raises(SystemExit, match="no budget for resnet18"):
        reproduce_cifar.parse_budgets(["alexnet=3"], ["alexnet", "resnet18"])
    with pytest.raises(SystemExit, match="unknown net 'vgg'"):
        reproduce_cifar.parse_budgets(["vgg=3"], nets)
    with pytest.raises(SystemExit, match="must be positive"):
        reproduce_cifar.parse_budgets(["0"], nets)
    # --base-lr: the nets without a value keep their model's rate
    assert reproduce_cifar.parse_budgets(["alexnet=0.01"], nets, required=False) == {
        "alexnet": 0.01}


def test_table_has_the_papers_layout() -> None:
    results = [reproduce_cifar.RunResult("alexnet", None, 0.5, None, 0.1, 10.0, 40),
               reproduce_cifar.RunResult("alexnet", 0.9, 0.45, 0.125, 0.1, 9.0, 40,
                                         cpu_seconds=8.5)]
    lines = reproduce_cifar.markdown_table(results).splitlines()
    assert lines[0] == "| net | baseline | p = 0.9 |"
    assert lines[2] == "| alexnet | 50.00% | 45.00% (rho 12.5%) |"
    assert results[1].row() == {"net": "alexnet", "p": 0.9, "accuracy": 0.45, "density": 0.125,
                                "epochs": 0.1, "seconds": 9.0, "cpu_seconds": 8.5}
    assert "| alexnet | baseline | 40 | 0.100 | 10.0 | - |" in lines
    assert "| alexnet | 0.9 | 40 | 0.100 | 9.0 | 8.5 |" in lines


def test_help() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True,
                            text=True)
    assert result.returncode == 0 and "rho_nnz" in result.stdout


@pytest.mark.e2e
@pytest.mark.skipif(not (DATA / "train.txt").exists(), reason=f"CIFAR-10 not found in {DATA}")
def test_tiny_run_of_every_net(tmp_path: Path) -> None:
    json_path = tmp_path / "rows.json"
    command = [
        sys.executable, str(SCRIPT), "--iterations", "4", "alexnet=6", "--percentiles", "0.9",
        "--limit", "40", "--batch-size", "4", "--base-lr", "0.001", "--test-batch-size", "4",
        "--test-iter", "2", "--display", "2", "--threads", "2", "--build-dir", str(BUILD_DIR),
        "--lmdb-dir", str(tmp_path / "lmdb"), "--out-dir", str(tmp_path / "runs"),
        "--json", str(json_path), "--figures-dir", str(tmp_path / "figures")]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    rows = json.loads(json_path.read_text())
    # --resume reads the finished runs back (the same rows), and trains what changed
    resumed = subprocess.run(command + ["--resume", "--iterations", "4", "alexnet=8"],
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    assert resumed.stdout.count("finished earlier") == 4  # all but alexnet's two runs
    resumed_rows = json.loads(json_path.read_text())
    assert resumed_rows[2:] == rows[2:]
    assert [row["epochs"] for row in resumed_rows[:2]] == [pytest.approx(8 * 4 / 40)] * 2
    assert [(row["net"], row["p"]) for row in rows] == [
        (net, p) for net in ("alexnet", "resnet18", "mobilenet") for p in (None, 0.9)]
    for row in rows:
        assert 0.0 <= row["accuracy"] <= 1.0 and row["seconds"] > 0 and row["cpu_seconds"] > 0
        assert row["epochs"] == pytest.approx((6 if row["net"] == "alexnet" else 4) * 4 / 40)
        if row["p"] is None:
            assert row["density"] is None
        else:  # the first display points' densities on the real images
            assert 0.0 < row["density"] < 1.0
    assert "| alexnet |" in result.stdout and "rho" in result.stdout
    for net in ("alexnet", "resnet18", "mobilenet"):
        assert (tmp_path / "figures" / f"reproduce_cifar_{net}_loss.png").stat().st_size > 0
    placements = (tmp_path / "runs" / "resnet18_p0.9" / "placements.txt").read_text()
    assert placements.count("Conv-BN block") == 20
