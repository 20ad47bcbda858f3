#!/usr/bin/env python3
"""Why ROW approximate dropout trains PTB LSTMs worse than Bernoulli dropout (issue 14, item 5).

Trains the small PTB LSTM (models/ptb_lstm/small) for a few hundred iterations under settings
that separate the candidate causes, and reports each run's validation perplexity curve:

* the learning rate (ROW with base_lr / 4);
* the spread of the period dp between iterations (ROW with its periods in the band
  [floor(1/(1-p)), ceil(1/(1-p))] instead of Algorithm 1's 1..ceil(2/(1-p)));
* the same units dropped for every token of an iteration (a Python dropout layer,
  lib/shared_mask_dropout.py, in the places of the standard net's Dropout layers: one Bernoulli
  mask per iteration, or ROW patterns whose offset varies per token, time step or stream), and
  the C++ layers' cure for it, approx_dropout_param.rotate_offset.

The standard and ROW runs use the committed nets (the C++ layers); the masked variants run through
pycaffe.  Every run: lr and clipping from the committed solver, solver seed 1, 1 BLAS thread.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import plot_ptb_runs
import reproduce_ptb
from lib import bench_common

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Study:
    name: str
    what: str
    variant: str                 # "standard" or "row": the committed net it starts from
    mask_mode: str = ""          # lib.shared_mask_dropout mode replacing the Dropout layers
    period_band: bool = False    # ROW schedules over [floor(1/(1-p)), ceil(1/(1-p))]
    lr_factor: float = 1.0
    rotate_offset: bool = False  # the C++ ROW layers with rotate_offset and row_layout BLOCKS
    lstm_only: bool = False      # ... the LSTMApproxDropout layers only (not the decoder)


STUDIES = [
    Study("standard", "Dropout (C++), a fresh mask per token", "standard"),
    Study("bernoulli_token", "Python layer, a fresh mask per token (checks the layer)",
          "standard", mask_mode="bernoulli_token"),
    Study("row", "ROW (C++), the default schedule", "row"),
    Study("row_lr_quarter", "ROW (C++), base_lr / 4", "row", lr_factor=0.25),
    Study("row_band", "ROW (C++), periods in the band around 1/(1-p)", "row", period_band=True),
    Study("bernoulli_shared", "one Bernoulli mask per iteration for all tokens", "standard",
          mask_mode="bernoulli_shared"),
    Study("row_shared", "ROW as a mask: one pattern per iteration for all tokens", "standard",
          mask_mode="row_shared"),
    Study("row_stream", "ROW periods, an offset per stream", "standard", mask_mode="row_stream"),
    Study("row_step", "ROW periods, an offset per time step", "standard", mask_mode="row_step"),
    Study("row_token", "ROW periods, an offset per token", "standard", mask_mode="row_token"),
    Study("row_rotate", "ROW periods, the offset advancing by one per token", "standard",
          mask_mode="row_rotate"),
    Study("row_rotate_band", "ROW in the band, the offset advancing by one per token",
          "standard", mask_mode="row_rotate", period_band=True),
    Study("row_band_rotate", "ROW (C++) in the band with rotate_offset (blocks of units)", "row",
          period_band=True, rotate_offset=True),
    Study("row_band_rotate_lstm", "ROW (C++) in the band, rotate_offset in the LSTMs only",
          "row", period_band=True, rotate_offset=True, lstm_only=True),
]
BY_NAME = {study.name: study for study in STUDIES}


@dataclass
class StudyResult:
    name: str
    what: str
    ratio: float
    iterations: int
    periods: str                  # the schedules' period range ("" for Bernoulli masks)
    seed: int                     # the solver's random_seed (weights, Dropout masks)
    valid_perplexity: float       # after the last iteration
    train_seconds: float
    curve: list[tuple[int, float, float]] = field(default_factory=list)


def describe_periods(study: Study, ratio: float) -> str:
    """The range of periods a run's ROW patterns use ("" for Bernoulli masks)."""
    if study.variant != "row" and not study.mask_mode.startswith("row"):
        return ""
    from caffe import approx_dropout
    low, high = approx_dropout.period_band(ratio) if study.period_band else (
        1, approx_dropout.default_max_period(ratio))
    return f"{low}..{high}"


# ---------------------------------------------------------------------------------------------
# One run (in a subprocess, so each gets a fresh process and its own glog output).

