#!/usr/bin/env python3
"""Reproduce the Penn Treebank LSTM experiments of Approximate Random Dropout (arXiv 1805.08939).

For each dropout rate p and each of standard dropout, ROW and TILE approximate dropout, trains
the word-level LSTM language model models/ptb_lstm/<config>/<variant>_train_val.prototxt with a
real `caffe train`, validating every --test-interval iterations, then scores the final snapshot
on the test split with `caffe test`.  Reports, per run: final validation perplexity, test
perplexity, test next-word accuracy, training time and its speed-up over standard dropout at
the same p, beside the paper's Table II (2 x 1500 LSTM) and Fig. 6 (3-layer LSTM) numbers.
Writes a Markdown table, a JSON list of runs and a PNG: validation perplexity against training
time for every pattern at p = 0.5 (the paper's Fig. 5), and speed-up and accuracy against p.

Solver: the committed solver of the variant (lr 20 on the per-token mean loss, clip 0.25, SGD
without momentum; models/ptb_lstm/README.md says why) with our run length, test interval and
seed 1, on the CPU.  Its multistep decay starts only after epoch 4 (small) or 6 or 14, so runs
shorter than that train at the fixed lr 20, as tests/python/test_ptb_e2e.py does; runs as long
as the committed max_iter follow the full schedule.

Timing comes from the glog timestamps of the training log: from the "Iteration 0, loss" line
(printed after iteration 0's forward and backward pass) to the final validation, less every
validation pass and snapshot in between, so the number of validations does not change the
speed-up.  The span covers iterations 1..N-1 and iteration 0's update, hence seconds per
iteration = training seconds / (N - 1).  Validation passes always start at validation batch 0
and the test split is read in its streams' order (the LSTM carries its state from batch to
batch, as in training): both are the standard streams-in-order evaluation.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lib import bench_common, make_ptb_models, plot_log

REPO = bench_common.REPO
MODELS = REPO / "models" / "ptb_lstm"
SHARED_PTB = REPO.parent / "shared" / "data" / "ptb"
CONFIGS = tuple(config.name for config in make_ptb_models.CONFIGS)
SPLITS = ("train", "valid", "test")
STEPS = make_ptb_models.STEPS        # T, the rows of one HDF5Data batch
STREAMS = make_ptb_models.STREAMS    # N, the parallel streams prepare_ptb.py cuts
TEST_SPLIT_STAGE = make_ptb_models.TEST_SPLIT_STAGE  # the stage whose data layer reads test.h5
FIGURE5_RATIO = 0.5          # the rate of the paper's perplexity-against-time figure

# Table II of arXiv 1805.08939 (2 x 1500 LSTM on PTB, GPU): next-word accuracy (%) and
# training speed-up over standard dropout, per dropout rate.
PAPER_ACCURACY = {
    "STANDARD": {0.3: 47.9, 0.5: 47.3, 0.7: 45.9},
    "ROW": {0.3: 46.9, 0.5: 46.0, 0.7: 44.5},
    "TILE": {0.3: 47.2, 0.5: 46.5, 0.7: 44.4},
}
PAPER_SPEEDUP = {
    "STANDARD": {0.3: 1.0, 0.5: 1.0, 0.7: 1.0},
    "ROW": {0.3: 1.18, 0.5: 1.47, 0.7: 1.53},
    "TILE": {0.3: 1.18, 0.5: 1.43, 0.7: 1.49},
}
PAPER_NOTE = ("Paper columns: Table II of arXiv 1805.08939 (2 x 1500 LSTM, the `large` config, "
              "fully trained on a GPU).  Fig. 6 of the paper (3-layer LSTM on PTB, cf. `deep3`): "
              "ROW approximate dropout raises perplexity by only 0.04 at p = 0.7, and the "
              "speed-up grows from 1.24x at p = 0.3 to 1.85x at p = 0.7.")

TRAINING_START = re.compile(r"\] Iteration 0, loss = ")
TESTING = re.compile(r"\] Iteration (\d+), Testing net \(#(\d+)\)")
# Lines after which the solver tests or writes a snapshot rather than trains.
PAUSE_FOLLOWS = re.compile(r"\] (?:Iteration \d+, Testing net \(#\d+\)|Test loss: |Snapshotting )")
NUMBER = r"([-+0-9.eE]+|nan|inf)"
VALID_PERPLEXITY = re.compile(r"Test net output #\d+: perplexity = " + NUMBER)
CLI_SUMMARY_START = re.compile(r"\] Loss: ")
CLI_OUTPUT = re.compile(r"\] (\w+) = " + NUMBER)


@dataclass
class TrainingLog:
    train_seconds: float
    # (iteration, training seconds up to that validation, validation perplexity)
    curve: list[tuple[int, float, float]]


@dataclass
class RunResult:
    config: str
    pattern: str              # STANDARD, ROW or TILE
    ratio: float
    iterations: int
    test_interval: int
    threads: int
    valid_perplexity: float   # after the last iteration
    test_perplexity: float
    test_accuracy: float      # next-word accuracy on the test split, a fraction
    train_seconds: float      # excluding validation passes and snapshots
    seconds_per_iteration: float
    curve: list[tuple[int, float, float]] = field(default_factory=list)
    speedup: float | None = None  # vs the STANDARD run at the same ratio; None without one
    scale: str = ""               # approx_dropout_param.scale set by --scale ("": the default)
    min_period: int = 1           # the schedules' smallest period (--min-period)
    max_period: int = 0           # the schedules' largest period (--max-period; 0: the default)
    rotate_offset: bool = False   # ROW with approx_dropout_param.rotate_offset (--rotate-offset)


@dataclass(frozen=True)
class PlannedRun:
    pattern: str
    ratio: float

    @property
    def variant(self) -> str:
        return f"{self.pattern.lower()}_p{round(self.ratio * 100)}"


@dataclass(frozen=True)
class PreparedData:
    folder: Path
    rows: dict[str, int]      # split -> S, the rows (time steps) of its [S, N] arrays
    streams: int
    vocabulary: int


# ---------------------------------------------------------------------------------------------
# Log parsing.

def parse_training_log(text: str, iterations: int) -> TrainingLog:
    """Training seconds (excluding test passes and snapshots) up to the validation after
    `iterations`, and the validation curve of test net #0.

    The time between two log lines is training time unless the first line announces a test
    pass or a snapshot write (the solver logs those before doing them)."""
    previous: dt.datetime | None = None
    previous_pauses = False
    trained = 0.0
    curve: list[tuple[int, float, float]] = []
    validating: tuple[int, float] | None = None  # (iteration, seconds) of the pass under way
    for line in text.splitlines():
        now = plot_log.log_time(line)
        if now is None:
            continue
        if previous is None:
            if TRAINING_START.search(line):
                previous = now
            continue
        if not previous_pauses:
            trained += (now - previous).total_seconds()
        previous, previous_pauses = now, PAUSE_FOLLOWS.search(line) is not None
        if (testing := TESTING.search(line)) and testing.group(2) == "0":
            validating = (int(testing.group(1)), trained)
        elif (perplexity := VALID_PERPLEXITY.search(line)) and validating is not None:
            curve.append((*validating, float(perplexity.group(1))))
            validating = None
    if previous is None:
        raise RuntimeError("the training log lacks the 'Iteration 0, loss = ' line")
    if not curve or curve[-1][0] != iterations:
        raise RuntimeError(f"the training log lacks the validation perplexity after iteration "
                           f"{iterations} (a 'Test net output #k: perplexity = X' line)")
    return TrainingLog(train_seconds=curve[-1][1], curve=curve)


def parse_test_log(text: str) -> tuple[float, float]:
    """(perplexity, accuracy) over all batches from a `caffe test` log's closing summary."""
    summary: dict[str, float] = {}
    in_summary = False
    for line in text.splitlines():
        if CLI_SUMMARY_START.search(line):
            in_summary = True
        elif in_summary and (match := CLI_OUTPUT.search(line)):
            summary[match.group(1)] = float(match.group(2))
    missing = [name for name in ("perplexity", "accuracy") if name not in summary]
    if missing:
        raise RuntimeError(f"the caffe test log lacks the final {' and '.join(missing)} "
                           "(lines 'NAME = X' after 'Loss: ')")
    return summary["perplexity"], summary["accuracy"]


