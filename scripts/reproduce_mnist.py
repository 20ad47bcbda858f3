#!/usr/bin/env python3
"""Reproduce the MNIST MLP experiments of Approximate Random Dropout (arXiv 1805.08939).

(a) H = 2048, dropout (p, p) for each ratio p: standard dropout vs ROW vs TILE approximate
    dropout — test accuracy and training-time speed-up over standard dropout.
(b) p in {0.5, 0.7} for the networks 1024x64, 1024x1024, 2048x2048, 4096x4096.

Every run is a real `caffe train` (the CLI a Caffe user runs) on the MNIST LMDBs, with the
papers' solver (batch 128, lr 0.01, momentum 0.9); approximate-dropout schedules come from
`python -m caffe.approx_dropout --net`.  --scale, --max-period and --tile-order take several
values and run every combination for each approximate pattern (tile orders for TILE only), beside
one standard-dropout run per network and ratio; --seeds repeats all of it per solver seed.
Training time is read from the log timestamps between iteration 0 and the final test (tests run
only at the end, so they cost no training time).
Writes a Markdown table, a JSON file and a PNG of speed-up and accuracy against the ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from lib import bench_common, mlp_nets, plot_log

REPO = bench_common.REPO
PAPER_NOTE = ("Paper (Table 1 of arXiv 1805.08939v1, GPU): accuracy 97.5-98.1% with approximate "
              "dropout vs 98.2-98.5% with standard dropout; training speed-up 1.12-2.16x.")
ACCURACY = re.compile(r"Test net output #\d+: accuracy = ([0-9.eE+-]+)")
DIVERGED = re.compile(r"loss is NaN at iteration (\d+)")


@dataclass
class RunResult:
    experiment: str
    hidden: list[int]
    pattern: str          # STANDARD, ROW or TILE
    ratio: float
    iterations: int
    accuracy: Optional[float]       # None when training diverged
    train_seconds: Optional[float]  # None when training diverged
    speedup: float = 1.0  # vs the standard-dropout run of the same net and ratio
    scale: str = ""       # approx_dropout_param.scale; "" for STANDARD or the layer default
    max_period: int = 0   # the generator's --max-period; 0: its default
    tile_order: str = ""  # TILE's approx_dropout_param.tile_order; "": the default
    row_layout: str = ""  # ROW's approx_dropout_param.row_layout; "": the default
    diverged_at: int = 0  # the iteration whose loss was NaN (caffe stops there), 0 if none
    seed: int = 1         # the solver's random_seed (weight initialization)


@dataclass(frozen=True)
class Variant:
    """The approximate-dropout settings of one run (None: the layer's or generator's default)."""
    scale: Optional[str] = None
    max_period: Optional[int] = None
    tile_order: Optional[str] = None
    row_layout: Optional[str] = None

    def suffix(self) -> str:
        parts = [self.scale.lower() if self.scale else "",
                 f"n{self.max_period}" if self.max_period else "",
                 self.tile_order.lower() if self.tile_order else "",
                 self.row_layout.lower() if self.row_layout else ""]
        return "".join(f"_{part}" for part in parts if part)


def parse_training_log(text: str, iterations: int) -> tuple[float, float]:
    """(final test accuracy, seconds from iteration 0 to the final test)."""
    start = end = None
    accuracy = None
    for line in text.splitlines():
        if start is None and "Iteration 0, loss" in line:
            start = plot_log.log_time(line)
        if f"Iteration {iterations}, Testing net (#0)" in line:
            end = plot_log.log_time(line)
        if match := ACCURACY.search(line):
            accuracy = float(match.group(1))
    if start is None or end is None or accuracy is None:
        raise RuntimeError("training log lacks the iteration-0 line, the final test or the "
                           "accuracy output")
    return accuracy, (end - start).total_seconds()


def train(run_dir: Path, hidden: list[int], pattern: str, ratio: float, iterations: int,
          lmdb_dir: Path, caffe_bin: Path, threads: int, variant: Variant = Variant(),
          seed: int = 1) -> tuple[Optional[float], Optional[float], int]:
    """(accuracy, training seconds, 0) or, when the loss became NaN, (None, None, iteration)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    kind = {"STANDARD": "standard", "ROW": "row", "TILE": "tile"}[pattern]
    layers = [mlp_nets.HiddenLayer(kind, ratio, str(run_dir / f"ip{i}.schedule"), variant.scale,
                                   variant.tile_order, variant.row_layout)
              for i in range(1, len(hidden) + 1)]
    net = run_dir / "train_val.prototxt"
    net.write_text(mlp_nets.lmdb_mlp(hidden, layers, str(lmdb_dir / "train_lmdb"),
                                     str(lmdb_dir / "test_lmdb")))
    if pattern != "STANDARD":
        from caffe import approx_dropout
        approx_dropout.schedules_for_net(str(net), iterations, echo=None,
                                         max_period=variant.max_period)
    solver = run_dir / "solver.prototxt"
    solver.write_text(f'net: "{net}"\ntest_iter: 100\ntest_interval: {iterations}\n'
                      f'test_initialization: false\nbase_lr: 0.01\nmomentum: 0.9\n'
                      f'weight_decay: 0.0005\nlr_policy: "inv"\ngamma: 0.0001\npower: 0.75\n'
                      f'display: 100\nmax_iter: {iterations}\nsnapshot_after_train: false\n'
                      f'solver_mode: CPU\nrandom_seed: {seed}\n')
    log = run_dir / "train.log"
    with open(log, "w") as stream:
        status = subprocess.run([str(caffe_bin / "caffe"), "train", f"--solver={solver}",
                                 f"--threads={threads}"], stderr=stream, stdout=stream,
                                env=bench_common.caffe_tool_env()).returncode
    if status != 0:
        if diverged := DIVERGED.search(log.read_text()):
            return None, None, int(diverged.group(1))
        raise RuntimeError(f"caffe train failed (exit {status}); see {log}")
    plot_log.main([str(log), "--out", str(run_dir / "curves.png")])
    return *parse_training_log(log.read_text(), iterations), 0