def run_folder(out_dir: Path, study: Study, ratio: float, seed: int) -> Path:
    suffix = f"_seed{seed}" if seed != 1 else ""
    return out_dir / f"{study.name}_p{round(ratio * 100)}{suffix}"


def build_run(study: Study, ratio: float, iterations: int, interval: int, run_dir: Path,
              data_dir: Path, prepared_dir: Path, seed: int) -> Path:
    """Writes the run's net, schedules and solver; returns the solver path."""
    from caffe.proto import caffe_pb2
    from google.protobuf import text_format

    data = reproduce_ptb.prepare_data(data_dir, prepared_dir)
    variant = f"{study.variant}_p{round(ratio * 100)}"
    config_dir = reproduce_ptb.MODELS / "small"
    net, batch_sizes = reproduce_ptb.rewrite_net(config_dir / f"{variant}_train_val.prototxt",
                                                 data, run_dir,
                                                 rotate_offset=study.rotate_offset)
    for layer in net.layer:
        if study.lstm_only and layer.type != "LSTMApproxDropout":
            layer.approx_dropout_param.ClearField("rotate_offset")
            layer.approx_dropout_param.ClearField("row_layout")
    from caffe import approx_dropout
    band = " %d %d" % approx_dropout.period_band(ratio) if study.period_band else ""
    for index, layer in enumerate(net.layer):
        if study.mask_mode and layer.type == "Dropout":
            layer_ratio = layer.dropout_param.dropout_ratio
            layer.ClearField("dropout_param")
            layer.type = "Python"
            layer.python_param.module = "lib.shared_mask_dropout"
            layer.python_param.layer = "SharedMaskDropout"
            layer.python_param.param_str = (f"{layer_ratio} {study.mask_mode} "
                                            f"{index + 1 + 1000 * (seed - 1)}{band}")
    net_path = run_dir / "train_val.prototxt"
    net_path.write_text(text_format.MessageToString(net))
    if study.variant == "row":  # schedule seed: the generator's default 0 for solver seed 1
        low, high = approx_dropout.period_band(ratio) if study.period_band else (1, 0)
        reproduce_ptb.write_schedules(net_path, iterations, low, high, seed=seed - 1)
    solver_path = run_dir / "solver.prototxt"
    text = reproduce_ptb.solver_text(
        config_dir / f"{variant}_solver.prototxt", net_path, run_dir, iterations,
        reproduce_ptb.batches_covering(data, "valid", batch_sizes["valid"]), interval)
    solver = text_format.Merge(text, caffe_pb2.SolverParameter())
    solver.base_lr *= study.lr_factor
    solver.random_seed = seed
    solver.snapshot_after_train = False
    solver_path.write_text(text_format.MessageToString(solver))
    return solver_path


def worker(args: argparse.Namespace) -> int:
    """--worker: build and train one run in this process (its glog output is the log)."""
    import caffe
    study, ratio = BY_NAME[args.worker], args.ratios[0]
    run_dir = run_folder(args.out_dir, study, ratio, args.seed)
    solver_path = build_run(study, ratio, args.iterations, args.interval, run_dir,
                            args.data_dir, args.prepared_dir, args.seed)
    caffe.set_mode_cpu()
    caffe.set_blas_threads(1)
    caffe.get_solver(str(solver_path)).solve()
    return 0


def run_study(study: Study, ratio: float, args: argparse.Namespace) -> StudyResult:
    run_dir = run_folder(args.out_dir, study, ratio, args.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "train.log"
    # INFO lines on: the validation curve and the training time come from the log.
    env = dict(bench_common.caffe_tool_env(), GLOG_logtostderr="1")
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", study.name,
               "--ratios", str(ratio), "--iterations", str(args.iterations),
               "--interval", str(args.interval), "--out-dir", str(args.out_dir),
               "--seed", str(args.seed),
               "--data-dir", str(args.data_dir), "--prepared-dir", str(args.prepared_dir)]
    with open(log, "w") as stream:
        status = subprocess.run(command, stdout=stream, stderr=stream, env=env).returncode
    text = log.read_text(errors="replace")
    if status != 0:
        lines = text.strip().splitlines()
        raise RuntimeError(f"study {study.name} p={ratio:g} failed (exit {status}): "
                           f"{lines[-1] if lines else 'no output'}; see {log}")
    training = reproduce_ptb.parse_training_log(text, args.iterations)
    return StudyResult(study.name, study.what, ratio, args.iterations,
                       describe_periods(study, ratio), args.seed, training.curve[-1][2],
                       training.train_seconds, training.curve)


