#!/usr/bin/env python3
"""Reproduce Table 1 of Ye et al., "Accelerating CNN Training by Sparsifying Activation
Gradients", on CIFAR-10: AlexNet, ResNet-18 and MobileNet (models/cifar10_*), each trained as the
baseline and with GradSparsify layers at the percentiles p = 0.85, 0.9, 0.95, 0.995.

Every run is a real `caffe train` (the CLI a Caffe user runs) of the model's solver
(models/cifar10_<net>/solver.prototxt: SGD, momentum 0.9, weight decay 5e-4, seed 1) for the
run's iteration budget, testing only after the last iteration; the sparsified nets come from
the placement tool (caffe.grad_sparsify: before each convolution of a Conv-ReLU net but the
first, between convolution and BatchNorm in Conv-BN nets).  Data: the LMDBs and mean image of
scripts/get_cifar10.py (which reads --data-dir, else ../shared/data/cifar10).

Reported per run:
  accuracy  the test accuracy after the last iteration (--test-iter batches of the test set);
  density   rho_nnz: the mean, over the training display points (every --display iterations),
            of the element-weighted mean density of non-zeros across the net's GradSparsify
            layers (the "Gradient density mean = X" line caffe train logs at each display, whose
            weights are the element counts of the layers' bottoms); null for the baseline;
  epochs    iterations x batch size / training images;
  seconds   wall-clock seconds of the whole `caffe train` process (setup and the final test
            included);
  cpu_seconds  its user + system CPU seconds (on a shared machine the wall clock also counts
            the waits for a core).
A run folder keeps finished.json (its solver and times): --resume reads finished runs back.
Writes a Markdown table in the paper's layout to stdout, the rows as JSON (--json) and one PNG
per net of training loss against iteration, one curve per p (the paper's Fig. 3).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from lib import bench_common, plot_log

REPO = bench_common.REPO
NETS = ("alexnet", "resnet18", "mobilenet")
PERCENTILES = (0.85, 0.9, 0.95, 0.995)
TRAIN_IMAGES = 50000
DENSITY_MEAN = re.compile(r"Gradient density mean = ([-+0-9.eE]+|nan|inf)")
ACCURACY = re.compile(r"Test net output #\d+: accuracy = ([-+0-9.eE]+|nan)")
PAPER_NOTE = ("Paper: Table 1 of Ye et al. lists these cells for full training (300 epochs, "
              "GPU); runs with a budget of a fraction of an epoch show trends, not those values.")


@dataclass
class RunResult:
    net: str
    p: Optional[float]        # None: the baseline
    accuracy: float
    density: Optional[float]  # rho_nnz; None for the baseline
    epochs: float
    seconds: float
    iterations: int
    loss_curve: list[tuple[int, float]] = field(default_factory=list)
    cpu_seconds: Optional[float] = None  # the caffe process's user + system time

    def row(self) -> dict[str, object]:
        """The JSON row: {"net", "p", "accuracy", "density", "epochs", "seconds",
        "cpu_seconds"}."""
        return {key: value for key, value in asdict(self).items()
                if key in ("net", "p", "accuracy", "density", "epochs", "seconds",
                           "cpu_seconds")}


@dataclass
class TrainingLog:
    accuracy: float
    density: Optional[float]
    loss_curve: list[tuple[int, float]]


def parse_training_log(text: str) -> TrainingLog:
    """The final test accuracy, rho_nnz (mean of the display points' weighted mean densities,
    None when the log has none) and the (iteration, loss) display points of a caffe train log."""
    accuracies = [float(value) for value in ACCURACY.findall(text)]
    if not accuracies:
        raise RuntimeError("the training log has no test accuracy")
    densities = [float(value) for value in DENSITY_MEAN.findall(text)]
    losses = plot_log.parse_log(text.splitlines())
    return TrainingLog(accuracies[-1], sum(densities) / len(densities) if densities else None,
                       list(zip(losses.loss_iterations, losses.losses)))


def parse_budgets(entries: Sequence[str], nets: Sequence[str],
                  required: bool = True) -> dict[str, float]:
    """--iterations / --epochs / --base-lr values: one number for every net, or net=number
    entries (nets left out keep the plain number; without one they fail when `required`, else
    they are left out of the result)."""
    default: Optional[float] = None
    budgets: dict[str, float] = {}
    for entry in entries:
        name, _, value = entry.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            raise SystemExit(f"reproduce_cifar: '{entry}' is not a number or net=number") from None
        if number <= 0:
            raise SystemExit(f"reproduce_cifar: '{entry}' must be positive")
        if not name:
            default = number
        elif name not in NETS:
            raise SystemExit(f"reproduce_cifar: unknown net '{name}' in '{entry}' "
                             f"(nets: {', '.join(NETS)})")
        else:
            budgets[name] = number
    missing = [net for net in nets if net not in budgets and default is None]
    if missing and required:
        raise SystemExit(f"reproduce_cifar: no budget for {', '.join(missing)}")
    return {net: budgets.get(net, default) for net in nets  # type: ignore[misc]
            if net not in missing}


def write_net(caffe, model: str, lmdb_dir: Path, batch: int, test_batch: int,
              percentile: Optional[float], out: Path) -> list[str]:
    """The model's net on these LMDBs and batch sizes, with GradSparsify layers at `percentile`
    (None: the baseline); returns the placement tool's lines."""
    from caffe import grad_sparsify

    net = caffe.io.load_net_param(REPO / "models" / f"cifar10_{model}" / "train_val.prototxt")
    for layer in net.layer:
        if layer.type != "Data":
            continue
        train = any(rule.phase == caffe.TRAIN for rule in layer.include)
        split = "train" if train else "test"
        layer.data_param.source = str(lmdb_dir / f"{split}_lmdb")
        layer.data_param.batch_size = batch if train else test_batch
        layer.transform_param.mean_file = str(lmdb_dir / "mean.binaryproto")
    lines: list[str] = []
    if percentile is not None:
        net, placements = grad_sparsify.sparsify_net(net, percentile)
        lines = [placement.describe() for placement in placements]
    caffe.io.save_net_param(net, out)
    return lines


