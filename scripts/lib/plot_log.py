"""Plot training loss and test outputs from a `caffe train` log (ours or BVLC Caffe's).

Reads lines such as
    I1125 15:00:00.000 123 solver.cpp:80] Iteration 100, loss = 0.31
    I1125 15:00:00.000 123 solver.cpp:90] Iteration 500, Testing net (#0)
    I1125 15:00:00.000 123 solver.cpp:95]     Test net output #0: accuracy = 0.98
and draws loss against iteration (left axis) and every test output of test net #0 (right axis).
"""
from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

TRAIN_LOSS = re.compile(r"Iteration (\d+)(?: \([^)]*\))?, loss = ([-+0-9.eE]+|nan|inf)")
TESTING = re.compile(r"Iteration (\d+)(?: \([^)]*\))?, Testing net \(#(\d+)\)")
TEST_OUTPUT = re.compile(r"Test net output #\d+: (\S+) = ([-+0-9.eE]+|nan|inf)")
# glog's prefix: severity, date (yyyymmdd since glog 0.6, mmdd before) and time.
TIMESTAMP = re.compile(r"^[IWEF](\d{8}|\d{4}) (\d\d:\d\d:\d\d\.\d+)")


def log_time(line: str) -> dt.datetime | None:
    """The glog timestamp of a line, or None for continuation lines (e.g. a parameter dump)."""
    match = TIMESTAMP.match(line)
    if not match:
        return None
    day, clock = match.groups()
    if len(day) == 4:
        day = "2000" + day  # glog < 0.6 omits the year; 2000 is a leap year, so 0229 parses
    return dt.datetime.strptime(f"{day} {clock}", "%Y%m%d %H:%M:%S.%f")


@dataclass
class TrainingLog:
    loss_iterations: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    # output name -> (iterations, values), for test net #0
    test_outputs: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)


def parse_log(lines: list[str]) -> TrainingLog:
    log = TrainingLog()
    test_iteration: int | None = None
    for line in lines:
        if match := TRAIN_LOSS.search(line):
            log.loss_iterations.append(int(match.group(1)))
            log.losses.append(float(match.group(2)))
        elif match := TESTING.search(line):
            test_iteration = int(match.group(1)) if match.group(2) == "0" else None
        elif (match := TEST_OUTPUT.search(line)) and test_iteration is not None:
            iterations, values = log.test_outputs.setdefault(match.group(1), ([], []))
            iterations.append(test_iteration)
            values.append(float(match.group(2)))
    return log


def plot(log: TrainingLog, out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, loss_axis = plt.subplots(figsize=(8, 5))
    loss_axis.plot(log.loss_iterations, log.losses, color="tab:blue", label="training loss")
    loss_axis.set_xlabel("iteration")
    loss_axis.set_ylabel("training loss", color="tab:blue")
    if log.test_outputs:
        test_axis = loss_axis.twinx()
        for name, (iterations, values) in log.test_outputs.items():
            test_axis.plot(iterations, values, marker="o", label=f"test {name}")
        test_axis.set_ylabel("test output")
        test_axis.legend(loc="center right")
    loss_axis.set_title(title)
    loss_axis.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="log written by `caffe train` (stderr)")
    parser.add_argument("--out", type=Path, help="PNG to write (default: LOG with .png)")
    args = parser.parse_args(argv)
    try:
        lines = args.log.read_text(errors="replace").splitlines()
    except OSError as error:
        print(f"plot_log: cannot read {args.log}: {error.strerror}", file=sys.stderr)
        return 1
    log = parse_log(lines)
    if not log.losses and not log.test_outputs:
        print(f"plot_log: {args.log} has no 'Iteration N, loss = ...' or test output lines",
              file=sys.stderr)
        return 1
    out = args.out or args.log.with_suffix(".png")
    plot(log, out, args.log.name)
    final = {name: values[-1] for name, (_, values) in log.test_outputs.items()}
    print(f"plot_log: {len(log.losses)} loss points, final test outputs {final} -> {out}")
    return 0