# ---------------------------------------------------------------------------------------------
# Data, nets and solvers.

def prepared_is_complete(folder: Path) -> bool:
    """True when prepare_ptb.py's output is there and its lists name the files beside them."""
    if not (folder / "vocab.txt").is_file():
        return False
    for split in SPLITS:
        data, listing = folder / f"{split}.h5", folder / f"{split}_list.txt"
        if not data.is_file() or not listing.is_file():
            return False
        if Path(listing.read_text().strip()).resolve() != data.resolve():
            return False  # the folder was moved or copied: its lists point elsewhere
    return True


def prepare_data(data_dir: Path, folder: Path) -> PreparedData:
    """Runs scripts/prepare_ptb.py unless `folder` already holds its output."""
    if prepared_is_complete(folder):
        print(f"reusing the prepared PTB data in {folder}")
    else:
        missing = [f"ptb.{split}.txt" for split in SPLITS
                   if not (data_dir / f"ptb.{split}.txt").is_file()]
        if missing:
            raise RuntimeError(
                f"the PTB corpus is missing: {data_dir} lacks {', '.join(missing)}; give "
                "--data-dir, a folder with Mikolov's ptb.train.txt, ptb.valid.txt and "
                "ptb.test.txt (see scripts/prepare_ptb.py for where to get them)")
        command = [sys.executable, str(REPO / "scripts" / "prepare_ptb.py"), "--data-dir",
                   str(data_dir), "--out", str(folder), "--streams", str(STREAMS),
                   "--no-download"]
        output = subprocess.run(command, capture_output=True, text=True)
        sys.stdout.write(output.stdout)
        if output.returncode != 0:
            raise RuntimeError(f"prepare_ptb.py failed: {output.stderr.strip()}")
    import h5py

    rows = {}
    streams = set()
    for split in SPLITS:
        with h5py.File(folder / f"{split}.h5", "r") as h5:
            rows[split], split_streams = h5["data"].shape
            streams.add(split_streams)
    if len(streams) != 1:
        raise RuntimeError(f"{folder}: the splits have different stream counts {sorted(streams)};"
                           " prepare them again with one --streams")
    vocabulary = len((folder / "vocab.txt").read_text().splitlines())
    return PreparedData(folder.resolve(), rows, streams.pop(), vocabulary)