def variants(pattern: str, scales: list[Optional[str]], max_periods: list[Optional[int]],
             tile_orders: list[Optional[str]],
             row_layouts: list[Optional[str]] = [None]) -> list[Variant]:
    """Every combination for an approximate pattern (tile orders for TILE only, row layouts for
    ROW only)."""
    orders = tile_orders if pattern == "TILE" else [None]
    layouts = row_layouts if pattern == "ROW" else [None]
    return [Variant(scale, n, order, layout) for scale in scales for n in max_periods
            for order in orders for layout in layouts]


NETWORKS_B = ([1024, 64], [1024, 1024], [2048, 2048], [4096, 4096])


def plan(experiments: str, ratios: list[float], patterns: list[str],
         scales: list[Optional[str]] = [None], max_periods: list[Optional[int]] = [None],
         tile_orders: list[Optional[str]] = [None], standard: bool = True,
         networks: list[list[int]] = list(NETWORKS_B), seeds: list[int] = [1],
         row_layouts: list[Optional[str]] = [None]
         ) -> list[tuple[str, list[int], str, float, Variant, int]]:
    nets = []
    if experiments in ("a", "both"):
        nets += [("a", [2048, 2048], ratio) for ratio in ratios]
    if experiments in ("b", "both"):
        nets += [("b", hidden, ratio)
                 for hidden in networks
                 for ratio in (0.5, 0.7)]
    runs = []
    for experiment, hidden, ratio in nets:
        for seed in seeds:
            if standard:
                runs.append((experiment, hidden, "STANDARD", ratio, Variant(), seed))
            for pattern in patterns:
                runs += [(experiment, hidden, pattern, ratio, variant, seed)
                         for variant in variants(pattern, scales, max_periods, tile_orders,
                                                 row_layouts)]
    return runs


def attach_speedups(results: list[RunResult]) -> None:
    standard = {(r.experiment, tuple(r.hidden), r.ratio, r.seed): r.train_seconds
                for r in results if r.pattern == "STANDARD"}
    for result in results:
        base = standard.get((result.experiment, tuple(result.hidden), result.ratio, result.seed))
        result.speedup = (base / result.train_seconds if base and result.train_seconds
                          else float("nan"))