def write_solver(model: str, net: Path, iterations: int, args: argparse.Namespace,
                 out: Path) -> None:
    """The model's solver for this net and run: test only at the end, no snapshots."""
    from google.protobuf import text_format
    from caffe.proto import caffe_pb2

    solver = caffe_pb2.SolverParameter()
    text_format.Merge((REPO / "models" / f"cifar10_{model}" / "solver.prototxt").read_text(),
                      solver)
    solver.net = str(net)
    solver.max_iter = iterations
    solver.test_interval = iterations
    solver.test_initialization = False
    del solver.test_iter[:]
    solver.test_iter.append(args.test_iter)
    solver.display = args.display
    solver.snapshot = 0
    solver.snapshot_after_train = False
    solver.random_seed = 1
    if model in args.learning_rates:
        solver.base_lr = args.learning_rates[model]
    out.write_text(text_format.MessageToString(solver))


def run_caffe_train(solver: Path, log: Path, iterations: int, args: argparse.Namespace,
                    desc: str) -> tuple[float, float]:
    """Runs caffe train, streaming its log to `log` and a progress bar; returns its wall seconds
    and CPU seconds (user + system: on a shared machine the wall time also counts the waits for a
    core)."""
    from tqdm import tqdm

    command = [str(args.caffe_bin / "caffe"), "train", f"--solver={solver}",
               f"--threads={args.threads}"]
    if args.gpu is not None:
        command.append(f"--gpu={args.gpu}")
    start = time.monotonic()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "w") as stream, tqdm(total=iterations, desc=desc, unit="it",
                                        leave=False) as progress:
        process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True,
                                   env=bench_common.caffe_tool_env())
        assert process.stdout is not None
        for line in process.stdout:
            stream.write(line)
            if match := plot_log.TRAIN_LOSS.search(line):
                progress.update(int(match.group(1)) - progress.n)
        status = process.wait()
    seconds = time.monotonic() - start
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if status != 0:
        raise RuntimeError(f"caffe train failed (exit {status}); see {log}")
    cpu_seconds = (children_after.ru_utime + children_after.ru_stime
                   - children_before.ru_utime - children_before.ru_stime)
    return seconds, cpu_seconds