def read_prototxt(path: Path, message):
    from google.protobuf import text_format
    try:
        text_format.Merge(path.read_text(), message)
    except (OSError, text_format.ParseError) as error:
        raise RuntimeError(f"cannot read {path}: {error}") from error
    return message


def rewrite_net(template: Path, data: PreparedData, run_dir: Path, scale: str = "",
                rotate_offset: bool = False):
    """The template net with absolute paths: HDF5 sources in the prepared folder, schedules in
    the run folder, approx_dropout_param.scale set to `scale` where given, and rotate_offset
    with row_layout BLOCKS on the ROW layers where asked.  Returns (NetParameter, {split: hdf5
    batch size})."""
    from caffe.proto import caffe_pb2

    net = read_prototxt(template, caffe_pb2.NetParameter())
    batch_sizes = {}
    for layer in net.layer:
        if layer.type == "HDF5Data":
            name = Path(layer.hdf5_data_param.source).name
            split = name.removesuffix("_list.txt")
            if name == split or split not in SPLITS:
                raise RuntimeError(f"{template}: layer '{layer.name}' reads '{name}', not one of "
                                   "prepare_ptb.py's {train,valid,test}_list.txt")
            layer.hdf5_data_param.source = str(data.folder / name)
            batch_sizes[split] = layer.hdf5_data_param.batch_size
        elif layer.type == "Embed" and layer.embed_param.input_dim < data.vocabulary:
            raise RuntimeError(f"{data.folder}/vocab.txt has {data.vocabulary} words, more than "
                               f"the {layer.embed_param.input_dim} of {template}'s embedding")
        if layer.approx_dropout_param.schedule_file:
            schedule = Path(layer.approx_dropout_param.schedule_file).name
            layer.approx_dropout_param.schedule_file = str(run_dir.resolve() / schedule)
            if scale:
                layer.approx_dropout_param.scale = caffe_pb2.ApproxDropoutParameter.Scale.Value(
                    scale)
            row = layer.approx_dropout_param.pattern == caffe_pb2.ApproxDropoutParameter.ROW
            if rotate_offset and row:
                layer.approx_dropout_param.rotate_offset = True
                layer.approx_dropout_param.row_layout = caffe_pb2.ApproxDropoutParameter.BLOCKS
    missing = [split for split in SPLITS if split not in batch_sizes]
    if missing:
        raise RuntimeError(f"{template} has no HDF5Data layer for {', '.join(missing)}")
    return net, batch_sizes


