"""scripts/reproduce_ptb.py: log parsing (training time without validation passes and
snapshots, perplexity and accuracy), net and solver rewriting, the command line, and one real
end-to-end run of the small config on a tiny PTB-format corpus (a few seconds of training).

The end-to-end test uses $CAFFE_BUILD_DIR/tools/caffe (default <repo>/build, as conftest.py).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import reproduce_ptb

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = REPO / os.environ.get("CAFFE_BUILD_DIR", "build")  # an absolute value replaces REPO
SCRIPT = REPO / "scripts" / "reproduce_ptb.py"

# A `caffe train` log: validation at iterations 4 and 8, the final snapshot just before the
# last validation, and a parameter dump whose continuation lines carry no timestamp.
TRAIN_LOG = """\
Log file created at: 2026/11/25 10:00:00
I20261125 10:00:00.000000  7 solver.cpp:128] Initializing solver from parameters:
test_iter: 1
I20261125 10:00:00.500000  7 caffe.cpp:272] Starting Optimization
I20261125 10:00:01.000000  7 solver.cpp:405] Iteration 0, loss = 9.2
I20261125 10:00:01.000100  7 solver.cpp:434] Iteration 0, lr = 20
I20261125 10:00:03.000000  7 solver.cpp:543] Iteration 4, Testing net (#0)
I20261125 10:00:13.000000  7 solver.cpp:575]     Test net output #0: accuracy = 0.05
I20261125 10:00:13.000000  7 solver.cpp:575]     Test net output #1: loss = 7.9 (* 1 = 7.9 loss)
I20261125 10:00:13.000000  7 solver.cpp:575]     Test net output #2: perplexity = 2700.5
I20261125 10:00:15.500000  7 solver.cpp:597] Snapshotting to binary proto file m_iter_8.caffemodel
I20261125 10:00:16.000000  7 solver.cpp:606] Snapshotting solver state to binary proto file m.s
I20261125 10:00:17.000000  7 solver.cpp:543] Iteration 8, Testing net (#0)
I20261125 10:00:27.000000  7 solver.cpp:575]     Test net output #0: accuracy = 0.06
I20261125 10:00:27.000000  7 solver.cpp:575]     Test net output #1: loss = 7.6 (* 1 = 7.6 loss)
I20261125 10:00:27.000000  7 solver.cpp:575]     Test net output #2: perplexity = 2000.25
I20261125 10:00:27.000000  7 solver.cpp:333] Optimization Done.
"""

# The closing summary of `caffe test`, after per-batch lines that must not be taken for it.
TEST_LOG = """\
I20261125 10:01:00.000000  8 caffe.cpp:295] Batch 0, accuracy = 0.9
I20261125 10:01:00.000000  8 caffe.cpp:295] Batch 0, loss = 1.0
I20261125 10:01:00.000000  8 caffe.cpp:295] Batch 0, perplexity = 3.0
I20261125 10:01:00.000000  8 caffe.cpp:298] Loss: 7.59249
I20261125 10:01:00.000000  8 caffe.cpp:300] accuracy = 0.0338095
I20261125 10:01:00.000000  8 caffe.cpp:300] loss = 7.59249 (* 1 = 7.59249 loss)
I20261125 10:01:00.000000  8 caffe.cpp:300] perplexity = 1983.25
"""


def test_training_time_excludes_validation_passes_and_snapshots() -> None:
    log = reproduce_ptb.parse_training_log(TRAIN_LOG, iterations=8)
    # 10:00:01 -> 10:00:03 trains, the pass at iteration 4 ends 10:00:13, training resumes
    # until the snapshot at 10:00:15.5; the snapshot and the last pass are excluded.
    assert log.train_seconds == pytest.approx(4.5)
    assert log.curve == [(4, pytest.approx(2.0), 2700.5), (8, pytest.approx(4.5), 2000.25)]


def test_training_time_across_midnight_with_year_less_glog_dates() -> None:
    text = ("I1125 23:59:59.000000  7 solver.cpp:405] Iteration 0, loss = 9.2\n"
            "I1126 00:00:02.500000  7 solver.cpp:543] Iteration 2, Testing net (#0)\n"
            "I1126 00:00:03.000000  7 solver.cpp:575]     Test net output #0: perplexity = 9\n")
    log = reproduce_ptb.parse_training_log(text, iterations=2)
    assert log.train_seconds == pytest.approx(3.5)
    assert log.curve == [(2, pytest.approx(3.5), 9.0)]


def test_training_log_without_the_final_validation_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="after iteration 12"):
        reproduce_ptb.parse_training_log(TRAIN_LOG, iterations=12)
    with pytest.raises(RuntimeError, match="Iteration 0, loss"):
        reproduce_ptb.parse_training_log(TRAIN_LOG.replace("Iteration 0, loss", "x"), 8)


def test_test_log_summary_gives_perplexity_and_accuracy() -> None:
    assert reproduce_ptb.parse_test_log(TEST_LOG) == (1983.25, 0.0338095)
    without_summary = TEST_LOG.split("Loss:")[0]
    with pytest.raises(RuntimeError, match="perplexity and accuracy"):
        reproduce_ptb.parse_test_log(without_summary)


def test_failed_caffe_run_names_its_last_line_and_log(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    failing = [sys.executable, "-c", "import sys; print('F1125 solver.cpp:1] boom'); sys.exit(3)"]
    expected = f"caffe train failed (exit 3): F1125 solver.cpp:1] boom; see {log}"
    with pytest.raises(RuntimeError, match=re.escape(expected)):
        reproduce_ptb.run_caffe(failing, log, "train")


def test_help_lists_the_options() -> None:
    shown = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True,
                           text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    for option in ("--config", "--ratios", "--patterns", "--iterations", "--test-interval",
                   "--data-dir", "--prepared-dir", "--threads", "--resume", "--markdown"):
        assert option in shown.stdout


def test_test_interval_must_divide_the_iterations(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        reproduce_ptb.parse_args(["--iterations", "10", "--test-interval", "3"])
    assert "must be positive and divide --iterations 10" in capsys.readouterr().err
    assert reproduce_ptb.parse_args(["--iterations", "2000"]).test_interval == 500
    assert reproduce_ptb.parse_args(["--iterations", "10"]).test_interval == 10


def test_period_options_name_the_approximate_runs_only(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    args = reproduce_ptb.parse_args(["--min-period", "3", "--max-period", "4", "--out-dir",
                                     str(tmp_path)])
    row, standard = reproduce_ptb.PlannedRun("ROW", 0.7), reproduce_ptb.PlannedRun("STANDARD", 0.7)
    assert reproduce_ptb.run_folder(row, args) == tmp_path.resolve() / "small_row_p70_min3_max4"
    assert reproduce_ptb.run_folder(standard, args).name == "small_standard_p70"
    settings = reproduce_ptb.run_settings(row, args)
    assert (settings["min_period"], settings["max_period"]) == (3, 4)
    assert reproduce_ptb.run_settings(standard, args)["min_period"] == 1
    assert reproduce_ptb.parse_args(["--patterns"]).patterns == []  # STANDARD only
    with pytest.raises(SystemExit):
        reproduce_ptb.parse_args(["--patterns", "--skip-standard"])
    assert "leaves nothing to run" in capsys.readouterr().err


def test_rotate_offset_names_and_sets_the_row_runs_only(tmp_path: Path) -> None:
    pytest.importorskip("caffe")
    args = reproduce_ptb.parse_args(["--min-period", "3", "--max-period", "4", "--rotate-offset",
                                     "--out-dir", str(tmp_path)])
    row, tile = reproduce_ptb.PlannedRun("ROW", 0.7), reproduce_ptb.PlannedRun("TILE", 0.7)
    assert reproduce_ptb.run_folder(row, args).name == "small_row_p70_min3_max4_rot"
    assert reproduce_ptb.run_folder(tile, args).name == "small_tile_p70_min3_max4"
    assert reproduce_ptb.run_settings(row, args)["rotate_offset"]
    assert not reproduce_ptb.run_settings(tile, args)["rotate_offset"]
    data = fake_data(tmp_path / "prepared")
    for variant, rotates in (("row", True), ("tile", False)):
        template = reproduce_ptb.MODELS / "small" / f"{variant}_p70_train_val.prototxt"
        net, _ = reproduce_ptb.rewrite_net(template, data, tmp_path / "run", rotate_offset=True)
        approx = [layer for layer in net.layer if layer.approx_dropout_param.schedule_file]
        assert len(approx) == 3
        assert all(layer.approx_dropout_param.rotate_offset == rotates for layer in approx)
        assert all((layer.approx_dropout_param.row_layout == 1) == rotates for layer in approx)
    result = reproduce_ptb.RunResult(**reproduce_ptb.run_settings(row, args), valid_perplexity=1,
                                     test_perplexity=1, test_accuracy=0, train_seconds=1,
                                     seconds_per_iteration=1)
    assert reproduce_ptb.run_label(result) == "ROW (periods 3..4, rotated offsets)"


def fake_data(folder: Path, vocabulary: int = 10000) -> reproduce_ptb.PreparedData:
    return reproduce_ptb.PreparedData(folder, {"train": 46479, "valid": 3687, "test": 4121},
                                      streams=20, vocabulary=vocabulary)


@pytest.mark.parametrize("config", reproduce_ptb.CONFIGS)
def test_rewritten_net_reads_and_writes_absolute_paths(tmp_path: Path, config: str) -> None:
    pytest.importorskip("caffe")
    data = fake_data(tmp_path / "prepared")
    run_dir = tmp_path / "run"
    template = reproduce_ptb.MODELS / config / "tile_p70_train_val.prototxt"
    net, batch_sizes = reproduce_ptb.rewrite_net(template, data, run_dir)
    assert batch_sizes == {"train": 35, "valid": 35, "test": 35}
    sources = sorted(layer.hdf5_data_param.source for layer in net.layer
                     if layer.type == "HDF5Data")
    assert sources == sorted(str(data.folder / f"{split}_list.txt")
                             for split in reproduce_ptb.SPLITS)
    schedules = [Path(layer.approx_dropout_param.schedule_file) for layer in net.layer
                 if layer.approx_dropout_param.schedule_file]
    assert len(schedules) == (4 if config == "deep3" else 3)  # every LSTM and the decoder
    assert all(path.is_absolute() and path.parent == run_dir.resolve() for path in schedules)


def test_vocabulary_larger_than_the_embedding_is_an_error(tmp_path: Path) -> None:
    pytest.importorskip("caffe")
    template = reproduce_ptb.MODELS / "small" / "standard_p50_train_val.prototxt"
    with pytest.raises(RuntimeError, match="20000 words, more than the 10000"):
        reproduce_ptb.rewrite_net(template, fake_data(tmp_path, vocabulary=20000), tmp_path)


def test_solver_keeps_lr_fixed_only_before_the_committed_decay(tmp_path: Path) -> None:
    pytest.importorskip("caffe")
    committed = reproduce_ptb.MODELS / "small" / "row_p50_solver.prototxt"
    short = reproduce_ptb.solver_text(committed, tmp_path / "net", tmp_path, 2000, 105, 500)
    assert "lr stays at base_lr" in short
    for line in ("max_iter: 2000", "test_iter: 105", "test_interval: 500", "solver_mode: CPU",
                 "base_lr: 20", "clip_gradients: 0.25", "random_seed: 1",
                 f'snapshot_prefix: "{tmp_path}/model"', "snapshot_after_train: true"):
        assert line in short
    # The small solver halves lr from iteration 5312 (the end of epoch 4) on.
    assert "lr stays" not in reproduce_ptb.solver_text(committed, tmp_path / "net", tmp_path,
                                                       6000, 105, 500)


def test_missing_corpus_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    if not (BUILD_DIR / "tools" / "caffe").is_file():
        pytest.fail(f"{BUILD_DIR}/tools/caffe not found: build the project or set CAFFE_BUILD_DIR")
    status = reproduce_ptb.main(["--data-dir", str(tmp_path / "nowhere"), "--prepared-dir",
                                 str(tmp_path / "prepared"), "--out-dir", str(tmp_path / "out"),
                                 "--build-dir", str(BUILD_DIR)])
    assert status == 1
    assert "lacks ptb.train.txt, ptb.valid.txt, ptb.test.txt" in capsys.readouterr().err


def write_tiny_corpus(folder: Path) -> None:
    """30 words; each split has more than 35 x 20 tokens, so one batch of every split fits."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    folder.mkdir()
    for split, lines in (("train", 200), ("valid", 90), ("test", 90)):
        sentences = [" ".join(rng.choice(words, size=8)) for _ in range(lines)]
        if split == "train":
            sentences.append(" ".join(words))  # every word is in the training vocabulary
        (folder / f"ptb.{split}.txt").write_text("\n".join(sentences) + "\n")