def markdown_table(results: list[RunResult]) -> str:
    lines = ["| exp | network | p | dropout | scale | N | tile order / row layout | seed | "
             "test accuracy | "
             "train time (s) | speed-up |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        network = "784-" + "-".join(map(str, r.hidden)) + "-10"
        outcome = (f"{100 * r.accuracy:.2f}% | {r.train_seconds:.1f} | {r.speedup:.2f}x"
                   if r.accuracy is not None else f"diverged (NaN loss at {r.diverged_at}) | - | -")
        lines.append(f"| {r.experiment} | {network} | {r.ratio:.1f} | {r.pattern} | "
                     f"{r.scale or '-'} | {r.max_period or '-'} | "
                     f"{r.tile_order or r.row_layout or '-'} | "
                     f"{r.seed} | {outcome} |")
    return "\n".join(lines)


def plot(results: list[RunResult], out_dir: Path) -> list[Path]:
    """speedup_accuracy.png for experiment (a), networks.png for (b); returns what it wrote."""
    import matplotlib
    matplotlib.use("Agg")
    results = [r for r in results if r.accuracy is not None]  # diverged runs have no point
    written = []
    if any(r.experiment == "a" for r in results):
        written.append(plot_rates([r for r in results if r.experiment == "a"],
                                  out_dir / "speedup_accuracy.png"))
    if any(r.experiment == "b" for r in results):
        written.append(plot_networks([r for r in results if r.experiment == "b"],
                                     out_dir / "networks.png"))
    return written


def plot_rates(rows: list[RunResult], out: Path) -> Path:
    """Experiment (a): speed-up and accuracy against the dropout rate."""
    import matplotlib.pyplot as plt

    fig, (speed_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 4.5))
    markers = {"STANDARD": "s", "ROW": "o", "TILE": "^"}
    for label in sorted({series_label(r) for r in rows}, key=series_order):
        points = sorted((r.ratio, r.speedup, 100 * r.accuracy) for r in rows
                        if series_label(r) == label)
        ratios, speedups, accuracies = zip(*points)
        marker = markers[label.split()[0]]
        speed_axis.plot(ratios, speedups, marker=marker, label=label)
        accuracy_axis.plot(ratios, accuracies, marker=marker, label=label)
    speed_axis.set(xlabel="dropout rate p", ylabel="training speed-up vs standard dropout",
                   title="MLP 784-2048-2048-10: speed-up")
    accuracy_axis.set(xlabel="dropout rate p", ylabel="test accuracy (%)",
                      title="MLP 784-2048-2048-10: accuracy")
    return finish(fig, (speed_axis, accuracy_axis), out)


def series_label(result: RunResult) -> str:
    """The pattern, with the run's scale, N, tile order, row layout and seed where set."""
    parts = [result.pattern, result.scale, f"N={result.max_period}" if result.max_period else "",
             result.tile_order, result.row_layout,
             f"seed {result.seed}" if result.seed != 1 else ""]
    return " ".join(part for part in parts if part)


def series_order(label: str) -> tuple[int, str]:
    return ({"STANDARD": 0, "ROW": 1, "TILE": 2}[label.split()[0]], label)


def plot_networks(rows: list[RunResult], out: Path) -> Path:
    """Experiment (b): speed-up and accuracy per network, one bar per (dropout, p)."""
    import matplotlib.pyplot as plt

    networks = sorted({tuple(r.hidden) for r in rows}, key=lambda h: h[0] * h[1])
    series = sorted({(series_label(r), r.ratio) for r in rows},
                    key=lambda s: (series_order(s[0]), s[1]))
    width = 0.8 / len(series)
    fig, (speed_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(13, 4.5))
    for index, (name, ratio) in enumerate(series):
        by_network = {tuple(r.hidden): r for r in rows if (series_label(r), r.ratio) == (name, ratio)}
        xs = [n + (index - (len(series) - 1) / 2) * width for n in range(len(networks))]
        label = f"{name} p={ratio}"
        speed_axis.bar(xs, [by_network[h].speedup if h in by_network else 0 for h in networks],
                       width, label=label)
        accuracy_axis.bar(xs, [100 * by_network[h].accuracy if h in by_network else 0
                               for h in networks], width, label=label)
    labels = ["x".join(map(str, h)) for h in networks]
    speed_axis.set(ylabel="training speed-up vs standard dropout", title="speed-up per network")
    accuracy_axis.set(ylabel="test accuracy (%)", title="accuracy per network",
                      ylim=(min(100 * r.accuracy for r in rows) - 1, 100))
    for axis in (speed_axis, accuracy_axis):
        axis.set_xticks(range(len(networks)), labels)
    fig.legend(*speed_axis.get_legend_handles_labels(), loc="lower center", ncol=len(series),
               fontsize="small")
    return finish(fig, (speed_axis, accuracy_axis), out, legend=False)