def batches_covering(data: PreparedData, split: str, batch_size: int) -> int:
    """The whole batches in a split: all its rows but the last (rows mod batch size)."""
    batches = data.rows[split] // batch_size
    if batches < 1:
        raise RuntimeError(f"the {split} split has {data.rows[split]} rows, fewer than one "
                           f"batch of {batch_size}")
    return batches


def solver_text(committed: Path, net: Path, run_dir: Path, iterations: int, test_iter: int,
                test_interval: int) -> str:
    """The committed solver with our net, length, validation and snapshot settings (CPU)."""
    from caffe.proto import caffe_pb2
    from google.protobuf import text_format

    solver = read_prototxt(committed, caffe_pb2.SolverParameter())
    solver.net = str(net)
    solver.max_iter = iterations
    solver.test_iter[:] = [test_iter]
    solver.test_interval = test_interval
    solver.test_initialization = False
    solver.display = 100
    solver.snapshot = 0
    solver.snapshot_after_train = True  # the final weights, for `caffe test` on the test split
    solver.snapshot_prefix = str(run_dir / "model")
    solver.solver_mode = caffe_pb2.SolverParameter.CPU
    solver.random_seed = 1
    stays_fixed = solver.lr_policy == "multistep" and all(
        step >= iterations for step in solver.stepvalue)
    why = ("# lr stays at base_lr: the committed decay starts after this run ends\n"
           if stays_fixed else "")
    return (f"# Written by scripts/reproduce_ptb.py from {committed}\n{why}"
            + text_format.MessageToString(solver))


# ---------------------------------------------------------------------------------------------
# Runs.

def run_caffe(arguments: list[str], log: Path, what: str) -> str:
    with open(log, "w") as stream:
        status = subprocess.run(arguments, stdout=stream, stderr=stream,
                                env=bench_common.caffe_tool_env()).returncode
    text = log.read_text(errors="replace")
    if status != 0:
        lines = text.strip().splitlines()
        raise RuntimeError(f"caffe {what} failed (exit {status}): "
                           f"{lines[-1] if lines else 'no output'}; see {log}")
    return text


def write_schedules(net: Path, iterations: int, min_period: int, max_period: int,
                    seed: int = 0) -> None:
    """Every approximate layer's schedule (max_period 0: the generator's default; seed: the
    generator's, 0 by default)."""
    from caffe import approx_dropout
    try:
        approx_dropout.schedules_for_net(str(net), iterations, echo=None, seed=seed,
                                         min_period=min_period, max_period=max_period or None)
    except approx_dropout.ScheduleError as error:
        raise RuntimeError(f"{net}: {error}") from error


def run_settings(run: PlannedRun, args: argparse.Namespace) -> dict:
    """The RunResult fields that identify a run (--resume reuses a result only if they match)."""
    return {"config": args.config, "pattern": run.pattern, "ratio": run.ratio,
            "iterations": args.iterations, "test_interval": args.test_interval,
            "threads": args.threads, "scale": run_scale(run, args),
            "rotate_offset": run_rotates(run, args), **run_periods(run, args)}


def run_scale(run: PlannedRun, args: argparse.Namespace) -> str:
    """--scale for the approximate runs; "" for STANDARD (which does not scale by pattern)."""
    return args.scale if args.scale and run.pattern != "STANDARD" else ""