def test_tiny_corpus_end_to_end_and_resume(tmp_path: Path) -> None:
    caffe_tool = BUILD_DIR / "tools" / "caffe"
    if not caffe_tool.is_file():
        pytest.fail(f"{caffe_tool} not found: build the project or set CAFFE_BUILD_DIR")
    write_tiny_corpus(tmp_path / "corpus")
    out = tmp_path / "out"
    command = [sys.executable, str(SCRIPT), "--iterations", "8", "--test-interval", "4",
               "--ratios", "0.5", "--patterns", "ROW", "TILE",
               "--data-dir", str(tmp_path / "corpus"), "--prepared-dir", str(tmp_path / "prep"),
               "--out-dir", str(out), "--build-dir", str(BUILD_DIR)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]

    runs = json.loads((out / "ptb_results.json").read_text())
    assert [(r["pattern"], r["ratio"]) for r in runs] == [("STANDARD", 0.5), ("ROW", 0.5),
                                                          ("TILE", 0.5)]
    for run in runs:
        assert [point[0] for point in run["curve"]] == [4, 8]
        assert 0 < run["curve"][0][1] < run["curve"][1][1] == run["train_seconds"]
        assert run["seconds_per_iteration"] == pytest.approx(run["train_seconds"] / 7)
        assert run["valid_perplexity"] == run["curve"][-1][2] > 1
        assert 1 < run["test_perplexity"] < 1e9 and 0 <= run["test_accuracy"] <= 1
    assert runs[0]["speedup"] == 1.0
    for run in runs[1:]:
        assert run["speedup"] == pytest.approx(runs[0]["train_seconds"] / run["train_seconds"])
    table = (out / "ptb_table.md").read_text()
    assert "| 0.5 | ROW |" in table and "46.0% | 1.47x |" in table
    assert (out / "ptb_figure.png").stat().st_size > 0
    net_text = (out / "small_row_p50" / "train_val.prototxt").read_text()
    assert f'schedule_file: "{out / "small_row_p50"}/' in net_text
    assert f'source: "{(tmp_path / "prep").resolve()}/valid_list.txt"' in net_text

    again = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count(": reusing ") == 3 and "training 8 iterations" not in again.stdout
    assert json.loads((out / "ptb_results.json").read_text()) == runs
