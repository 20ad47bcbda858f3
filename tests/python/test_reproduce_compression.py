"""scripts/reproduce_compression.py: codec settings, the solver schedule, log parsing, the summary
table, and one real run of a tiny configuration (two settings, one seed, two epochs on 2,000
MNIST images, K = 5 ranks under mpirun) that checks the JSON rows, the Markdown summary and the
figures.

The end-to-end test uses $CAFFE_BUILD_DIR/tools/caffe (default <repo>/build, as conftest.py) and
the real MNIST in ../shared/data/mnist.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BUILD_DIR, REPO
from lib import compression_report
from lib.compression_runs import Schedule, Setting, parse_run_log
from reproduce_compression import previous_rows, save

SCRIPT = REPO / "scripts" / "reproduce_compression.py"
MNIST = REPO.parent / "shared" / "data" / "mnist"
ROW_KEYS = {"setting", "seed", "accuracy", "bits_quantized", "bits_huffman", "epochs_to_peak"}

# Two epochs of 10 iterations as rank 0 logs them: each sync, then the test of the average.
RUN_LOG = """\
I20261205 06:00:00.000000  7 data_parallel.cpp:350] Solving mnist_tanh_dist
I20261205 06:00:01.000000  7 data_parallel.cpp:317] Iteration 10, weight sync (dynamic c=5 M=4 F=0.03 ceiling=10): 281203 bytes sent, 7.062 bits/param quantized, 5.235 after Huffman (5.260 with headers), compression 6.08x, encode 1.39 ms, decode 2.1 ms, communication 3.0 ms
I20261205 06:00:01.000000  7 solver_report.cpp:120] Iteration 10, Testing net (#0)
I20261205 06:00:02.000000  7 solver_report.cpp:152]     Test net output #0: accuracy = 0.9019
I20261205 06:00:02.000000  7 solver_report.cpp:152]     Test net output #1: loss = 0.31 (* 1 = 0.31 loss)
I20261205 06:00:03.000000  7 data_parallel.cpp:317] Iteration 20, weight sync (dynamic c=5 M=4 F=0.03 ceiling=10): 200000 bytes sent, 6.064 bits/param quantized, 3.007 after Huffman (3.031 with headers), compression 10.5x, encode 1.0 ms, decode 2.0 ms, communication 3.0 ms
I20261205 06:00:03.000000  7 solver_report.cpp:120] Iteration 20, Testing net (#0)
I20261205 06:00:04.000000  7 solver_report.cpp:152]     Test net output #0: accuracy = 0.8876
I20261205 06:00:04.000000  7 data_parallel.cpp:359] Optimization Done.
"""


def test_settings_name_the_codec_flags_and_reject_other_names() -> None:
    assert Setting("baseline").codec_flags(0.03) == ["--codec=none"]
    assert Setting("fixed:6").codec_flags(0.03) == ["--codec=fixed:6"]
    assert Setting("fixed:6").fixed_bits == 6 and Setting("fixed:6").dynamic is None
    dynamic = Setting("c=5,M=4")
    assert dynamic.dynamic == (5, 4) and dynamic.fixed_bits is None
    assert dynamic.codec_flags(0.05) == ["--codec=dynamic", "--codec_c=5", "--codec_M=4",
                                         "--codec_F=0.05"]
    assert dynamic.encode_options(0.05) == {"mode": "dynamic", "c": 5, "M": 4, "F": 0.05}
    for bad in ["c=5", "fixed", "c=5,M=4 ", "none"]:
        with pytest.raises(ValueError, match="unknown setting"):
            Setting(bad)


def test_an_epoch_is_a_ranks_shard_and_the_lr_decays_by_the_factor_per_epoch() -> None:
    schedule = Schedule(ranks=5, epochs=6, batch=32, base_lr=0.1, lr_decay_per_epoch=0.9,
                        momentum=0.9, l1_decay=3e-5, fraction=0.03, train_records=60000,
                        test_records=10000)
    assert schedule.iterations_per_epoch == 375  # 12,000 images of a rank in batches of 32
    assert schedule.gamma ** 375 == pytest.approx(0.9)
    assert schedule.test_batch == 500
    uneven = Schedule(3, 1, 64, 0.1, 0.9, 0.9, 0.0, 0.03, train_records=1000, test_records=1001)
    assert uneven.iterations_per_epoch == 6  # ceil(ceil(1000 / 3) / 64)
    assert uneven.test_batch == 143          # 1001 = 7 * 11 * 13: each test image once


def test_log_parsing_gives_accuracy_and_bits_per_epoch() -> None:
    records = parse_run_log(RUN_LOG, iterations_per_epoch=10, epochs=2)
    assert [(r.epoch, r.accuracy, r.bits_quantized, r.bits_huffman, r.bits_with_headers)
            for r in records] == [(1, 0.9019, 7.062, 5.235, 5.26), (2, 0.8876, 6.064, 3.007, 3.031)]
    with pytest.raises(RuntimeError, match="after epoch 3"):
        parse_run_log(RUN_LOG, iterations_per_epoch=10, epochs=3)
    without_sync = "\n".join(line for line in RUN_LOG.splitlines()
                             if "Iteration 20, weight" not in line)
    with pytest.raises(RuntimeError, match="after epoch 2"):
        parse_run_log(without_sync, iterations_per_epoch=10, epochs=2)


def test_summary_table_gives_mean_and_std_over_seeds_per_setting() -> None:
    def row(setting: str, seed: int, accuracy: float, huffman: float) -> dict:
        return {"setting": setting, "seed": seed, "accuracy": accuracy, "peak_accuracy": accuracy,
                "epochs_to_peak": seed, "bits_quantized": 6.0, "bits_huffman": huffman,
                "package_ratio": huffman / 32}

    table = compression_report.markdown_table(
        [row("c=5,M=4", 1, 0.95, 3.0), row("baseline", 1, 0.96, 32.0),
         row("c=5,M=4", 2, 0.97, 4.0)]).splitlines()
    assert len(table) == 4 and table[2].startswith("| c=5,M=4 | 2 | 96.00 ± 1.41 |")
    assert "| 1.5 ± 0.7 | 6.00 ± 0.00 | 3.50 ± 0.71 | 0.1094 ± 0.0221 |" in table[2]
    assert table[3].startswith("| baseline | 1 | 96.00 ± 0.00 |")


def test_resume_keeps_the_rows_of_the_same_schedule_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "reproduce_compression.json"
    assert previous_rows(path, {"epochs": 6}) == []
    save(path, {"epochs": 6}, [{"setting": "baseline", "seed": 1}])
    assert previous_rows(path, {"epochs": 6}) == [{"setting": "baseline", "seed": 1}]
    assert previous_rows(path, {"epochs": 5}) == []


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun not found: install Debian's "
                    "openmpi-bin (scripts/install.sh does)")
@pytest.mark.skipif(not (MNIST / "train-images-idx3-ubyte.gz").exists(),
                    reason=f"real MNIST not found in {MNIST}")
def test_tiny_reproduction_writes_rows_summary_and_figures(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    command = [sys.executable, str(SCRIPT), "--build-dir", str(BUILD_DIR), "--data-dir",
               str(MNIST), "--settings", "baseline", "c=6,M=4", "--seeds", "1", "--epochs", "2",
               "--train-limit", "2000", "--test-limit", "500", "--out-dir", str(tmp_path / "out"),
               "--docs-dir", str(docs)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]

    saved = json.loads((docs / "data" / "reproduce_compression.json").read_text())
    assert saved["config"]["ranks"] == 5 and saved["config"]["regularization_type"] == "L1"
    assert saved["config"]["train_records"] == 2000 and saved["config"]["test_records"] == 500
    rows = saved["rows"]
    assert [(row["setting"], row["seed"]) for row in rows] == [("baseline", 1), ("c=6,M=4", 1)]
    for row in rows:
        assert ROW_KEYS <= set(row)
        assert len(row["epochs"]) == 2 and 1 <= row["epochs_to_peak"] <= 2
        assert 0.5 < row["accuracy"] <= row["peak_accuracy"] <= 1  # chance is 0.1
    baseline, dynamic = rows
    assert baseline["bits_quantized"] == baseline["bits_huffman"] == 32
    assert 1 <= dynamic["bits_huffman"] <= dynamic["bits_quantized"] <= 10
    assert dynamic["package_ratio"] < 1 / 3 < 1 <= baseline["package_ratio"] < 1.01

    summary = (docs / "data" / "reproduce_compression.md").read_text()
    assert "| baseline | 1 |" in summary and "| c=6,M=4 | 1 |" in summary
    assert "| c=6,M=4 | 1 |" in result.stdout
    for figure in ["fig1", "fig4", "fig5"]:
        assert (docs / f"compression_{figure}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    redrawn = tmp_path / "redrawn"  # --from-json trains nothing and draws the same figures
    subprocess.run([sys.executable, str(SCRIPT), "--from-json",
                    str(docs / "data" / "reproduce_compression.json"), "--docs-dir", str(redrawn)],
                   check=True, capture_output=True, timeout=120)
    assert sorted(p.name for p in redrawn.glob("*.png")) == [
        "compression_fig1.png", "compression_fig4.png", "compression_fig5.png"]
    assert (redrawn / "data" / "reproduce_compression.md").read_text() == summary