def run_rotates(run: PlannedRun, args: argparse.Namespace) -> bool:
    """--rotate-offset for the ROW runs (TILE's tiles have no per-token offset)."""
    return args.rotate_offset and run.pattern == "ROW"


def run_periods(run: PlannedRun, args: argparse.Namespace) -> dict:
    """--min-period / --max-period for the approximate runs (STANDARD has no schedule)."""
    if run.pattern == "STANDARD":
        return {"min_period": 1, "max_period": 0}
    return {"min_period": args.min_period, "max_period": args.max_period}


def run_folder(run: PlannedRun, args: argparse.Namespace) -> Path:
    """The run's folder: config and variant, then what --scale and the periods changed."""
    scale = run_scale(run, args)
    periods = run_periods(run, args)
    suffix = "_" + scale.lower() if scale else ""
    suffix += f"_min{periods['min_period']}" if periods["min_period"] != 1 else ""
    suffix += f"_max{periods['max_period']}" if periods["max_period"] else ""
    suffix += "_rot" if run_rotates(run, args) else ""
    return args.out_dir / f"{args.config}_{run.variant}{suffix}"


def train_and_test(run: PlannedRun, args: argparse.Namespace, data: PreparedData,
                   run_dir: Path) -> RunResult:
    from google.protobuf import text_format

    run_dir.mkdir(parents=True, exist_ok=True)
    config_dir = MODELS / args.config
    net, batch_sizes = rewrite_net(config_dir / f"{run.variant}_train_val.prototxt", data, run_dir,
                                   run_scale(run, args), run_rotates(run, args))
    net_path = run_dir / "train_val.prototxt"
    net_path.write_text(f"# Written by scripts/reproduce_ptb.py from {config_dir}/"
                        f"{run.variant}_train_val.prototxt with absolute paths\n"
                        + text_format.MessageToString(net))
    if run.pattern != "STANDARD":
        write_schedules(net_path, args.iterations, args.min_period, args.max_period)
    solver = run_dir / "solver.prototxt"
    solver.write_text(solver_text(config_dir / f"{run.variant}_solver.prototxt", net_path,
                                  run_dir, args.iterations,
                                  batches_covering(data, "valid", batch_sizes["valid"]),
                                  args.test_interval))

    caffe = str(args.caffe)
    threads = f"--threads={args.threads}"
    train_log = run_dir / "train.log"
    text = run_caffe([caffe, "train", f"--solver={solver}", threads], train_log, "train")
    try:
        training = parse_training_log(text, args.iterations)
    except RuntimeError as error:
        raise RuntimeError(f"{train_log}: {error}") from None
    plot_log.main([str(train_log), "--out", str(run_dir / "curves.png")])

    weights = run_dir / f"model_iter_{args.iterations}.caffemodel"
    test_log = run_dir / "test.log"
    text = run_caffe([caffe, "test", f"--model={net_path}", f"--weights={weights}",
                      f"--stage={TEST_SPLIT_STAGE}", threads,
                      f"--iterations={batches_covering(data, 'test', batch_sizes['test'])}"],
                     test_log, "test")
    try:
        test_perplexity, test_accuracy = parse_test_log(text)
    except RuntimeError as error:
        raise RuntimeError(f"{test_log}: {error}") from None
    return RunResult(**run_settings(run, args), valid_perplexity=training.curve[-1][2],
                     test_perplexity=test_perplexity, test_accuracy=test_accuracy,
                     train_seconds=training.train_seconds,
                     seconds_per_iteration=training.train_seconds / (args.iterations - 1),
                     curve=training.curve)


def load_result(path: Path) -> RunResult | None:
    try:
        fields = json.loads(path.read_text())
        fields["curve"] = [tuple(point) for point in fields["curve"]]
        return RunResult(**fields)
    except (OSError, ValueError, TypeError, KeyError):
        return None  # absent, partly written or from another version: run again


def plan(ratios: list[float], patterns: list[str], standard: bool = True) -> list[PlannedRun]:
    return [PlannedRun(pattern, ratio) for ratio in dict.fromkeys(ratios)
            for pattern in ["STANDARD"] * standard + list(dict.fromkeys(patterns))]