def train(model: str, percentile: Optional[float], iterations: int, lmdb_dir: Path,
          train_images: int, args: argparse.Namespace, caffe) -> RunResult:
    name = f"{model}_{'baseline' if percentile is None else f'p{percentile}'}"
    run_dir = args.out_dir / name
    run_dir.mkdir(parents=True, exist_ok=True)
    net = run_dir / "train_val.prototxt"
    placements = write_net(caffe, model, lmdb_dir, args.batch_size, args.test_batch_size,
                           percentile, net)
    (run_dir / "placements.txt").write_text("".join(line + "\n" for line in placements))
    solver = run_dir / "solver.prototxt"
    write_solver(model, net, iterations, args, solver)
    log = run_dir / "train.log"
    # A finished run records its times beside its log, with the solver it ran: --resume reads
    # it back instead of training again when the solver is the same.
    finished = run_dir / "finished.json"
    record = json.loads(finished.read_text()) if args.resume and finished.exists() else {}
    if record.get("solver") == solver.read_text():
        seconds, cpu_seconds = record["seconds"], record.get("cpu_seconds")
        print(f"{name}: finished earlier ({finished}), read back")
    else:
        finished.unlink(missing_ok=True)
        seconds, cpu_seconds = run_caffe_train(solver, log, iterations, args, name)
        finished.write_text(json.dumps({"solver": solver.read_text(), "seconds": seconds,
                                        "cpu_seconds": cpu_seconds}) + "\n")
    parsed = parse_training_log(log.read_text())
    return RunResult(model, percentile, parsed.accuracy, parsed.density,
                     iterations * args.batch_size / train_images, seconds, iterations,
                     parsed.loss_curve, cpu_seconds)


def markdown_table(results: Sequence[RunResult]) -> str:
    """The paper's layout: one row per net, one column per p, accuracy and rho_nnz per cell;
    then the runs' budgets."""
    percentiles = sorted({r.p for r in results if r.p is not None})
    header = "| net | baseline | " + " | ".join(f"p = {p}" for p in percentiles) + " |"
    lines = [header, "|---" * (2 + len(percentiles)) + "|"]
    for net in dict.fromkeys(r.net for r in results):
        cells = []
        for p in [None, *percentiles]:
            found = [r for r in results if r.net == net and r.p == p]
            if not found:
                cells.append("-")
            elif p is None:
                cells.append(f"{100 * found[0].accuracy:.2f}%")
            else:
                cells.append(f"{100 * found[0].accuracy:.2f}% (rho {100 * found[0].density:.1f}%)"
                             if found[0].density is not None else
                             f"{100 * found[0].accuracy:.2f}%")
        lines.append(f"| {net} | " + " | ".join(cells) + " |")
    lines += ["", "| net | p | iterations | epochs | seconds | CPU seconds |",
              "|---|---|---|---|---|---|"]
    for r in results:
        cpu = "-" if r.cpu_seconds is None else f"{r.cpu_seconds:.1f}"
        lines.append(f"| {r.net} | {'baseline' if r.p is None else r.p} | {r.iterations} | "
                     f"{r.epochs:.3f} | {r.seconds:.1f} | {cpu} |")
    return "\n".join(lines)