# ---------------------------------------------------------------------------------------------
# Reports.

def markdown(results: list[StudyResult]) -> str:
    points = sorted({point[0] for r in results for point in r.curve})
    lines = ["| p | run | periods | " + " | ".join(f"ppl @ {p}" for p in points) + " |",
             "|---:|---|---|" + "---:|" * len(points)]
    for r in results:
        by_iteration = {point[0]: point[2] for point in r.curve}
        cells = " | ".join(f"{by_iteration[p]:.0f}" if p in by_iteration else "–" for p in points)
        lines.append(f"| {r.ratio:g} | {r.name}: {r.what} | {r.periods or '–'} | {cells} |")
    return "\n".join(lines)


def plot(results: list[StudyResult], out: Path) -> None:
    plot_ptb_runs.plot_curves([(r.ratio, r.name, r.curve) for r in results], out,
                              "PTB small: which mask sharing hurts")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="study_ptb_masks.py", description=__doc__.splitlines()[0],
        epilog="Example: python3 scripts/study_ptb_masks.py --ratios 0.7 --iterations 1000")
    parser.add_argument("--studies", nargs="+", choices=list(BY_NAME), default=list(BY_NAME),
                        help="runs to make (default all): " + "; ".join(
                            f"{s.name}: {s.what}" for s in STUDIES))
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.7],
                        help="dropout rates with committed small variants (default 0.7)")
    parser.add_argument("--iterations", type=int, default=1000,
                        help="training iterations per run (default 1000, 0.75 epochs)")
    parser.add_argument("--interval", type=int, default=250,
                        help="validate every K iterations; must divide --iterations (default 250)")
    parser.add_argument("--seed", type=int, default=1,
                        help="solver random_seed: weights and masks (default 1, as "
                             "reproduce_ptb.py); run folders of other seeds get a suffix")
    parser.add_argument("--data-dir", type=Path, default=reproduce_ptb.SHARED_PTB,
                        help="folder with ptb.{train,valid,test}.txt (default %(default)s)")
    parser.add_argument("--prepared-dir", type=Path, default=REPO / "data" / "ptb",
                        help="prepare_ptb.py output, reused when complete (default %(default)s)")
    parser.add_argument("--out-dir", type=Path, default=REPO / "examples_out" / "ptb_mask_study",
                        help="run folders (default %(default)s)")
    parser.add_argument("--json", type=Path, help="results (default OUT_DIR/study.json)")
    parser.add_argument("--png", type=Path, help="curves (default OUT_DIR/study.png)")
    parser.add_argument("--worker", choices=list(BY_NAME), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seed < 1:
        parser.error(f"--seed must be at least 1, got {args.seed}")
    if args.iterations < 2 or args.interval < 1 or args.iterations % args.interval:
        parser.error(f"--interval {args.interval} must be positive and divide --iterations "
                     f"{args.iterations} (at least 2)")
    for ratio in args.ratios:
        if not (reproduce_ptb.MODELS / "small" / f"row_p{round(ratio * 100)}_solver.prototxt"
                ).is_file():
            parser.error(f"--ratios {ratio:g}: models/ptb_lstm/small has no p{round(ratio * 100)} "
                         "variants (scripts/make_ptb_models.py writes p = 0.3, 0.5, 0.7)")
    args.out_dir = args.out_dir.resolve()
    args.data_dir = args.data_dir.resolve()
    args.prepared_dir = args.prepared_dir.resolve()
    args.json = args.json or args.out_dir / "study.json"
    args.png = args.png or args.out_dir / "study.png"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench_common.import_caffe()
    if args.worker:
        return worker(args)
    from tqdm import tqdm

    plan = [(BY_NAME[name], ratio) for ratio in args.ratios for name in args.studies]
    results = []
    try:
        for study, ratio in tqdm(plan, desc="study runs", unit="run"):
            results.append(run_study(study, ratio, args))
            tqdm.write(f"{study.name} p={ratio:g}: valid ppl "
                       + " ".join(f"{p[2]:.0f}" for p in results[-1].curve))
    except RuntimeError as error:
        print(f"study_ptb_masks: error: {error}", file=sys.stderr)
        return 1
    report = markdown(results)
    print("\n" + report)
    for path in (args.json, args.png):
        path.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    plot(results, args.png)
    print(f"wrote {args.json}, {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