def attach_speedups(results: list[RunResult]) -> None:
    standard = {r.ratio: r.train_seconds for r in results if r.pattern == "STANDARD"}
    for result in results:
        base = standard.get(result.ratio)
        result.speedup = base / result.train_seconds if base else None


# ---------------------------------------------------------------------------------------------
# Reports.

def paper_value(table: dict[str, dict[float, float]], pattern: str, ratio: float) -> float | None:
    return table[pattern].get(round(ratio, 2))


def optional(value: float | None, form: str) -> str:
    return "–" if value is None else form.format(value)


def run_label(result: RunResult) -> str:
    """The dropout column: the pattern, the schedules' periods where they were set, and whether
    the offset rotated per token."""
    settings = []
    if result.min_period != 1 or result.max_period:
        settings.append(f"periods {result.min_period}..{result.max_period or 'default'}")
    if result.rotate_offset:
        settings.append("rotated offsets")
    return f"{result.pattern} ({', '.join(settings)})" if settings else result.pattern


def markdown_report(results: list[RunResult], data: PreparedData, args: argparse.Namespace
                    ) -> str:
    epochs = args.iterations / (data.rows["train"] / STEPS)
    lines = [f"PTB `{args.config}` LSTM ({MODELS.relative_to(REPO)}/{args.config}), "
             f"{args.iterations} iterations (~{epochs:.2f} epochs of T {STEPS} x N {data.streams} "
             f"tokens), CPU, {args.threads} BLAS thread(s); validation every "
             f"{args.test_interval} iterations.  Training time excludes validation passes and "
             "snapshots.", "",
             "| p | dropout | valid ppl | test ppl | test acc | train time (s) | s/iter | "
             "speed-up | paper acc | paper speed-up |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        paper_accuracy = paper_value(PAPER_ACCURACY, r.pattern, r.ratio)
        paper_speedup = paper_value(PAPER_SPEEDUP, r.pattern, r.ratio)
        lines.append(
            f"| {r.ratio:g} | {run_label(r)} | {r.valid_perplexity:.1f} | {r.test_perplexity:.1f} | "
            f"{100 * r.test_accuracy:.2f}% | {r.train_seconds:.1f} | "
            f"{r.seconds_per_iteration:.3f} | {optional(r.speedup, '{:.2f}x')} | "
            f"{optional(paper_accuracy, '{:.1f}%')} | {optional(paper_speedup, '{:.2f}x')} |")
    return "\n".join(lines + ["", PAPER_NOTE])


def plot(results: list[RunResult], out: Path, config: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    markers = {"STANDARD": "s", "ROW": "o", "TILE": "^"}
    colors = {"STANDARD": "tab:blue", "ROW": "tab:orange", "TILE": "tab:green"}
    fig, (curve_axis, speed_axis, accuracy_axis) = plt.subplots(1, 3, figsize=(17, 4.8))
    ratios = sorted({r.ratio for r in results})
    figure5 = min(ratios, key=lambda ratio: abs(ratio - FIGURE5_RATIO))
    for r in results:
        if r.ratio == figure5:
            _, seconds, perplexities = zip(*r.curve)
            curve_axis.plot(seconds, perplexities, marker=markers[r.pattern],
                            color=colors[r.pattern], label=r.pattern)
    curve_axis.set(xlabel="training time (s, validation excluded)", ylabel="validation perplexity",
                   yscale="log", title=f"PTB {config}: validation perplexity, p = {figure5:g}")

    standard_accuracy = {r.ratio: 100 * r.test_accuracy for r in results
                         if r.pattern == "STANDARD"}
    for pattern in ("ROW", "TILE"):
        ours = sorted((r.ratio, r.speedup, 100 * r.test_accuracy - standard_accuracy[r.ratio])
                      for r in results if r.pattern == pattern and r.speedup is not None)
        if ours:
            xs, speedups, accuracy_changes = zip(*ours)
            ours_style = {"marker": markers[pattern], "color": colors[pattern],
                          "label": f"{pattern} (ours)"}
            speed_axis.plot(xs, speedups, **ours_style)
            accuracy_axis.plot(xs, accuracy_changes, **ours_style)
        xs = sorted(PAPER_SPEEDUP[pattern])
        paper_style = {"marker": markers[pattern], "color": colors[pattern], "linestyle": "--",
                       "alpha": 0.5, "label": f"{pattern} (paper, 2x1500)"}
        speed_axis.plot(xs, [PAPER_SPEEDUP[pattern][x] for x in xs], **paper_style)
        accuracy_axis.plot(xs, [PAPER_ACCURACY[pattern][x] - PAPER_ACCURACY["STANDARD"][x]
                                for x in xs], **paper_style)
    speed_axis.axhline(1.0, color="gray", linewidth=0.8)
    accuracy_axis.axhline(0.0, color="gray", linewidth=0.8)
    speed_axis.set(xlabel="dropout rate p", ylabel="training speed-up vs standard dropout",
                   title="speed-up")
    accuracy_axis.set(xlabel="dropout rate p",
                      ylabel="test next-word accuracy - standard's (points)",
                      title="accuracy change vs standard dropout")
    for axis in (curve_axis, speed_axis, accuracy_axis):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# Command line.

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="reproduce_ptb.py", description=__doc__.splitlines()[0],
        epilog="Example: python3 scripts/reproduce_ptb.py --config small --iterations 2000 "
               "--threads 1 --resume")
    parser.add_argument("--config", choices=CONFIGS, default="small",
                        help="model size under models/ptb_lstm (default small: 2 x 200)")
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.3, 0.5, 0.7],
                        help="dropout rates (each needs committed variants; default 0.3 0.5 0.7)")
    parser.add_argument("--patterns", nargs="*", type=str.upper, choices=["ROW", "TILE"],
                        default=["ROW", "TILE"],
                        help="approximate patterns to run besides STANDARD (unless "
                             "--skip-standard); none: STANDARD only")
    parser.add_argument("--iterations", type=int, default=2000,
                        help="training iterations per run (1328 = one epoch; default 2000)")
    parser.add_argument("--test-interval", type=int,
                        help="validate every K iterations; K must divide --iterations "
                             "(default iterations/4 when that divides, else only at the end)")
    parser.add_argument("--data-dir", type=Path, default=SHARED_PTB,
                        help="folder with ptb.{train,valid,test}.txt (default %(default)s)")
    parser.add_argument("--prepared-dir", type=Path, default=REPO / "data" / "ptb",
                        help="prepare_ptb.py output, reused when complete (default %(default)s)")
    parser.add_argument("--build-dir", default=os.environ.get("CAFFE_BUILD_DIR", "build"),
                        help="build folder with tools/caffe (default $CAFFE_BUILD_DIR, else "
                             "build; pycaffe comes from PYTHONPATH)")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads of each caffe run (caffe --threads; default 1)")
    parser.add_argument("--out-dir", type=Path, default=REPO / "examples_out" / "reproduce_ptb",
                        help="run folders and reports (default %(default)s)")
    parser.add_argument("--json", type=Path, help="results (default OUT_DIR/ptb_results.json)")
    parser.add_argument("--markdown", type=Path, help="table (default OUT_DIR/ptb_table.md)")
    parser.add_argument("--png", type=Path, help="figure (default OUT_DIR/ptb_figure.png)")
    parser.add_argument("--scale", choices=["GLOBAL", "PERIOD"],
                        help="approx_dropout_param.scale of the approximate layers (default: the "
                             "models' own, else the layer default); run folders get a suffix")
    parser.add_argument("--min-period", type=int, default=1,
                        help="smallest period of the approximate runs' schedules (default 1; "
                             "generate_patterns.py --min-period); run folders get a suffix")
    parser.add_argument("--max-period", type=int, default=0,
                        help="largest period of their schedules (default 0: the generator's "
                             "default); run folders get a suffix")
    parser.add_argument("--rotate-offset", action="store_true",
                        help="ROW runs with approx_dropout_param { rotate_offset: true "
                             "row_layout: BLOCKS } (token r keeps block (b + r) mod dp of the "
                             "units); run folders get the suffix _rot")
    parser.add_argument("--skip-standard", action="store_true",
                        help="no standard-dropout runs (no speed-ups then)")
    parser.add_argument("--resume", action="store_true",
                        help="reuse runs whose result.json (same settings) already exists")
    args = parser.parse_args(argv)

    if args.iterations < 2:
        parser.error("--iterations must be at least 2")
    if args.min_period < 1 or args.max_period < 0:
        parser.error("--min-period must be at least 1 and --max-period at least 0")
    if args.skip_standard and not args.patterns:
        parser.error("--skip-standard with no --patterns leaves nothing to run")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.test_interval is None:
        args.test_interval = args.iterations // 4 if args.iterations % 4 == 0 else args.iterations
    if args.test_interval < 1 or args.iterations % args.test_interval != 0:
        parser.error(f"--test-interval {args.test_interval} must be positive and divide "
                     f"--iterations {args.iterations} (the solver validates the last iteration "
                     "only when it is a multiple of the interval)")
    for ratio in args.ratios:
        variant = PlannedRun("STANDARD", ratio).variant
        if not (MODELS / args.config / f"{variant}_train_val.prototxt").is_file():
            parser.error(f"--ratios {ratio:g}: models/ptb_lstm/{args.config} has no {variant} "
                         "variant (scripts/make_ptb_models.py writes p = 0.3, 0.5, 0.7)")
    build = Path(args.build_dir)
    args.build = build if build.is_absolute() else REPO / build
    args.caffe = args.build / "tools" / "caffe"
    # Absolute paths go into the nets and solvers, so the runs work from any directory.
    args.out_dir = args.out_dir.resolve()
    args.prepared_dir = args.prepared_dir.resolve()
    args.json = args.json or args.out_dir / "ptb_results.json"
    args.markdown = args.markdown or args.out_dir / "ptb_table.md"
    args.png = args.png or args.out_dir / "ptb_figure.png"
    return args