def plot_losses(results: Sequence[RunResult], figures_dir: Path) -> list[Path]:
    """One PNG per net: training loss against iteration, one curve per p."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    figures_dir.mkdir(parents=True, exist_ok=True)
    for net in dict.fromkeys(r.net for r in results):
        fig, axis = plt.subplots(figsize=(6.5, 4.5))
        for r in (r for r in results if r.net == net):
            if r.loss_curve:
                iterations, losses = zip(*r.loss_curve)
                axis.plot(iterations, losses, label="baseline" if r.p is None else f"p = {r.p}")
        axis.set(xlabel="iteration", ylabel="training loss",
                 title=f"CIFAR-10 {net}: training loss with gradient sparsification")
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
        fig.tight_layout()
        out = figures_dir / f"reproduce_cifar_{net}_loss.png"
        fig.savefig(out, dpi=120)
        plt.close(fig)
        written.append(out)
    return written


def convert_data(args: argparse.Namespace) -> tuple[Path, int]:
    """Runs scripts/get_cifar10.py; returns the LMDB folder and the number of training images."""
    command = [sys.executable, str(REPO / "scripts" / "get_cifar10.py"), "--out",
               str(args.lmdb_dir), "--caffe-bin", str(args.caffe_bin)]
    if args.data_dir:
        command += ["--data-dir", str(args.data_dir)]
    if args.limit:
        command += ["--limit", str(args.limit)]
    output = subprocess.run(command, capture_output=True, text=True)
    sys.stdout.write(output.stdout)
    if output.returncode != 0:
        sys.stderr.write(output.stderr)
        raise SystemExit(1)
    return args.lmdb_dir, min(args.limit or TRAIN_IMAGES, TRAIN_IMAGES)


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def percentile(text: str) -> float:
    value = float(text)
    if not 0.5 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"a percentile lies in [0.5, 1), got {text}")
    return value


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nets", nargs="+", choices=NETS, default=list(NETS))
    parser.add_argument("--percentiles", nargs="+", type=percentile, default=list(PERCENTILES),
                        help="p values besides the baseline (default 0.85 0.9 0.95 0.995)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline runs")
    parser.add_argument("--resume", action="store_true",
                        help="read back the runs of --out-dir that finished with the same solver "
                             "instead of training them again")
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--iterations", nargs="+", metavar="[NET=]N",
                        help="iterations per run: one number for all nets and/or net=N "
                             "(e.g. --iterations 400 resnet18=100)")
    budget.add_argument("--epochs", nargs="+", metavar="[NET=]E",
                        help="the same in epochs of the training images used")
    parser.add_argument("--batch-size", type=positive_int, default=128,
                        help="training batch (default 128, the paper's)")
    parser.add_argument("--base-lr", nargs="+", default=[], metavar="[NET=]LR",
                        help="learning rate instead of the model's (0.05 AlexNet, 0.1 others, "
                             "for batch 128; smaller batches may need less): one for all nets "
                             "and/or net=LR (e.g. --base-lr alexnet=0.01)")
    parser.add_argument("--test-batch-size", type=positive_int, default=100)
    parser.add_argument("--test-iter", type=positive_int, default=100,
                        help="test batches after training (default 100: the 10,000 test images)")
    parser.add_argument("--display", type=positive_int, default=20,
                        help="iterations between display points (loss and density samples)")
    parser.add_argument("--data-dir", type=Path, help="CIFAR-10 list files and images or archive "
                        "(default: ../shared/data/cifar10, as scripts/get_cifar10.py)")
    parser.add_argument("--limit", type=positive_int,
                        help="convert only the first N images of each split (quick checks)")
    parser.add_argument("--lmdb-dir", type=Path,
                        help="where the LMDBs go (default data/cifar10, or data/cifar10_first<N> "
                             "with --limit)")
    parser.add_argument("--build-dir", default=os.environ.get("CAFFE_BUILD_DIR", "build"))
    parser.add_argument("--threads", type=positive_int, default=os.cpu_count())
    parser.add_argument("--gpu", type=int, help="train on this GPU instead of the CPU")
    parser.add_argument("--out-dir", type=Path, default=REPO / "examples_out" / "reproduce_cifar",
                        help="run folders (nets, solvers, logs)")
    parser.add_argument("--json", type=Path, default=REPO / "docs" / "data" / "reproduce_cifar.json")
    parser.add_argument("--figures-dir", type=Path, default=REPO / "docs",
                        help="where reproduce_cifar_<net>_loss.png go (default docs/)")
    args = parser.parse_args(argv)
    build = Path(args.build_dir)
    args.learning_rates = parse_budgets(args.base_lr, args.nets, required=False)
    args.caffe_bin = (build if build.is_absolute() else REPO / build) / "tools"
    if args.lmdb_dir is None:
        args.lmdb_dir = REPO / "data" / ("cifar10" if args.limit is None
                                         else f"cifar10_first{args.limit}")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    caffe = bench_common.import_caffe()
    from tqdm import tqdm

    lmdb_dir, train_images = convert_data(args)
    if args.iterations:
        budgets = parse_budgets(args.iterations, args.nets)
    else:
        epochs = parse_budgets(args.epochs, args.nets)
        budgets = {net: e * train_images / args.batch_size for net, e in epochs.items()}
    iterations = {net: max(1, math.ceil(value)) for net, value in budgets.items()}
    runs = [(net, p) for net in args.nets
            for p in ([] if args.no_baseline else [None]) + list(args.percentiles)]
    print(f"{len(runs)} training runs: " + ", ".join(f"{net} {iterations[net]} iterations"
                                                     for net in args.nets)
          + f", batch {args.batch_size}, {args.threads} threads")
    results: list[RunResult] = []
    args.json.parent.mkdir(parents=True, exist_ok=True)
    for net, p in tqdm(runs, unit="run"):
        results.append(train(net, p, iterations[net], lmdb_dir, train_images, args, caffe))
        # rewritten after every run, so that a long reproduction keeps what it finished
        args.json.write_text(json.dumps([r.row() for r in results], indent=2) + "\n")
    print("\n" + markdown_table(results) + "\n\n" + PAPER_NOTE)
    figures = plot_losses(results, args.figures_dir)
    print(f"wrote {args.json}, " + ", ".join(str(figure) for figure in figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
