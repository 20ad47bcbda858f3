"""End to end on Penn Treebank: the small word LM of models/ptb_lstm (2 x 200 LSTM, standard
dropout) trained with `caffe train` must reach a validation perplexity below 300 (a unigram
model scores about 700), and `caffe test` on the snapshot must report the same perplexity.

Also (fast, no data needed): the committed models/ptb_lstm files are what
scripts/make_ptb_models.py writes.

The training reads ../shared/data/ptb (skipped with a message when absent) and uses
$CAFFE_BUILD_DIR/tools/caffe (CAFFE_BUILD_DIR as in conftest.py: default <repo>/build).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = REPO / os.environ.get("CAFFE_BUILD_DIR", "build")  # an absolute value replaces REPO
CAFFE = BUILD_DIR / "tools" / "caffe"
SHARED_PTB = REPO.parent / "shared" / "data" / "ptb"
NET = REPO / "models" / "ptb_lstm" / "small" / "standard_p30_train_val.prototxt"

# 1000 iterations of 35 x 20 tokens (0.75 epoch).  Validation perplexity of this recipe (seed 1,
# 2 BLAS threads): 508 after 250 iterations, 371 after 500, 272 after 750, 236 after 1000, so
# 1000 is the fewest that clears the bound with a margin (239.95 with the one thread used here:
# BLAS sums in another order).  Measured on the 2-core machine with one other job running:
# 209 s of training, 220 s for the whole test (about 0.2 s of CPU per iteration).  One BLAS
# thread because, on 2 cores shared with other jobs, OpenBLAS's second thread made the LSTM's
# small per-step products 2x slower (the same test took 9 minutes at load 9 with 2 threads).
ITERATIONS = 1000
PERPLEXITY_BOUND = 300.0
VALID_BATCHES = 105  # 105 x 35 of the 3687 validation rows: the whole split, less 12 rows
TRAIN_TIMEOUT_S = 1200

PERPLEXITY_LINE = re.compile(r"Test net output #\d+: perplexity = ([0-9.eE+-]+|inf|nan)")
CLI_PERPLEXITY_LINE = re.compile(r"\] perplexity = ([0-9.eE+-]+|inf|nan)")


def solver_text(net: Path, prefix: Path) -> str:
    # The small model's recipe (models/ptb_lstm/small/*_solver.prototxt) without its decay,
    # which starts after epoch 4; one validation pass at the end.
    return (f'net: "{net}"\n'
            f"test_iter: {VALID_BATCHES}\n"
            f"test_interval: {ITERATIONS}\n"
            "test_initialization: false\n"
            "base_lr: 20\n"
            'lr_policy: "fixed"\n'
            "clip_gradients: 0.25\n"
            "display: 100\n"
            "average_loss: 100\n"
            f"max_iter: {ITERATIONS}\n"
            "snapshot: 0\n"
            f'snapshot_prefix: "{prefix}"\n'
            "solver_mode: CPU\n"
            "random_seed: 1\n")


def run(command: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def test_generated_models_are_current() -> None:
    result = run([sys.executable, str(REPO / "scripts" / "make_ptb_models.py"), "--check"], 60)
    assert result.returncode == 0, (
        "models/ptb_lstm differs from what scripts/make_ptb_models.py writes; rerun it:\n"
        + result.stdout + result.stderr)


@pytest.mark.e2e
def test_small_lstm_reaches_validation_perplexity_below_300(tmp_path: Path) -> None:
    if not SHARED_PTB.is_dir():
        pytest.skip(f"PTB end-to-end test skipped: {SHARED_PTB} is not present")
    if not CAFFE.exists():
        pytest.fail(f"{CAFFE} not found: build the project first or set CAFFE_BUILD_DIR")

    data = tmp_path / "ptb"
    prepared = run([sys.executable, str(REPO / "scripts" / "prepare_ptb.py"), "--data-dir",
                    str(SHARED_PTB), "--out", str(data), "--streams", "20"], 300)
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr

    net = tmp_path / "train_val.prototxt"
    net_text = NET.read_text()
    assert net_text.count('"data/ptb/') == 3, "the model's data sources moved"
    net.write_text(net_text.replace('"data/ptb/', f'"{data}/'))
    solver = tmp_path / "solver.prototxt"
    solver.write_text(solver_text(net, tmp_path / "small"))

    start = time.monotonic()
    trained = run([str(CAFFE), "train", "--solver", str(solver), "--threads", "1"], TRAIN_TIMEOUT_S)
    train_seconds = time.monotonic() - start
    assert trained.returncode == 0, trained.stderr[-5000:]
    found = PERPLEXITY_LINE.findall(trained.stderr)
    assert found, "no perplexity line in the training log:\n" + trained.stderr[-5000:]
    perplexity = float(found[-1])
    print(f"PTB small, standard dropout 0.3: validation perplexity {perplexity:.2f} after "
          f"{ITERATIONS} iterations, caffe train took {train_seconds:.0f} s")
    assert perplexity < PERPLEXITY_BOUND, trained.stderr[-5000:]

    # `caffe test` reads the same validation batches 0..104 from the start: same perplexity.
    weights = tmp_path / f"small_iter_{ITERATIONS}.caffemodel"
    tested = run([str(CAFFE), "test", "--model", str(net), "--weights", str(weights),
                  "--iterations", str(VALID_BATCHES), "--threads", "1"], 600)
    assert tested.returncode == 0, tested.stderr[-5000:]
    summary = CLI_PERPLEXITY_LINE.findall(tested.stderr)
    assert summary, tested.stderr[-5000:]
    assert float(summary[-1]) == pytest.approx(perplexity, rel=1e-4)
