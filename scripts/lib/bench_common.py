"""Shared helpers for the scripts/bench_* benchmarks: machine description, thread control,
side-by-side timing (median after warm-up) and JSON output."""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Callable, Sequence

REPO = Path(__file__).resolve().parents[2]
# How to make `import caffe` work (the scripts never edit sys.path).
PYCAFFE_HINT = ("put the build's python folder on PYTHONPATH (PYTHONPATH=build/python), or run "
                "scripts/install.sh, which registers its build in .venv")


def caffe_tool_env() -> dict[str, str]:
    """Environment for running the `caffe` tool: its INFO log lines are what scripts parse."""
    return {**os.environ, "GLOG_minloglevel": "0"}


def import_caffe() -> ModuleType:
    """Imports pycaffe with glog's INFO lines (each solver's parameter dump) off unless
    GLOG_minloglevel says so; exits with PYCAFFE_HINT when it is not importable."""
    os.environ.setdefault("GLOG_minloglevel", "1")
    try:
        import caffe
    except ImportError as error:
        raise SystemExit(f"{Path(sys.argv[0]).name}: cannot import caffe ({error}); "
                         f"{PYCAFFE_HINT}") from error
    return caffe


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_summary(threads: int, blas: str) -> str:
    return (f"machine: {cpu_model()}, {os.cpu_count()} logical cores; {platform.system()} "
            f"{platform.release()}; Python {platform.python_version()}\n"
            f"threads: {threads}; ApproxCaffe BLAS: {blas}")


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_side_by_side(steps: dict[str, Callable[[], None]], iterations: int, warmup: int,
                      block: int = 1, clock: str = "wall") -> dict[str, list[float]]:
    """Milliseconds of each timed call of each step, measured in interleaved rounds (after
    `warmup` untimed rounds) so that machine noise hits every contender alike.  With block > 1
    each round runs `block` calls of one contender before the next, and the first call of each
    block is not timed: contenders whose worker threads spin after a call (OpenMP, OpenBLAS)
    then do not steal the cores of the next one's first call.  Callers take the median, or the
    mean where the cost of a step varies by design (approximate dropout: each iteration has its
    own period).  clock "cpu" times the process's CPU time instead of the wall clock: what a
    call costs on an idle machine (a loaded machine's wall clock also counts the time the
    threads wait for a core)."""
    now = CLOCKS[clock]
    for _ in range(warmup):
        for step in steps.values():
            step()
    samples: dict[str, list[float]] = {name: [] for name in steps}
    timed_per_block = max(block - 1, 1)
    while min(len(values) for values in samples.values()) < iterations:
        for name, step in steps.items():
            if block > 1:
                step()  # settles the threads after the previous contender
            for _ in range(min(timed_per_block, iterations - len(samples[name]))):
                start = now()
                step()
                samples[name].append((now() - start) * 1e3)
    return samples


def medians(samples: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(values) for name, values in samples.items()}


def means(samples: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.fmean(values) for name, values in samples.items()}


def write_aligned_schedules(net_path: Path, iterations: int, warmup: int) -> dict[str, float]:
    """Generate the net's approximate-dropout schedules for `iterations` entries and prepend
    `warmup` of them, so that the timed solver iterations warmup .. warmup+iterations-1 use each
    generated entry exactly once (their mean cost is then the schedule's expected cost).
    Returns each layer's drop rate over those entries."""
    from caffe import approx_dropout
    rates = {}
    for plan, schedule in approx_dropout.schedules_for_net(str(net_path), iterations, echo=None):
        periods, offsets = list(schedule.period), list(schedule.offset)
        lead = [j % iterations for j in range(warmup)]
        schedule.period[:] = [periods[j] for j in lead] + periods
        schedule.offset[:] = [offsets[j] for j in lead] + offsets
        approx_dropout.write_schedule(schedule, plan.path)
        rates[plan.layer_name] = statistics.fmean((p - 1) / p for p in periods)
    return rates


def write_json(path: str | None, rows: Sequence[dict]) -> None:
    if path:
        Path(path).write_text(json.dumps(list(rows), indent=2) + "\n")
        print(f"wrote {path}")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers]] + [[f"{c:.3f}" if isinstance(c, float) else str(c)
                                            for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths)))
        if index == 0:
            print("  ".join("-" * width for width in widths))