def finish(fig, axes, out: Path, legend: bool = True) -> Path:
    import matplotlib.pyplot as plt

    for axis in axes:
        axis.grid(alpha=0.3)
        if legend:
            axis.legend(fontsize="small")
    fig.tight_layout(rect=(0, 0 if legend else 0.07, 1, 1))
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def find_lmdbs(args: argparse.Namespace) -> Path:
    """Runs scripts/get_mnist.py (MNIST when found, else Fashion-MNIST) and returns the folder."""
    command = [sys.executable, str(REPO / "scripts" / "get_mnist.py"),
               "--caffe-bin", str(args.caffe_bin)]
    command += ["--auto"] if args.dataset == "auto" else ["--dataset", args.dataset]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    output = subprocess.run(command, capture_output=True, text=True)
    sys.stdout.write(output.stdout)
    if output.returncode != 0:
        sys.stderr.write(output.stderr)
        raise SystemExit(1)
    match = re.search(r"(?:LMDBs in|already converted in) (\S+)", output.stdout)
    if not match:
        raise SystemExit("reproduce_mnist: get_mnist.py did not say where the LMDBs are")
    return Path(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", choices=["a", "b", "both"], default="a")
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6, 0.7],
                        help="dropout rates for experiment (a)")
    parser.add_argument("--patterns", nargs="+", choices=["ROW", "TILE"], default=["ROW", "TILE"])
    parser.add_argument("--scale", nargs="+", choices=["GLOBAL", "PERIOD"], default=[None],
                        help="approx_dropout_param.scale of the approximate runs (default: the "
                             "layer's default); several values run each")
    parser.add_argument("--max-period", nargs="+", type=int, default=[None],
                        help="the generator's --max-period N (0 or default: its default); "
                             "several values run each")
    parser.add_argument("--tile-order", nargs="+", choices=["STAGGERED", "ROW_MAJOR"],
                        default=[None], help="TILE's approx_dropout_param.tile_order (default: "
                                             "the layer's default); several values run each")
    parser.add_argument("--row-layout", nargs="+", choices=["STRIDED", "BLOCKS"],
                        default=[None], help="ROW's approx_dropout_param.row_layout (default: "
                                             "the layer's default); several values run each")
    parser.add_argument("--networks", nargs="+", choices=["x".join(map(str, h)) for h in NETWORKS_B],
                        help="experiment (b)'s networks to run (default all four)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1],
                        help="the solver's random_seed (weight initialization; default 1); "
                             "several values run each")
    parser.add_argument("--skip-standard", action="store_true",
                        help="no standard-dropout runs (speed-ups are then NaN)")
    parser.add_argument("--iterations", type=int, default=3000,
                        help="training iterations per run (469 = one epoch at batch 128)")
    parser.add_argument("--dataset", choices=["auto", "mnist", "fashion"], default="auto")
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files")
    parser.add_argument("--build-dir", default=os.environ.get("CAFFE_BUILD_DIR", "build"))
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out-dir", type=Path, default=REPO / "examples_out" / "reproduce_mnist")
    args = parser.parse_args(argv)

    build = Path(args.build_dir) if Path(args.build_dir).is_absolute() else REPO / args.build_dir
    args.caffe_bin = build / "tools"
    bench_common.import_caffe()
    from tqdm import tqdm

    lmdb_dir = find_lmdbs(args)
    networks = ([[int(n) for n in name.split("x")] for name in args.networks] if args.networks
                else list(NETWORKS_B))
    max_periods = [n or None for n in args.max_period]  # 0: the generator's default
    runs = plan(args.experiment, args.ratios, args.patterns, args.scale, max_periods,
                args.tile_order, not args.skip_standard, networks, args.seeds, args.row_layout)
    print(f"{len(runs)} training runs of {args.iterations} iterations, {args.threads} threads")
    results = []
    for experiment, hidden, pattern, ratio, variant, seed in tqdm(runs, unit="run"):
        name = (f"{experiment}_{'x'.join(map(str, hidden))}_{pattern.lower()}_p{ratio}"
                f"{variant.suffix()}" + (f"_s{seed}" if seed != 1 else ""))
        accuracy, seconds, diverged_at = train(args.out_dir / name, hidden, pattern, ratio,
                                               args.iterations, lmdb_dir, args.caffe_bin,
                                               args.threads, variant, seed)
        results.append(RunResult(experiment, hidden, pattern, ratio, args.iterations, accuracy,
                                 seconds, scale=variant.scale or "",
                                 max_period=variant.max_period or 0,
                                 tile_order=variant.tile_order or "",
                                 row_layout=variant.row_layout or "", diverged_at=diverged_at,
                                 seed=seed))
        print(f"{name}: " + (f"accuracy {accuracy:.4f}, {seconds:.1f} s" if accuracy is not None
                             else f"diverged at iteration {diverged_at}"), flush=True)
        args.out_dir.mkdir(parents=True, exist_ok=True)  # what has finished, if stopped early
        (args.out_dir / "results.partial.json").write_text(
            json.dumps([asdict(r) for r in results], indent=2))
    attach_speedups(results)
    table = markdown_table(results)
    print("\n" + table + "\n\n" + PAPER_NOTE)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "results.md").write_text(table + "\n\n" + PAPER_NOTE + "\n")
    (args.out_dir / "results.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    figures = plot(results, args.out_dir)
    print(f"wrote {args.out_dir}/results.md, results.json, "
          + ", ".join(figure.name for figure in figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