def run_all(args: argparse.Namespace) -> int:
    if not args.caffe.is_file():
        raise RuntimeError(f"{args.caffe} not found: build the project or give --build-dir")
    bench_common.import_caffe()
    data = prepare_data(args.data_dir, args.prepared_dir)
    print(f"data {data.folder}: vocabulary {data.vocabulary}, {data.streams} streams, rows "
          + ", ".join(f"{split} {data.rows[split]}" for split in SPLITS))
    runs = plan(args.ratios, args.patterns, not args.skip_standard)
    print(f"{len(runs)} runs of {args.iterations} iterations ({args.config} config, "
          f"{args.threads} thread(s)) in {args.out_dir}")
    results = []
    for index, run in enumerate(runs, 1):
        run_dir = run_folder(run, args)
        result_path = run_dir / "result.json"
        prefix = f"[{index}/{len(runs)}] {run.pattern} p={run.ratio:g}"
        result = load_result(result_path) if args.resume else None
        if result is not None and all(getattr(result, name) == value
                                      for name, value in run_settings(run, args).items()):
            print(f"{prefix}: reusing {result_path}")
        else:
            if result is not None:
                print(f"{prefix}: {result_path} has other settings; running again")
            print(f"{prefix}: training {args.iterations} iterations, log {run_dir}/train.log",
                  flush=True)
            started = time.monotonic()
            result = train_and_test(run, args, data, run_dir)
            result_path.write_text(json.dumps(asdict(result), indent=2) + "\n")
            print(f"{prefix}: done in {time.monotonic() - started:.0f} s: valid ppl "
                  f"{result.valid_perplexity:.1f}, test ppl {result.test_perplexity:.1f}, test "
                  f"acc {100 * result.test_accuracy:.2f}%, {result.seconds_per_iteration:.3f} "
                  "s/iter", flush=True)
        results.append(result)
    attach_speedups(results)

    report = markdown_report(results, data, args)
    print("\n" + report + "\n")
    for path in (args.json, args.markdown, args.png):
        path.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text(report + "\n")
    args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    plot(results, args.png, args.config)
    print(f"wrote {args.markdown}, {args.json}, {args.png}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run_all(args)
    except RuntimeError as error:
        print(f"reproduce_ptb: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
